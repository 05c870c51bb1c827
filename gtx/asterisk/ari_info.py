"""What ARI tells about a channel: the call of its ``StasisStart`` event, whether an error
answer means the channel is gone, and whether it means a function could not be read.

The Stasis arguments name the IVR app: ``Stasis(gtx,APP[,ARG…])`` → app APP with those args;
``Stasis(gtx,ivr?url=…&method=…[,ARG…])`` (the query URL-encoded, as with AGI) and
``Stasis(gtx,ivr,URL[,METHOD[,ARG…]])`` → the ``ivr`` app with that url and method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from gtx.asterisk.ari_api import AriConflict, AriHTTPError, AriNotFound, AriServerError
from gtx.asterisk.ari_events import Event, stasis_args
from gtx.channel import CallInfo

#: The app name of ``ivr?url=…&method=…`` (and ``ivr,URL,METHOD``) requests.
URL_APP: Final = "ivr"
#: What ``getChannelVar`` answers (500) when a function's read fails (resource_channels.c).
FUNCTION_UNREADABLE: Final = "Unable to read provided function"


def parse_stasis_args(args: Sequence[str]) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """The app name, query and arguments of ``Stasis(gtx,ARGS…)`` (see the module docstring)."""
    if not args:
        return "", {}, ()
    first, rest = args[0], tuple(args[1:])
    path, _, query = first.partition("?")
    if query:
        return path, dict(parse_qsl(query, keep_blank_values=True)), rest
    if path == URL_APP and rest and rest[0].startswith(("http://", "https://")):
        url_query = {"url": rest[0]}
        if len(rest) > 1 and rest[1]:
            url_query["method"] = rest[1]
        return path, url_query, rest[2:]
    return path, {}, rest


def _flatten(prefix: str, value: Mapping[str, Any], into: dict[str, str]) -> None:
    for key, item in value.items():
        if isinstance(item, Mapping):
            _flatten(f"{prefix}{key}.", item, into)
        else:
            into[f"{prefix}{key}"] = "" if item is None else str(item)


def call_info(event: Event, asterisk: str) -> CallInfo:
    """The :class:`CallInfo` of a ``StasisStart`` event (``called`` is read later, by
    :meth:`gtx.asterisk.ari_channel.ARIChannel.prepare`). ``environment`` holds the channel's
    JSON flattened (``dialplan.app_data`` …) and ``args``, the Stasis arguments."""
    channel = event.get("channel")
    if not isinstance(channel, Mapping) or not isinstance(channel.get("id"), str):
        raise ValueError(f"not a channel event: {str(event)[:200]}")
    caller = channel.get("caller") or {}
    dialplan = channel.get("dialplan") or {}
    args = stasis_args(event)
    script, query, rest = parse_stasis_args(args)
    environment: dict[str, str] = {}
    _flatten("", channel, environment)
    environment["args"] = ",".join(args)
    return CallInfo(
        channel=str(channel.get("name", "")),
        uniqueid=channel["id"],
        caller_number=str(caller.get("number", "")),
        caller_name=str(caller.get("name", "")),
        context=str(dialplan.get("context", "")),
        extension=str(dialplan.get("exten", "")),
        priority=str(dialplan.get("priority", "")),
        language=str(channel.get("language") or "en"),
        accountcode=str(channel.get("accountcode", "")),
        script=script,
        query=query,
        args=rest,
        asterisk=asterisk,
        environment=environment,
    )


def dialplan_location(info: CallInfo) -> tuple[str, str, int] | None:
    """``(context, extension, priority)`` of the call's place in the dialplan as its
    ``StasisStart`` gave it (the ``Stasis()`` it runs); None when unknown."""
    if info.context and info.extension and info.priority.isdigit():
        return info.context, info.extension, int(info.priority)
    return None


def channel_missing(error: AriHTTPError) -> bool:
    """True when a 404/409 answer means the channel is gone or out of our application (not,
    say, that a variable or a recording does not exist)."""
    message = error.message.lower()
    if isinstance(error, AriNotFound):
        return not message or "channel" in message
    if isinstance(error, AriConflict):
        return not message or "stasis" in message
    return False


def function_unreadable(error: AriHTTPError) -> bool:
    """True when ``getChannelVar`` of a function answered 500 "Unable to read provided
    function": the function failed to read, as ``PJSIP_HEADER(read,X-NAME)`` does when the
    header is absent. FastAGI's GET FULL VARIABLE gives nothing in that case: the value is
    unset."""
    return isinstance(error, AriServerError) and FUNCTION_UNREADABLE.lower() in \
        error.message.lower()
