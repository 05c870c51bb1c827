"""The events of a recording, as its callback receives them.

Each state change of a recording with a callback is an event: ``started``, ``paused``,
``resumed``, ``stopped``, ``ready`` (with the size and duration of the files) and ``failed``
(with the error). The store numbers the events of one recording 1, 2, … (``seq``) in the order
they are queued, and queues an event in the same transaction as the state change it tells of,
so none is lost and none is told of a change that did not happen.

This module holds only values (the store builds events from the recording it has just
written, so it imports nothing that uses the store); :mod:`gtx.recorder.delivery` delivers
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gtx.dialer.model import Callback
from gtx.recorder.model import Recording

#: The method called when a recording's options give a callback URL but no method.
DEFAULT_CALLBACK_METHOD = "recorder.event"


class RecordingEventKind(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class RecordingEvent:
    """A change of a recording, as delivered to its callback (at least once, in order).

    ``seq`` counts the events of one recording from 1, so a receiver can drop duplicates."""

    recording_id: str
    seq: int
    event: RecordingEventKind
    at: float
    data: Mapping[str, object] = field(default_factory=dict)  # state, files, size, cause …


def recording_callback(recording: Recording) -> Callback | None:
    """Where the events of ``recording`` go (None: nowhere)."""
    url = recording.options.callback_url
    if not url:
        return None
    return Callback(url=url, method=recording.options.callback_method or DEFAULT_CALLBACK_METHOD)


def recording_event(recording: Recording, event: RecordingEventKind, at: float,
                    cause: str | None = None) -> RecordingEvent:
    """The event ``event`` of ``recording`` as it is now (``seq`` is set by the store)."""
    target = recording.target
    data: dict[str, object] = {"state": recording.state.value, "files": list(recording.files)}
    optional: dict[str, object | None] = {
        "cause": cause,
        "call_id": target.call_id,
        "session": target.session,
        "campaign_id": recording.campaign_id,
        "channel": recording.channel,
        "asterisk": recording.asterisk,
        "error": recording.error if event is RecordingEventKind.FAILED else None,
    }
    if event is RecordingEventKind.READY:
        optional["size"] = recording.size
        optional["duration"] = recording.duration
    data.update({k: v for k, v in optional.items() if v is not None})
    if recording.options.metadata:
        data["metadata"] = dict(recording.options.metadata)
    return RecordingEvent(recording.recording_id, 0, event, at, data)

