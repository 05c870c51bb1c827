"""Validation of the Recorder API's arguments into the values of :mod:`gtx.recorder.model`.

Pure functions, in the Dialer API's manner (:mod:`gtx.dialer.arguments`): XML-RPC values in,
model values out, or :class:`gtx.errors.InvalidArgument` (fault 400) naming the field
(``target.channel``, ``options.name``, ``filter.state[1]``). Unknown keys are refused, never
ignored; a key sent as ``nil`` counts as not given.

- :func:`start_arguments` — ``recorder.start(target, options)``;
- :func:`recording_filter` — ``recorder.list(filter)``;
- :func:`url_options` — ``recorder.url(recording_id, options)``;
- :func:`pause_options` — ``recorder.pause(recording_id, options)``;
- :func:`recording_id` — ids;
- :func:`file_name` — the one place a file-name template becomes a file name (the recorder
  engine calls it), so that no value sent by a client ever reaches a path unchecked.

Metadata is kept with a recording and sent back as is: its strings may hold ``/`` or ``..``
(a customer's file reference, a URL), because metadata never goes into a path. Only the name
template does, and it is checked here twice: when received, and when expanded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from gtx.dialer import arguments as a
from gtx.dialer import validate as dialer
from gtx.dialer.validate_call import NOTHING, Configured, asterisk, callback, instant
from gtx.errors import InvalidArgument
from gtx.recorder.model import PauseMode, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.service import RecordingFilter

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_BEEP",
    "FILTER_KEYS",
    "FORMATS",
    "MAX_PAGE",
    "OPTION_KEYS",
    "PAUSE_KEYS",
    "PAUSE_MODES",
    "TARGET_KEYS",
    "Configured",
    "UrlOptions",
    "file_name",
    "pause_options",
    "recording_filter",
    "recording_id",
    "start_arguments",
    "url_options",
]

#: The Asterisk file formats a recording may be written in, and the extension each is written
#: with: MixMonitor picks the format from the file's extension (format_wav_gsm writes "WAV").
FORMATS: Final[Mapping[str, str]] = {
    "wav": "wav", "wav16": "wav16", "wav49": "WAV", "gsm": "gsm", "ulaw": "ulaw",
    "alaw": "alaw", "sln": "sln", "sln16": "sln16", "g722": "g722", "g729": "g729",
}
#: The Content-Type a recording is served with, by file extension. Raw signed linear is in
#: the Asterisk host's byte order, which no audio/L16 type describes: it goes as bytes.
CONTENT_TYPES: Final[Mapping[str, str]] = {
    "wav": "audio/wav", "wav16": "audio/wav", "WAV": "audio/wav", "wav49": "audio/wav",
    "gsm": "audio/x-gsm",
    "ulaw": "audio/basic", "alaw": "audio/x-alaw-basic", "sln": "application/octet-stream",
    "sln16": "application/octet-stream", "g722": "audio/G722", "g729": "audio/G729",
}
TARGET_KEYS: Final = frozenset({"call_id", "session", "channel", "uniqueid", "asterisk"})
OPTION_KEYS: Final = frozenset({
    "format", "split", "beep", "max_seconds", "name", "callback", "metadata",
})
PAUSE_KEYS: Final = frozenset({"mode"})
#: ``recorder.pause``'s modes: ``silence`` (written meanwhile) or ``gap`` (nothing written).
PAUSE_MODES: Final[Mapping[str, PauseMode]] = {mode.value: mode for mode in PauseMode}
FILTER_KEYS: Final = frozenset({
    "since", "until", "call_id", "campaign_id", "session", "state", "after", "limit",
})
#: ``beep: true`` beeps every this many seconds (MixMonitor's own default for B()).
DEFAULT_BEEP: Final = 15
MAX_SECONDS: Final = 86400
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
MAX_METADATA_KEYS: Final = 50
#: Bound on the metadata's size: keys and string values, in characters.
MAX_METADATA_SIZE: Final = 8192
MAX_METADATA_STRING: Final = 1024
PLACEHOLDERS: Final = ("recording_id", "call_id", "session", "date", "time")

_TARGET_FORMS: Final = "{call_id} | {session} | {channel} | {uniqueid} (and optional asterisk)"
_SELECTORS: Final = ("call_id", "session", "channel", "uniqueid")
_ID_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# A channel name: technology/resource, no spaces (PJSIP/alice-00000001, Local/100@ctx-…;1).
_CHANNEL_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[^\s,|]{1,200}")
# A Uniqueid (1700000000.42) or the ChannelId an originator assigned.
_UNIQUEID_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,150}")
_NAME_PART_RE: Final = re.compile(r"\{([^{}]*)\}|([A-Za-z0-9_.\-]+)|(.)", re.DOTALL)
_SAFE_CHARS_RE: Final = re.compile(r"[^A-Za-z0-9_.\-]")
_NAME_LONGEST: Final = 120


# ------------------------------------------------------------------------- recorder.start


def start_arguments(
    target: object, options: object, configured: Configured = NOTHING
) -> tuple[RecordingTarget, RecordingOptions]:
    """``recorder.start(target, options)``: what to record, and how."""
    return recording_target(target, "target", configured), recording_options(options)


def recording_target(
    value: object, path: str = "target", configured: Configured = NOTHING
) -> RecordingTarget:
    """Exactly one of ``{call_id}``, ``{session}``, ``{channel}``, ``{uniqueid}``, with an
    optional ``asterisk`` (a configured server)."""
    given = a.struct(value, path, TARGET_KEYS)
    chosen = [key for key in _SELECTORS if key in given]
    if len(chosen) != 1:
        got = ", ".join(chosen) or "none of them"
        raise InvalidArgument(path, f"give exactly one of {_TARGET_FORMS}, got {got}")
    key = chosen[0]
    where = a.member(path, key)
    server = given.get("asterisk")
    return RecordingTarget(
        call_id=dialer.call_id(given[key], where) if key == "call_id" else None,
        session=_session(given[key], where) if key == "session" else None,
        channel=a.text(given[key], where, pattern=_CHANNEL_RE,
                       what="a channel name such as 'PJSIP/alice-00000001'")
        if key == "channel" else None,
        uniqueid=a.text(given[key], where, pattern=_UNIQUEID_RE,
                        what="a channel Uniqueid such as '1795000000.42'")
        if key == "uniqueid" else None,
        asterisk=None if server is None else asterisk(server, a.member(path, "asterisk"),
                                                      configured),
    )


def _session(value: object, path: str) -> str:
    return a.text(value, path, pattern=_ID_RE, what="an IVR session id")


def recording_options(value: object, path: str = "options") -> RecordingOptions:
    """``{format, split, beep, max_seconds, name, callback, metadata}``, all optional."""
    given = a.struct({} if value is None else value, path, OPTION_KEYS)

    def where(key: str) -> str:
        return a.member(path, key)

    hook = given.get("callback")
    checked = None if hook is None else callback(hook, where("callback"))
    limit = given.get("max_seconds")
    return RecordingOptions(
        format=a.choice(given.get("format", "wav"), where("format"), FORMATS),
        split=a.boolean(given.get("split", False), where("split")),
        beep=beep(given.get("beep", False), where("beep")),
        max_seconds=None if limit is None else a.integer(limit, where("max_seconds"), 1,
                                                         MAX_SECONDS, "seconds"),
        name=name_template(given.get("name", "{recording_id}"), where("name")),
        callback_url=None if checked is None else checked.url,
        callback_method=None if checked is None else checked.method,
        metadata=metadata(given.get("metadata", {}), where("metadata")),
    )


def beep(value: object, path: str) -> int | None:
    """A periodic beep: ``true`` (every :data:`DEFAULT_BEEP` seconds), ``false`` (none) or
    its interval in seconds."""
    if isinstance(value, bool):
        return DEFAULT_BEEP if value else None
    return a.integer(value, path, 1, 3600, "seconds between beeps, or true / false")


def name_template(value: object, path: str) -> str:
    """A file-name template: letters, digits, ``_ . -`` and the placeholders
    ``{recording_id} {call_id} {session} {date} {time}``; it must hold ``{recording_id}``
    (two recordings never share a file). Never a path: no ``/``, ``\\``, ``..``, and no
    leading dot. gtx adds the extension of the format."""
    template = a.text(value, path, what="a file-name template such as "
                      "'{date}-{recording_id}'", longest=_NAME_LONGEST)
    if "/" in template or "\\" in template:
        raise InvalidArgument(path, "a file name, not a path: '/' and '\\' are not allowed "
                              "(recordings are written in [recorder] dir)")
    if ".." in template:
        raise InvalidArgument(path, "'..' is not allowed in a file name")
    if template.startswith("."):
        raise InvalidArgument(path, "a file name may not start with '.'")
    for match in _NAME_PART_RE.finditer(template):
        placeholder, _, other = match.groups()
        if placeholder is not None and placeholder not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise InvalidArgument(path, f"unknown placeholder {{{placeholder}}}; known: "
                                  f"{known}")
        if other is not None:
            raise InvalidArgument(path, f"character {other!r} is not allowed: use letters, "
                                  "digits, '_', '.', '-' and placeholders")
    if "{recording_id}" not in template:
        raise InvalidArgument(path, "must contain {recording_id}, so that two recordings "
                              "never write the same file")
    return template


def metadata(value: object, path: str) -> dict[str, object]:
    """Free metadata: a struct of at most :data:`MAX_METADATA_KEYS` names to strings, ints,
    doubles or booleans, :data:`MAX_METADATA_SIZE` characters in all. Kept and answered as
    is, never used in a path (so ``/`` and ``..`` in a value are fine)."""
    if not isinstance(value, dict):
        raise a.wrong(path, "a struct of names to strings, ints, doubles or booleans", value)
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidArgument(path, f"{len(value)} members, at most {MAX_METADATA_KEYS}")
    kept: dict[str, object] = {}
    size = 0
    for key, item in value.items():
        where = a.member(path, key)
        a.text(key, where, what="a member name", longest=64)
        size += len(key)
        if isinstance(item, str):
            if len(item) > MAX_METADATA_STRING:
                raise InvalidArgument(where, f"{len(item)} characters, at most "
                                      f"{MAX_METADATA_STRING}")
            size += len(item)
        elif not isinstance(item, bool | int | float):
            raise a.wrong(where, "a string, int, double or boolean", item)
        kept[key] = item
    if size > MAX_METADATA_SIZE:
        raise InvalidArgument(path, f"{size} characters of names and strings, at most "
                              f"{MAX_METADATA_SIZE}")
    return kept


def file_name(template: str, *, recording_id: str, at: float, call_id: str | None = None,
              session: str | None = None, format: str = "wav", leg: str | None = None) -> str:
    """The file name of a recording (no directory): ``template`` expanded, then the leg
    (``-in`` / ``-out`` of split recordings) and the extension of ``format``.

    ``{date}`` is ``YYYYMMDD`` and ``{time}`` ``HHMMSS``, in UTC at ``at``; ``{call_id}`` and
    ``{session}`` are empty when the recording has none. Characters outside
    ``[A-Za-z0-9_.-]`` in the values are replaced by ``_`` and ``..`` by ``_.``: whatever the
    ids hold, the result is one plain file name. Raises ``ValueError`` for a template
    :func:`name_template` would refuse."""
    try:
        name_template(template, "options.name")
    except InvalidArgument as error:
        raise ValueError(str(error)) from None
    moment = datetime.fromtimestamp(at, UTC)
    values = {
        "recording_id": recording_id, "call_id": call_id or "", "session": session or "",
        "date": moment.strftime("%Y%m%d"), "time": moment.strftime("%H%M%S"),
    }

    def substitute(match: re.Match[str]) -> str:
        placeholder = match.group(1)
        if placeholder is None:
            return match.group(0)
        return _safe(values[placeholder])

    stem = _NAME_PART_RE.sub(substitute, template)
    if leg is not None:
        stem = f"{stem}-{_safe(leg)}"
    name = f"{stem}.{FORMATS[format]}"
    while ".." in name:
        name = name.replace("..", "_.")
    if name.startswith("."):
        name = "_" + name[1:]
    return name


def _safe(value: str) -> str:
    return _SAFE_CHARS_RE.sub("_", value)


# -------------------------------------------------------------------------- recorder.list


def recording_filter(value: object, path: str = "filter") -> RecordingFilter:
    """``{since, until, call_id, campaign_id, session, state, after, limit}``, all optional:
    times as ``dateTime.iso8601`` (UTC) or ISO 8601 strings with a zone; ``state`` one state
    or an array of them; ``limit`` 1 to :data:`MAX_PAGE` (default :data:`DEFAULT_PAGE`)."""
    given = a.struct({} if value is None else value, path, FILTER_KEYS)

    def where(key: str) -> str:
        return a.member(path, key)

    since = None if "since" not in given else instant(given["since"], where("since"))
    until = None if "until" not in given else instant(given["until"], where("until"))
    if since is not None and until is not None and until <= since:
        raise InvalidArgument(where("until"), "must be after since")
    after = given.get("after")
    return RecordingFilter(
        since=since,
        until=until,
        call_id=None if "call_id" not in given else dialer.call_id(given["call_id"],
                                                                   where("call_id")),
        campaign_id=None if "campaign_id" not in given else dialer.campaign_id(
            given["campaign_id"], where("campaign_id")),
        session=None if "session" not in given else _session(given["session"],
                                                             where("session")),
        states=None if "state" not in given else states(given["state"], where("state")),
        after=None if after is None else a.text(after, where("after"), longest=200,
                                                what="the next of the previous page"),
        limit=a.integer(given.get("limit", DEFAULT_PAGE), where("limit"), 1, MAX_PAGE,
                        "recordings per page"),
    )


def states(value: object, path: str) -> frozenset[RecordingState]:
    """One state, or a non-empty array of them."""
    names = {state.value: state for state in RecordingState}
    if isinstance(value, list):
        if not value:
            raise InvalidArgument(path, "an empty array: give at least one state")
        items = a.array(value, path, most=len(names))
        return frozenset(names[a.choice(item, a.item(path, i), names)]
                         for i, item in enumerate(items))
    return frozenset({names[a.choice(value, path, names)]})


# ------------------------------------------------------------------------ ids, recorder.url


def recording_id(value: object, path: str = "recording_id") -> str:
    """A recording id as ``recorder.start`` returned it."""
    return a.text(value, path, pattern=_ID_RE,
                  what="a recording id as recorder.start returned it")


def pause_options(value: object, path: str = "options") -> PauseMode:
    """``{mode}``, optional: ``silence`` (the default: silence is written meanwhile) or
    ``gap`` (nothing is written; only where the server records over ARI)."""
    given = a.struct({} if value is None else value, path, PAUSE_KEYS)
    mode = a.choice(given.get("mode", PauseMode.SILENCE.value), a.member(path, "mode"),
                    PAUSE_MODES)
    return PAUSE_MODES[mode]


@dataclass(frozen=True)
class UrlOptions:
    """``recorder.url``'s options: which file, and how long the URL stays valid."""

    file: str | None = None  # a file name of the recording; None: its first (the mixed one)
    ttl: float | None = None  # None: [recorder] url_ttl


def url_options(value: object, longest_ttl: float, path: str = "options") -> UrlOptions:
    """``{file, ttl}``: ``file`` a file name of the recording (not a path), ``ttl`` seconds
    from 1 to ``longest_ttl``."""
    given = a.struct({} if value is None else value, path, {"file", "ttl"})
    chosen = given.get("file")
    if chosen is not None:
        chosen = a.text(chosen, a.member(path, "file"), what="a file name of the recording",
                        longest=255)
        if "/" in chosen or "\\" in chosen:
            raise InvalidArgument(a.member(path, "file"),
                                  "a file name (as in files, without the directory)")
    ttl = given.get("ttl")
    return UrlOptions(
        file=chosen,
        ttl=None if ttl is None else a.number(ttl, a.member(path, "ttl"), 1, longest_ttl,
                                              unit="seconds"),
    )


def known_names(files: Collection[str]) -> dict[str, str]:
    """A recording's files by file name (what URLs carry)."""
    return {file.rsplit("/", 1)[-1]: file for file in files}
