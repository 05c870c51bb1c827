"""Recording channels through AMI: :class:`gtx.recording.RecordingControl` on one server.

A recording is app_mixmonitor run on a live channel by AMI (``ami-mixmonitor.txt``):

- **start**: ``Setvar GTX_RECORDING_ID`` on the channel (MixMonitor has no option that sets a
  variable of ours: its ``i(VAR)`` stores MixMonitor's own id), then ``MixMonitor`` with
  ``Channel``, ``File`` and ``Options`` — ``b`` (only while bridged), ``B(N)`` (a beep every N
  seconds), ``r(FILE)`` and ``t(FILE)`` (the two legs in files of their own). ``Response:
  Error`` / ``No such channel`` → :class:`NoSuchChannel`; the link down →
  :class:`RecordingUnavailable` (nothing sent).
- **updates**, from the event stream: ``MixMonitorStart`` → STARTED; ``MixMonitorStop`` (after
  ``StopMixMonitor``) → STOPPED, cause ``stopped`` (``max_seconds`` when the length bound
  stopped it); the channel's ``Hangup`` → STOPPED, cause ``hangup`` (app_mixmonitor raises no
  MixMonitorStop then: it closes the files when the channel goes). Every recording ends in
  exactly one STOPPED.
- **max_seconds** is a timer here, on the injected clock, armed when Asterisk accepts the
  MixMonitor: it sends ``StopMixMonitor`` (app_mixmonitor has no length bound of its own).
- **mute** is ``MixMonitorMute`` with ``Direction: both`` and ``State: 1|0``: the muted span is
  written as silence, so the file's length stays true to the call. A **pause** that leaves a
  gap cannot be done (:class:`~gtx.recording.RecordingNotSupported`).
- **after every (re)login**, recordings followed are checked against ``CoreShowChannels``: one
  whose channel is gone is STOPPED with cause ``link lost`` (its Hangup was missed); one whose
  ``max_seconds`` ran out while the link was down is stopped now.

Every wait is bounded: an answer by the client's action timeout, a MixMonitorStart or
MixMonitorStop that does not follow a Success (Asterisk before 16.17/18.3 raises neither) by
``event_grace`` seconds, after which the update is given anyway.

One recording per channel at a time: ``StopMixMonitor`` and ``MixMonitorMute`` act on the
channel, not on one MixMonitor.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIActionError, AMIMessage, AMINotConnected
from gtx.asterisk.ami_sweep import Comparer, ami_channel_sweep
from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingError,
    RecordingNotSupported,
    RecordingProgress,
    RecordingSink,
    RecordingUnavailable,
    RecordingUpdate,
)

#: The channel variable naming the recording (set before the MixMonitor starts).
RECORDING_ID_VARIABLE = "GTX_RECORDING_ID"
#: What Asterisk answers for a channel that is not there.
NO_SUCH_CHANNEL = "No such channel"
#: Characters a MixMonitor file name cannot carry: manager.c joins ``File,Options,Command``
#: into one argument string split on commas, and options take their file in parentheses.
_UNSAFE_IN_FILE = frozenset(',()"\\|\r\n\0')

#: Why :meth:`AMIRecorder.pause` fails.
MIXMONITOR_NO_GAP = ("MixMonitor cannot leave a gap: pause writes silence (mode silence), or "
                     "record this server over ARI (record_via = ari)")

CAUSE_STOPPED = "stopped"
CAUSE_HANGUP = "hangup"
CAUSE_MAX_SECONDS = "max_seconds"
CAUSE_LINK_LOST = "link lost"


def mixmonitor_options(command: RecordCommand) -> str:
    """The ``Options`` of the MixMonitor action for ``command`` ('' for none)."""
    options = "b" if command.only_bridged else ""
    if command.beep_seconds is not None:
        options += f"B({int(command.beep_seconds)})"
    if command.receive_file:
        options += f"r({command.receive_file})"
    if command.transmit_file:
        options += f"t({command.transmit_file})"
    return options


def mixmonitor_fields(command: RecordCommand) -> list[tuple[str, str]]:
    """The headers of the MixMonitor action (ActionID aside). Raises :class:`RecordingError`
    on a file name MixMonitor would split or misread."""
    for path in (command.file, command.receive_file, command.transmit_file):
        if path is not None and (not path or _UNSAFE_IN_FILE & set(path)):
            raise RecordingError(f"MixMonitor cannot write to {path!r}")
    if command.beep_seconds is not None and command.beep_seconds < 1:
        raise RecordingError(f"beep interval must be at least 1 s, not {command.beep_seconds}")
    fields = [("Channel", command.channel), ("File", command.file)]
    options = mixmonitor_options(command)
    if options:
        fields.append(("Options", options))
    return fields


@dataclass
class _Recording:
    """One recording being followed."""

    command: RecordCommand
    sink: RecordingSink
    names: set[str]  # the channel's name and Uniqueid, as far as known
    started: bool = False
    stopping: str | None = None  # the cause of the StopMixMonitor sent
    bound: IDelayedCall | None = None  # max_seconds
    grace: IDelayedCall | None = None  # a MixMonitorStart/Stop that may never come
    bound_expired: bool = False
    ended: bool = False

    @property
    def recording_id(self) -> str:
        return self.command.recording_id


class AMIRecorder:
    """The :class:`gtx.recording.RecordingControl` of one Asterisk server, over its AMIClient
    (see the module docstring). The composition root builds one per ``[asterisk:NAME]`` with
    an AMI link, on the same client as that server's originator."""

    def __init__(
        self,
        client: AMIClient,
        clock: IReactorTime,
        *,
        event_grace: float = 5.0,
        log: Logger | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.event_grace = event_grace
        self.log = log or Logger(namespace="gtx.ami")
        self._recordings: dict[str, _Recording] = {}
        self._sweep = ami_channel_sweep(client, "recordings", self._prepare_sweep, self.log)
        for event, handler in (
            ("MixMonitorStart", self._on_start),
            ("MixMonitorStop", self._on_stop),
            ("Hangup", self._on_hangup),
        ):
            client.subscribe(event, handler)
        client.on_login(self.resynchronise)

    # -- RecordingControl -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The server's name in gtx.ini."""
        return self.client.server

    @property
    def connected(self) -> bool:
        """True while the AMI link is up and logged in."""
        return self.client.connected

    @property
    def recordings(self) -> frozenset[str]:
        """The ids of the recordings being followed."""
        return frozenset(self._recordings)

    def start(self, command: RecordCommand, on_update: RecordingSink) -> Deferred[None]:
        """Start recording (see :class:`gtx.recording.RecordingControl`)."""
        if not self.client.connected:
            return fail(RecordingUnavailable(f"the AMI link to {self.name} is down"))
        if command.recording_id in self._recordings:
            return fail(RecordingError(f"recording {command.recording_id} is already started"))
        if self._find(command.channel) is not None:
            return fail(RecordingError(f"{command.channel} is already being recorded"))
        try:
            fields = mixmonitor_fields(command)
        except RecordingError as e:
            return fail(e)
        recording = _Recording(command, on_update, {command.channel})
        self._recordings[command.recording_id] = recording
        if command.recording_id:
            tagged = self.client.send_action("Setvar", [
                ("Channel", command.channel), ("Variable", RECORDING_ID_VARIABLE),
                ("Value", command.recording_id)])
            # Its failure is the MixMonitor's too (no channel, no link): reported there.
            tagged.addErrback(lambda _: None)
        sent = self.client.send_action("MixMonitor", fields)
        result: Deferred[None] = Deferred()

        def accepted(_: AMIMessage) -> None:
            self._accepted(recording)
            result.callback(None)

        def refused(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, AMIActionError | AMINotConnected):
                self._forget(recording)
                result.errback(self._error(error, command.channel))
                return
            # Lost or unanswered: it may be running. Followed; the Hangup or the next
            # resynchronisation ends it.
            self.log.warn("AMI {server}: no answer to the MixMonitor of {recording}: {error}; "
                          "following it as started", server=self.name,
                          recording=command.recording_id, error=failure.getErrorMessage())
            self._arm_bound(recording)
            result.callback(None)

        sent.addCallbacks(accepted, refused)
        return result

    def mute(self, channel: str, muted: bool) -> Deferred[None]:
        """``MixMonitorMute`` both directions: silence is written while muted."""
        return self._command("MixMonitorMute", channel, [
            ("Channel", channel), ("Direction", "both"), ("State", "1" if muted else "0")])

    def pause(self, channel: str, paused: bool) -> Deferred[None]:
        """MixMonitor cannot leave a gap: a pause writes silence (:meth:`mute`). Resuming is
        :meth:`mute` ``False``, whichever way it was paused."""
        if not paused:
            return self.mute(channel, False)
        return fail(RecordingNotSupported(MIXMONITOR_NO_GAP))

    def stop(self, channel: str) -> Deferred[None]:
        """``StopMixMonitor``; the recording's STOPPED update (cause ``stopped``) follows."""
        recording = self._find(channel)
        if recording is not None and recording.stopping is None:
            recording.stopping = CAUSE_STOPPED
        return self._stop(channel, recording)

    def channel_exists(self, channel: str, timeout: float | None = None) -> Deferred[bool]:
        """Whether ``channel`` (a name or a Uniqueid) is up: ``Getvar UNIQUEID`` on it, its
        answer bounded by ``timeout`` (default: the client's action timeout). Fails with
        RecordingUnavailable when the link is down, RecordingError when there is no answer."""
        if not self.client.connected:
            return fail(RecordingUnavailable(f"the AMI link to {self.name} is down"))
        sent = self.client.send_action("Getvar", [("Channel", channel), ("Variable", "UNIQUEID")],
                                       timeout=timeout)

        def answered(result: AMIMessage | Failure) -> bool:
            if not isinstance(result, Failure):
                return True
            error = result.value
            if isinstance(error, AMIActionError) and error.message == NO_SUCH_CHANNEL:
                return False
            if isinstance(error, AMINotConnected):
                raise RecordingUnavailable(str(error))
            raise RecordingError(f"{self.name}: is {channel} up? {result.getErrorMessage()}")

        return sent.addBoth(answered)

    # -- resynchronisation ------------------------------------------------------------------

    def resynchronise(self) -> None:
        """Compare the recordings followed with the channels up (``CoreShowChannels``); runs
        after every login."""
        self._sweep.run()

    def _prepare_sweep(self) -> Comparer | None:
        if not self._recordings:
            return None
        checked = list(self._recordings.values())

        def compare(channels: list[AMIMessage]) -> None:
            up: set[str] = set()
            for channel in channels:
                up.update(v for v in (channel.get("Channel"), channel.get("Uniqueid")) if v)
            for recording in checked:
                if recording.ended:
                    continue
                if recording.names & up:
                    if recording.bound_expired:  # its time ran out while the link was down
                        self._bound_expired(recording)
                else:
                    self._end(recording, recording.stopping or CAUSE_LINK_LOST)

        return compare

    # -- events -----------------------------------------------------------------------------

    def _on_start(self, event: AMIMessage) -> None:
        recording = self._find_event(event)
        if recording is not None:
            self._started(recording)

    def _on_stop(self, event: AMIMessage) -> None:
        recording = self._find_event(event)
        if recording is not None:
            self._end(recording, recording.stopping or CAUSE_STOPPED)

    def _on_hangup(self, event: AMIMessage) -> None:
        recording = self._find_event(event)
        if recording is not None:
            self._end(recording, CAUSE_HANGUP)

    # -- steps of a recording ---------------------------------------------------------------

    def _accepted(self, recording: _Recording) -> None:
        if recording.ended:
            return
        self._arm_bound(recording)
        if not recording.started and recording.grace is None:
            recording.grace = self.clock.callLater(self.event_grace, self._started, recording)

    def _arm_bound(self, recording: _Recording) -> None:
        seconds = recording.command.max_seconds
        if seconds is not None and recording.bound is None and not recording.ended:
            recording.bound = self.clock.callLater(seconds, self._bound_expired, recording)

    def _started(self, recording: _Recording) -> None:
        self._cancel(recording.grace)
        recording.grace = None
        if recording.started or recording.ended:
            return
        recording.started = True
        self._emit(recording, RecordingProgress.STARTED)

    def _bound_expired(self, recording: _Recording) -> None:
        recording.bound = None
        if recording.ended:
            return
        recording.bound_expired = True
        if not self.client.connected:
            return  # stopped at the resynchronisation after the next login
        recording.stopping = recording.stopping or CAUSE_MAX_SECONDS
        self.log.info("AMI {server}: recording {recording} reached {seconds} s: stopping it",
                      server=self.name, recording=recording.recording_id,
                      seconds=recording.command.max_seconds)
        self._stop(recording.command.channel, recording).addErrback(
            lambda f: self.log.warn("AMI {server}: cannot stop recording {recording}: {error}",
                                    server=self.name, recording=recording.recording_id,
                                    error=f.getErrorMessage()))

    def _end(self, recording: _Recording, cause: str) -> None:
        if recording.ended:
            return
        recording.ended = True
        self._forget(recording)
        self._emit(recording, RecordingProgress.STOPPED, cause)

    def _forget(self, recording: _Recording) -> None:
        self._cancel(recording.bound)
        self._cancel(recording.grace)
        recording.bound = recording.grace = None
        if self._recordings.get(recording.recording_id) is recording:
            del self._recordings[recording.recording_id]

    def _emit(self, recording: _Recording, progress: RecordingProgress,
              cause: str | None = None) -> None:
        try:
            recording.sink(RecordingUpdate(recording.recording_id, progress, cause))
        except Exception:
            self.log.failure("AMI {server}: the update sink of recording {recording} failed",
                             server=self.name, recording=recording.recording_id)

    # -- actions ----------------------------------------------------------------------------

    def _stop(self, channel: str, recording: _Recording | None) -> Deferred[None]:
        done = self._command("StopMixMonitor", channel, [("Channel", channel)])

        def stopped(_: None) -> None:
            # Asterisk before 16.17/18.3 raises no MixMonitorStop: bounded.
            if recording is not None and not recording.ended:
                self._cancel(recording.grace)
                recording.grace = self.clock.callLater(
                    self.event_grace, self._end, recording, recording.stopping or CAUSE_STOPPED)

        return done.addCallback(stopped)

    def _command(self, action: str, channel: str, fields: list[tuple[str, str]]) -> Deferred[None]:
        if not self.client.connected:
            return fail(RecordingUnavailable(f"the AMI link to {self.name} is down"))
        sent = self.client.send_action(action, fields)

        def done(result: AMIMessage | Failure) -> Deferred[None]:
            if isinstance(result, Failure):
                error = result.value
                if isinstance(error, AMIActionError | AMINotConnected):
                    return fail(self._error(error, channel))
                return fail(RecordingError(f"{self.name}: {action} of {channel}: "
                                           f"{result.getErrorMessage()}"))
            return succeed(None)

        return sent.addBoth(done)

    def _error(self, error: Exception, channel: str) -> RecordingError:
        if isinstance(error, AMINotConnected):
            return RecordingUnavailable(str(error))
        if isinstance(error, AMIActionError) and error.message == NO_SUCH_CHANNEL:
            return NoSuchChannel(f"{self.name}: no channel {channel}")
        return RecordingError(f"{self.name}: {error}")

    # -- look-ups ---------------------------------------------------------------------------

    def _find(self, channel: str) -> _Recording | None:
        return next((r for r in self._recordings.values() if channel in r.names), None)

    def _find_event(self, event: AMIMessage) -> _Recording | None:
        name, uniqueid = event.get("Channel"), event.get("Uniqueid")
        for recording in self._recordings.values():
            if name in recording.names or uniqueid in recording.names:
                # Learn both, so a later event or a stop by either finds it.
                recording.names.update(v for v in (name, uniqueid) if v)
                return recording
        return None

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        if timer is not None and timer.active():
            timer.cancel()
