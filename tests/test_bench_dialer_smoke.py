"""Smoke test of the dialer benchmark: tiny sizes of every part, in a subprocess as `make bench`
runs it. Checks that each part reports, with zero duplicate claims and every contact imported;
no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "dialer.py"


def test_every_part_reports(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--claim-contacts", "300", "--claimers", "1,2",
         "--rates", "20", "--seconds", "1", "--contacts", "500", "--json", str(report)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    parts = json.loads(report.read_text())
    claims = parts["claims"]
    assert [(row["system"], row["claimers"]) for row in claims] == [
        ("gtx SKIP LOCKED", 1), ("naive FOR UPDATE", 1),
        ("gtx SKIP LOCKED", 2), ("naive FOR UPDATE", 2)]
    for row in claims:
        assert row["duplicates"] == 0
        assert row["contacts"] == 300
    assert all(row["gtx/naive"] > 0 for row in claims[::2])
    (pacing,) = parts["pacing"]
    assert pacing["target cps"] == 20
    assert pacing["calls"] > 0
    assert pacing["ratio"] > 0
    (imported,) = parts["import"]
    assert imported["added"] == imported["contacts"] == 500
    assert imported["import peak RSS MB"] > 0
    assert imported["node peak RSS MB"] > 0
    for title in ("Claims from PostgreSQL", "Originate pacing", "CSV import"):
        assert title in done.stdout


def test_unknown_part_is_refused() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--parts", "claims,dialing"],
                          capture_output=True, text=True, timeout=30, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert "unknown part(s): dialing" in done.stderr
