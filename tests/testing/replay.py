"""Test support: play the FastAGI server side of a transcript against the emulator."""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock

from gtx.testing import CallRecord, CallSpec, EmulatedAsterisk, ScriptedCaller, connect_in_memory


class ScriptedServer(Protocol):
    """A FastAGI server that sends what the test tells it and keeps every byte it receives."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: object = None) -> None:
        self.closed = True

    def send(self, command: str) -> None:
        self.transport.write(command.encode("utf-8") + b"\n")


class ServerFactory(Factory):
    def __init__(self) -> None:
        self.servers: list[ScriptedServer] = []

    def buildProtocol(self, addr: object) -> ScriptedServer:
        server = ScriptedServer()
        server.factory = self
        self.servers.append(server)
        return server


@dataclass
class Harness:
    """One in-memory emulated call with a scripted server, on a Clock."""

    clock: Clock
    asterisk: EmulatedAsterisk
    server: ScriptedServer
    finished: Deferred[CallRecord]
    results: list[CallRecord] = field(default_factory=list)

    def command(self, line: str, max_seconds: float = 120.0, expect_lines: int = 1) -> str:
        """Send one command; run the clock until its reply (``expect_lines`` new lines) is in;
        return what arrived, decoded."""
        before = len(self.server.received)
        self.server.send(line)
        waited = 0.0
        while self._new_lines(before) < expect_lines and waited < max_seconds:
            self.clock.advance(0.05)
            waited += 0.05
        return bytes(self.server.received[before:]).decode()

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Let call time pass."""
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def hang_up_server(self) -> CallRecord:
        """Close the FastAGI connection and return the call record."""
        self.server.transport.loseConnection()
        self.clock.advance(0)
        assert self.results, "AGI() did not return"
        return self.results[0]

    def _new_lines(self, before: int) -> int:
        return bytes(self.server.received[before:]).count(b"\n")


def start_call(
    spec: CallSpec,
    caller: ScriptedCaller | str | None = None,
    asterisk: EmulatedAsterisk | None = None,
    clock: Clock | None = None,
) -> Harness:
    """Connect an emulated call to a :class:`ScriptedServer` in memory."""
    if clock is None:
        clock = asterisk.clock if asterisk is not None else Clock()  # type: ignore[assignment]
    assert clock is not None
    asterisk = asterisk or EmulatedAsterisk(clock)
    if isinstance(caller, str):
        caller = ScriptedCaller.parse(caller)
    factory = ServerFactory()
    finished = connect_in_memory(factory, spec, caller, asterisk=asterisk)
    harness = Harness(clock, asterisk, factory.servers[0], finished)
    finished.addCallback(harness.results.append)
    return harness
