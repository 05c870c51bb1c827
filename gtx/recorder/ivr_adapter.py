"""The recorder as the IVR engine sees it: :class:`RecorderForIvr` adapts the
:class:`~gtx.recorder.service.RecorderService` to :class:`gtx.ivr.app.SessionRecorder`.

The composition root builds it once and hands it to the IVR engine::

    IvrEngine(..., recorder=RecorderForIvr(recorder_service))

A recording started by an IVR session targets that session (``{session}``) on the session's
server, is ``started_by`` ``ivr:<session>`` and so is listed by ``recorder.list({session})``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred

from gtx.ivr.app import RecordingRequest
from gtx.recorder.model import Recording, RecordingOptions, RecordingTarget
from gtx.recorder.service import RecorderService


def recording_options(request: RecordingRequest) -> RecordingOptions:
    """The Recorder API's options for a ``record_start`` action's parameters."""
    options = RecordingOptions(
        format=request.format,
        split=request.split,
        beep=request.beep,
        max_seconds=request.max_seconds,
        callback_url=request.callback_url,
        callback_method=request.callback_method,
        metadata=dict(request.metadata),
    )
    return options if request.name is None else replace(options, name=request.name)


class RecorderForIvr:
    """:class:`gtx.ivr.app.SessionRecorder` over a :class:`RecorderService`."""

    def __init__(self, service: RecorderService) -> None:
        self.service = service

    def start(self, session: str, channel: str, asterisk: str,
              request: RecordingRequest) -> Deferred[str]:
        """Record the session's channel; fire with the recording id."""

        async def start() -> str:
            recording = await self.service.start(
                RecordingTarget(session=session, asterisk=asterisk or None),
                recording_options(request),
                started_by=f"ivr:{session}",
            )
            return recording.recording_id

        return Deferred.fromCoroutine(start())

    def stop(self, recording_id: str) -> Deferred[None]:
        """Stop a recording."""
        return self._then(self.service.stop(recording_id))

    def pause(self, recording_id: str) -> Deferred[None]:
        """Pause a recording (silence is written meanwhile)."""
        return self._then(self.service.pause(recording_id))

    def resume(self, recording_id: str) -> Deferred[None]:
        """Resume a paused recording."""
        return self._then(self.service.resume(recording_id))

    @staticmethod
    def _then(operation: Coroutine[Any, Any, Recording]) -> Deferred[None]:
        async def wait() -> None:
            await operation

        return Deferred.fromCoroutine(wait())
