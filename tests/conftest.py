"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The real Asterisk reference material, kept beside the repository.
SHARED_ASTERISK = ROOT.parent / "shared" / "asterisk"
TRANSCRIPTS = SHARED_ASTERISK / "transcripts"


@pytest.fixture
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"the Asterisk transcripts are missing: expected {TRANSCRIPTS}")
    return TRANSCRIPTS
