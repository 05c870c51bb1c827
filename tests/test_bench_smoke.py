"""Smoke test of the IVR session benchmark: a tiny load through gtx (over FastAGI and over ARI)
and the baselines.

Runs ``bench/ivr_sessions.py`` as `make bench` does, in a subprocess (it runs its own reactor
and child processes), and checks that every call ran the three steps with no error and that the
report has its columns. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "ivr_sessions.py"
COLUMNS = ("system", "calls", "concurrency", "calls/s", "step p50 ms", "step p99 ms",
           "peak RSS MB", "RSS/session KB", "cmds/call", "errors")


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json", str(report)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    rows = json.loads(report.read_text()) if report.exists() else []
    return done, rows


def test_gtx_and_panoramisk_complete_every_call(tmp_path: Path) -> None:
    done, rows = run_bench(tmp_path, "--calls", "5", "--warmup", "1",
                           "--systems", "gtx,panoramisk", "--call-timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [row["system"] for row in rows] == ["gtx", "panoramisk FastAGI"]
    for row in rows:
        assert row["calls"] == 5
        assert row["errors"] == 0, row["problems"]
        assert row["calls/s"] > 0
        assert row["step p99 ms"] >= row["step p50 ms"] > 0
        assert row["peak RSS MB"] > 0
    header = done.stdout.splitlines()[0]
    for column in COLUMNS:
        assert column in header
    assert "gtx/panoramisk: throughput x" in done.stdout


def test_gtx_over_ari_completes_every_call(tmp_path: Path) -> None:
    done, rows = run_bench(tmp_path, "--calls", "5", "--warmup", "1", "--quick",
                           "--systems", "gtx,gtx-ari", "--call-timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [row["system"] for row in rows] == ["gtx", "gtx-ari"]
    fastagi, ari = rows
    for row in rows:
        assert row["calls"] == 5
        assert row["errors"] == 0, row["problems"]
        assert row["calls/s"] > 0
        assert row["step p99 ms"] >= row["step p50 ms"] > 0
        assert row["first p50 ms"] > 0
        assert row["peak RSS MB"] > 0
    # AGI commands over FastAGI, REST requests over ARI: each call wrote its session state.
    assert fastagi["cmds/call"] >= 10
    assert ari["cmds/call"] >= 10
    assert "gtx-ari/gtx: throughput x" in done.stdout


def test_process_agi_baseline_is_capped(tmp_path: Path) -> None:
    done, rows = run_bench(tmp_path, "--calls", "3", "--warmup", "0", "--systems", "pyst2",
                           "--process-concurrency", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = rows
    assert row["system"] == "pyst2 process AGI"
    assert row["concurrency"] == 2
    assert row["errors"] == 0, row["problems"]


def test_unknown_system_is_refused() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--systems", "asterisk-java"],
                          capture_output=True, text=True, timeout=30, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert "unknown system(s): asterisk-java" in done.stderr
