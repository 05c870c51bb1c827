"""Validation of a single call's options (``dialer.call``) and of the parts campaigns share
with it: dial string, caller id, on_answer, callback, Asterisk server. Used through
:mod:`gtx.dialer.validate`."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, TypeVar

from gtx.config import DialerSettings
from gtx.dialer import arguments as a
from gtx.dialer.model import Callback, CallRequest, OnAnswer
from gtx.errors import InvalidArgument

T = TypeVar("T")

CALL_OPTIONS: Final = frozenset({
    "channel", "caller_id", "timeout", "vars", "on_answer", "callback", "amd", "asterisk",
    "at", "delay",
})
#: A scheduled call (``at`` / ``delay``) is placed at most this far ahead (30 days).
SCHEDULE_HORIZON: Final = 30 * 86400.0
#: An ``at`` this many seconds in the past is still accepted (clocks differ a little): the
#: call is dialled at once.
SCHEDULE_TOLERANCE: Final = 60.0
ON_ANSWER_FORMS: Final = "{app} | {url, method} | {context, extension} | {queue}"

# A technology, a slash, then {number} once; no spaces or other braces (str.format-safe).
_CHANNEL_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[^\s{}]*\{number\}[^\s{}]*")
_FORMS: Final = (
    frozenset({"app"}), frozenset({"url", "method"}), frozenset({"context", "extension"}),
    frozenset({"queue"}),
)


@dataclass(frozen=True)
class Configured:
    """What gtx.ini configures that arguments may name: Asterisk servers and IVR apps."""

    servers: Collection[str] = ()
    apps: Collection[str] | None = None  # None: app names are not checked
    url_apps: bool = True  # on_answer {url, method} allowed ([ivr] allow_url_apps)


NOTHING: Final = Configured()


def call_request(
    destination: object,
    options: object,
    defaults: DialerSettings,
    configured: Configured = NOTHING,
) -> CallRequest:
    """``dialer.call(destination, options)`` as a :class:`CallRequest`."""
    number = a.phone_number(destination, "destination")
    given = a.struct(options, "options", CALL_OPTIONS)

    def optional(key: str, read: Callable[[object, str], T]) -> T | None:
        value = given.get(key)
        return None if value is None else read(value, f"options.{key}")

    if given.get("at") is not None and given.get("delay") is not None:
        raise InvalidArgument("options.delay", "give either at or delay, not both")

    return CallRequest(
        destination=number,
        channel=channel(given.get("channel"), "options.channel", defaults),
        caller_id=optional("caller_id", caller_id),
        timeout=a.integer(given.get("timeout", 30), "options.timeout", 1, 600,
                          "seconds of ringing"),
        vars=a.variables(given.get("vars", {}), "options.vars"),
        on_answer=optional("on_answer", lambda v, p: on_answer(v, p, configured)),
        callback=optional("callback", callback),
        amd=a.boolean(given.get("amd", False), "options.amd"),
        asterisk=optional("asterisk", lambda v, p: asterisk(v, p, configured)),
        not_before=optional("at", instant),
        delay=optional("delay", delay),
    )


def instant(value: object, path: str) -> float:
    """A moment as epoch seconds: a ``dateTime.iso8601`` (it carries no time zone: read as
    UTC) or an ISO 8601 string with a time zone (``2026-11-21T09:30:00Z``,
    ``2026-11-21T10:30:00+01:00``)."""
    what = ("a dateTime.iso8601 (UTC) or an ISO 8601 string with a time zone, such as "
            "'2026-11-21T09:30:00Z'")
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    text = a.text(value, path, what=what, longest=40)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise a.wrong(path, what, value) from None
    if moment.tzinfo is None:
        raise InvalidArgument(path, f"{text!r} has no time zone: add Z (UTC) or an offset "
                              "such as +01:00")
    return moment.timestamp()


_DELAY: Final = f"a number of seconds from 0 to {SCHEDULE_HORIZON:.0f} (30 days)"


def delay(value: object, path: str) -> float:
    """Seconds from now, at most :data:`SCHEDULE_HORIZON`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise a.wrong(path, _DELAY, value)
    if not 0 <= value <= SCHEDULE_HORIZON:
        raise a.wrong(path, _DELAY, value)
    return float(value)


def utc_text(epoch: float) -> str:
    """``2026-11-21T09:30:00Z``, for messages."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled(request: CallRequest, now: float) -> CallRequest:
    """The request with its time settled against ``now`` (the dialer's clock): ``delay``
    becomes ``not_before``; a time more than :data:`SCHEDULE_TOLERANCE` in the past or more
    than :data:`SCHEDULE_HORIZON` ahead is refused."""
    if request.delay is not None and request.not_before is not None:
        raise InvalidArgument("options.delay", "give either at or delay, not both")
    if request.delay is not None:
        if not 0 <= request.delay <= SCHEDULE_HORIZON:
            raise a.wrong("options.delay", _DELAY, request.delay)
        return replace(request, not_before=now + request.delay, delay=None)
    at = request.not_before
    if at is None:
        return request
    if at < now - SCHEDULE_TOLERANCE:
        raise InvalidArgument("options.at", f"{utc_text(at)} is in the past (now: "
                              f"{utc_text(now)})")
    if at > now + SCHEDULE_HORIZON:
        raise InvalidArgument("options.at", f"{utc_text(at)} is more than 30 days ahead (now: "
                              f"{utc_text(now)})")
    return request


def channel(value: object, path: str, defaults: DialerSettings) -> str:
    """A dial string template with ``{number}``; the ``[dialer] channel`` default when not
    given; a fault when there is neither."""
    if value is None:
        if defaults.channel is None:
            raise InvalidArgument(
                path, "missing: give a dial string template such as 'PJSIP/{number}@trunk', "
                "or set [dialer] channel in gtx.ini")
        return defaults.channel
    what = "a dial string template with {number}, e.g. 'PJSIP/{number}@trunk'"
    return a.text(value, path, pattern=_CHANNEL_RE, what=what, longest=200)


def caller_id(value: object, path: str) -> str:
    """A caller id: ``+15550100`` or ``"Sales" <+15550100>``, at most 80 characters."""
    return a.text(value, path, what="a caller id such as '\"Sales\" <+15550100>'", longest=80)


def on_answer(value: object, path: str, configured: Configured = NOTHING) -> OnAnswer:
    """Where an answered call goes: exactly one of {app} | {url, method} | {context,
    extension} | {queue}."""
    given = a.struct(value, path, {"app", "url", "method", "context", "extension", "queue"})
    if frozenset(given) not in _FORMS:
        got = ", ".join(sorted(given)) or "nothing"
        raise InvalidArgument(path, f"give exactly one of {ON_ANSWER_FORMS}, got {got}")
    if "app" in given:
        return OnAnswer(app=_app(given["app"], a.member(path, "app"), configured))
    if "url" in given:
        if not configured.url_apps:
            raise InvalidArgument(a.member(path, "url"), "web services named by URL are "
                                  "not allowed here ([ivr] allow_url_apps = no): use {app}")
        return OnAnswer(url=a.http_url(given["url"], a.member(path, "url")),
                        method=method(given["method"], a.member(path, "method")))
    if "context" in given:
        return OnAnswer(
            context=a.text(given["context"], a.member(path, "context"),
                           pattern=a.DIALPLAN_NAME_RE, what="a dialplan context name"),
            extension=a.text(given["extension"], a.member(path, "extension"),
                             pattern=a.EXTENSION_RE, what="a dialplan extension"),
        )
    return OnAnswer(queue=queue(given["queue"], a.member(path, "queue")))


def _app(value: object, path: str, configured: Configured) -> str:
    app = a.text(value, path, pattern=a.DIALPLAN_NAME_RE, what="the name of an [ivr:APP]")
    if configured.apps is not None and app not in configured.apps:
        known = ", ".join(sorted(configured.apps)) or "none"
        raise InvalidArgument(path, f"no IVR app {app!r} in gtx.ini; configured apps: {known}")
    return app


def callback(value: object, path: str) -> Callback:
    """The XML-RPC method that receives a call's events: {url, method}."""
    given = a.struct(value, path, {"url", "method"})
    for key in ("url", "method"):
        if key not in given:
            raise InvalidArgument(a.member(path, key), "missing: a callback is {url, method}")
    return Callback(url=a.http_url(given["url"], a.member(path, "url")),
                    method=method(given["method"], a.member(path, "method")))


def asterisk(value: object, path: str, configured: Configured = NOTHING) -> str:
    """The name of a configured ``[asterisk:NAME]`` server."""
    name = a.text(value, path, what="the name of an [asterisk:NAME] server")
    if name not in configured.servers:
        known = ", ".join(sorted(configured.servers))
        listing = f"configured servers: {known}" if known else "no server is configured"
        raise InvalidArgument(path, f"no Asterisk server {name!r} in gtx.ini; {listing}")
    return name


def method(value: object, path: str) -> str:
    """An XML-RPC method name."""
    return a.text(value, path, pattern=a.METHOD_RE, what="an XML-RPC method name")


def queue(value: object, path: str) -> str:
    """An Asterisk queue name."""
    return a.text(value, path, pattern=a.DIALPLAN_NAME_RE, what="an Asterisk queue name")
