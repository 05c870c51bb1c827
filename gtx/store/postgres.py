"""The shared store: PostgreSQL through psycopg2, for one node or several on one database.

A small pool of connections (one per pool thread). Contacts are claimed with
``FOR UPDATE SKIP LOCKED``, so nodes claiming at once take different contacts without
waiting for each other. A connection lost (the server restarted, the network dropped) fails
the transaction it was running with StoreUnavailable and is replaced: the pool reconnects.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from twisted.enterprise import adbapi
from twisted.internet.interfaces import IReactorTime

from gtx.store.base import SqlStore
from gtx.store.sql import POSTGRESQL

#: Seconds to wait for a connection before the store is unavailable.
CONNECT_TIMEOUT = 5
#: Connections (and threads) per node.
POOL_SIZE = 4


def public_url(url: str) -> str:
    """``url`` without its password, to name the database in messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class PostgresStore(SqlStore):
    """The store in the PostgreSQL database of ``url`` (``postgresql://USER:PASS@HOST/DB``)."""

    def __init__(self, url: str, *, reactor: IReactorTime, pool_size: int = POOL_SIZE) -> None:
        pool = adbapi.ConnectionPool(
            "psycopg2",
            url,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="gtx",
            cp_min=1,
            cp_max=pool_size,
            cp_reconnect=True,
            cp_reactor=reactor,
        )
        super().__init__(pool, POSTGRESQL, reactor, public_url(url))
