"""The one place SQL lives: the :class:`~gtx.store.api.Store` on SQLite or PostgreSQL.

Open one with :func:`open_store`; apply the schema with ``Store.upgrade()`` (at start-up, and
by ``gtx db upgrade``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.internet.interfaces import IReactorTime

from gtx.store.api import Store


def open_store(url: str, *, reactor: IReactorTime) -> Store:
    """The store of ``url``: ``sqlite:///PATH`` (``sqlite://`` or ``sqlite:///:memory:``: in
    memory) or ``postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE``. Nothing is connected
    before the first call (which runs in the pool's threads)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from gtx.store.sqlite import SqliteStore, sqlite_path

        return SqliteStore(sqlite_path(url), reactor=reactor)
    if scheme in {"postgresql", "postgres"}:
        from gtx.store.postgres import PostgresStore

        return PostgresStore(url, reactor=reactor)
    raise ValueError(f"not a store URL (sqlite:///PATH or postgresql://…): {url!r}")


__all__ = ["open_store"]
