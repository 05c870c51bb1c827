"""In-memory fakes for IVR engine tests: a scripted channel and a scripted web service.

Both take time on a ``twisted.internet.task.Clock``; :func:`drive` advances the clock until a
Deferred fires, so timeouts and delays are exercised without any real waiting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from gtx.channel import (
    CallInfo,
    ChannelGone,
    ChannelHangup,
    DialResult,
    PlayResult,
    RecordResult,
    UnknownApplication,
)
from gtx.xmlrpc.errors import CallTimeout

#: Commands that still work on a dead channel (as with Asterisk).
DEAD_OK = frozenset({"get_variable", "get_full_variable", "set_variable"})


def drive(clock: Clock, d: Deferred[Any], *, step: float = 0.05, limit: float = 100_000) -> Any:
    """Advance ``clock`` until ``d`` fires; return its result (raise its failure)."""
    results: list[Any] = []
    d.addBoth(results.append)
    elapsed = 0.0
    while not results:
        if elapsed > limit:
            raise AssertionError(f"the Deferred did not fire within {limit} simulated seconds")
        clock.advance(step)
        elapsed += step
    result = results[0]
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result


class FakeChannel:
    """A scripted channel.

    - ``sounds``: the sound files that exist (None: every file exists); ``durations`` per file
      (default 1 s).
    - ``presses``: the caller's DTMF, consumed by the commands that listen (``stream`` with
      escape digits, ``say`` with escape digits, ``wait_for_digit``): a digit (pressed 0.1 s
      after listening starts) or ``(delay, digit)``. A wait shorter than the delay times out and
      the delay shrinks by the time waited.
    - ``hangup_at``: the caller hangs up at the Nth live command (1-based); ``hangup_during``:
      during the first call of that method (``dial`` then answers CANCEL, ``record`` answers
      reason "hangup", the others fail with ChannelHangup). ``gone_during``: the connection is
      lost during that method (everything fails with ChannelGone afterwards).
    - ``dial_status`` per target (default ANSWER), ``queue_status``, ``exec_results`` per
      application (an int, or UnknownApplication when absent and ``unknown_apps`` lists it).
    - ``variables`` (survive hang-up) and ``full_variables`` (for get_full_variable).
    """

    def __init__(
        self,
        clock: Clock,
        info: CallInfo | None = None,
        *,
        sounds: set[str] | None = None,
        durations: Mapping[str, float] | None = None,
        presses: Sequence[str | tuple[float, str]] = (),
        hangup_at: int | None = None,
        hangup_during: str | None = None,
        gone_during: str | None = None,
        dial_status: Mapping[str, str] | None = None,
        queue_status: str = "",
        exec_results: Mapping[str, int] | None = None,
        unknown_apps: Sequence[str] = (),
        record_endpos: int = 16000,
        record_reason: str = "dtmf",
        variables: Mapping[str, str] | None = None,
        full_variables: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self._info = info or CallInfo(
            channel="PJSIP/alice-00000001", uniqueid="1700000000.1", caller_number="5551234",
            caller_name="Alice", called="100", context="gtx", extension="100",
            script="menu", asterisk="pbx1",
        )
        self.sounds = sounds
        self.durations = dict(durations or {})
        self.presses: list[tuple[float, str]] = [
            (0.1, p) if isinstance(p, str) else p for p in presses
        ]
        self.hangup_at = hangup_at
        self.hangup_during = hangup_during
        self.gone_during = gone_during
        self.dial_status = dict(dial_status or {})
        self.queue_status = queue_status
        self.exec_results = dict(exec_results or {})
        self.unknown_apps = {a.lower() for a in unknown_apps}
        self.record_endpos = record_endpos
        self.record_reason = record_reason
        self.variables: dict[str, str] = dict(variables or {})
        self.full_variables: dict[str, str] = dict(full_variables or {})
        self.calls: list[tuple[Any, ...]] = []
        self.live_commands = 0
        self._hung_up = False
        self._gone = False
        self.hung_up_by_gtx = False

    # -- the script ------------------------------------------------------------------------

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def caller_hangs_up(self) -> None:
        self._hung_up = True

    def _later(self, seconds: float, value: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.clock.callLater(seconds, d.callback, value)
        return d

    def _begin(self, method: str, *args: Any) -> Deferred[Any] | None:
        """Record the call; return a failed Deferred when the script says it must fail."""
        self.calls.append((method, *args))
        if self._gone:
            return fail(ChannelGone("connection lost"))
        if method == self.gone_during:
            self._gone = True
            return fail(ChannelGone("connection lost"))
        if method in DEAD_OK:
            return None
        self.live_commands += 1
        if self.hangup_at is not None and self.live_commands >= self.hangup_at:
            self._hung_up = True
        if self._hung_up:
            return fail(ChannelHangup(method))
        if method == self.hangup_during and method not in ("dial", "record"):
            self.hangup_during = None
            self._hung_up = True
            return self._later_failure(0.5, ChannelHangup(method))
        return None

    def _later_failure(self, seconds: float, error: Exception) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.clock.callLater(seconds, d.errback, error)
        return d

    def _listen(self, escape: str, limit: float) -> tuple[float, str | None]:
        """Consume presses during ``limit`` seconds; return (elapsed, escape digit or None)."""
        elapsed = 0.0
        while self.presses:
            delay, digit = self.presses[0]
            if elapsed + delay > limit:
                self.presses[0] = (delay - (limit - elapsed), digit)
                return limit, None
            self.presses.pop(0)
            elapsed += delay
            if digit in escape:
                return elapsed, digit
        return limit, None

    # -- the Channel interface ---------------------------------------------------------------

    def answer(self) -> Deferred[None]:
        return self._begin("answer") or self._later(0.0, None)

    def hangup(self, cause: int | None = None) -> Deferred[None]:
        failed = self._begin("hangup", cause)
        if failed:
            return failed
        self._hung_up = True
        self.hung_up_by_gtx = True
        return self._later(0.0, None)

    def stream(self, file: str, escape_digits: str = "") -> Deferred[PlayResult]:
        failed = self._begin("stream", file, escape_digits)
        if failed:
            return failed
        if self.sounds is not None and file not in self.sounds:
            return self._later(0.0, PlayResult(digit=None, played=False))
        duration = self.durations.get(file, 1.0)
        if not escape_digits:
            return self._later(duration, PlayResult(digit=None, played=True))
        elapsed, digit = self._listen(escape_digits, duration)
        return self._later(elapsed, PlayResult(digit=digit, played=True))

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        failed = self._begin("wait_for_digit", timeout)
        if failed:
            return failed
        from gtx.channel import DTMF_DIGITS

        elapsed, digit = self._listen(DTMF_DIGITS, timeout)
        return self._later(elapsed, digit)

    def say(self, kind: str, value: str, escape_digits: str = "") -> Deferred[str | None]:
        failed = self._begin("say", kind, value, escape_digits)
        if failed:
            return failed
        if not escape_digits:
            return self._later(1.0, None)
        elapsed, digit = self._listen(escape_digits, 1.0)
        return self._later(elapsed, digit)

    def record(self, path: str, fmt: str, escape_digits: str, max_seconds: float | None,
               silence_seconds: int | None, beep: bool) -> Deferred[RecordResult]:
        failed = self._begin("record", path, fmt, escape_digits, max_seconds, silence_seconds,
                             beep)
        if failed:
            return failed
        if self.hangup_during == "record":
            self._hung_up = True
            return self._later(1.0, RecordResult("hangup", None, self.record_endpos))
        digit = escape_digits[:1] if self.record_reason == "dtmf" else None
        return self._later(2.0, RecordResult(self.record_reason, digit or None,
                                             self.record_endpos))

    def dial(self, targets: Sequence[str], timeout: int | None, options: str,
             caller_id: str | None, time_limit: int | None) -> Deferred[DialResult]:
        failed = self._begin("dial", tuple(targets), timeout, options, caller_id, time_limit)
        if failed:
            return failed
        if self.hangup_during == "dial":
            self._hung_up = True
            return self._later(3.0, DialResult("CANCEL", 0, 3))
        status = next((self.dial_status[t] for t in targets if t in self.dial_status), "ANSWER")
        answered = 42 if status == "ANSWER" else 0
        return self._later(5.0, DialResult(status, answered, 5 + answered))

    def queue(self, name: str, timeout: int | None, options: str) -> Deferred[str]:
        return self._begin("queue", name, timeout, options) or self._later(3.0, self.queue_status)

    def conference(self, name: str, options: Mapping[str, str]) -> Deferred[None]:
        return self._begin("conference", name, dict(options)) or self._later(3.0, None)

    def transfer(self, context: str, extension: str, priority: int) -> Deferred[None]:
        return self._begin("transfer", context, extension, priority) or self._later(0.0, None)

    def music_on_hold(self, moh_class: str | None, seconds: float | None) -> Deferred[None]:
        return self._begin("music_on_hold", moh_class, seconds) or self._later(seconds or 0, None)

    def wait(self, seconds: float) -> Deferred[None]:
        return self._begin("wait", seconds) or self._later(seconds, None)

    def send_dtmf(self, digits: str) -> Deferred[None]:
        return self._begin("send_dtmf", digits) or self._later(0.25 * len(digits), None)

    def exec(self, application: str, args: Sequence[str]) -> Deferred[int]:
        failed = self._begin("exec", application, tuple(args))
        if failed:
            return failed
        if application.lower() in self.unknown_apps:
            return fail(UnknownApplication(f"EXEC {application}", "no such application"))
        return self._later(0.5, self.exec_results.get(application, 0))

    def get_variable(self, name: str) -> Deferred[str | None]:
        return self._begin("get_variable", name) or self._later(0.0, self.variables.get(name))

    def get_full_variable(self, expression: str) -> Deferred[str | None]:
        failed = self._begin("get_full_variable", expression)
        return failed or self._later(0.0, self.full_variables.get(expression))

    def set_variable(self, name: str, value: str) -> Deferred[None]:
        failed = self._begin("set_variable", name, value)
        if failed:
            return failed
        assert "\n" not in value, f"{name} would break the command line"
        self.variables[name] = value
        return self._later(0.0, None)

    def set_variables(self, values: Mapping[str, str]) -> Deferred[None]:
        # One command per variable, as over FastAGI: the tests read them as set_variable calls.
        d: Deferred[None] = succeed(None)
        for name, value in values.items():
            d.addCallback(lambda _, n=name, v=value: self.set_variable(n, v))
        return d

    def verbose(self, message: str, level: int = 1) -> Deferred[None]:
        return self._begin("verbose", message, level) or self._later(0.0, None)

    # -- inspection ------------------------------------------------------------------------

    def methods(self) -> list[str]:
        """The channel methods called, in order, without the state variables."""
        return [c[0] for c in self.calls if c[0] not in DEAD_OK]

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == method]


@dataclass(frozen=True)
class Delay:
    """Answer ``value`` (or fail with it, if an exception) after ``seconds``."""

    seconds: float
    value: Any


class Hang:
    """Never answer (a client that does not enforce its timeout)."""


@dataclass
class Call:
    url: str
    method: str
    params: Sequence[object]
    timeout: float
    secret: str | None

    @property
    def request(self) -> dict[str, Any]:
        request = self.params[0]
        assert isinstance(request, dict)
        return request


@dataclass
class FakeWebService:
    """Scripted answers per method: a list (consumed in order; the last one repeats) of values,
    exceptions, :class:`Delay`, :class:`Hang` or callables taking the request. Like the real
    client, an answer slower than the call's timeout fails with CallTimeout at the timeout."""

    clock: Clock
    answers: dict[str, Any] = field(default_factory=dict)
    latency: float = 0.01
    calls: list[Call] = field(default_factory=list)

    def call(self, url: str, method: str, params: Sequence[object], *, timeout: float,
             secret: str | None = None) -> Deferred[object]:
        call = Call(url, method, list(params), timeout, secret)
        self.calls.append(call)
        script = self.answers.get(method)
        if script is None:
            answer: Any = ValueError(f"the test did not script {method}")
        elif isinstance(script, list):
            answer = script.pop(0) if len(script) > 1 else script[0]
        else:
            answer = script
        if callable(answer) and not isinstance(answer, type):
            answer = answer(call.request)
        delay = self.latency
        if isinstance(answer, Delay):
            delay, answer = answer.seconds, answer.value
        d: Deferred[object] = Deferred()
        if isinstance(answer, Hang):
            return d
        if delay > timeout:
            self.clock.callLater(timeout, d.errback, CallTimeout(url, method, timeout))
        elif isinstance(answer, BaseException):
            self.clock.callLater(delay, d.errback, answer)
        else:
            self.clock.callLater(delay, d.callback, answer)
        return d

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


@dataclass
class FakeScheduler:
    """A :class:`gtx.ivr.app.CallbackScheduler` that records what it was asked; ``refuse``
    (an exception) makes it fail instead."""

    scheduled: list[tuple[str, float, object, dict[str, object], str | None]] = field(
        default_factory=list)
    refuse: Exception | None = None

    def schedule(self, number: str, at: float, app: str | tuple[str, str],
                 vars: Mapping[str, object], caller_id: str | None) -> Deferred[str]:
        if self.refuse is not None:
            return fail(self.refuse)
        self.scheduled.append((number, at, app, dict(vars), caller_id))
        return succeed(f"call-{len(self.scheduled)}")


@dataclass
class FakeRecorder:
    """A :class:`gtx.ivr.app.SessionRecorder` that records what it was asked; ``refuse`` (an
    exception) makes every operation fail with it."""

    started: list[tuple[str, str, str, Any]] = field(default_factory=list)
    operations: list[tuple[str, str]] = field(default_factory=list)
    refuse: Exception | None = None

    def start(self, session: str, channel: str, asterisk: str, request: Any) -> Deferred[str]:
        if self.refuse is not None:
            return fail(self.refuse)
        self.started.append((session, channel, asterisk, request))
        return succeed(f"rec-{len(self.started)}")

    def _operate(self, name: str, recording_id: str) -> Deferred[None]:
        if self.refuse is not None:
            return fail(self.refuse)
        self.operations.append((name, recording_id))
        return succeed(None)

    def stop(self, recording_id: str) -> Deferred[None]:
        return self._operate("stop", recording_id)

    def pause(self, recording_id: str) -> Deferred[None]:
        return self._operate("pause", recording_id)

    def resume(self, recording_id: str) -> Deferred[None]:
        return self._operate("resume", recording_id)
