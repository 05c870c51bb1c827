"""Replaying the real AMI transcripts: the bytes Asterisk sent, the actions the client sent,
and a scripted AMI peer (in-memory transports and a fake clock) for the AMI tests.

Transcript lines: ``<<`` from Asterisk, ``>>`` from the client; each lost its ``\\r`` in the log
(on the wire every line ends in ``\\r\\n`` and an empty line ends a message).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from twisted.application.internet import backoffPolicy
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIMessage
from tests.conftest import TRANSCRIPTS


def wire(lines: list[str]) -> bytes:
    """One message as AMI puts it on the wire."""
    return ("".join(line + "\r\n" for line in lines) + "\r\n").encode()


@dataclass
class Transcript:
    """One transcript read into messages."""

    banner: str = ""
    #: In order: ("asterisk", lines) and ("client", lines), plus ("asterisk-eof", []).
    items: list[tuple[str, list[str]]] = field(default_factory=list)

    @classmethod
    def load(cls, name: str) -> Transcript:
        transcript = cls()
        current: list[str] = []
        side = ""
        for raw in (TRANSCRIPTS / name).read_text().splitlines():
            who, text = raw[:2], raw[3:]
            if who == "<<" and text.startswith("Asterisk Call Manager/") and not current:
                transcript.banner = text
                continue
            if who == "<<" and text == "EOF":
                transcript.items.append(("asterisk-eof", []))
                continue
            if text.strip():
                current.append(text)
                side = "asterisk" if who == "<<" else "client"
            elif current:
                transcript.items.append((side, current))
                current = []
        return transcript

    def banner_bytes(self) -> bytes:
        return (self.banner + "\r\n").encode()

    def _index(self, action_id: str) -> int:
        for index, (side, lines) in enumerate(self.items):
            if side == "client" and f"ActionID: {action_id}" in lines:
                return index
        raise KeyError(action_id)

    def action(self, action_id: str) -> bytes:
        """The client's action with that ActionID, as sent."""
        return wire(self.items[self._index(action_id)][1])

    def messages(self, after: str | None = None, until: str | None = None) -> Iterator[list[str]]:
        """Asterisk's messages after the action ``after`` and before the action ``until``."""
        start = self._index(after) + 1 if after else 0
        stop = self._index(until) if until else len(self.items)
        for side, lines in self.items[start:stop]:
            if side == "asterisk":
                yield lines

    def asterisk_bytes(self, after: str | None = None, until: str | None = None) -> bytes:
        """The same messages as one stream of bytes."""
        return b"".join(wire(lines) for lines in self.messages(after, until))


class Peer:
    """The Asterisk end of one in-memory connection."""

    def __init__(self, transport: StringTransportWithDisconnection) -> None:
        self.transport = transport

    def feed(self, data: bytes) -> None:
        self.transport.protocol.dataReceived(data)

    def written(self) -> bytes:
        value = self.transport.value()
        self.transport.clear()
        return value

    def close(self) -> None:
        self.transport.loseConnection()

    @property
    def open(self) -> bool:
        return bool(self.transport.connected)


class ScriptedEndpoint:
    """A client endpoint that connects in memory; ``refuse`` makes the next attempts fail."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.attempts = 0
        self.refuse = 0

    def connect(self, factory: Factory) -> Deferred[object]:
        self.attempts += 1
        if self.refuse:
            self.refuse -= 1
            return fail(ConnectionRefusedError("scripted refusal"))
        protocol = factory.buildProtocol(None)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        self.peers.append(Peer(transport))
        return succeed(protocol)

    @property
    def peer(self) -> Peer:
        return self.peers[-1]


def ids(*values: str):
    """An ActionID generator giving ``values`` in order, then ``extra-N``."""
    pending = list(values)
    counter = iter(range(1, 10_000))
    return lambda: pending.pop(0) if pending else f"extra-{next(counter)}"


def pending_times(clock: Clock) -> list[float]:
    """When the clock's pending calls are due, sorted."""
    return sorted(call.getTime() for call in clock.getDelayedCalls())

#: What a real Asterisk sends on connect, and its answer to a good Login.
BANNER = b"Asterisk Call Manager/13.0.0\r\n"
LOGIN_OK = wire(["Response: Success", "ActionID: login-1", "Message: Authentication accepted"])


class Link:
    """An AMIClient on a scripted endpoint and a fake clock."""

    def __init__(
        self, *action_ids: str, secret: str = "gtxsecret", ping_interval: float = 20.0
    ) -> None:
        self.clock = Clock()
        self.endpoint = ScriptedEndpoint()
        self.client = AMIClient(
            "pbx1", self.endpoint, "gtx", secret, clock=self.clock,
            action_ids=ids(*action_ids), action_timeout=10.0, ping_interval=ping_interval,
            retry_policy=backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0,
                                       jitter=lambda: 0.25),
        )
        self.events: list[AMIMessage] = []
        self.logins = 0
        self.client.subscribe("*", self.events.append)
        self.client.on_login(self._logged_in)

    def _logged_in(self) -> None:
        self.logins += 1

    def login(self) -> Link:
        self.client.startService()
        self.endpoint.peer.feed(BANNER)
        self.endpoint.peer.written()
        self.endpoint.peer.feed(LOGIN_OK)
        assert self.client.connected
        return self

    def stop(self) -> None:
        d = self.client.stopService()
        assert d.called
        assert self.clock.getDelayedCalls() == []
