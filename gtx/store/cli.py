"""``gtx db upgrade -c gtx.ini``: bring the configured store's schema to the latest version.

gtx applies the migrations at start-up too; the command is for doing it ahead of a rolling
upgrade of several nodes, or to check that the database is reachable.
"""

from __future__ import annotations

from typing import Any, TextIO

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from gtx.store import open_store
from gtx.store.api import StoreError
from gtx.store.migrations import LATEST


async def upgrade_database(url: str, reactor: IReactorTime, out: TextIO) -> int:
    """Upgrade the store at ``url``; print what happened; return the exit status."""
    try:
        store = open_store(url, reactor=reactor)
    except ValueError as e:
        print(f"gtx db upgrade: {e}", file=out)
        return 1
    try:
        version = await store.upgrade()
    except StoreError as e:
        print(f"gtx db upgrade: the store is unavailable: {e}", file=out)
        return 1
    finally:
        await store.close()
    print(f"gtx db upgrade: schema version {version} (this gtx needs {LATEST})", file=out)
    return 0 if version >= LATEST else 1


def run_db_upgrade(reactor: Any, config_path: str, out: TextIO) -> int:
    """The command: read ``config_path``, upgrade its ``[store] url``, with ``reactor`` (not
    running yet: it is run until the upgrade is done)."""
    from gtx.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as e:
        print(e, file=out)
        return 1
    status: list[int] = []

    def run() -> None:
        d = Deferred.fromCoroutine(upgrade_database(config.store_url, reactor, out))
        d.addCallback(status.append)
        d.addErrback(lambda f: print(f"gtx db upgrade: {f.getTraceback()}", file=out))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    return status[0] if status else 1
