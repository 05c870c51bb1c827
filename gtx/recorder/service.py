"""What the Recorder API's XML-RPC methods (and the IVR's record_start/record_stop actions and
the dialer's ``record`` option) call: the recorder as a service.

:class:`gtx.recorder.engine.Recorder` implements it. Errors are :mod:`gtx.errors` ``ApiError``
subclasses (``NotFound``, ``Conflict``, ``InvalidArgument``), which become faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gtx.recorder.model import (
    PauseMode,
    Recording,
    RecordingOptions,
    RecordingState,
    RecordingTarget,
)


@dataclass(frozen=True)
class RecordingFilter:
    """``recorder.list``: every field narrows the list; all None lists everything."""

    since: float | None = None  # started at or after
    until: float | None = None  # started before
    call_id: str | None = None
    campaign_id: int | None = None
    session: str | None = None
    states: frozenset[RecordingState] | None = None
    after: str | None = None  # paging cursor: the last recording_id of the previous page
    limit: int = 100


class RecorderService(Protocol):
    """The operations of the Recorder API (see docs/recorder-api.md)."""

    async def start(self, target: RecordingTarget, options: RecordingOptions,
                    started_by: str) -> Recording: ...

    async def stop(self, recording_id: str) -> Recording: ...

    async def pause(self, recording_id: str,
                    mode: PauseMode = PauseMode.SILENCE) -> Recording: ...

    async def resume(self, recording_id: str) -> Recording: ...

    async def get(self, recording_id: str) -> Recording: ...

    async def list(self, query: RecordingFilter) -> tuple[Sequence[Recording], str | None]:
        """A page of recordings (newest first) and the cursor of the next (None at the end)."""

    async def delete(self, recording_id: str) -> None:
        """Delete the files and mark the recording deleted (metadata kept for the audit)."""

    def url(self, recording_id: str, ttl: float) -> str:
        """A signed URL on this node's HTTP port serving the file for ``ttl`` seconds."""
