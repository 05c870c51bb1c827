"""The emulated-Asterisk side of the IVR benchmark: place calls, time every AGI line, check them.

A call is one emulated Asterisk channel (a protocol from ``gtx.testing``) connected to the system
under test, either over TCP (FastAGI) or over a child process's stdin/stdout (process AGI, the
way Asterisk's ``AGI(script)`` runs a script). A :class:`CallRecord` taps the connection and
stamps every line each way with ``time.perf_counter()``; :func:`step_timings` reads the step
boundaries of the benchmark IVR off those lines.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, ProcessProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

#: Sound files of step 1 (see bench/stub_service.py): how step 1 is recognised on the wire.
WELCOME_PROMPT = "bench-welcome"
DIGIT_PROMPT = "bench-press-a-digit"
#: What step 2 says: 40 + the digit the caller pressed (1).
EXPECTED_NUMBER = "41"

_REPLY = re.compile(r"^\d{3}[ -]")
_READ_COMMANDS = ("GET DATA", "WAIT FOR DIGIT", "GET OPTION")

FROM_ASTERISK = "<<"
FROM_SERVER = ">>"


@dataclass
class CallRecord:
    """Every AGI line of one call, stamped, and how the call ended."""

    index: int
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    lines: list[tuple[float, str, str]] = field(default_factory=list)  # (t, direction, text)
    error: str | None = None
    _partial: dict[str, bytes] = field(default_factory=dict, repr=False)

    def tap(self, direction: str, data: bytes) -> None:
        """Stamp the complete lines of ``data`` (sent in ``direction``)."""
        now = time.perf_counter()
        buffer = self._partial.get(direction, b"") + data
        *complete, rest = buffer.split(b"\n")
        self._partial[direction] = rest
        for line in complete:
            self.lines.append((now, direction, line.decode("utf-8", "replace")))

    def finish(self, error: str | None = None) -> None:
        """The call is over (``error`` says why it failed, if it did)."""
        if self.ended is None:
            self.ended = time.perf_counter()
            self.error = self.error or error


@dataclass(frozen=True)
class StepTimings:
    """Seconds from the environment to step 1, and between the steps (1→2, 2→3)."""

    first: float
    between: tuple[float, float]
    commands: int  # AGI commands the server sent during the call


def step_timings(record: CallRecord) -> StepTimings:
    """Read the step boundaries off a call's lines; raise ValueError when the call did not run
    the three steps of the benchmark IVR correctly."""
    lines = record.lines
    env_end = next((t for t, d, text in lines if d == FROM_ASTERISK and text == ""), None)
    commands = [(i, t, text) for i, (t, d, text) in enumerate(lines) if d == FROM_SERVER]
    if env_end is None:
        raise ValueError("the environment was never sent")

    def reply_time(position: int) -> float:
        for t, direction, text in lines[position + 1 :]:
            if direction == FROM_ASTERISK and _REPLY.match(text):
                return t
        raise ValueError(f"no reply to {lines[position][2]!r}")

    def first(predicate: Callable[[str], bool], after: int = -1) -> tuple[int, float, str]:
        for i, t, text in commands:
            if i > after and predicate(text):
                return i, t, text
        raise ValueError("missing command")

    try:
        start1 = first(lambda c: WELCOME_PROMPT in c)
    except ValueError:
        raise ValueError(f"step 1 never played {WELCOME_PROMPT}: {_summary(commands)}") from None
    try:
        start2 = first(lambda c: c.startswith("SAY NUMBER"), start1[0])
    except ValueError:
        raise ValueError(f"step 2 never said a number: {_summary(commands)}") from None
    if EXPECTED_NUMBER not in [word.strip('"') for word in start2[2].split()]:
        raise ValueError(f"step 2 said the wrong number: {start2[2]!r}")
    try:
        start3 = first(lambda c: c.split()[:1] == ["HANGUP"], start2[0])
    except ValueError:
        raise ValueError(f"step 3 never hung up: {_summary(commands)}") from None
    reads = [i for i, _, c in commands
             if start1[0] <= i < start2[0] and (DIGIT_PROMPT in c or c.startswith(_READ_COMMANDS))]
    if not reads:
        raise ValueError(f"step 1 never read a digit: {_summary(commands)}")
    says = [i for i, _, c in commands if start2[0] <= i < start3[0] and c.startswith("SAY")]
    return StepTimings(
        first=start1[1] - env_end,
        between=(start2[1] - reply_time(reads[-1]), start3[1] - reply_time(says[-1])),
        commands=len(commands),
    )


def _summary(commands: list[tuple[int, float, str]]) -> str:
    return " | ".join(text for _, _, text in commands[:12]) or "no command at all"


# --- FastAGI over TCP -------------------------------------------------------------------------


class _TappedConnection(ProtocolWrapper):
    """Stands between the socket and the emulated Asterisk's protocol, stamping every line."""

    record: CallRecord
    done: Deferred[CallRecord]

    def write(self, data: bytes) -> None:
        self.record.tap(FROM_ASTERISK, data)
        super().write(data)

    def writeSequence(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def dataReceived(self, data: bytes) -> None:
        self.record.tap(FROM_SERVER, data)
        super().dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        super().connectionLost(reason)
        self.record.finish()
        if not self.done.called:
            self.done.callback(self.record)


class _CallFactory(WrappingFactory, ClientFactory):
    protocol = _TappedConnection  # type: ignore[assignment]

    def __init__(self, inner: Callable[[], Protocol], record: CallRecord) -> None:
        super().__init__(ClientFactory.forProtocol(inner))
        self.record = record
        self.done: Deferred[CallRecord] = Deferred()

    def buildProtocol(self, addr: Any) -> _TappedConnection:
        wrapper = super().buildProtocol(addr)
        assert isinstance(wrapper, _TappedConnection)
        wrapper.record, wrapper.done = self.record, self.done
        return wrapper

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.record.finish(f"could not connect: {reason.getErrorMessage()}")
        if not self.done.called:
            self.done.callback(self.record)


def call_over_tcp(
    reactor: Any, port: int, inner: Callable[[], Protocol], record: CallRecord, timeout: float
) -> Deferred[CallRecord]:
    """One FastAGI call to 127.0.0.1:``port``; fires when the server closes the connection."""
    factory = _CallFactory(inner, record)
    connector = reactor.connectTCP("127.0.0.1", port, factory, timeout=timeout)

    def give_up() -> None:
        record.finish(f"timed out after {timeout:g} s")
        connector.disconnect()

    return _bounded(reactor, factory.done, timeout, give_up)


# --- process AGI over stdio -------------------------------------------------------------------


class _PipeTransport:
    """What the emulated Asterisk's protocol writes to: the script's stdin."""

    disconnecting = False

    def __init__(self, process: _ScriptProcess) -> None:
        self._process = process

    def write(self, data: bytes) -> None:
        self._process.record.tap(FROM_ASTERISK, data)
        if self._process.transport is not None:
            self._process.transport.write(data)

    def writeSequence(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def loseConnection(self) -> None:
        self.disconnecting = True
        if self._process.transport is not None:
            self._process.transport.closeStdin()

    abortConnection = loseConnection

    def getPeer(self) -> Any:
        return None

    def getHost(self) -> Any:
        return None


class _ScriptProcess(ProcessProtocol):
    """A process AGI script, its stdio wired to an emulated Asterisk's protocol."""

    def __init__(self, inner: Protocol, record: CallRecord, on_pid: Callable[[int, bool], None]):
        self.inner = inner
        self.record = record
        self.on_pid = on_pid
        self.done: Deferred[CallRecord] = Deferred()

    def connectionMade(self) -> None:
        self.on_pid(self.transport.pid, True)
        self.inner.makeConnection(_PipeTransport(self))  # type: ignore[arg-type]

    def outReceived(self, data: bytes) -> None:
        self.record.tap(FROM_SERVER, data)
        self.inner.dataReceived(data)

    def processEnded(self, reason: Failure) -> None:
        self.on_pid(getattr(self.transport, "pid", None) or 0, False)
        self.inner.connectionLost(reason)
        code = getattr(reason.value, "exitCode", 0)
        self.record.finish(None if code == 0 else f"the script exited with status {code}")
        if not self.done.called:
            self.done.callback(self.record)


def call_over_process(
    reactor: Any,
    argv: list[str],
    inner: Protocol,
    record: CallRecord,
    timeout: float,
    on_pid: Callable[[int, bool], None],
) -> Deferred[CallRecord]:
    """One process AGI call: spawn ``argv`` and let the emulated Asterisk talk to its stdio
    (stderr is thrown away, as Asterisk only logs it); fires when the process exits."""
    process = _ScriptProcess(inner, record, on_pid)
    with open(os.devnull, "wb") as devnull:
        transport = reactor.spawnProcess(
            process, argv[0], argv, env=dict(os.environ),
            childFDs={0: "w", 1: "r", 2: devnull.fileno()},
        )

    def give_up() -> None:
        record.finish(f"timed out after {timeout:g} s")
        transport.signalProcess("KILL")

    return _bounded(reactor, process.done, timeout, give_up)


def _bounded(
    reactor: Any, done: Deferred[CallRecord], timeout: float, give_up: Callable[[], None]
) -> Deferred[CallRecord]:
    timer = reactor.callLater(timeout, give_up)

    def stop_timer(record: CallRecord) -> CallRecord:
        if timer.active():
            timer.cancel()
        return record

    return done.addCallback(stop_timer)


def run_calls(
    count: int, concurrency: int, place_call: Callable[[int], Deferred[CallRecord]]
) -> Deferred[list[CallRecord]]:
    """Place ``count`` calls, at most ``concurrency`` at a time; fire with every record."""
    records: list[CallRecord] = []
    finished: Deferred[list[CallRecord]] = Deferred()
    state = {"next": 0, "active": 0}

    def launch() -> None:
        while state["active"] < concurrency and state["next"] < count:
            index = state["next"]
            state["next"] += 1
            state["active"] += 1
            place_call(index).addBoth(ended, index)

    def ended(outcome: CallRecord | Failure, index: int) -> None:
        state["active"] -= 1
        if isinstance(outcome, Failure):
            outcome = CallRecord(index, error=f"the call failed: {outcome.getErrorMessage()}")
        records.append(outcome)
        if state["next"] < count:
            launch()
        elif state["active"] == 0 and not finished.called:
            finished.callback(records)

    if count == 0:
        finished.callback(records)
    else:
        launch()
    return finished


class RssSampler:
    """Samples the summed RSS of some processes every ``interval`` seconds; keeps the peak and
    how many processes made it."""

    def __init__(self, reactor: Any, pids: Callable[[], list[int]], interval: float = 0.05):
        self._pids = pids
        self._processes: dict[int, psutil.Process] = {}
        self._loop = LoopingCall(self._tick)
        self._loop.clock = reactor
        self._interval = interval
        self.peak = (0, 0)

    def sample(self) -> int:
        """The summed RSS of the processes now, in bytes."""
        return self._measure()[0]

    def _measure(self) -> tuple[int, int]:
        total = count = 0
        for pid in self._pids():
            try:
                process = self._processes.get(pid) or self._processes.setdefault(
                    pid, psutil.Process(pid))
                total += process.memory_info().rss
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return total, count

    def _tick(self) -> None:
        now = self._measure()
        if now[0] > self.peak[0]:
            self.peak = now

    def start(self) -> None:
        self._loop.start(self._interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
        self._tick()
