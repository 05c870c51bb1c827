"""Streaming a CSV file of contacts into a campaign, for ``gtx campaign import``.

The file is read lazily and sent in batches (``dialer.campaign.add_contacts``), so memory stays
constant whatever its size. The first row names the columns: ``number`` (required),
``timezone``, ``priority``; every other column becomes a contact variable of that name. Rows
refused here (wrong column count, bad priority) or by gtx (bad number, time zone …) are
counted, and the first of them kept with their line number and reason for the summary.

This is client code: it blocks (``xmlrpc.client``), which is right for a command-line tool and
never done inside the gtx service.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

DEFAULT_BATCH: Final = 1000
_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KNOWN_COLUMNS: Final = ("number", "timezone", "priority")


class CsvError(Exception):
    """The file cannot be imported at all (no header, no number column, bad column names)."""


@dataclass
class ImportSummary:
    """What an import did. ``rejected`` keeps the first ``keep`` refused rows only."""

    rows: int = 0
    added: int = 0
    duplicate: int = 0
    dnc: int = 0
    rejected_count: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    batches: int = 0
    keep: int = 20

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < self.keep:
            self.rejected.append((line, reason))

    def lines(self) -> list[str]:
        """The summary for the operator."""
        text = [f"{self.rows:,} rows: {self.added:,} added, {self.duplicate:,} duplicates, "
                f"{self.dnc:,} on the do-not-call list, {self.rejected_count:,} rejected"]
        if self.rejected:
            shown = len(self.rejected)
            text.append(f"rejected rows (first {shown} of {self.rejected_count:,}):"
                        if shown < self.rejected_count else "rejected rows:")
            text += [f"  line {line}: {reason}" for line, reason in sorted(self.rejected)]
        return text


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most every ``every`` s."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 width: int = 30, every: float = 0.1) -> None:
        self.stream = stream
        self.clock = clock
        self.width = width
        self.every = every
        self.started = clock()
        self._drawn = float("-inf")

    def update(self, rows: int, fraction: float | None, note: str = "",
               final: bool = False) -> None:
        """Show ``rows`` done, at ``fraction`` of the whole when it is known."""
        now = self.clock()
        if not final and now - self._drawn < self.every:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-9)
        head = bar(fraction, self.width) + (f" {fraction:4.0%}" if fraction is not None else "")
        line = f"\r{head}  {rows:,} rows  {rows / elapsed:,.0f} rows/s"
        if note:
            line += f"  {note}"
        self.stream.write(line + ("  done\n" if final else ""))
        self.stream.flush()


def bar(fraction: float | None, width: int) -> str:
    """``[#########-----------]``; a bar of dots when the fraction is unknown."""
    if fraction is None:
        return "[" + "." * width + "]"
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def read_contacts(text: Iterable[str]) -> Iterator[tuple[int, dict[str, object] | str]]:
    """The rows of a CSV file as ``(line, contact struct)``, or ``(line, reason)`` for a row
    that cannot be a contact. Raises :class:`CsvError` when the header is unusable."""
    reader = csv.reader(iter(text))
    header = next(reader, None)
    if header is None:
        raise CsvError("the file is empty: expected a header row naming the columns")
    columns = [name.strip() for name in header]
    lowered = [name.lower() for name in columns]
    if "number" not in lowered:
        raise CsvError("the header row has no 'number' column (columns: "
                       f"{', '.join(columns) or 'none'})")
    for name in columns:
        if name.lower() not in _KNOWN_COLUMNS and not _VAR_NAME.fullmatch(name):
            raise CsvError(f"column {name!r} cannot name a contact variable: use letters, "
                           "digits and _ (not first a digit)")
    if len(set(lowered)) != len(lowered):
        raise CsvError("the header row names a column twice")
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(record) != len(columns):
            yield reader.line_num, f"expected {len(columns)} columns, got {len(record)}"
            continue
        yield reader.line_num, _contact(columns, lowered, record)


def _contact(columns: list[str], lowered: list[str], record: list[str]) -> dict[str, object] | str:
    contact: dict[str, object] = {}
    variables: dict[str, object] = {}
    for name, key, cell in zip(columns, lowered, record, strict=True):
        value = cell.strip()
        if key == "number":
            contact["number"] = value
        elif key == "timezone":
            if value:
                contact["timezone"] = value
        elif key == "priority":
            if value:
                try:
                    contact["priority"] = int(value)
                except ValueError:
                    return f"priority: expected an integer, got {value[:20]!r}"
        else:
            variables[name] = cell
    if variables:
        contact["vars"] = variables
    return contact


def import_contacts(
    add_contacts: Callable[[int, list[dict[str, object]]], Any],
    campaign_id: int,
    text: Iterable[str],
    *,
    batch: int = DEFAULT_BATCH,
    keep: int = 20,
    progress: Callable[[int, bool], None] | None = None,
) -> ImportSummary:
    """Send the contacts of CSV ``text`` in batches through ``add_contacts`` (the XML-RPC
    method); ``progress(rows, final)`` is told after each batch."""
    summary = ImportSummary(keep=keep)
    pending: list[tuple[int, dict[str, object]]] = []

    def send() -> None:
        report = add_contacts(campaign_id, [contact for _, contact in pending])
        summary.batches += 1
        summary.added += int(report["added"])
        summary.duplicate += len(report["duplicate"])
        summary.dnc += len(report["dnc"])
        for refused in report["rejected"]:
            summary.reject(pending[refused["index"]][0], str(refused["reason"]))
        pending.clear()
        if progress is not None:
            progress(summary.rows, False)

    for line, row in read_contacts(text):
        summary.rows += 1
        if isinstance(row, str):
            summary.reject(line, row)
            continue
        pending.append((line, row))
        if len(pending) >= batch:
            send()
    if pending:
        send()
    if progress is not None:
        progress(summary.rows, True)
    return summary
