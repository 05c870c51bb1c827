"""Fixtures of the store tests: every contract test runs on SQLite and on a real PostgreSQL
(a throwaway cluster started once per test session, a fresh database per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_twisted

from gtx.store import open_store
from gtx.store.api import Store
from tests.pg import PostgresCluster, PostgresMissing, find_bindir


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL server (fails, never skips, when it cannot be started)."""
    try:
        bindir = find_bindir()
    except PostgresMissing as e:
        pytest.fail(str(e))
    cluster = PostgresCluster(bindir)
    started = False
    try:
        cluster.init()
        cluster.start()
        started = True
        yield cluster
    finally:
        if started:
            cluster.stop()
        cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, of each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/gtx.db"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """A URL of an empty PostgreSQL database (for the PostgreSQL-only tests)."""
    return pg_cluster.create_database()


@pytest_twisted.async_yield_fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An upgraded store on an empty database, of each backend in turn."""
    from twisted.internet import reactor

    opened = open_store(store_url, reactor=reactor)
    await opened.upgrade()
    yield opened
    await opened.close()
