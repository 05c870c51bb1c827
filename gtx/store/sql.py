"""SQL written once for both databases: the dialect differences in one place.

Statements are plain string literals (no value is ever formatted into one: values are bound)
written with ``?`` placeholders and a few markers:

- ``{skip_locked}``: rows other transactions hold are skipped (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL); ``{for_update}``: the rows read are locked until the transaction ends;
- ``{campaign}``, ``{contact}``, ``{call}``: the columns a campaign, contact, call is read from;
- ``{listed}``: the placeholders of an ``IN (…)`` list, whose values come last.

:class:`Sql` renders them for its :class:`Dialect` and runs them on the cursor of one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: How many values go in one ``IN (…)`` list (SQLite allows 32766 variables per statement).
CHUNK = 500

#: The columns each value is read from (in the order of the row readers of the modules).
COLUMNS = {
    "campaign": "id, spec, state, created, updated",
    "contact": (
        "id, campaign_id, number, timezone, vars, priority, state, attempts, next_attempt_at,"
        " last_outcome, lease_owner, lease_until"
    ),
    "call": (
        "call_id, request, state, outcome, cause, created, dialing_at, answered_at, ended_at,"
        " node, campaign_id, contact_id, attempt, asterisk, channel, recording_id"
    ),
}


class Cursor(Protocol):
    """The DB-API cursor an interaction of ``adbapi`` is given (what we use of it)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[object] = ...) -> object: ...

    def executemany(self, sql: str, params: Iterable[Sequence[object]]) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class Dialect:
    """What differs between the databases, for the statements of :mod:`gtx.store`."""

    name: str  # "sqlite", "postgresql"
    placeholder: str  # "?" (qmark), "%s" (format)
    skip_locked: str  # appended to a SELECT whose rows a claim takes
    for_update: str  # appended to a SELECT whose rows the transaction changes next
    begin_write: str | None  # what opens a transaction that writes (None: the driver does)
    begin_read: str | None

    def render(self, sql: str, listed: int = 0) -> str:
        """``sql`` as this database's driver expects it, with ``listed`` placeholders for
        ``{listed}``."""
        if "%" in sql:
            # the format paramstyle would read it as a placeholder; no statement needs one
            raise ValueError(f"'%' in a statement: {sql!r}")
        sql = sql.format(
            skip_locked=self.skip_locked,
            for_update=self.for_update,
            listed=", ".join("?" * listed),
            **COLUMNS,
        )
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    skip_locked="",  # one writer at a time (BEGIN IMMEDIATE): nothing to skip
    for_update="",
    # BEGIN IMMEDIATE takes the write lock at once, so a read-then-write transaction never
    # fails half-way with "database is locked" when another process writes.
    begin_write="BEGIN IMMEDIATE",
    begin_read="BEGIN",
)

POSTGRESQL = Dialect(
    name="postgresql",
    placeholder="%s",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    for_update=" FOR UPDATE",
    begin_write=None,  # psycopg2 opens a transaction before the first statement
    begin_read=None,
)


class Sql:
    """The statements of one transaction, on one cursor."""

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def _execute(self, sql: str, params: Sequence[object], listed: Sequence[object]) -> None:
        self.cursor.execute(self.dialect.render(sql, len(listed)), (*params, *listed))

    def run(self, sql: str, *params: object, listed: Sequence[object] = ()) -> int:
        """Execute; return the number of rows changed."""
        self._execute(sql, params, listed)
        return self.cursor.rowcount

    def one(
        self, sql: str, *params: object, listed: Sequence[object] = ()
    ) -> tuple[Any, ...] | None:
        """Execute; return the first row or None."""
        self._execute(sql, params, listed)
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    def all(
        self, sql: str, *params: object, listed: Sequence[object] = ()
    ) -> list[tuple[Any, ...]]:
        """Execute; return every row."""
        self._execute(sql, params, listed)
        return [tuple(row) for row in self.cursor.fetchall()]

    def many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Execute once per row of parameters."""
        self.cursor.executemany(self.dialect.render(sql), rows)

    def scalar(self, sql: str, *params: object) -> Any:
        """Execute; return the first column of the first row (None when there is no row)."""
        row = self.one(sql, *params)
        return None if row is None else row[0]


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """``values`` in slices small enough for one ``IN (…)`` list."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
