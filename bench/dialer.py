"""Benchmark: the dialer — contact claims on PostgreSQL, originate pacing, CSV import.

Three parts, each against its baseline or its target in the same run (docs/benchmarks.md):

  claims     contacts claimed/s from PostgreSQL by 1, 4 and 16 concurrent claimers (one process
             and one connection each), gtx's ``FOR UPDATE SKIP LOCKED`` claim against a naive
             ``SELECT … FOR UPDATE`` queue; zero duplicates asserted (bench/dialer_claims.py)
  pacing     calls started per second by a broadcast campaign at max_cps 5, 20, 50, as the
             emulated Asterisk receives the Originates over AMI (bench/dialer_pacing.py)
  import     time and peak memory of ``gtx campaign import`` of N CSV contacts into a node
             (bench/dialer_import.py)

The PostgreSQL server is a throwaway cluster from the installed binaries (the test suite's
``tests/pg.py``), removed at the end.

    python bench/dialer.py [--contacts 100000] [--claim-contacts 20000] [--claimers 1,4,16]
                           [--rates 5,20,50] [--seconds 10] [--parts claims,pacing,import]
                           [--json FILE]
    python bench/dialer.py --parts import --contacts 1000000      # the full million
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.pg: the throwaway PostgreSQL of the test suite

PARTS = ("claims", "pacing", "import")


def run_claims_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from dialer_claims import prepare, run_claims

    from tests.pg import PostgresCluster, find_bindir

    cluster = PostgresCluster(find_bindir())
    rows: list[dict[str, Any]] = []
    started = False
    try:
        cluster.init()
        cluster.start()
        started = True
        url = cluster.create_database()
        campaign_id = prepare(url, args.claim_contacts)
        for claimers in args.claimers:
            pair = {}
            for system in ("gtx", "naive"):
                run = run_claims(system, url, campaign_id, claimers, args.batch,
                                 args.claim_contacts)
                pair[system] = run
                rows.append({
                    "system": "gtx SKIP LOCKED" if system == "gtx" else "naive FOR UPDATE",
                    "claimers": claimers,
                    "contacts": run.contacts,
                    "batch": args.batch,
                    "transactions": run.transactions,
                    "seconds": round(run.seconds, 3),
                    "claimed/s": round(run.per_second),
                    "duplicates": run.duplicates,
                })
            rows[-2]["gtx/naive"] = round(pair["gtx"].per_second / pair["naive"].per_second, 2)
    finally:
        if started:
            cluster.stop()
        cluster.remove()
    return rows


def run_pacing_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from dialer_pacing import measure_pacing

    return measure_pacing(args.rates, args.seconds)


def run_import_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from dialer_import import measure_import

    with tempfile.TemporaryDirectory(prefix="gtx-bench-import-") as tmp:
        return [measure_import(args.contacts, Path(tmp))]


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of ``rows`` (columns of the first row, then any others)."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def numbers(kind: type) -> Any:
        return lambda text: [kind(v) for v in text.split(",") if v]

    parser.add_argument("--parts", default=",".join(PARTS),
                        type=lambda t: [p for p in t.split(",") if p])
    parser.add_argument("--contacts", type=int, default=100_000,
                        help="CSV contacts to import (1000000 for the full figure)")
    parser.add_argument("--claim-contacts", type=int, default=20_000)
    parser.add_argument("--claimers", type=numbers(int), default=[1, 4, 16])
    parser.add_argument("--batch", type=int, default=10, help="contacts per claim")
    parser.add_argument("--rates", type=numbers(float), default=[5.0, 20.0, 50.0],
                        help="max_cps of the pacing campaigns")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds of pacing measured per rate")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, list[dict[str, Any]]] = {}
    titles = {
        "claims": "Claims from PostgreSQL: gtx (SKIP LOCKED) vs naive (FOR UPDATE)",
        "pacing": "Originate pacing against the emulated AMI (broadcast, zero-time calls)",
        "import": "CSV import through gtx campaign import into a node (SQLite)",
    }
    runners = {"claims": run_claims_part, "pacing": run_pacing_part, "import": run_import_part}
    for part in PARTS:
        if part not in args.parts:
            continue
        rows = runners[part](args)
        report[part] = rows
        print(f"\n{titles[part]}\n\n{table(rows)}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
