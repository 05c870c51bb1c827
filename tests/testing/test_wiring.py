"""Running emulated calls: in memory on a Clock, in zero time, and over real TCP."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.protocols.basic import LineOnlyReceiver

from gtx.testing import (
    CallRecord,
    CallSpec,
    EmulatedAsterisk,
    ScriptedCaller,
    connect_emulated_call,
    render_call,
)


class MenuServer(LineOnlyReceiver):
    """A tiny FastAGI app: answer, ask for a digit, store it, say goodbye, close."""

    delimiter = b"\n"
    SCRIPT = (
        "ANSWER",
        'STREAM FILE hello-world ""',
        "GET DATA beep 3000 1",
        None,  # SET VARIABLE with the digit
        'STREAM FILE vm-goodbye ""',
    )

    def __init__(self) -> None:
        self.in_environment = True
        self.step = 0
        self.replies: list[str] = []

    def lineReceived(self, line: bytes) -> None:
        text = line.decode()
        if self.in_environment:
            if text == "":
                self.in_environment = False
                self._next()
            return
        if text == "HANGUP":
            return
        self.replies.append(text)
        self._next()

    def _next(self) -> None:
        if self.step == len(self.SCRIPT):
            self.transport.loseConnection()
            return
        command = self.SCRIPT[self.step]
        if command is None:
            digit = self.replies[-1].split("=", 1)[1]
            command = f"SET VARIABLE CHOICE {digit}"
        self.step += 1
        self.sendLine(command.encode())


def test_in_memory_call_on_a_clock() -> None:
    clock = Clock()
    factory = Factory.forProtocol(MenuServer)
    d = connect_emulated_call(factory, CallSpec(), "wait 2; press 7", clock)
    records: list[CallRecord] = []
    d.addCallback(records.append)
    clock.pump([0.1] * 60)
    record = records[0]
    assert record.variables["CHOICE"] == "7"
    assert record.played == ["hello-world", "beep", "vm-goodbye"]
    assert record.agi_status == "SUCCESS"
    assert record.digits == "7"
    assert record.session.commands[0] == "ANSWER"
    text = render_call(record)
    assert "→ GET DATA beep 3000 1" in text
    assert "caller presses 7" in text
    assert "← 200 result=7" in text
    assert "dialplan continues at gtx-test,agi,4" in text


def test_zero_time_mode_keeps_scripted_digits_in_order() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, time_scale=0)
    d = connect_emulated_call(
        Factory.forProtocol(MenuServer),
        CallSpec(),
        ScriptedCaller.parse("wait 2; press 7"),
        asterisk=asterisk,
    )
    record = d.result  # no clock movement needed
    assert record.variables["CHOICE"] == "7"
    # hello-world (1.40 s) and beep (0.26 s) played, the digit came at 2.0 s, then vm-goodbye
    assert record.duration == pytest.approx(2.0 + 6400 / 8000)
    assert clock.seconds() == 0


def test_scaled_time_plays_faster() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, time_scale=0.01)
    d = connect_emulated_call(
        Factory.forProtocol(MenuServer), CallSpec(), "wait 2; press 3", asterisk=asterisk
    )
    clock.pump([0.001] * 100)
    assert d.result.variables["CHOICE"] == "3"


def test_a_factory_that_refuses_gives_failure() -> None:
    class Refusing(Factory):
        def buildProtocol(self, addr: object) -> None:
            return None

    d = connect_emulated_call(Refusing(), CallSpec(variables={"A": "1"}), clock=Clock())
    record = d.result
    assert record.agi_status == "FAILURE"
    assert record.variables == {"A": "1", "AGISTATUS": "FAILURE"}
    assert "AGISTATUS=FAILURE" in render_call(record)


def test_connect_needs_a_clock_or_an_asterisk() -> None:
    with pytest.raises(TypeError):
        connect_emulated_call(Factory.forProtocol(MenuServer), CallSpec())


@pytest_twisted.ensureDeferred
async def test_real_tcp_connection_on_port_zero() -> None:
    from twisted.internet import reactor

    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        Factory.forProtocol(MenuServer)
    )
    try:
        number = port.getHost().port
        asterisk = EmulatedAsterisk(reactor, time_scale=0.001)
        spec = CallSpec(request=f"agi://127.0.0.1:{number}/menu")
        record = await connect_emulated_call(
            f"tcp:127.0.0.1:{number}:timeout=2",
            spec,
            "press 5 during GET DATA",
            asterisk=asterisk,
            reactor=reactor,
        )
        assert record.variables["CHOICE"] == "5"
        assert record.session.env["agi_network_script"] == "menu"
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_real_tcp_connection_refused_is_failure() -> None:
    from twisted.internet import reactor

    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory())
    number = port.getHost().port
    await port.stopListening()
    asterisk = EmulatedAsterisk(reactor)
    d: Deferred[CallRecord] = connect_emulated_call(
        f"tcp:127.0.0.1:{number}:timeout=2", CallSpec(), asterisk=asterisk, reactor=reactor
    )
    record = await d
    assert record.agi_status == "FAILURE"
