"""The recorder's domain: recordings and the events sent about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class RecordingState(StrEnum):
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPED = "stopped"  # Asterisk stopped writing; the files are being checked
    READY = "ready"  # the files are complete (size and duration known)
    FAILED = "failed"
    DELETED = "deleted"


class PauseMode(StrEnum):
    """How ``recorder.pause`` pauses: writing silence (the file keeps the call's length) or
    writing nothing (a gap: ARI recordings only)."""

    SILENCE = "silence"
    GAP = "gap"


@dataclass(frozen=True)
class RecordingTarget:
    """What is recorded: exactly one of these is set."""

    call_id: str | None = None  # a dialer call
    session: str | None = None  # an IVR session
    channel: str | None = None  # any live channel by name
    uniqueid: str | None = None  # … or by Uniqueid
    asterisk: str | None = None  # the server (None: the call's, or the first one)


@dataclass(frozen=True)
class RecordingOptions:
    format: str = "wav"  # wav, gsm, ulaw, alaw, sln …
    split: bool = False  # one file per direction (in, out) besides the mixed one
    beep: int | None = None  # a beep every N seconds
    max_seconds: int | None = None
    name: str = "{recording_id}"  # file-name template (no path separators, no "..")
    callback_url: str | None = None
    callback_method: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    recording_id: str
    target: RecordingTarget
    options: RecordingOptions
    state: RecordingState
    files: tuple[str, ...]  # absolute paths on the Asterisk host (== under [recorder] dir)
    started: float
    started_by: str  # the API user, "ivr:<session>", or "dialer:<campaign>"
    channel: str | None = None  # resolved channel name
    asterisk: str | None = None
    node: str | None = None
    ended: float | None = None
    duration: float | None = None  # seconds (from the files)
    size: int | None = None  # bytes, all files
    error: str | None = None
    campaign_id: int | None = None
