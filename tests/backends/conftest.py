"""The ``backend`` fixture: every test of this directory runs on FastAGI and on ARI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_twisted

from tests.backends.harness import BACKENDS, Backend, backend_for


@pytest_twisted.async_yield_fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    chosen = backend_for(request.param, tmp_path)
    await chosen.start()
    try:
        yield chosen
    finally:
        await chosen.stop()
