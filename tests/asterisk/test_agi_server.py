"""FastAGIFactory: one session per connection, errors contained, graceful shutdown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.failure import Failure

from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_protocol import FastAGILimits, FastAGIProtocol
from gtx.asterisk.agi_server import FastAGIFactory
from tests.asterisk.conftest import ENVIRONMENT
from tests.asterisk.outcome import pending, result_of

PEER = IPv4Address("TCP", "10.0.0.7", 40000)


class KeepAliveTransport(StringTransport):
    """A StringTransport that records TCP keepalive requests."""

    keepalive: int | None = None

    def setTcpKeepAlive(self, enabled: int) -> None:
        self.keepalive = enabled


def connect(factory: FastAGIFactory) -> tuple[FastAGIProtocol, StringTransport]:
    protocol = factory.buildProtocol(PEER)
    assert protocol is not None
    transport = KeepAliveTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def record(calls: list[FastAGIChannel]) -> Callable[[FastAGIChannel], None]:
    """A session that only records its channel."""

    def session_main(channel: FastAGIChannel) -> None:
        calls.append(channel)

    return session_main


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def test_session_runs_and_the_connection_closes_when_it_ends() -> None:
    sessions: list[FastAGIChannel] = []
    ended: Deferred[None] = Deferred()

    def session_main(channel: FastAGIChannel) -> Deferred[None]:
        sessions.append(channel)
        return ended

    clock = Clock()
    names = {"10.0.0.7": "pbx1"}
    factory = FastAGIFactory(session_main, clock=clock, asterisk_name_for=names.__getitem__)
    protocol, transport = connect(factory)
    assert isinstance(transport, KeepAliveTransport)
    assert transport.keepalive == 1
    protocol.dataReceived(ENVIRONMENT)
    [channel] = sessions
    assert channel.info.asterisk == "pbx1"
    assert channel.info.caller_number == "5551234"
    assert factory.active_sessions == 1
    assert not transport.disconnecting
    ended.callback(None)
    assert transport.disconnecting
    assert factory.active_sessions == 0


def test_coroutine_session() -> None:
    async def session_main(channel: FastAGIChannel) -> None:
        await channel.answer()

    factory = FastAGIFactory(session_main, clock=Clock())
    protocol, transport = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    assert transport.value() == b"ANSWER\n"
    assert not transport.disconnecting
    protocol.dataReceived(b"200 result=0\n")
    assert transport.disconnecting


def test_asterisk_name_defaults_to_the_peer_host() -> None:
    names: list[str] = []

    def session_main(channel: FastAGIChannel) -> None:
        names.append(channel.info.asterisk)

    factory = FastAGIFactory(session_main, clock=Clock())
    protocol, _ = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    assert names == ["10.0.0.7"]


def test_session_error_is_logged_and_the_connection_closed(logged: list[LogEvent]) -> None:
    def session_main(channel: FastAGIChannel) -> Deferred[None]:
        raise RuntimeError("boom")

    factory = FastAGIFactory(session_main, clock=Clock())
    protocol, transport = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    assert transport.disconnecting
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)
    # the factory keeps serving
    second, second_transport = connect(factory)
    second.dataReceived(ENVIRONMENT)
    assert second_transport.disconnecting


def test_channel_gone_in_a_session_is_not_a_traceback(logged: list[LogEvent]) -> None:
    async def session_main(channel: FastAGIChannel) -> None:
        await channel.answer()

    factory = FastAGIFactory(session_main, clock=Clock())
    protocol, _ = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    protocol.connectionLost(Failure(ConnectionError("reset")))
    assert not [event for event in logged if "log_failure" in event]
    assert factory.active_sessions == 0


def test_probe_connection_never_calls_the_session(logged: list[LogEvent]) -> None:
    calls: list[FastAGIChannel] = []
    factory = FastAGIFactory(record(calls), clock=Clock())
    protocol, _ = connect(factory)
    assert factory.active_connections == 1
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert calls == []
    assert factory.active_connections == 0
    assert not [event for event in logged if "log_failure" in event]
    assert not [
        event
        for event in logged
        if event.get("log_level") and event["log_level"].name in ("warn", "error", "critical")
    ]


def test_bad_environment_drops_the_connection() -> None:
    calls: list[FastAGIChannel] = []
    factory = FastAGIFactory(record(calls), clock=Clock())
    protocol, transport = connect(factory)
    protocol.dataReceived(b"agi_network: yes\n\n")
    assert transport.disconnecting
    assert calls == []


def test_stop_accepting_refuses_new_connections() -> None:
    factory = FastAGIFactory(lambda channel: Deferred(), clock=Clock())
    factory.stop_accepting()
    assert factory.buildProtocol(PEER) is None


def test_drain_waits_for_running_sessions() -> None:
    clock = Clock()
    ended: Deferred[None] = Deferred()
    factory = FastAGIFactory(lambda channel: ended, clock=clock)
    protocol, transport = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    factory.stop_accepting()
    drained = factory.drain(30)
    assert pending(drained)
    ended.callback(None)
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert result_of(drained) is None
    assert clock.getDelayedCalls() == []


def test_drain_timeout_drops_the_rest() -> None:
    clock = Clock()
    seen: list[FastAGIChannel] = []

    def session_main(channel: FastAGIChannel) -> Deferred[Any]:
        seen.append(channel)
        return channel.wait(3600)

    factory = FastAGIFactory(session_main, clock=clock, limits=FastAGILimits(command_timeout=5))
    protocol, transport = connect(factory)
    protocol.dataReceived(ENVIRONMENT)
    drained = factory.drain(10)
    clock.advance(9)
    assert pending(drained)
    clock.advance(1)
    assert result_of(drained) is None
    assert transport.disconnecting
    assert seen[0].hung_up


def test_drain_with_nothing_running() -> None:
    factory = FastAGIFactory(lambda channel: succeed(None), clock=Clock())
    assert result_of(factory.drain(5)) is None


@pytest_twisted.inlineCallbacks
def test_real_socket_session() -> Any:
    from twisted.internet import reactor

    done: Deferred[None] = Deferred()

    async def session_main(channel: FastAGIChannel) -> None:
        await channel.set_variable("GTX_STATUS", "DONE")
        done.callback(None)

    factory = FastAGIFactory(session_main, clock=reactor)
    port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)

    class Asterisk(Protocol):
        def __init__(self) -> None:
            self.received = b""
            self.closed: Deferred[None] = Deferred()

        def connectionMade(self) -> None:
            assert self.transport is not None
            self.transport.write(ENVIRONMENT)

        def dataReceived(self, data: bytes) -> None:
            self.received += data
            if self.received.endswith(b"\n"):
                assert self.transport is not None
                self.transport.write(b"200 result=1\n")

        def connectionLost(self, reason: Failure | None = None) -> None:
            self.closed.callback(None)

    from twisted.internet.endpoints import connectProtocol

    asterisk = Asterisk()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    yield connectProtocol(endpoint, asterisk)
    yield done
    yield asterisk.closed
    assert asterisk.received == b'SET VARIABLE GTX_STATUS "DONE"\n'
    yield port.stopListening()
