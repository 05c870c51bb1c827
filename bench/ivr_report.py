"""The IVR benchmark's figures: percentiles, CPU time, the table and the ratios."""

from __future__ import annotations

from typing import Any

import psutil

COLUMNS = ("system", "calls", "concurrency", "calls/s", "step p50 ms", "step p99 ms",
           "first p50 ms", "peak RSS MB", "RSS/session KB", "cmds/call", "errors")


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += times.user + times.system
    return total


def format_table(rows: list[dict[str, Any]]) -> str:
    """The results as a plain-text table, one system per line."""
    def cell(row: dict[str, Any], column: str) -> str:
        value = row[column]
        if isinstance(value, float):
            return f"{value:.1f}" if column != "step p50 ms" and column != "step p99 ms" \
                else f"{value:.2f}"
        return str(value)

    cells = [list(COLUMNS)] + [[cell(row, c) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(text.rjust(w) if i else text.ljust(w) for i, (text, w)
                       in enumerate(zip(line, widths, strict=True))) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """gtx / baseline for throughput, p99 and memory (a throughput ratio above 1 favours gtx;
    p99 and memory ratios below 1 favour gtx), and gtx over ARI / gtx over FastAGI."""
    by_name = {row["system"].split()[0]: row for row in rows}
    gtx = by_name.get("gtx")
    if gtx is None:
        return []

    def line(label: str, row: dict[str, Any], base: dict[str, Any]) -> str:
        def ratio(column: str) -> str:
            return f"{row[column] / base[column]:.3g}" if base[column] else "n/a"

        return (f"{label}: throughput x{ratio('calls/s')}, step p99 x{ratio('step p99 ms')}, "
                f"RSS/session x{ratio('RSS/session KB')}, peak RSS x{ratio('peak RSS MB')}")

    out = []
    for name, row in by_name.items():
        if name == "gtx-ari":
            out.append(line("gtx-ari/gtx", row, gtx))
        elif name != "gtx":
            out.append(line(f"gtx/{name}", gtx, row))
    return out
