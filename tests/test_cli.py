"""The gtx command: check-config in process; serve, simulate and demo as real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gtx.cli import main

ROOT = Path(__file__).resolve().parent.parent


def gtx(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gtx", *args], capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, check=False,
    )


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(ROOT / "examples" / "gtx.ini")]) == 0
    out = capsys.readouterr().out
    assert "examples/gtx.ini: OK" in out
    assert "ivr app menu: menu.start at http://127.0.0.1:8000/RPC2" in out


def test_check_config_explains_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = tmp_path / "gtx.ini"
    ini.write_text("[gtx]\nnod = x\n[ivr:menu]\nurl = http://h/RPC2\ntimeout = soon\n")
    assert main(["check-config", "-c", str(ini)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "[gtx] nod: unknown key; did you mean 'node'?" in err
    assert "[ivr:menu] method: missing" in err
    assert "[ivr:menu] timeout: expected seconds, got 'soon'" in err




def test_serve_runs_a_node_and_drains_on_sigterm(tmp_path: Path) -> None:
    ini = tmp_path / "gtx.ini"
    ini.write_text(
        "[gtx]\nnode = cli\nshutdown_timeout = 5\n[store]\nurl = sqlite://\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gtx", "serve", "-c", str(ini)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        ports: list[int] = []
        for line in process.stdout:  # the node logs the ports it listens on
            lines.append(line)
            found = re.search(r"starting on (\d+)", line)
            if found:
                ports.append(int(found.group(1)))
            if "node cli started" in line:
                break
        assert len(ports) == 2, "".join(lines)
        health = None
        for port in ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    health = json.loads(r.read())
            except OSError:
                continue  # that one is the FastAGI port
        assert health is not None
        assert health["status"] == "ok"
        assert health["node"] == "cli"
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "shutting down" in rest


def test_simulate_prints_the_call(menu_url: str) -> None:
    done = gtx("simulate", "--url", menu_url, "--method", "menu.start", "--caller", "5551234",
               "--dtmf", "press 1 during WAIT FOR DIGIT")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "caller 5551234" in done.stdout
    assert "→ STREAM FILE welcome" in done.stdout
    assert "caller presses 1" in done.stdout
    assert "GTX_STATUS=DONE" in done.stdout


def test_simulate_reports_a_failing_service() -> None:
    done = gtx("simulate", "--url", "http://127.0.0.1:9/RPC2", "--method", "x.start")
    assert done.returncode == 1
    assert "GTX_STATUS=ERROR" in done.stdout
    assert "webservice_unreachable" in done.stdout


def test_simulate_refuses_a_bad_script() -> None:
    done = gtx("simulate", "--url", "http://127.0.0.1:9/RPC2", "--method", "x", "--dtmf",
               "press Z")
    assert done.returncode == 2
    assert "--dtmf" in done.stdout


def test_demo_runs_every_call_as_expected() -> None:
    done = gtx("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    # four calls over FastAGI, one over ARI, and the campaign
    assert done.stdout.count("(as expected)") == 6
    assert "continued at gtx-examples,sales,1 (as expected)" in done.stdout
    assert ("demo passed: 4 call(s) over FastAGI, one over ARI and a campaign, 0 unexpected"
            in done.stdout)
    assert "--- campaign completed (as expected)" in done.stdout
    assert done.stdout.count(" ready ") >= 4  # the answered calls, recorded
