"""Fixtures of the store tests: every contract test runs on SQLite and on a real PostgreSQL
(a throwaway cluster started once per test session, a fresh database per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import psycopg2
import pytest
import pytest_twisted

from gtx.store import open_store
from gtx.store.api import Store
from tests.pg import PostgresCluster

#: Every table of the store's data (not schema_version).
TABLES = ("contacts", "campaigns", "outbox", "calls", "dnc", "audit", "recording_outbox",
          "recordings")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database (no schema yet), of each backend in turn."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/gtx.db"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture(scope="session")
def pg_shared_url(pg_cluster: PostgresCluster) -> str:
    """One PostgreSQL database the contract tests share, emptied before each test (a new
    database per test would cost a tenth of a second each)."""
    return pg_cluster.create_database()


def empty_tables(url: str) -> None:
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            # DELETE, not TRUNCATE: on these few rows it is ten times faster
            for table in TABLES:
                cursor.execute(f"DELETE FROM {table}")
    finally:
        connection.close()


@pytest.fixture
def contract_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/gtx.db"
    return str(request.getfixturevalue("pg_shared_url"))


@pytest_twisted.async_yield_fixture
async def store(backend: str, contract_url: str) -> AsyncIterator[Store]:
    """An upgraded store with no data, of each backend in turn."""
    from twisted.internet import reactor

    opened = open_store(contract_url, reactor=reactor)
    await opened.upgrade()
    if backend == "postgresql":
        empty_tables(contract_url)
    yield opened
    await opened.close()
