"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
