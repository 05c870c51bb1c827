"""The Asterisk side of a FastAGI connection: :class:`AGIEmulatorProtocol`.

Once connected it sends the AGI environment block, then answers each command line as res_agi
does: one command at a time, in order. Hang-ups follow Asterisk's ``run_agi`` loop:

- when the caller hangs up while a command runs, that command answers as it does on a real
  Asterisk (GET DATA ``200 result=-1``, STREAM FILE ``200 result=-1 endpos=…``), then the
  asynchronous ``HANGUP`` line follows at once; when the caller hangs up between commands the
  ``HANGUP`` line is sent at once. Either way a FastAGI server reads it before the reply to its
  next command, as in the reference transcripts;
- from then on the channel is dead: commands that need a live channel answer ``511``, while
  GET/SET VARIABLE, GET FULL VARIABLE, EXEC, DATABASE *, VERBOSE and NOOP still work;
- when the FastAGI server closes the connection, the call returns from ``AGI()`` (after the
  command in progress, if any): ``AGISTATUS`` is FAILURE if a command failed on a live channel
  (res_agi's RESULT_FAILURE, e.g. STREAM FILE of a missing file), else HANGUP if the channel
  hung up during the AGI, else SUCCESS — even when the server died mid-session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from gtx.testing.agi_commands import HANDLERS, ShowUsage, not_supported
from gtx.testing.agi_syntax import (
    DEAD_CHANNEL,
    UNKNOWN_COMMAND,
    find_command,
    parse_args,
    usage_lines,
)
from gtx.testing.call import ActiveCall, Recording
from gtx.testing.caller import ScriptedCaller, command_matches
from gtx.testing.emulated_channel import TimedEvent
from gtx.testing.pbx import CallSpec, EmulatedAsterisk
from gtx.testing.timeline import Scheduled
from gtx.testing.transcript import FROM_ASTERISK, FROM_CLIENT, TranscriptSession, parse_transcript

_log = Logger()

#: How long after a command starts a ``press … during COMMAND`` key comes (call seconds).
_PRESS_DELAY = 0.1


@dataclass
class CallRecord:
    """What happened on an emulated call, for assertions once ``AGI()`` returned.

    ``context``/``extension``/``priority`` say where the dialplan continues after AGI();
    ``variables`` are the channel variables then (``AGISTATUS``, ``GTX_STATUS``…); ``transcript``
    is the exchange in the transcript file format; ``events`` the timed log that
    :func:`~gtx.testing.render.render_call` prints.
    """

    spec: CallSpec
    channel: str
    uniqueid: str
    agi_status: str
    variables: dict[str, str]
    context: str
    extension: str
    priority: int
    hung_up: bool
    hangup_time: float | None
    duration: float
    played: list[str] = field(default_factory=list)
    digits: str = ""
    dropped_digits: str = ""
    dtmf_sent: str = ""
    recordings: list[Recording] = field(default_factory=list)
    dials: list[dict[str, object]] = field(default_factory=list)
    events: list[TimedEvent] = field(default_factory=list)
    transcript: str = ""

    @property
    def session(self) -> TranscriptSession:
        """The transcript, parsed."""
        sessions = parse_transcript(self.transcript)
        return sessions[0] if sessions else TranscriptSession()

    @property
    def commands(self) -> list[str]:
        """The commands the FastAGI server sent."""
        return [e.text for e in self.events if e.kind == "received"]

    @property
    def continues_at(self) -> tuple[str, str, int]:
        """(context, extension, priority) where the dialplan goes on after AGI()."""
        return self.context, self.extension, self.priority


class AGIEmulatorProtocol(LineOnlyReceiver):
    """An emulated Asterisk channel running ``AGI(agi://…)`` (see the module docstring).

    ``finished`` fires with the :class:`CallRecord` when the call returns from AGI().
    """

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(
        self, asterisk: EmulatedAsterisk, spec: CallSpec, caller: ScriptedCaller | None = None
    ) -> None:
        self.asterisk = asterisk
        self.spec = spec
        self.caller = caller if caller is not None else ScriptedCaller.silent()
        self.finished: Deferred[CallRecord] = Deferred()
        self.call: ActiveCall | None = None
        self._pending: deque[str] = deque()
        self._busy = False
        self._pumping = False
        self._dead = False
        self._lost = False
        self._done = False
        self._commands = 0
        self._caller_events: list[Scheduled] = []
        self._presses_during = list(self.caller.presses_during)

    # -- connection --------------------------------------------------------------------------

    def connectionMade(self) -> None:
        timeline = self.asterisk.timeline()
        channel = self.asterisk.new_channel(self.spec, timeline)
        channel.on_hangup = self._channel_hung_up
        self.call = ActiveCall(self.asterisk, self.spec, channel)
        # The caller's script is on the timeline before the environment goes out: an in-memory
        # server may run the whole call from inside that write.
        for event in self.caller.events:
            action: Callable[[], None]
            if event.kind == "hangup":
                action = channel.caller_hangs_up
            else:
                action = _presser(channel.caller_presses, event.digit)
            self._caller_events.append(timeline.call_later(event.at, action))
        lines = [f"{key}: {value}" for key, value in self.asterisk.environment(self.spec, channel)]
        lines.append("")
        self._send(lines)
        timeline.advance()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._lost = True
        if not self._busy:
            self._finish()

    def lineReceived(self, line: bytes) -> None:
        self._pending.append(line.decode("utf-8", "replace"))
        self._pump()

    def lineLengthExceeded(self, line: bytes) -> None:
        # fgets() in res_agi reads long lines in pieces; the pieces are nonsense commands.
        self._pending.append(line[: self.MAX_LENGTH].decode("utf-8", "replace"))
        self._pump()

    # -- commands ----------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._pending and not self._busy and not self._done:
                command = self._pending.popleft()
                self._busy = True
                running = Deferred.fromCoroutine(self._run(command))
                running.addErrback(self._command_crashed, command)
                if self.call is not None:
                    self.call.channel.timeline.advance()  # the command now waits: time may run
        finally:
            self._pumping = False

    async def _run(self, command: str) -> None:
        call = self.call
        assert call is not None
        channel = call.channel
        channel.note("received", command)
        self._commands += 1
        if not channel.hung_up and self.caller.hangs_up_on(self._commands, command):
            channel.caller_hangs_up()
        self._schedule_presses(command)
        argv = parse_args(command)
        spec = find_command(argv)
        if spec is None:
            lines = [UNKNOWN_COMMAND]
        elif self._dead and not spec.runs_dead:
            lines = [DEAD_CHANNEL]
        else:
            handler = HANDLERS.get(spec.name, not_supported)
            try:
                reply, failed = await handler(call, argv)
            except ShowUsage:
                lines = usage_lines(spec)
            else:
                lines = [reply]
                if failed and (self._dead or not channel.hung_up):
                    call.failed_command = True
        self._command_done(lines)

    def _schedule_presses(self, command: str) -> None:
        for index, (wanted, digits) in enumerate(self._presses_during):
            if command_matches(command, wanted):
                del self._presses_during[index]
                channel = self.call.channel if self.call is not None else None
                assert channel is not None
                for n, digit in enumerate(digits):
                    delay = _PRESS_DELAY + n * self.caller.digit_gap
                    self._caller_events.append(
                        channel.timeline.call_later(delay, _presser(channel.caller_presses, digit))
                    )
                return

    def _command_done(self, lines: list[str]) -> None:
        call = self.call
        assert call is not None
        self._send(lines)
        call.channel.timeline.set_busy(False)
        if call.channel.hung_up and not self._dead:
            self._send_hangup()
        self._busy = False
        if self._lost:
            self._finish()
        else:
            self._pump()

    def _command_crashed(self, failure: Failure, command: str) -> None:
        _log.failure("the emulated Asterisk failed on {command!r}", failure, command=command)
        self._command_done(["200 result=-1"])

    def _channel_hung_up(self) -> None:
        if not self._busy and not self._dead and not self._lost:
            self._send_hangup()

    def _send_hangup(self) -> None:
        self._dead = True
        self._send(["HANGUP"])

    def _send(self, lines: list[str]) -> None:
        call = self.call
        if self._lost or call is None or self.transport is None:
            return
        for line in lines:
            call.channel.note("sent", line)
        self.transport.write("".join(f"{line}\n" for line in lines).encode("utf-8"))

    # -- end of AGI() ------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._done or self.call is None:
            return
        self._done = True
        for scheduled in self._caller_events:
            scheduled.cancel()
        call = self.call
        channel = call.channel
        if call.failed_command:
            status = "FAILURE"
        elif channel.hung_up:
            status = "HANGUP"
        else:
            status = "SUCCESS"
        channel.variables["AGISTATUS"] = status
        channel.note("agi", f"AGI() returns: AGISTATUS={status}")
        record = CallRecord(
            spec=self.spec,
            channel=channel.name,
            uniqueid=channel.uniqueid,
            agi_status=status,
            variables=dict(channel.variables),
            context=channel.context,
            extension=channel.extension,
            priority=channel.priority + 1,
            hung_up=channel.hung_up,
            hangup_time=channel.hangup_time,
            duration=channel.timeline.now(),
            played=list(channel.played),
            digits="".join(channel.digits_consumed),
            dropped_digits="".join(channel.digits_dropped),
            dtmf_sent="".join(channel.dtmf_sent),
            recordings=list(call.recordings),
            dials=list(call.dials),
            events=list(channel.log),
            transcript=transcript_of(channel.log),
        )
        self.finished.callback(record)


def transcript_of(events: list[TimedEvent]) -> str:
    """The transcript-format text of a call log (lines sent and received only)."""
    marks = {"sent": FROM_ASTERISK, "received": FROM_CLIENT}
    return "".join(f"{marks[e.kind]} {e.text}\n" for e in events if e.kind in marks)


def failed_call_record(asterisk: EmulatedAsterisk, spec: CallSpec) -> CallRecord:
    """The record of a call whose FastAGI connection could not be made: AGISTATUS=FAILURE."""
    variables = dict(spec.variables)
    variables["AGISTATUS"] = "FAILURE"
    return CallRecord(
        spec=spec,
        channel=spec.channel,
        uniqueid=spec.uniqueid,
        agi_status="FAILURE",
        variables=variables,
        context=spec.context,
        extension=spec.extension,
        priority=spec.priority + 1,
        hung_up=False,
        hangup_time=None,
        duration=0.0,
    )


def _presser(press: Callable[[str], None], digit: str) -> Callable[[], None]:
    return lambda: press(digit)
