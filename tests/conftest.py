"""Shared test fixtures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pg import PostgresCluster, PostgresMissing, find_bindir

ROOT = Path(__file__).resolve().parent.parent
#: Real Asterisk reference material (exchanges recorded on a real Asterisk, its configuration
#: and its AGI command list), kept as test data.
ASTERISK_FIXTURES = ROOT / "tests" / "fixtures" / "asterisk"
TRANSCRIPTS = ASTERISK_FIXTURES / "transcripts"


@pytest.fixture
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"the Asterisk transcripts are missing: expected {TRANSCRIPTS}")
    return TRANSCRIPTS


@pytest.fixture
def menu_server() -> Iterator[Any]:
    """The example menu service (a plain stdlib server) on a free port, in a thread;
    ``server.service`` is its MenuService (``ended_calls`` lists what menu.hangup heard)."""
    from gtx.demo import load_example

    server = load_example("menu_service").build_server(port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def menu_url(menu_server: Any) -> str:
    """The XML-RPC URL of the example menu service."""
    return f"http://127.0.0.1:{menu_server.server_address[1]}/RPC2"


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


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """A URL of an empty PostgreSQL database (for the PostgreSQL-only tests)."""
    return pg_cluster.create_database()
