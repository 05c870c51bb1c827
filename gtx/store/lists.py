"""The transactions of the do-not-call list and of the audit log.

Each function is the whole of one transaction (see :mod:`gtx.store.campaigns`).
"""

from __future__ import annotations

from collections.abc import Sequence

from gtx.audit import AuditEntry
from gtx.store.sql import Sql, chunks


def _listed(sql: Sql, numbers: Sequence[str]) -> set[str]:
    return {r[0] for r in sql.all("SELECT number FROM dnc WHERE number IN ({listed})",
                                  listed=numbers)}


def dnc_add(sql: Sql, numbers: Sequence[str], now: float) -> int:
    """Add the numbers not listed yet; return how many were added."""
    added = 0
    for part in chunks(sorted(set(numbers))):
        listed = _listed(sql, part)
        new = [n for n in part if n not in listed]
        # ON CONFLICT: another node may list the same number at the same time
        sql.many("INSERT INTO dnc (number, added) VALUES (?, ?) ON CONFLICT (number) DO NOTHING",
                 [(n, now) for n in new])
        added += len(new)
    return added


def dnc_remove(sql: Sql, numbers: Sequence[str]) -> int:
    removed = 0
    for part in chunks(sorted(set(numbers))):
        removed += sql.run("DELETE FROM dnc WHERE number IN ({listed})", listed=part)
    return removed


def dnc_check(sql: Sql, numbers: Sequence[str]) -> set[str]:
    listed: set[str] = set()
    for part in chunks(sorted(set(numbers))):
        listed |= _listed(sql, part)
    return listed


def audit(sql: Sql, entry: AuditEntry) -> None:
    sql.run(
        "INSERT INTO audit (at, username, method, peer, summary) VALUES (?, ?, ?, ?, ?)",
        entry.at, entry.user, entry.method, entry.peer, entry.summary,
    )


def audit_log(sql: Sql, since: float, limit: int) -> list[AuditEntry]:
    rows = sql.all(
        "SELECT at, username, method, peer, summary FROM audit WHERE at >= ?"
        " ORDER BY at, id LIMIT ?",
        since, max(limit, 0),
    )
    return [AuditEntry(at=float(at), user=user, method=method, peer=peer, summary=summary)
            for at, user, method, peer, summary in rows]
