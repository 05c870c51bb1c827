"""Store errors that do not depend on the backend, and ``gtx db upgrade``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from gtx.store import open_store
from gtx.store.api import StoreUnavailable
from gtx.store.cli import run_db_upgrade, upgrade_database
from gtx.store.migrations import LATEST
from tests.conftest import ROOT
from tests.store.values import T0, spec


@pytest_twisted.ensureDeferred
async def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/missing/dir/gtx.db", reactor=reactor)
    try:
        with pytest.raises(StoreUnavailable, match=r"missing/dir/gtx\.db"):
            await store.upgrade()
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/gtx.db", reactor=reactor)
    await store.upgrade()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.create_campaign(spec(), T0)


@pytest_twisted.ensureDeferred
async def test_upgrade_database(store_url: str) -> None:
    out = io.StringIO()
    assert await upgrade_database(store_url, reactor, out) == 0
    assert await upgrade_database(store_url, reactor, out) == 0
    assert out.getvalue().splitlines() == [
        f"gtx db upgrade: schema version {LATEST} (this gtx needs {LATEST})"] * 2


@pytest_twisted.ensureDeferred
async def test_upgrade_database_reports_failures(tmp_path: Path) -> None:
    out = io.StringIO()
    assert await upgrade_database("mysql://db/gtx", reactor, out) == 1
    assert await upgrade_database(f"sqlite://{tmp_path}/no/such/dir.db", reactor, out) == 1
    first, second = out.getvalue().splitlines()
    assert "not a store URL" in first
    assert "unavailable" in second


def test_db_upgrade_command(tmp_path: Path) -> None:
    """The command as ``gtx db upgrade -c gtx.ini`` runs it: its own reactor, the config's
    store."""
    ini = tmp_path / "gtx.ini"
    ini.write_text(f"[store]\nurl = sqlite://{tmp_path}/gtx.db\n")
    script = (
        "import sys\n"
        "from gtx.cli import install_asyncio_reactor\n"
        "from gtx.store.cli import run_db_upgrade\n"
        "sys.exit(run_db_upgrade(install_asyncio_reactor(), sys.argv[1], sys.stdout))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(ini)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout) == (
        0, f"gtx db upgrade: schema version {LATEST} (this gtx needs {LATEST})\n")
    assert (tmp_path / "gtx.db").is_file()



def test_db_upgrade_command_with_a_bad_config(tmp_path: Path) -> None:
    ini = tmp_path / "gtx.ini"
    ini.write_text("[store]\nurl = nonsense\n")
    out = io.StringIO()
    # refused before the reactor would be run
    assert run_db_upgrade(reactor, str(ini), out) == 1
    assert "[store] url" in out.getvalue()
