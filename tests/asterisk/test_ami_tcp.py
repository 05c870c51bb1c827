"""The AMI link over a real TCP socket on 127.0.0.1 (port 0), on the asyncio reactor."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory, Protocol

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIMessage
from tests.asterisk.ami_transcripts import BANNER, wire


class _TinyAsterisk(Protocol):
    """Says the banner, accepts the Login and answers Ping — enough for a link."""

    def connectionMade(self) -> None:
        self.buffer = b""
        self.transport.write(BANNER)

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            headers = dict(line.split(": ", 1) for line in block.decode().split("\r\n"))
            action_id = headers["ActionID"]
            if headers["Action"] == "Login":
                self.transport.write(wire(["Response: Success", f"ActionID: {action_id}",
                                           "Message: Authentication accepted"]))
            else:
                self.transport.write(wire(["Response: Success", f"ActionID: {action_id}",
                                           "Ping: Pong"]))


@pytest_twisted.ensureDeferred
async def test_login_and_an_action_over_tcp() -> None:
    port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        Factory.forProtocol(_TinyAsterisk))
    client = AMIClient("pbx1", clientFromString(reactor, f"tcp:127.0.0.1:{port.getHost().port}"),
                       "gtx", "gtxsecret", clock=reactor)
    logged_in: Deferred[None] = Deferred()
    client.on_login(lambda: logged_in.callback(None) if not logged_in.called else None)
    try:
        client.startService()
        await logged_in
        assert client.connected
        pong: AMIMessage = await client.send_action("Ping")
        assert pong.get("Ping") == "Pong"
    finally:
        await client.stopService()
        await port.stopListening()
    assert not client.connected
    # No ping, retry or close timer of the link is left on the reactor.
    owners = {getattr(call.func, "__self__", None) for call in reactor.getDelayedCalls()}
    assert client not in owners
