"""Fixtures of the FastAGI tests: a connection over an in-memory transport and a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_commands import AGICommands
from gtx.asterisk.agi_parse import parse_environment
from gtx.asterisk.agi_protocol import FastAGILimits, FastAGIProtocol

#: A short environment, as Asterisk sends it (see the transcripts).
ENVIRONMENT = (
    b"agi_network: yes\n"
    b"agi_network_script: ivr\n"
    b"agi_request: agi://127.0.0.1:4573/ivr\n"
    b"agi_channel: Local/agi@gtx-test-00000000;2\n"
    b"agi_language: en\n"
    b"agi_uniqueid: 1795304604.1\n"
    b"agi_callerid: 5551234\n"
    b"agi_calleridname: Alice\n"
    b"agi_dnid: unknown\n"
    b"agi_context: gtx-test\n"
    b"agi_extension: agi\n"
    b"agi_priority: 3\n"
    b"agi_accountcode: \n"
    b"\n"
)


class AGIConnection:
    """One FastAGI connection seen from the test: bytes in, bytes out."""

    def __init__(self, limits: FastAGILimits | None = None) -> None:
        self.clock = Clock()
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        self.environments: list[list[str]] = []
        self.closed: list[FastAGIProtocol] = []
        self.protocol = FastAGIProtocol(
            self.clock,
            limits or FastAGILimits(),
            lambda protocol, lines: self.environments.append(lines),
            self.closed.append,
        )
        self.protocol.makeConnection(self.transport)
        self.commands = AGICommands(self.protocol)

    def feed(self, data: bytes) -> None:
        """Bytes from Asterisk."""
        self.protocol.dataReceived(data)

    def written(self) -> bytes:
        """What gtx wrote since the last call."""
        value = self.transport.value()
        self.transport.clear()
        return value

    def start(self) -> AGIConnection:
        """Feed the environment block."""
        self.feed(ENVIRONMENT)
        return self


@pytest.fixture
def connection() -> AGIConnection:
    """A connection whose environment has been read."""
    return AGIConnection().start()


@pytest.fixture
def make_connection() -> Callable[..., AGIConnection]:
    """Build a connection with given limits (environment not sent yet)."""
    return AGIConnection


@pytest.fixture
def channel(connection: AGIConnection) -> FastAGIChannel:
    """A FastAGIChannel on ``connection`` (see the ``connection`` fixture)."""
    info = parse_environment(connection.environments[0], asterisk="pbx1")
    return FastAGIChannel(info, connection.commands)
