"""Recording channels through ARI: :class:`gtx.recording.RecordingControl` on one server.

ARI records only channels in a Stasis application, and the channels gtx records are mostly in
the dialplan (a dialer call in a queue, an IVR over FastAGI). So a recording is a **snoop**:

- **start**: ``channels.snoopChannel(channelId=<target>, spy=both, app=<ari_app>,
  appArgs=gtx-snoop, snoopId=gtx-snoop-<recording id>)`` makes a channel, in Stasis from its
  creation, that hears both directions of the target; the snoop is tagged with the recording's
  name (channel variable ``GTX_RECORDING``, so that a restarted gtx finds it), then
  ``channels.record(channelId=<snoop>, name, format, maxDurationSeconds, beep=false,
  ifExists=fail)``. The name is the file's, relative to Asterisk's recording spool
  (``ari_recording_dir``), without its extension, which is the format: the file must be
  directly in that directory (ARI addresses a live recording by its name in a URL path, where
  a ``/`` cannot be). A target given by name is resolved to its id with ``channels.list``.
- What ARI recordings cannot do is refused with :class:`RecordingNotSupported` before anything
  is sent: split legs (receive/transmit files), periodic beeps, recording only while bridged
  — record that server with MixMonitor (``record_via = ami``).
- **updates**, from the events of the target, the snoop and the recording: ``RecordingStarted``
  → STARTED; ``RecordingFinished`` → STOPPED (cause ``stopped`` after :meth:`stop`,
  ``max_seconds`` when the length bound ended it, ``hangup`` after the target hung up);
  ``RecordingFailed`` → STOPPED ``failed``; the snoop's ``ChannelDestroyed`` → STOPPED
  (``hangup``, its file is closed). Every recording ends in exactly one STOPPED, after which
  its snoop is hung up and nothing about it is watched any more.
- **mute** is ``recordings.mute`` / ``unmute`` (silence is written: the file keeps the call's
  length); **pause** is ``recordings.pause`` / ``unpause`` (nothing is written: a gap).
  Resuming undoes either.
- **stop** is ``recordings.stop``, then the snoop is hung up.
- **after every (re)connection**, recordings followed are checked against ``channels.list``:
  one whose snoop is gone ended while the link was down (STOPPED ``hangup``, or ``stopped``
  when its target is still up); one whose snoop is up but whose live recording is gone reached
  its length bound meanwhile.

A recording this process does not follow (started before a restart) is found by its target
(:func:`~gtx.asterisk.ari_recording_ops.find_live`): stop, mute and pause work on it.

Every wait is bounded: a ``RecordingStarted`` that does not follow an accepted record, or an
end that does not follow a stop or a hang-up, is given ``event_grace`` seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import SNOOP, AriError, AriLink, AriNotFound
from gtx.asterisk.ari_events import Event, channel_key, recording_key
from gtx.asterisk.ari_recording_ops import (
    NAME_VARIABLE,
    SNOOP_PREFIX,
    LiveRecording,
    channel_id,
    channel_up,
    find_live,
    record_params,
    recording_error,
    recording_name,
    refuse_unsupported,
    resume,
    unless_gone,
)
from gtx.asterisk.ari_sweep import AriChannelSweep, ChannelJSON, Comparer
from gtx.recording import (
    RecordCommand,
    RecordingError,
    RecordingProgress,
    RecordingSink,
    RecordingUnavailable,
    RecordingUpdate,
)

#: Asterisk's recording spool (``astspooldir``/recording): ARI names recordings relative to it.
DEFAULT_RECORDING_DIR = "/var/spool/asterisk/recording"

CAUSE_STOPPED = "stopped"
CAUSE_HANGUP = "hangup"
CAUSE_MAX_SECONDS = "max_seconds"
CAUSE_FAILED = "failed"
CAUSE_LINK_LOST = "link lost"


@dataclass
class _Recording:
    """One recording being followed."""

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
    unwatch: list[Callable[[], None]] = field(default_factory=list)
    ended: bool = False

    @property
    def recording_id(self) -> str:
        return self.command.recording_id


class ARIRecorder:
    """The :class:`gtx.recording.RecordingControl` of one Asterisk server, over its ARI link
    (see the module docstring)."""

    def __init__(self, link: AriLink, clock: IReactorTime, *,
                 recording_dir: str = DEFAULT_RECORDING_DIR, event_grace: float = 5.0,
                 new_id: Callable[[], str] | None = None, log: Logger | None = None) -> None:
        self.link = link
        self.clock = clock
        self.recording_dir = recording_dir
        self.event_grace = event_grace
        self.new_id = new_id or (lambda: uuid.uuid4().hex)
        self.log = log or Logger(namespace="gtx.ari")
        self._recordings: dict[str, _Recording] = {}
        self._sweep = AriChannelSweep(link, "recordings", self._prepare_sweep, self.log)
        link.on_ready(self.resynchronise)

    # -- RecordingControl -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The server's name in gtx.ini."""
        return self.link.name

    @property
    def connected(self) -> bool:
        """True while the ARI link is up."""
        return self.link.connected

    @property
    def recordings(self) -> frozenset[str]:
        """The ids of the recordings being followed."""
        return frozenset(self._recordings)

    def start(self, command: RecordCommand, on_update: RecordingSink) -> Deferred[None]:
        """Start recording (see the module docstring)."""
        if not self.link.connected:
            return fail(RecordingUnavailable(f"the ARI link to {self.name} is down"))
        if command.recording_id in self._recordings:
            return fail(RecordingError(f"recording {command.recording_id} is already started"))
        if self._find(command.channel) is not None:
            return fail(RecordingError(f"{command.channel} is already being recorded"))
        try:
            refuse_unsupported(command)
            name, fmt = recording_name(command.file, self.recording_dir)
        except RecordingError as e:
            return fail(e)
        snoop = SNOOP_PREFIX + (command.recording_id or self.new_id())
        recording = _Recording(command, on_update, name, fmt, snoop, {command.channel})
        self._recordings[command.recording_id] = recording
        self._watch(recording, channel_key(snoop), recording_key(name))
        resolved = channel_id(self.link, command.channel)
        resolved.addCallback(self._snoop, recording)
        resolved.addCallback(lambda _: self._tag(recording))
        resolved.addCallback(lambda _: self.link.call("channels", "record", **record_params(
            recording.snoop, name, fmt, command.max_seconds)))

        def accepted(_: object) -> None:
            self._accepted(recording)

        def refused(failure: Failure) -> Failure:
            self._forget(recording)
            self._hangup_snoop(recording)
            error = failure.value
            if isinstance(error, RecordingError):
                return failure
            if isinstance(error, AriError):
                raise recording_error(self.name, error, command.channel)
            return failure

        return resolved.addCallbacks(accepted, refused)

    def mute(self, channel: str, muted: bool) -> Deferred[None]:
        """Write silence (``recordings.mute``) or resume."""
        return self._control(channel, "mute" if muted else None)

    def pause(self, channel: str, paused: bool) -> Deferred[None]:
        """Leave a gap (``recordings.pause``) or resume."""
        return self._control(channel, "pause" if paused else None)

    def stop(self, channel: str) -> Deferred[None]:
        """``recordings.stop``, then the snoop is hung up; the STOPPED update (cause
        ``stopped``) follows."""
        recording = self._find(channel)
        if recording is None:
            return self._mapped(find_live(self.link, channel).addCallback(self._stop), channel)
        before, recording.stopping = recording.stopping, recording.stopping or CAUSE_STOPPED

        def hung_up(_: object) -> None:
            recording.snoop_gone = True  # no need to hang it up again at the end
            self._end_later(recording, CAUSE_STOPPED)

        def not_stopped(failure: Failure) -> Failure:
            recording.stopping = before
            return failure

        stopped = self._stop(LiveRecording(recording.name, recording.snoop))
        return self._mapped(stopped.addCallbacks(hung_up, not_stopped), channel)

    def channel_exists(self, channel: str) -> Deferred[bool]:
        """Whether ``channel`` (a name or an id) is up: ``channels.list`` for a name,
        ``channels.get`` for an id (404: no)."""
        if not self.link.connected:
            return fail(RecordingUnavailable(f"the ARI link to {self.name} is down"))
        return self._mapped(channel_up(self.link, channel), channel)

    # -- resynchronisation ------------------------------------------------------------------

    def resynchronise(self) -> None:
        """Compare the recordings followed with the channels up (``channels.list``); runs
        after every connection."""
        self._sweep.run()

    def _prepare_sweep(self) -> Comparer | None:
        checked = [r for r in self._recordings.values() if r.accepted_at is not None]
        if not checked:
            return None

        def compare(channels: list[ChannelJSON]) -> None:
            up = {c.get("id") for c in channels} | {c.get("name") for c in channels}
            for recording in checked:
                if recording.ended:
                    continue
                if recording.snoop not in up:
                    target_up = bool(recording.names & up)
                    self._end(recording, recording.stopping or (
                        CAUSE_STOPPED if target_up else CAUSE_HANGUP))
                else:
                    self._check_live(recording)

        return compare

    def _check_live(self, recording: _Recording) -> None:
        """The snoop is up: is its recording still live? (It may have reached its length
        bound while the link was down.)"""
        live = self.link.call("recordings", "getLive", recordingName=recording.name)

        def gone(failure: Failure) -> None:
            if failure.check(AriNotFound):
                self._end(recording, self._finished_cause(recording))
            else:
                self.log.warn("ARI {server}: recording {recording} not checked: {error}",
                              server=self.name, recording=recording.recording_id,
                              error=failure.getErrorMessage())

        live.addErrback(gone)

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, recording: _Recording, event: Event) -> None:
        kind = event.get("type")
        if kind in ("RecordingStarted", "RecordingFinished", "RecordingFailed"):
            about = event.get("recording")
            if not isinstance(about, Mapping) or about.get("name") != recording.name:
                return
            if kind == "RecordingStarted":
                self._started(recording)
            elif kind == "RecordingFinished":
                self._end(recording, self._finished_cause(recording))
            else:
                self.log.warn("ARI {server}: recording {recording} failed: {cause}",
                              server=self.name, recording=recording.recording_id,
                              cause=about.get("cause", "no cause given"))
                self._end(recording, CAUSE_FAILED)
            return
        if kind != "ChannelDestroyed":
            return
        channel = event.get("channel")
        gone = channel.get("id") if isinstance(channel, Mapping) else None
        if gone == recording.snoop:
            recording.snoop_gone = True
            self._end(recording, recording.stopping or CAUSE_HANGUP)
        elif gone is not None and gone == recording.target:
            # The snoop follows its target: its RecordingFinished closes the file.
            recording.target_gone = True
            self._end_later(recording, CAUSE_HANGUP)

    # -- steps of a recording ---------------------------------------------------------------

    def _snoop(self, target: str, recording: _Recording) -> Deferred[Any]:
        recording.target = target
        recording.names.add(target)
        self._watch(recording, channel_key(target))
        return self.link.call("channels", "snoopChannel", channelId=target, spy="both",
                              app=self.link.app, appArgs=SNOOP, snoopId=recording.snoop)

    def _tag(self, recording: _Recording) -> Deferred[None]:
        """Name the recording on its snoop (``GTX_RECORDING``): how a restarted gtx finds it.
        Not needed to record: a failure is only logged."""
        tagged = self.link.call("channels", "setChannelVar", channelId=recording.snoop,
                                variable=NAME_VARIABLE, value=recording.name)
        return tagged.addCallbacks(lambda _: None, lambda f: self.log.warn(
            "ARI {server}: snoop {snoop} not tagged: {error}", server=self.name,
            snoop=recording.snoop, error=f.getErrorMessage()))

    def _accepted(self, recording: _Recording) -> None:
        recording.accepted_at = self.clock.seconds()
        if recording.early_end is not None:
            self._end(recording, recording.early_end)
            return
        if not recording.started and recording.grace is None:
            recording.grace = self.clock.callLater(self.event_grace, self._started, recording)

    def _started(self, recording: _Recording) -> None:
        self._cancel(recording.grace)
        recording.grace = None
        if recording.started or recording.ended:
            return
        recording.started = True
        self._emit(recording, RecordingProgress.STARTED)

    def _finished_cause(self, recording: _Recording) -> str:
        if recording.stopping is not None:
            return recording.stopping
        if recording.target_gone or recording.snoop_gone:
            return CAUSE_HANGUP
        bound, since = recording.command.max_seconds, recording.accepted_at
        if bound is not None and since is not None and self.clock.seconds() - since >= bound - 1:
            return CAUSE_MAX_SECONDS
        return CAUSE_STOPPED

    def _end_later(self, recording: _Recording, cause: str) -> None:
        """End with ``cause`` unless the events end it first, within ``event_grace``."""
        if recording.ended:
            return
        self._cancel(recording.ending)
        recording.ending = self.clock.callLater(
            self.event_grace, lambda: self._end(recording, recording.stopping or cause))

    def _end(self, recording: _Recording, cause: str) -> None:
        if recording.ended:
            return
        if recording.accepted_at is None:
            # Still starting: ends once Asterisk has accepted it (a start that fails sends
            # no update at all).
            recording.early_end = recording.early_end or cause
            return
        recording.ended = True
        self._forget(recording)
        if not recording.snoop_gone:
            self._hangup_snoop(recording)
        self._emit(recording, RecordingProgress.STOPPED, cause)

    def _watch(self, recording: _Recording, *keys: str) -> None:
        for key in keys:
            recording.unwatch.append(self.link.events.watch(
                key, lambda event: self._on_event(recording, event)))

    def _forget(self, recording: _Recording) -> None:
        self._cancel(recording.grace)
        self._cancel(recording.ending)
        recording.grace = recording.ending = None
        for unwatch in recording.unwatch:
            unwatch()
        recording.unwatch.clear()
        if self._recordings.get(recording.recording_id) is recording:
            del self._recordings[recording.recording_id]

    def _emit(self, recording: _Recording, progress: RecordingProgress,
              cause: str | None = None) -> None:
        try:
            recording.sink(RecordingUpdate(recording.recording_id, progress, cause))
        except Exception:
            self.log.failure("ARI {server}: the update sink of recording {recording} failed",
                             server=self.name, recording=recording.recording_id)

    # -- requests ---------------------------------------------------------------------------

    def _stop(self, found: LiveRecording) -> Deferred[None]:
        stopped = self.link.call("recordings", "stop", recordingName=found.name)
        stopped.addErrback(unless_gone)  # it ended meanwhile: the snoop goes anyway
        return stopped.addCallback(lambda _: self._hangup(found.snoop))

    def _control(self, channel: str, operation: str | None) -> Deferred[None]:
        """``recordings.mute`` / ``pause`` of ``channel``'s recording, or (None) resume it."""
        if not self.link.connected:
            return fail(RecordingUnavailable(f"the ARI link to {self.name} is down"))
        recording = self._find(channel)
        if recording is not None:
            live: Deferred[LiveRecording] = succeed(LiveRecording(
                recording.name, recording.snoop, recording.muted, recording.paused))
        else:
            live = find_live(self.link, channel)

        def send(found: LiveRecording) -> Deferred[Any]:
            if operation is not None:
                done = self.link.call("recordings", operation, recordingName=found.name)
            else:
                done = resume(self.link, found)

            def applied(_: object) -> None:
                if recording is None:
                    return
                if operation is None:
                    recording.muted = recording.paused = False
                elif operation == "mute":
                    recording.muted = True
                else:
                    recording.paused = True

            return done.addCallback(applied)

        return self._mapped(live.addCallback(send), channel)

    def _hangup_snoop(self, recording: _Recording) -> None:
        if recording.accepted_at is not None or recording.target is not None:
            self._hangup(recording.snoop)

    def _hangup(self, channel_id: str) -> Deferred[None]:
        if not self.link.connected:
            return succeed(None)  # gone with its target, or hung up at the next stop
        hung = self.link.call("channels", "hangup", channelId=channel_id)
        return hung.addCallbacks(lambda _: None, lambda f: None if f.check(AriNotFound) else (
            self.log.info("ARI {server}: hangup of snoop {snoop}: {error}", server=self.name,
                          snoop=channel_id, error=f.getErrorMessage())))

    def _mapped(self, deferred: Deferred[Any], channel: str) -> Deferred[Any]:
        def mapped(failure: Failure) -> Failure:
            error = failure.value
            if isinstance(error, AriError):
                raise recording_error(self.name, error, channel)
            return failure

        return deferred.addErrback(mapped)

    def _find(self, channel: str) -> _Recording | None:
        return next((r for r in self._recordings.values()
                     if channel in r.names and not r.ended), None)

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        if timer is not None and timer.active():
            timer.cancel()

