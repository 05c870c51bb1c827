"""The pieces of :mod:`gtx.asterisk.ari_recorder`: what it knows of a recording it follows
(:class:`FollowedRecording`) and, keeping no state, what an ARI recording can be asked
(:func:`refuse_unsupported`), the name and format of its file (:func:`recording_name`), the
parameters of ``channels.record``, the errors gtx reports (:func:`recording_error`), a
channel's id and whether it is up, resuming a recording, and finding one made before a
restart (:func:`find_live`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import AriConflict, AriError, AriLink, AriNotFound, AriUnavailable
from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingError,
    RecordingNotSupported,
    RecordingSink,
    RecordingUnavailable,
)

#: The id of a snoop channel is this and the recording's id.
SNOOP_PREFIX = "gtx-snoop-"
#: The snoop's channel variable holding its recording's name.
NAME_VARIABLE = "GTX_RECORDING"
#: What to do instead of what ARI recordings cannot.
USE_MIXMONITOR = "record this server with MixMonitor (record_via = ami)"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class LiveRecording:
    """A live recording and its snoop; whether it is muted or paused, when known."""

    name: str
    snoop: str
    muted: bool | None = None
    paused: bool | None = None


@dataclass
class FollowedRecording:
    """What :class:`~gtx.asterisk.ari_recorder.ARIRecorder` knows of a recording it follows."""

    command: RecordCommand
    sink: RecordingSink
    name: str  # the live recording's name
    format: str
    snoop: str
    names: set[str]  # the target's name and id, as far as known
    target: str | None = None  # the target's id, once known
    accepted_at: float | None = None
    started: bool = False
    muted: bool = False
    paused: bool = False
    stopping: str | None = None  # the cause of the stop asked for
    early_end: str | None = None  # how it ended before Asterisk accepted it
    target_gone: bool = False
    snoop_gone: bool = False  # destroyed, or hung up by gtx
    grace: IDelayedCall | None = None  # a RecordingStarted that may never come
    ending: IDelayedCall | None = None  # an end that may never come
    #: Mute/pause requests waiting for the recording to be under way (Asterisk refuses them
    #: while it is queued).
    start_waiters: list[Deferred[None]] = field(default_factory=list)
    unwatch: list[Callable[[], None]] = field(default_factory=list)
    ended: bool = False

    @property
    def recording_id(self) -> str:
        return self.command.recording_id


def refuse_unsupported(command: RecordCommand) -> None:
    """:class:`RecordingNotSupported` for what an ARI recording cannot do."""
    if command.receive_file or command.transmit_file:
        raise RecordingNotSupported(
            "ARI recordings cannot write each direction in a file of its own (split legs): "
            + USE_MIXMONITOR)
    if command.beep_seconds is not None:
        raise RecordingNotSupported(
            "ARI recordings cannot beep periodically (beep): " + USE_MIXMONITOR)
    if command.only_bridged:
        raise RecordingNotSupported(
            "ARI recordings cannot record only while the channel is bridged: "
            + USE_MIXMONITOR)


def recording_name(file: str, recording_dir: str) -> tuple[str, str]:
    """(name, format) of the ARI recording writing ``file``: its path relative to
    ``recording_dir`` (Asterisk's recording spool, which ARI names recordings under) without the
    extension, which is the format (``x.wav`` → ``x``, ``wav``; ``calls/x.WAV`` →
    ``calls/x``, ``WAV``, i.e. wav49). Subdirectories of the spool are allowed: Asterisk makes
    them, and addresses the live recording with the name URL-encoded in one path segment.
    :class:`RecordingError` unless ``file`` is under ``recording_dir``, every directory and
    the name plain, with an extension."""
    directory = posixpath.normpath(recording_dir)
    path = posixpath.normpath(file)
    inside = posixpath.isabs(path) and posixpath.commonpath([directory, path]) == directory
    if not inside or path == directory:
        raise RecordingError(
            f"ARI can only write recordings in its recording directory (ari_recording_dir = "
            f"{recording_dir}) or under it, not {file}: set [recorder] dir to one of them")
    *folders, base = posixpath.relpath(path, directory).split("/")
    stem, dot, fmt = base.rpartition(".")
    if not dot or not stem or not fmt:
        raise RecordingError(f"{file}: a recording file needs a name and an extension "
                             "(its format)")
    if not fmt.isalnum() or not all(_SAFE_NAME.fullmatch(part) and not part.startswith(".")
                                    for part in (*folders, stem)):
        raise RecordingError(f"{file}: ARI recording names and their directories are "
                             "letters, digits, '_', '.' and '-'")
    return "/".join((*folders, stem)), fmt


def recording_error(server: str, error: AriError, channel: str) -> RecordingError:
    """The :mod:`gtx.recording` error for an ARI error about ``channel``'s recording."""
    if isinstance(error, AriUnavailable):
        return RecordingUnavailable(f"the ARI link to {server} is down: {error}")
    if isinstance(error, AriNotFound):
        return NoSuchChannel(f"{server}: no channel {channel} ({error.message})")
    return RecordingError(f"{server}: {error}")


def find_live(link: AriLink, channel: str) -> Deferred[LiveRecording]:
    """The live recording of ``channel`` (a name or an id) this process does not follow: its
    snoop is a channel of the app named ``Snoop/<target id>-…`` whose ``GTX_RECORDING``
    variable names the recording. :class:`NoSuchChannel` when ``channel`` is not up,
    :class:`RecordingError` when it is not being recorded."""

    def snoop_of(up: list[Mapping[str, Any]]) -> Deferred[Any]:
        target = next((c for c in up if channel in (c.get("id"), c.get("name"))), None)
        if target is None:
            raise NoSuchChannel(f"{link.name}: no channel {channel}")
        prefix = f"Snoop/{target.get('id')}-"
        snoop = next((str(c["id"]) for c in up if str(c.get("id", "")).startswith(SNOOP_PREFIX)
                      and str(c.get("name", "")).startswith(prefix)), None)
        if snoop is None:
            raise RecordingError(f"{link.name}: {channel} is not being recorded")

        def named(answer: object) -> LiveRecording:
            value = answer.get("value") if isinstance(answer, Mapping) else None
            if not isinstance(value, str) or not value:
                raise RecordingError(f"{link.name}: snoop {snoop} of {channel} names no "
                                     "recording")
            return LiveRecording(value, snoop)

        def unnamed(failure: Failure) -> None:
            if failure.check(AriNotFound):
                raise RecordingError(f"{link.name}: snoop {snoop} of {channel} names no "
                                     "recording")
            failure.raiseException()

        got = link.call("channels", "getChannelVar", channelId=snoop, variable=NAME_VARIABLE)
        return got.addCallbacks(named, unnamed)

    return link.call("channels", "list").addCallback(snoop_of)


def channel_id(link: AriLink, channel: str) -> Deferred[str]:
    """The id of ``channel``: itself, or for a name (``TECH/…``) the id ``channels.list``
    gives (:class:`AriNotFound` when no channel has that name)."""
    if "/" not in channel:
        return succeed(channel)

    def find(up: list[Mapping[str, Any]]) -> str:
        for c in up:
            if c.get("name") == channel and isinstance(c.get("id"), str):
                return str(c["id"])
        raise AriNotFound("channels.list", 404, f"no channel named {channel}")

    return link.call("channels", "list").addCallback(find)


def channel_up(link: AriLink, channel: str) -> Deferred[bool]:
    """Whether ``channel`` (a name or an id) is up: ``channels.list`` for a name,
    ``channels.get`` for an id (404: no)."""
    if "/" in channel:
        listed = link.call("channels", "list")
        return listed.addCallback(lambda up: any(c.get("name") == channel for c in up))

    def answered(result: object) -> bool:
        if isinstance(result, Failure):
            if isinstance(result.value, AriNotFound):
                return False
            result.raiseException()
        return True

    return link.call("channels", "get", channelId=channel).addBoth(answered)


def record_params(snoop: str, name: str, fmt: str, max_seconds: int | None) -> dict[str, Any]:
    """The parameters of ``channels.record`` on the snoop channel."""
    params: dict[str, Any] = {"channelId": snoop, "name": name, "format": fmt,
                              "beep": False, "ifExists": "fail"}
    if max_seconds is not None:
        params["maxDurationSeconds"] = int(max_seconds)
    return params


def unless_gone(failure: Failure) -> None:
    """Errback: a 404 (the object is gone already) is no error."""
    if not failure.check(AriNotFound):
        failure.raiseException()



def resume(link: AriLink, found: LiveRecording) -> Deferred[Any]:
    """Undo the pause and the mute of ``found`` (``recordings.unpause`` / ``unmute``). For a
    recording found after a restart neither is known: both are undone, and a 409 ("not
    paused") is no error then."""
    done: Deferred[Any] = succeed(None)
    if found.paused is not False:
        unsure = found.paused is None
        done.addCallback(lambda _: link.call(
            "recordings", "unpause", recordingName=found.name).addErrback(
                lambda f: None if unsure and f.check(AriConflict) else f))
    if found.muted is not False or found.paused is False:
        done.addCallback(lambda _: link.call("recordings", "unmute", recordingName=found.name))
    return done
