"""Part of bench/dialer.py: importing a CSV of contacts with ``gtx campaign import``.

What is measured, end to end, as an operator runs it: a CSV of N contacts (columns ``number``,
``timezone``, ``priority`` and two contact variables, written on the fly in a temporary
directory) is imported by ``python -m gtx campaign import`` (the streaming reader of
:mod:`gtx.campaign_import`, batches of 1,000 over XML-RPC) into a real node — ``gtx serve``
with its default SQLite store, in its own process — through ``dialer.campaign.add_contacts``
(validation, duplicate and do-not-call checks, one transaction per batch).

Reported: the wall time of the import command and rows/s; the peak RSS of the import command
(``ru_maxrss`` of that one child, from ``wait4``); the node's RSS before the import and its
peak (``VmHWM``) after; the rows the command reported added (they must all be).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NODE_INI = """\
[gtx]
node = bench-import
shutdown_timeout = 5
[fastagi]
listen = tcp:0:interface=127.0.0.1
[http]
listen = tcp:{http}:interface=127.0.0.1
[store]
url = sqlite:///{store}
[dialer]
channel = PJSIP/{{number}}@trunk
"""

SPEC = {"name": "import", "mode": "broadcast", "on_answer": {"context": "bench", "extension": "s"}}
_SUMMARY = re.compile(r"([\d,]+) rows: ([\d,]+) added")


def write_csv(path: Path, contacts: int) -> int:
    """N contacts, written in chunks; returns the file's size in bytes."""
    zones = ("Europe/Paris", "America/New_York", "")
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("number,timezone,priority,customer,segment\n")
        chunk: list[str] = []
        for i in range(contacts):
            chunk.append(f"+3363{i:08d},{zones[i % 3]},{i % 5},C-{i:08d},seg{i % 7}\n")
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return path.stat().st_size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _campaign(url: str, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gtx", "campaign", "--url", url,
                           "--timeout", "600", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def measure_import(contacts: int, workdir: Path) -> dict[str, Any]:
    """Import ``contacts`` rows into a fresh node (see the module docstring)."""
    csv_path = workdir / "contacts.csv"
    size = write_csv(csv_path, contacts)
    http = _free_port()
    config = workdir / "gtx-import.ini"
    config.write_text(NODE_INI.format(http=http, store=workdir / "import.db"))
    log = (workdir / "gtx-import.log").open("wb")
    node = subprocess.Popen([sys.executable, "-m", "gtx", "serve", "-c", str(config),
                             "--log-level", "warn"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{http}/RPC2"
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", http)) == 0:
                    break
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gtx serve did not start: "
                                   + (workdir / "gtx-import.log").read_text()[-2000:])
            time.sleep(0.05)  # no reactor in this process: polling the port is all there is
        spec = workdir / "spec.json"
        spec.write_text(json.dumps(SPEC))
        created = _campaign(url, "create", "--spec", str(spec))
        found = re.search(r"created campaign (\d+)", created.stdout)
        if created.returncode != 0 or found is None:
            raise RuntimeError(f"campaign create failed: {created.stdout}{created.stderr}")
        node_before = _proc_kb(node.pid, "VmRSS")
        started = time.monotonic()
        importer = subprocess.Popen(
            [sys.executable, "-m", "gtx", "campaign", "--url", url, "--timeout", "600",
             "import", found.group(1), str(csv_path)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert importer.stdout is not None
        output = importer.stdout.read()
        _, status, usage = os.wait4(importer.pid, 0)
        seconds = time.monotonic() - started
        importer.returncode = os.waitstatus_to_exitcode(status)
        node_peak = _proc_kb(node.pid, "VmHWM")
    finally:
        node.terminate()
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(5)
        log.close()
    summary = _SUMMARY.search(output)
    if importer.returncode != 0 or summary is None:
        raise RuntimeError(f"gtx campaign import failed ({importer.returncode}): {output}")
    rows, added = (int(summary.group(i).replace(",", "")) for i in (1, 2))
    if (rows, added) != (contacts, contacts):
        raise RuntimeError(f"imported {added} of {rows} rows, expected {contacts}: {output}")
    return {
        "contacts": contacts,
        "csv MB": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "rows/s": round(contacts / seconds),
        "import peak RSS MB": round(usage.ru_maxrss / 1024, 1),
        "node RSS before MB": round(node_before / 1024, 1),
        "node peak RSS MB": round(node_peak / 1024, 1),
        "added": added,
    }
