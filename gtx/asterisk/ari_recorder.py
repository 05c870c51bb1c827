"""Recording channels through ARI: :class:`gtx.recording.RecordingControl` on one server.

ARI records only channels in a Stasis application, and the channels gtx records are mostly in
the dialplan (a dialer call in a queue, an IVR over FastAGI). So a recording is a **snoop**:

- **start**: ``channels.snoopChannel(channelId=<target>, spy=both, app=<ari_app>,
  appArgs=gtx-snoop, snoopId=gtx-snoop-<recording id>)`` makes a channel in Stasis that hears
  both directions of the target, tagged with the recording's name (variable ``GTX_RECORDING``:
  how a restarted gtx finds it), then ``channels.record(channelId=<snoop>, name, format,
  maxDurationSeconds, beep=false, ifExists=fail)``. The name is the file's path relative to
  Asterisk's recording spool (``ari_recording_dir``) without its extension (the format): the
  file must be in the spool or a directory under it (Asterisk makes the directories; the live
  recording's REST path carries the name URL-encoded, ``calls%2Fr1``). A target given by name
  is resolved to its id with ``channels.list``.
- What ARI recordings cannot do is refused (:class:`RecordingNotSupported`, nothing sent): split
  legs, periodic beeps, recording only while bridged — use MixMonitor (``record_via = ami``).
- **updates**: ``RecordingStarted`` → STARTED; ``RecordingFinished`` → STOPPED (``stopped``
  after :meth:`stop`, ``max_seconds`` at the length bound, ``hangup`` after the target hung
  up); ``RecordingFailed`` → STOPPED ``failed``; the snoop's ``ChannelDestroyed`` → STOPPED
  ``hangup``. Exactly one STOPPED, after which the snoop is hung up and nothing is watched.
- **mute** is ``recordings.mute`` / ``unmute`` (silence is written: the file keeps the call's
  length); **pause** is ``recordings.pause`` / ``unpause`` (a gap). Resuming undoes either.
  Asterisk queues a new recording until its file is open and answers anything but a stop
  meanwhile with 409 "Recording not in session": so these wait for the recording to start
  (``RecordingStarted``, or the ``event_grace`` after which it is taken as started).
- **stop** is ``recordings.stop``, then the snoop is hung up.
- **after every (re)connection**, ``channels.list``: a recording whose snoop is gone ended while
  the link was down (``hangup``, or ``stopped`` when its target is up); one whose snoop is up
  but whose live recording is gone reached its length bound meanwhile.

A recording started before a restart is found by its target
(:func:`~gtx.asterisk.ari_recording_ops.find_live`): stop, mute and pause work on it. Every
wait is bounded: a ``RecordingStarted`` after an accepted record, or an end after a stop or a
hang-up, is given ``event_grace`` seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
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
    FollowedRecording,
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
from gtx.asterisk.ari_sweep import ChannelJSON, Comparer, ari_channel_sweep
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
        self._recordings: dict[str, FollowedRecording] = {}
        self._sweep = ari_channel_sweep(link, "recordings", self._prepare_sweep, self.log)
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
        recording = FollowedRecording(command, on_update, name, fmt, snoop, {command.channel})
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

    def _check_live(self, recording: FollowedRecording) -> None:
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

    def _on_event(self, recording: FollowedRecording, event: Event) -> None:
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

    def _snoop(self, target: str, recording: FollowedRecording) -> Deferred[Any]:
        recording.target = target
        recording.names.add(target)
        self._watch(recording, channel_key(target))
        return self.link.call("channels", "snoopChannel", channelId=target, spy="both",
                              app=self.link.app, appArgs=SNOOP, snoopId=recording.snoop)

    def _tag(self, recording: FollowedRecording) -> Deferred[None]:
        """Name the recording on its snoop (``GTX_RECORDING``): how a restarted gtx finds it.
        Not needed to record: a failure is only logged."""
        tagged = self.link.call("channels", "setChannelVar", channelId=recording.snoop,
                                variable=NAME_VARIABLE, value=recording.name)
        return tagged.addCallbacks(lambda _: None, lambda f: self.log.warn(
            "ARI {server}: snoop {snoop} not tagged: {error}", server=self.name,
            snoop=recording.snoop, error=f.getErrorMessage()))

    def _accepted(self, recording: FollowedRecording) -> None:
        recording.accepted_at = self.clock.seconds()
        if recording.early_end is not None:
            self._end(recording, recording.early_end)
            return
        if not recording.started and recording.grace is None:
            recording.grace = self.clock.callLater(self.event_grace, self._started, recording)

    def _started(self, recording: FollowedRecording) -> None:
        self._cancel(recording.grace)
        recording.grace = None
        if recording.started or recording.ended:
            return
        recording.started = True
        self._release_waiters(recording)
        self._emit(recording, RecordingProgress.STARTED)

    def _finished_cause(self, recording: FollowedRecording) -> str:
        if recording.stopping is not None:
            return recording.stopping
        if recording.target_gone or recording.snoop_gone:
            return CAUSE_HANGUP
        bound, since = recording.command.max_seconds, recording.accepted_at
        if bound is not None and since is not None and self.clock.seconds() - since >= bound - 1:
            return CAUSE_MAX_SECONDS
        return CAUSE_STOPPED

    def _end_later(self, recording: FollowedRecording, cause: str) -> None:
        """End with ``cause`` unless the events end it first, within ``event_grace``."""
        if recording.ended:
            return
        self._cancel(recording.ending)
        recording.ending = self.clock.callLater(
            self.event_grace, lambda: self._end(recording, recording.stopping or cause))

    def _end(self, recording: FollowedRecording, cause: str) -> None:
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

    def _watch(self, recording: FollowedRecording, *keys: str) -> None:
        for key in keys:
            recording.unwatch.append(self.link.events.watch(
                key, lambda event: self._on_event(recording, event)))

    def _forget(self, recording: FollowedRecording) -> None:
        self._cancel(recording.grace)
        self._cancel(recording.ending)
        recording.grace = recording.ending = None
        for unwatch in recording.unwatch:
            unwatch()
        recording.unwatch.clear()
        if self._recordings.get(recording.recording_id) is recording:
            del self._recordings[recording.recording_id]
        self._release_waiters(recording)  # they find it gone

    def _emit(self, recording: FollowedRecording, progress: RecordingProgress,
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
            live: Deferred[LiveRecording] = self._under_way(recording).addCallback(
                lambda _: self._still_followed(recording, channel))
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

    def _under_way(self, recording: FollowedRecording) -> Deferred[None]:
        """Fires once ``recording`` has started (or ended), at the latest after
        ``event_grace`` seconds: then the request goes anyway, and Asterisk's answer says."""
        if recording.started or recording.ended:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        recording.start_waiters.append(waiter)
        return waiter.addTimeout(self.event_grace, self.clock,
                                 onTimeoutCancel=lambda _result, _timeout: None)

    def _still_followed(self, recording: FollowedRecording, channel: str) -> LiveRecording:
        if recording.ended or self._recordings.get(recording.recording_id) is not recording:
            raise RecordingError(f"{self.name}: the recording of {channel} has ended")
        return LiveRecording(recording.name, recording.snoop, recording.muted,
                             recording.paused)

    @staticmethod
    def _release_waiters(recording: FollowedRecording) -> None:
        waiters, recording.start_waiters = recording.start_waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(None)

    def _hangup_snoop(self, recording: FollowedRecording) -> None:
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

    def _find(self, channel: str) -> FollowedRecording | None:
        return next((r for r in self._recordings.values()
                     if channel in r.names and not r.ended), None)

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        if timer is not None and timer.active():
            timer.cancel()

