"""The Recorder API's actions: ``record_start``, ``record_stop``, ``record_pause``,
``record_resume``.

Unlike ``record`` (the caller speaks into a file, then the step goes on), these start a
recording of the whole channel that runs in the background while the session goes on — e.g.
only after the caller consented, with a pause around a card number (PCI). They go through the
node's recorder (a :class:`gtx.ivr.app.SessionRecorder`); without one they fail.

The id of the recording started last on the channel is kept on the channel itself
(``GTX_RECORDING_ID``), so ``record_stop``/``record_pause``/``record_resume`` without a
``recording_id`` act on it, on whatever node runs the session's next step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Self

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from gtx.channel import Channel
from gtx.errors import ApiError
from gtx.ivr.actions.base import (
    FAILED,
    Action,
    ActionOutcome,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.actions.callback import json_value
from gtx.ivr.app import RecordingRequest, SessionRecorder
from gtx.ivr.fields import METHOD_RE, NAME_RE, Fields
from gtx.ivr.state import encode, weight

#: The channel variable holding the id of the channel's current recording.
RECORDING_VARIABLE: Final = "GTX_RECORDING_ID"
#: The largest ``metadata`` struct, as JSON.
MAX_METADATA_BYTES: Final = 4096
_FORMAT_RE: Final = re.compile(r"[a-z0-9]{1,10}")
#: A file-name template: one name, no directory part (recordings stay in [recorder] dir).
_TEMPLATE_RE: Final = re.compile(r"[A-Za-z0-9_\-.{}]{1,200}")
_ID_RE: Final = re.compile(r"[A-Za-z0-9_\-.:]{1,100}")
_URL_RE: Final = re.compile(r"https?://[^\s\x00-\x1f\x7f]{1,2000}")
_NO_RECORDER: Final = ("no recorder on this node: recording actions need the Recorder API "
                       "(gtx.ini [recorder] and an [asterisk:NAME] server with ami)")

log = Logger(namespace="gtx.ivr")


class _Refused(Exception):
    """The recorder refused or failed: the action fails with this message as ``error``."""


async def _ask(session: str, what: str, d: Deferred[object] | Deferred[str] | Deferred[None],
               ) -> object:
    """Wait for the recorder; its errors become :class:`_Refused` with a clear message."""
    try:
        return await d
    except ApiError as e:
        raise _Refused(e.message) from None
    except Exception as e:
        log.failure("[{session}] {what}: the recorder failed", session=session, what=what)
        raise _Refused(f"the recorder failed: {e}") from None


def _recorder(ctx: RunContext) -> SessionRecorder:
    if ctx.recorder is None:
        raise _Refused(_NO_RECORDER)
    return ctx.recorder


def _metadata(fields: Fields) -> Mapping[str, object]:
    if not fields.has("metadata"):
        return {}
    members = fields.struct_member("metadata")
    for key, value in members.struct.items():
        if not NAME_RE.fullmatch(key):
            raise members.error(key, "expected a key of letters, digits and _, not starting "
                                "with a digit")
        if not json_value(value):
            raise members.error(key, "expected a string, number, boolean, array or struct",
                                value)
    size = weight(encode(members.struct))
    if size > MAX_METADATA_BYTES:
        raise fields.error("metadata", f"{size} bytes as JSON, over the limit of "
                           f"{MAX_METADATA_BYTES}")
    return dict(members.struct)


def _template(fields: Fields) -> str | None:
    name = fields.optional_string(
        "file", pattern=_TEMPLATE_RE,
        expected="a file name template (letters, digits, _ - . and {placeholders}; no "
                 "directory: recordings stay in the recorder's directory)")
    if name is not None and (name.startswith(".") or ".." in name):
        raise fields.error("file", "expected a name that does not start with '.' nor holds "
                           "'..'", name)
    return name


@register
@dataclass(frozen=True)
class RecordStart(Action):
    """Start recording the channel in the background; the result carries ``recording_id``."""

    kind = "record_start"
    parameters = ("format", "split", "beep", "max_seconds", "file", "metadata", "callback")
    request: RecordingRequest = field(default_factory=RecordingRequest)
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        url = method = None
        if fields.has("callback"):
            callback = fields.struct_member("callback")
            callback.only(("url", "method"))
            url = callback.string("url", pattern=_URL_RE, expected="an http:// or https:// url",
                                  max_length=2000)
            method = callback.string("method", pattern=METHOD_RE, expected="a method name")
        return cls(request=RecordingRequest(
            format=fields.string("format", "wav", pattern=_FORMAT_RE,
                                 expected="a sound format such as wav, gsm or ulaw"),
            split=fields.boolean("split", False),
            beep=fields.optional_integer("beep", low=1, high=3600),
            max_seconds=fields.optional_integer("max_seconds", low=1, high=86400),
            name=_template(fields),
            callback_url=url,
            callback_method=method,
            metadata=_metadata(fields),
        ))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        info = channel.info
        try:
            recorder = _recorder(ctx)
            recording_id = await _ask(ctx.session, self.kind, recorder.start(
                ctx.session, info.channel, info.asterisk, self.request))
        except _Refused as e:
            return ActionOutcome(status=FAILED, fields={"error": str(e)})
        await channel.set_variable(RECORDING_VARIABLE, str(recording_id))
        return ActionOutcome(fields={"recording_id": str(recording_id)})


@dataclass(frozen=True)
class _RecordingControl(Action):
    """record_stop/pause/resume: act on ``recording_id``, or the channel's current recording."""

    parameters = ("recording_id",)
    recording_id: str | None = None
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(recording_id=fields.optional_string(
            "recording_id", pattern=_ID_RE, expected="a recording id (as record_start gave it)"))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        try:
            recorder = _recorder(ctx)
            recording_id = self.recording_id or await channel.get_variable(RECORDING_VARIABLE)
            if not recording_id:
                raise _Refused("no recording was started on this channel: give recording_id")
            await _ask(ctx.session, self.kind, self._operate(recorder, recording_id))
        except _Refused as e:
            return ActionOutcome(status=FAILED, fields={"error": str(e)})
        await self._after(channel, recording_id)
        return ActionOutcome(fields={"recording_id": recording_id})

    def _operate(self, recorder: SessionRecorder, recording_id: str) -> Deferred[None]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    async def _after(self, channel: Channel, recording_id: str) -> None:
        """What the channel keeps once the recorder did it (nothing by default)."""


@register
@dataclass(frozen=True)
class RecordStop(_RecordingControl):
    """Stop a recording (default: the channel's current one)."""

    kind = "record_stop"

    def _operate(self, recorder: SessionRecorder, recording_id: str) -> Deferred[None]:
        return recorder.stop(recording_id)

    async def _after(self, channel: Channel, recording_id: str) -> None:
        if await channel.get_variable(RECORDING_VARIABLE) == recording_id:
            await channel.set_variable(RECORDING_VARIABLE, "")


@register
@dataclass(frozen=True)
class RecordPause(_RecordingControl):
    """Pause a recording: silence is written until ``record_resume`` (PCI: card numbers)."""

    kind = "record_pause"

    def _operate(self, recorder: SessionRecorder, recording_id: str) -> Deferred[None]:
        return recorder.pause(recording_id)


@register
@dataclass(frozen=True)
class RecordResume(_RecordingControl):
    """Resume a paused recording."""

    kind = "record_resume"

    def _operate(self, recorder: SessionRecorder, recording_id: str) -> Deferred[None]:
        return recorder.resume(recording_id)
