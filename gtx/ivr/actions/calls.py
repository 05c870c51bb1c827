"""Actions that connect the caller elsewhere: dial, queue, conference, transfer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

from gtx.channel import Channel
from gtx.ivr.actions.base import (
    FAILED,
    OK,
    TIMEOUT,
    Action,
    ActionOutcome,
    EndSession,
    HandOff,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.fields import DIALPLAN_NAME_RE, Fields

#: Dial() options gtx lets a web service use: simple letters without arguments. Options that
#: run dialplan or macros (U, M, G, F, b, B …), or take arguments, are refused.
DIAL_OPTIONS: Final = frozenset("cgHhiIkKmrtTwWxX")
#: Queue() options allowed, on the same principle (no b/B gosubs, no arguments).
QUEUE_OPTIONS: Final = frozenset("cCdhHiIkKnrRtTwWxX")
#: A dial string: TECH/resource, without the characters that would let it smuggle in more
#: targets or Dial() arguments (& , |), spaces, quotes or dialplan expressions.
_DIAL_STRING_RE: Final = re.compile(r"[A-Za-z0-9_]{1,20}/[A-Za-z0-9_\-.@:+*#=/]{1,200}")
#: Channel technologies that carry a session's state to another Asterisk server (IAXVARs, SIP
#: headers): the ``dial`` of a ``transfer``.
HANDOFF_TECHNOLOGIES: Final = ("IAX2", "PJSIP")
CALLER_ID_RE: Final = re.compile(r"[^\x00-\x1f\x7f\\$,|&]{1,80}")
_EXTENSION_RE: Final = re.compile(r"[A-Za-z0-9_\-+*#.]{1,80}")
MAX_TARGETS: Final = 20


def _options(fields: Fields, allowed: frozenset[str], application: str) -> str:
    value = fields.string("options", "", max_length=32)
    for letter in value:
        if letter not in allowed:
            raise fields.error(
                "options",
                f"expected {application}() option letters from {''.join(sorted(allowed))!r} "
                f"({letter!r} is not allowed)",
                value,
            )
    return value


@register
@dataclass(frozen=True)
class Dial(Action):
    """Ring one or more targets together and bridge the caller with the one that answers."""

    kind = "dial"
    parameters = ("target", "targets", "timeout", "caller_id", "options", "time_limit")
    targets: tuple[str, ...] = ()
    timeout: int = 30
    caller_id: str | None = None
    options: str = ""
    time_limit: int | None = None
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        expected = "a dial string such as 'PJSIP/100' or 'PJSIP/0123@trunk'"
        if fields.has("target") == fields.has("targets"):
            raise fields.error(None, "expected either target (a string) or targets (an array)")
        if fields.has("target"):
            targets: tuple[str, ...] = (
                fields.string("target", pattern=_DIAL_STRING_RE, expected=expected),
            )
        else:
            raw = fields.struct["targets"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TARGETS:
                raise fields.error("targets", f"expected an array of 1 to {MAX_TARGETS} dial "
                                   "strings", raw)
            for index, item in enumerate(raw):
                if not isinstance(item, str) or not _DIAL_STRING_RE.fullmatch(item):
                    raise fields.error(f"targets[{index}]", f"expected {expected}", item)
            targets = tuple(raw)
        return cls(
            targets=targets,
            timeout=fields.integer("timeout", 30, low=1, high=600),
            caller_id=fields.optional_string(
                "caller_id", pattern=CALLER_ID_RE,
                expected="a caller id such as '\"Sales\" <0123>' without , | & $ or \\",
            ),
            options=_options(fields, DIAL_OPTIONS, "Dial"),
            time_limit=fields.optional_integer("time_limit", low=1, high=86400),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        result = await channel.dial(
            self.targets, self.timeout, self.options, self.caller_id, self.time_limit
        )
        return ActionOutcome(
            status=OK if result.status == "ANSWER" else FAILED,
            fields={
                "dialstatus": result.status,
                "answered_seconds": result.answered_seconds,
                "dialed_seconds": result.dialed_seconds,
            },
        )


@register
@dataclass(frozen=True)
class Queue(Action):
    """Put the caller in an Asterisk queue."""

    kind = "queue"
    parameters = ("queue", "timeout", "options")
    queue: str = ""
    timeout: int | None = None
    options: str = ""
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(
            queue=fields.string("queue", pattern=DIALPLAN_NAME_RE, expected="a queue name"),
            timeout=fields.optional_integer("timeout", low=1, high=86400),
            options=_options(fields, QUEUE_OPTIONS, "Queue"),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        status = await channel.queue(self.queue, self.timeout, self.options)
        outcome = {"": OK, "CONTINUE": OK, "TIMEOUT": TIMEOUT}.get(status, FAILED)
        return ActionOutcome(status=outcome, fields={"queuestatus": status})


@register
@dataclass(frozen=True)
class Conference(Action):
    """Join a ConfBridge conference until the caller leaves it."""

    kind = "conference"
    parameters = ("conference", "bridge_profile", "user_profile", "menu")
    conference: str = ""
    profiles: tuple[tuple[str, str], ...] = ()
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        profiles = []
        for key in ("bridge_profile", "user_profile", "menu"):
            value = fields.optional_string(key, pattern=DIALPLAN_NAME_RE, expected="a profile name")
            if value is not None:
                profiles.append((key, value))
        return cls(
            conference=fields.string("conference", pattern=DIALPLAN_NAME_RE,
                                     expected="a conference name"),
            profiles=tuple(profiles),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        await channel.conference(self.conference, dict(self.profiles))
        return ActionOutcome()


@dataclass(frozen=True)
class DialplanHandOff(EndSession):
    """A ``transfer`` with ``handoff``: the session ends here but is not over. It leaves the
    state of its next step on the channel with ``GTX_STATUS=HANDOFF`` (the session writes it,
    since it alone knows the next step), and the call goes on at the dialplan location the
    transfer set; the next gtx session started on the channel continues it."""

    hangup: bool = False


@register
@dataclass(frozen=True)
class Transfer(Action):
    """End the session and continue the dialplan at context/extension/priority, or hand the
    call with its session to another Asterisk server (``dial``: IAX2/… or PJSIP/…), where gtx
    continues the same session at the response's ``next``. With ``handoff``, the dialplan
    location gets the session too: whichever gtx backend (FastAGI or ARI) takes the call
    there continues it at ``next``."""

    kind = "transfer"
    parameters = ("context", "extension", "priority", "dial", "timeout", "handoff")
    must_be_last = True
    context: str = ""
    extension: str = ""
    priority: int = 1
    dial: str | None = None  # another server: IAX2/peer/exten or PJSIP/exten@endpoint
    timeout: int = 30
    handoff: bool = False  # the session continues at the dialplan location (GTX_STATUS=HANDOFF)
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        handoff = fields.boolean("handoff", False)
        if fields.has("dial"):
            if fields.has("context") or fields.has("extension") or fields.has("priority"):
                raise fields.error(None, "expected either dial (another server) or context and "
                                   "extension (this server's dialplan), not both")
            if handoff:
                raise fields.error("handoff", "applies to a transfer with context and extension "
                                   "only (a transfer with dial always carries the session)")
            dial = fields.string("dial", pattern=_DIAL_STRING_RE,
                                 expected="a dial string such as 'IAX2/serverb/ivr' or "
                                 "'PJSIP/ivr@serverb'")
            if dial.split("/", 1)[0].upper() not in HANDOFF_TECHNOLOGIES:
                raise fields.error("dial", "expected an IAX2/… or PJSIP/… destination: only "
                                   "they carry the session to the other server", dial)
            return cls(dial=dial, timeout=fields.integer("timeout", 30, low=1, high=600))
        if fields.has("timeout"):
            raise fields.error("timeout", "applies to a transfer with dial only")
        return cls(
            context=fields.string("context", pattern=DIALPLAN_NAME_RE,
                                  expected="a dialplan context"),
            extension=fields.string("extension", pattern=_EXTENSION_RE,
                                    expected="a dialplan extension"),
            priority=fields.integer("priority", 1, low=1, high=99999),
            handoff=handoff,
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        if self.dial is not None:
            return ActionOutcome(fields={"dial": self.dial},
                                 effect=HandOff(self.dial, self.timeout))
        await channel.transfer(self.context, self.extension, self.priority)
        if self.handoff:
            return ActionOutcome(fields={"handoff": True}, effect=DialplanHandOff())
        return ActionOutcome(effect=EndSession(hangup=False))
