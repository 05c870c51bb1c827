"""The JSON form of the recorder's values as the store keeps them: a recording's target and
options (with its metadata), its files, and its call-back events.

Decoding is strict, as in :mod:`gtx.store.codec`: a stored document that does not match is a
bug, so it raises ValueError.
"""

from __future__ import annotations

import json
from typing import Any

from gtx.recorder.events import RecordingEvent, RecordingEventKind
from gtx.recorder.model import RecordingOptions, RecordingTarget
from gtx.store.codec import dumps, loads_object

_TARGET_KEYS = ("call_id", "session", "channel", "uniqueid", "asterisk")


def _optional(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def encode_target(target: RecordingTarget) -> str:
    values = {key: getattr(target, key) for key in _TARGET_KEYS}
    return dumps({k: v for k, v in values.items() if v is not None})


def decode_target(text: str) -> RecordingTarget:
    doc = loads_object(text)
    return RecordingTarget(**{key: _optional(doc, key, str) for key in _TARGET_KEYS})


def encode_options(options: RecordingOptions) -> str:
    """The options with their metadata (TypeError when the metadata is not plain JSON data:
    strings, numbers, booleans, lists and structs of them)."""
    return dumps({
        "format": options.format,
        "split": options.split,
        "beep": options.beep,
        "max_seconds": options.max_seconds,
        "name": options.name,
        "callback_url": options.callback_url,
        "callback_method": options.callback_method,
        "metadata": dict(options.metadata),
    })


def decode_options(text: str) -> RecordingOptions:
    doc = loads_object(text)
    metadata = doc["metadata"]
    if not isinstance(metadata, dict):
        raise ValueError("metadata: expected an object")
    return RecordingOptions(
        format=str(doc["format"]),
        split=bool(doc["split"]),
        beep=_optional(doc, "beep", int),
        max_seconds=_optional(doc, "max_seconds", int),
        name=str(doc["name"]),
        callback_url=_optional(doc, "callback_url", str),
        callback_method=_optional(doc, "callback_method", str),
        metadata=metadata,
    )


def encode_files(files: tuple[str, ...]) -> str:
    return dumps(list(files))


def decode_files(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise ValueError("files: expected a list of paths")
    return tuple(value)


def encode_event(event: RecordingEvent) -> str:
    """The event without its seq (kept in its own column, numbered by the store)."""
    return dumps({
        "recording_id": event.recording_id,
        "event": event.event.value,
        "at": event.at,
        "data": dict(event.data),
    })


def decode_event(text: str, seq: int) -> RecordingEvent:
    doc = loads_object(text)
    return RecordingEvent(
        recording_id=str(doc["recording_id"]),
        seq=seq,
        event=RecordingEventKind(doc["event"]),
        at=float(doc["at"]),
        data=dict(doc["data"]),
    )
