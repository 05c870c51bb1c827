"""Test support for the emulated AMI server: a client on a StringTransport, the AMI transcript
reader, and the normalisation used to compare the emulator with real Asterisk."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from gtx.testing import AMIMessage, EmulatedAMIServer
from gtx.testing.ami_events import parse_message

TRANSCRIPTS = Path(__file__).parent.parent / "fixtures" / "asterisk" / "transcripts"

LOCAL = IPv4Address("TCP", "127.0.0.1", 5038)


@dataclass
class TranscriptItem:
    """One message of an AMI transcript: ``kind`` is banner, client, server or eof."""

    kind: str
    message: AMIMessage = field(default_factory=AMIMessage)
    text: str = ""


def read_transcript(name: str) -> list[TranscriptItem]:
    """The messages of ``tests/fixtures/asterisk/transcripts/NAME``, in order."""
    items: list[TranscriptItem] = []
    lines: dict[str, list[str]] = {"<<": [], ">>": []}
    for raw in (TRANSCRIPTS / name).read_text().splitlines():
        mark, text = raw[:2], raw[3:]
        if mark == "<<" and text == "EOF":
            items.append(TranscriptItem("eof"))
        elif mark == "<<" and text.startswith("Asterisk Call Manager/"):
            items.append(TranscriptItem("banner", text=text))
        elif text.strip() == "":
            if lines[mark]:
                kind = "server" if mark == "<<" else "client"
                items.append(TranscriptItem(kind, parse_message(lines[mark])))
                lines[mark] = []
        else:
            lines[mark].append(text)
    return items


class AMIClient:
    """The client end of one emulated AMI connection, on a StringTransport."""

    def __init__(self, server: EmulatedAMIServer, port: int = 33002) -> None:
        self.transport = StringTransport(
            hostAddress=LOCAL, peerAddress=IPv4Address("TCP", "127.0.0.1", port)
        )
        self.protocol = server.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self._buffer = b""
        self.banner: str | None = None
        self.received: list[AMIMessage] = []

    def send(self, message: AMIMessage | list[tuple[str, str]]) -> None:
        """Write one action, ``\\r\\n`` line ends, closed by an empty line."""
        if not isinstance(message, AMIMessage):
            message = AMIMessage(list(message))
        self.protocol.dataReceived(message.encode())

    def action(self, *fields: tuple[str, str]) -> list[AMIMessage]:
        """Send an action; return the messages that arrived because of it."""
        before = len(self.read())
        self.send(list(fields))
        return self.read()[before:]

    def read(self) -> list[AMIMessage]:
        """Every message received so far (parsing what is new)."""
        self._buffer += self.transport.value()
        self.transport.clear()
        if self.banner is None and b"\r\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            self.banner = line.decode()
        while b"\r\n\r\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
            assert b"\n" not in block.replace(b"\r\n", b""), "a bare LF on the wire"
            self.received.append(parse_message(block.decode().split("\r\n")))
        return self.received

    def login(self, secret: str = "gtxsecret") -> list[AMIMessage]:
        """Log in as gtx."""
        return self.action(("Action", "Login"), ("Username", "gtx"), ("Secret", secret),
                           ("ActionID", "login-1"))

    @property
    def closed(self) -> bool:
        """The server closed the connection."""
        return bool(self.transport.disconnecting)


def events(messages: list[AMIMessage], name: str | None = None) -> list[AMIMessage]:
    """The events among ``messages`` (of one name)."""
    return [m for m in messages if m.get("Event") and (name is None or m.get("Event") == name)]


def run(clock: Clock, seconds: float, step: float = 0.25) -> None:
    """Advance the clock in steps."""
    for _ in range(int(seconds / step)):
        clock.advance(step)


# -- normalisation -------------------------------------------------------------------------------

_FORMATS = {
    "EventTV": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000",
    "SessionTV": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000",
    "SessionID": r"0x[0-9a-f]+",
    "RemoteAddress": r"IPV4/TCP/127\.0\.0\.1/\d+",
    "Uptime": r"\d+",
    "LastReload": r"\d+",
    "LoginTime": r"\d{10}",
    "LastCall": r"0|\d{10}",
    "LastPause": r"0|\d{10}",
    "Duration": r"\d\d:\d\d:\d\d",
}
_UNIQUEID = re.compile(r"^\d{10}\.\d+$")
_CHANNEL_NUMBER = re.compile(r"-[0-9a-f]{8};")


class Normaliser:
    """Rewrites the values that differ between two runs of Asterisk (see the fidelity tests'
    docstring): formats are checked, then values replaced by placeholders numbered in order
    of first appearance."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._numbers: dict[str, str] = {}

    def value(self, key: str, value: str) -> str:
        fmt = _FORMATS.get(key)
        if fmt is not None:
            assert re.fullmatch(fmt, value), f"{key}: {value!r} is not in Asterisk's format"
            return f"<{key}>" if value != "0" else "0"
        if _UNIQUEID.match(value):
            return self._ids.setdefault(value, f"<uid{len(self._ids)}>")
        match = _CHANNEL_NUMBER.search(value)
        if match is not None:
            number = self._numbers.setdefault(match.group(), f"-<n{len(self._numbers)}>;")
            return value.replace(match.group(), number)
        return value

    def message(self, message: AMIMessage) -> list[tuple[str, str]]:
        return [(k, self.value(k, v)) for k, v in message]
