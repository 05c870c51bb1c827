"""The ``callback`` action: have the dialer call a number back later, into an IVR app.

"Press 1 to be called back in an hour": the action asks the node's dialer (a
:class:`gtx.ivr.app.CallbackScheduler`) to place a call at a time; once that call is answered,
it enters an IVR app with the vars given here (docs/ivr-api.md, ``callback``). The session
goes on at once: the action only schedules. Its result carries the dialer's ``call_id``, which
``dialer.call_status`` and ``dialer.hangup`` accept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Self

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
from gtx.ivr.actions.calls import CALLER_ID_RE
from gtx.ivr.app import CallbackScheduler
from gtx.ivr.fields import DIALPLAN_NAME_RE, NAME_RE, Fields
from gtx.ivr.state import MAX_VALUE_BYTES, encode, weight

#: A call back is placed at most this far ahead (30 days).
HORIZON: Final = 30 * 86400
#: An ``at`` this many seconds in the past still calls back (at once).
TOLERANCE: Final = 60.0
#: A phone number once spaces, dashes, dots, slashes and parentheses are dropped.
_NUMBER_RE: Final = re.compile(r"\+?[0-9]{3,20}")
_SEPARATORS: Final = str.maketrans("", "", " -.()/")
_AT: Final = ("an ISO 8601 time with a time zone, such as '2026-11-21T09:30:00Z' or "
              "'2026-11-21T10:30:00+01:00' (or a dateTime.iso8601, read as UTC)")

log = Logger(namespace="gtx.ivr")


def phone_number(text: str) -> str | None:
    """``text`` as a number the dialer can call (digits, an optional leading +), or None."""
    number = text.strip().translate(_SEPARATORS)
    return number if _NUMBER_RE.fullmatch(number) else None


def utc_text(epoch: float) -> str:
    """``2026-11-21T09:30:05.250Z``: the form of the dialer's times."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _instant(fields: Fields, key: str) -> float:
    value = fields.struct[key]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    text = fields.string(key, expected=_AT, max_length=40)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fields.error(key, f"expected {_AT}", value) from None
    if moment.tzinfo is None:
        raise fields.error(key, f"{text!r} has no time zone: add Z (UTC) or an offset such as "
                           "+01:00")
    return moment.timestamp()


def _delay(fields: Fields, key: str) -> float:
    value = fields.struct[key]
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not 0 <= value <= HORIZON):
        raise fields.error(key, f"expected a number of seconds from 0 to {HORIZON} (30 days)",
                           value)
    return float(value)


def _vars(fields: Fields) -> dict[str, object]:
    if not fields.has("vars"):
        return {}
    members = fields.struct_member("vars")
    for key, value in members.struct.items():
        if not NAME_RE.fullmatch(key):
            raise members.error(key, "expected a variable name of letters, digits and _, not "
                                "starting with a digit")
        if not json_value(value):
            raise members.error(key, "expected a string, number, boolean, array or struct "
                                "(they become the new session's vars)", value)
    size = weight(encode(members.struct))
    if size > MAX_VALUE_BYTES:
        raise fields.error("vars", f"{size} bytes as JSON (quotes counted twice), over the "
                           f"limit of {MAX_VALUE_BYTES} of session variables")
    return dict(members.struct)


def json_value(value: object) -> bool:
    """Whether ``value`` can be kept as JSON (no dates, bytes, nil or non-finite numbers)."""
    if isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(json_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_value(v) for k, v in value.items())
    return False


def _target(fields: Fields, ctx: ValidationContext) -> str | tuple[str, str]:
    """The app the called-back person enters: ``app``, or the app of this session."""
    if fields.has("app"):
        app = fields.string("app", pattern=DIALPLAN_NAME_RE, expected="the name of a "
                            "configured app")
        if app not in ctx.apps:
            listing = ", ".join(sorted(ctx.apps)) or "none"
            raise fields.error("app", f"expected a configured app (configured: {listing})", app)
        return app
    if ctx.app.name in ctx.apps:
        return ctx.app.name
    return (ctx.app.url, ctx.app.method)  # a session of a web service named by URL


@register
@dataclass(frozen=True)
class CallBack(Action):
    """Schedule a dialer call to ``number`` (default: the caller) after ``delay`` seconds or
    at ``at``; answered, it enters ``app`` (default: this session's) with ``vars``."""

    kind = "callback"
    parameters = ("number", "delay", "at", "app", "vars", "caller_id")
    number: str | None = None  # None: the caller's number
    delay: float | None = None
    at: float | None = None
    target: str | tuple[str, str] = ""
    vars: Mapping[str, object] = field(default_factory=dict)
    caller_id: str | None = None
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        if fields.has("delay") == fields.has("at"):
            raise fields.error(None, "expected exactly one of delay (seconds from now) and at "
                               "(a time)")
        number = None
        if fields.has("number"):
            given = fields.string("number", expected="a phone number", max_length=40)
            number = phone_number(given)
            if number is None:
                raise fields.error("number", "expected a phone number: 3 to 20 digits, "
                                   "optionally after a +", given)
        return cls(
            number=number,
            delay=_delay(fields, "delay") if fields.has("delay") else None,
            at=_instant(fields, "at") if fields.has("at") else None,
            target=_target(fields, ctx),
            vars=_vars(fields),
            caller_id=fields.optional_string(
                "caller_id", pattern=CALLER_ID_RE,
                expected="a caller id such as '\"Sales\" <0123>' without , | & $ or \\",
            ),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        try:
            if ctx.scheduler is None:
                raise _Refused("no dialer on this node: call-backs need the dialer (gtx.ini "
                               "[dialer] and an [asterisk:NAME] server with ami)")
            number, at = self._whom_and_when(channel, ctx)
            call_id = await self._schedule(ctx.scheduler, ctx.session, number, at)
        except _Refused as e:
            return ActionOutcome(status=FAILED, fields={"error": str(e)})
        return ActionOutcome(fields={"call_id": call_id, "number": number, "at": utc_text(at)})

    def _whom_and_when(self, channel: Channel, ctx: RunContext) -> tuple[str, float]:
        caller = channel.info.caller_number
        number = self.number or phone_number(caller)
        if number is None:
            raise _Refused(f"the caller's number ({caller or 'unknown'}) cannot be called "
                           "back: give number")
        now = ctx.clock.seconds()
        at = self.at if self.at is not None else now + (self.delay or 0.0)
        if at < now - TOLERANCE:
            raise _Refused(f"at: {utc_text(at)} is in the past (now: {utc_text(now)})")
        if at > now + HORIZON:
            raise _Refused(f"at: {utc_text(at)} is more than 30 days ahead")
        return number, at

    async def _schedule(self, scheduler: CallbackScheduler, session: str, number: str,
                        at: float) -> str:
        try:
            return await scheduler.schedule(number, at, self.target, self.vars, self.caller_id)
        except ApiError as e:
            raise _Refused(e.message) from None
        except Exception as e:
            log.failure("[{session}] callback: the dialer failed", session=session)
            raise _Refused(f"the dialer failed: {e}") from None


class _Refused(Exception):
    """The call back cannot be scheduled: the action fails with this message as ``error``."""
