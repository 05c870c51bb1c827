"""Schema migrations, on both backends: a fresh database reaches the latest version, and
upgrading again changes nothing."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

import psycopg2
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import gatherResults

from gtx.store import open_store
from gtx.store.migrations import LATEST, STEPS
from tests.store.values import T0, spec


def schema_versions(url: str) -> list[tuple[int, str]]:
    """The rows of schema_version, read with the driver (outside the store under test)."""
    query = "SELECT version, description FROM schema_version ORDER BY version"
    if url.startswith("sqlite"):
        with sqlite3.connect(urlsplit(url).path) as connection:
            return [tuple(r) for r in connection.execute(query)]  # type: ignore[misc]
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        connection.close()


def test_steps_are_numbered_from_one_without_gaps() -> None:
    assert [s.version for s in STEPS] == list(range(1, len(STEPS) + 1))
    assert len(STEPS) == LATEST


@pytest_twisted.ensureDeferred
async def test_fresh_database_reaches_latest_and_upgrading_again_is_a_no_op(
    store_url: str,
) -> None:
    store = open_store(store_url, reactor=reactor)
    try:
        assert await store.upgrade() == LATEST
        expected = [(s.version, s.description) for s in STEPS]
        assert schema_versions(store_url) == expected
        campaign = await store.create_campaign(spec(), T0)

        assert await store.upgrade() == LATEST
        assert schema_versions(store_url) == expected
    finally:
        await store.close()

    # a node started again on the same database: nothing to do, nothing lost
    again = open_store(store_url, reactor=reactor)
    try:
        assert await again.upgrade() == LATEST
        assert schema_versions(store_url) == expected
        assert (await again.get_campaign(campaign.id)).spec == spec()
    finally:
        await again.close()


@pytest_twisted.ensureDeferred
async def test_nodes_upgrading_at_once_apply_each_step_once(pg_url: str) -> None:
    stores = [open_store(pg_url, reactor=reactor) for _ in range(4)]
    try:
        versions = await gatherResults([s.upgrade() for s in stores])
    finally:
        for s in stores:
            await s.close()
    assert versions == [LATEST] * 4
    assert [v for v, _ in schema_versions(pg_url)] == list(range(1, LATEST + 1))


@pytest_twisted.ensureDeferred
async def test_in_memory_sqlite_store() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        store = open_store(url, reactor=reactor)
        try:
            assert await store.upgrade() == LATEST
            campaign = await store.create_campaign(spec(), T0)
            assert [c.id for c in await store.list_campaigns()] == [campaign.id]
        finally:
            await store.close()


def test_unknown_store_url() -> None:
    with pytest.raises(ValueError, match="store URL"):
        open_store("mysql://db/gtx", reactor=reactor)
