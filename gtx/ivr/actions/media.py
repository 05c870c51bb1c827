"""Actions that play to the caller or wait: answer, hangup, play, say, wait, moh, dtmf."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

from gtx.channel import Channel
from gtx.ivr.actions.base import (
    Action,
    ActionOutcome,
    EndSession,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.fields import DIALPLAN_NAME_RE, Fields

#: The longest wait or music on hold one action may ask for (no caller is left waiting forever).
MAX_WAIT_SECONDS: Final = 3600.0

SAY_TYPES: Final = ("digits", "number", "alpha", "phonetic", "date", "time")
_SAY_VALUE_RE: Final = {
    "digits": (re.compile(r"[0-9*#]{1,64}"), "a string of digits"),
    "number": (re.compile(r"-?[0-9]{1,15}"), "an int or a string of digits"),
    "alpha": (re.compile(r"[A-Za-z0-9 .,@_+\-]{1,64}"), "letters and digits (at most 64)"),
    "phonetic": (re.compile(r"[A-Za-z0-9 .,@_+\-]{1,64}"), "letters and digits (at most 64)"),
    "date": (re.compile(r"[0-9]{1,12}"), "seconds since the epoch (an int)"),
    "time": (re.compile(r"[0-9]{1,12}"), "seconds since the epoch (an int)"),
}


@register
@dataclass(frozen=True)
class Answer(Action):
    """Answer the channel."""

    kind = "answer"
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls()

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        await channel.answer()
        return ActionOutcome()


@register
@dataclass(frozen=True)
class Hangup(Action):
    """End the session and hang up (with a Q.850 cause if given)."""

    kind = "hangup"
    parameters = ("cause",)
    cause: int | None = None
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(cause=fields.optional_integer("cause", low=1, high=127))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        # The engine hangs up once GTX_STATUS=DONE is written, so the dialplan's h extension
        # already sees the final state.
        return ActionOutcome(effect=EndSession(hangup=True, cause=self.cause))


@register
@dataclass(frozen=True)
class Play(Action):
    """Play sound files in order; a digit of ``interrupt`` stops playback."""

    kind = "play"
    parameters = ("files", "interrupt")
    files: tuple[str, ...] = ()
    interrupt: str = ""
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(files=fields.files("files"), interrupt=fields.dtmf("interrupt", ""))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        played = 0
        missing: list[str] = []
        for file in self.files:
            result = await channel.stream(file, self.interrupt)
            if not result.played:
                missing.append(file)
                continue
            played += 1
            if result.digit:
                return ActionOutcome(
                    fields={"digit": result.digit, "played": played, "missing": missing}
                )
        return ActionOutcome(fields={"digit": "", "played": played, "missing": missing})


@register
@dataclass(frozen=True)
class Say(Action):
    """Say digits, a number, letters, a date or a time in the channel's language."""

    kind = "say"
    parameters = ("type", "value", "interrupt")
    type: str = "digits"
    value: str = ""
    interrupt: str = ""
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        kind = fields.choice("type", SAY_TYPES)
        raw = fields.struct.get("value")
        pattern, expected = _SAY_VALUE_RE[kind]
        numeric = kind in ("number", "date", "time")
        if numeric and isinstance(raw, int) and not isinstance(raw, bool):
            value = str(raw)
        elif isinstance(raw, str):
            value = raw
        else:
            raise fields.error("value", f"expected {expected} for type {kind!r}", raw)
        if not pattern.fullmatch(value):
            raise fields.error("value", f"expected {expected} for type {kind!r}", raw)
        return cls(type=kind, value=value, interrupt=fields.dtmf("interrupt", ""))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        digit = await channel.say(self.type, self.value, self.interrupt)
        return ActionOutcome(fields={"digit": digit or ""})


@register
@dataclass(frozen=True)
class Wait(Action):
    """Wait in silence."""

    kind = "wait"
    parameters = ("seconds",)
    seconds: float = 1.0
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(seconds=fields.seconds("seconds", low=0, high=MAX_WAIT_SECONDS))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        await channel.wait(self.seconds)
        return ActionOutcome()


@register
@dataclass(frozen=True)
class MusicOnHold(Action):
    """Play music on hold for a number of seconds."""

    kind = "moh"
    parameters = ("class", "seconds")
    moh_class: str = "default"
    seconds: float = 1.0
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(
            moh_class=fields.string(
                "class", "default", pattern=DIALPLAN_NAME_RE, expected="a music on hold class"
            ),
            seconds=fields.seconds("seconds", low=0, high=MAX_WAIT_SECONDS),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        await channel.music_on_hold(self.moh_class, self.seconds)
        return ActionOutcome()


@register
@dataclass(frozen=True)
class SendDtmf(Action):
    """Send DTMF digits to the caller (``w`` waits half a second)."""

    kind = "dtmf"
    parameters = ("digits",)
    digits: str = ""
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        digits = fields.dtmf("digits", extra="w")
        if not digits:
            raise fields.error("digits", "expected at least one DTMF digit", digits)
        return cls(digits=digits)

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        await channel.send_dtmf(self.digits)
        return ActionOutcome()
