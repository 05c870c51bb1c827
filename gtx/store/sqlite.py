"""The embedded store: SQLite (the standard library's ``sqlite3``), for one gtx node.

One connection, used by one pool thread at a time; write-ahead logging so readers (``gtx db
upgrade``, a backup) do not block the node; foreign keys on; every writing transaction
starts with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

from twisted.enterprise import adbapi
from twisted.internet.interfaces import IReactorTime

from gtx.store.base import SqlStore
from gtx.store.sql import SQLITE

#: Seconds a statement waits for another process's write lock before "database is locked".
BUSY_TIMEOUT = 10.0


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///PATH`` URL; ``sqlite://`` and ``sqlite:///:memory:`` are a
    private in-memory database."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValueError(f"not a sqlite URL: {url!r}")
    path = parts.path
    if path in {"", "/", "/:memory:", ":memory:"}:
        return ":memory:"
    return path


def _prepare(connection: sqlite3.Connection) -> None:
    """Run on every new connection, outside any transaction."""
    connection.execute("PRAGMA journal_mode = WAL").fetchall()
    connection.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no commit
    connection.execute("PRAGMA foreign_keys = ON")


class SqliteStore(SqlStore):
    """The store in the SQLite database at ``path`` (``":memory:"``: in memory)."""

    def __init__(self, path: str, *, reactor: IReactorTime) -> None:
        pool = adbapi.ConnectionPool(
            "sqlite3",
            path,
            timeout=BUSY_TIMEOUT,
            # one connection, handed between the pool's threads; transactions are ours
            check_same_thread=False,
            isolation_level=None,
            cp_min=1,
            cp_max=1,
            cp_openfun=_prepare,
            cp_reactor=reactor,
        )
        super().__init__(pool, SQLITE, reactor, f"sqlite:///{path.lstrip('/')}"
                         if path != ":memory:" else "sqlite://")
