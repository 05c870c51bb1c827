"""Replay the FastAGI exchanges recorded on a real Asterisk, byte for byte.

Each transcript line is ``<< `` (Asterisk → gtx) or ``>> `` (gtx → Asterisk); on the wire every
line ends in ``\\n``. The test feeds the environment through :class:`FastAGIFactory`, checks the
:class:`CallInfo`, then issues the matching command API call for each ``>>`` line, asserts the
exact bytes written, feeds the recorded reply lines (``HANGUP`` notices included) and checks the
parsed outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_commands import AGICommands, DigitReply, GetDataReply, RecordFileReply
from gtx.asterisk.agi_server import FastAGIFactory
from gtx.channel import ChannelHangup, CommandFailed, UnknownApplication


@dataclass
class Exchange:
    command: str
    replies: list[str] = field(default_factory=list)


@dataclass
class Transcript:
    environment: list[str]
    exchanges: list[Exchange]


def read_transcript(path: Path) -> Transcript:
    environment: list[str] = []
    exchanges: list[Exchange] = []
    in_environment = True
    for raw in path.read_text().splitlines():
        direction, text = raw[:3], raw[3:]
        if direction == "<< " or raw == "<<":
            text = "" if raw == "<<" else text
            if in_environment:
                if text == "":
                    in_environment = False
                else:
                    environment.append(text)
            else:
                exchanges[-1].replies.append(text)
        elif direction == ">> ":
            exchanges.append(Exchange(text))
        else:
            raise AssertionError(f"{path.name}: unexpected line {raw!r}")
    return Transcript(environment, exchanges)


# The command API call matching each command line of the transcripts.
CALLS: dict[str, Callable[[AGICommands], Deferred[Any]]] = {
    "ANSWER": lambda c: c.answer(),
    "HANGUP": lambda c: c.hangup(),
    "GET VARIABLE GTX_URL": lambda c: c.get_variable("GTX_URL"),
    "GET VARIABLE NO_SUCH_VAR": lambda c: c.get_variable("NO_SUCH_VAR"),
    "GET VARIABLE GTX_STATE": lambda c: c.get_variable("GTX_STATE"),
    "GET VARIABLE GTX_SESSION": lambda c: c.get_variable("GTX_SESSION"),
    "GET FULL VARIABLE ${CALLERID(num)}-${UNIQUEID}": lambda c: c.get_full_variable(
        "${CALLERID(num)}-${UNIQUEID}"
    ),
    "GET FULL VARIABLE ${IAXVAR(GTX_SESSION)}": lambda c: c.get_full_variable(
        "${IAXVAR(GTX_SESSION)}"
    ),
    "GET FULL VARIABLE ${IAXVAR(GTX_VARS)}": lambda c: c.get_full_variable("${IAXVAR(GTX_VARS)}"),
    "GET FULL VARIABLE ${IAXVAR(GTX_NEXT)}": lambda c: c.get_full_variable("${IAXVAR(GTX_NEXT)}"),
    "GET FULL VARIABLE ${CHANNEL(peername)}": lambda c: c.get_full_variable("${CHANNEL(peername)}"),
    'STREAM FILE hello-world "#"': lambda c: c.stream_file("hello-world", "#"),
    'STREAM FILE hello-world ""': lambda c: c.stream_file("hello-world", ""),
    'STREAM FILE no-such-file "#"': lambda c: c.stream_file("no-such-file", "#"),
    "GET DATA beep 1500 4": lambda c: c.get_data("beep", 1500, 4),
    'SAY DIGITS 123 ""': lambda c: c.say_digits("123"),
    'SAY NUMBER 42 "" ': lambda c: c.say_number(42),
    'SET VARIABLE GTX_STATE "step=2;x=y"': lambda c: c.set_variable("GTX_STATE", "step=2;x=y"),
    "WAIT FOR DIGIT 300": lambda c: c.wait_for_digit(300),
    'RECORD FILE /var/spool/asterisk/recording/agi-test wav "#" 1500 0 s=1': lambda c: (
        c.record_file(
            "/var/spool/asterisk/recording/agi-test", "wav", "#", 1500, beep=False, silence_s=1
        )
    ),
    "CHANNEL STATUS": lambda c: c.channel_status(),
    'EXEC Playback "silence/1"': lambda c: c.exec("Playback", ["silence/1"]),
    'EXEC NoSuchApp "x"': lambda c: c.exec("NoSuchApp", ["x"]),
    "DATABASE PUT gtx k1 v1": lambda c: c.database_put("gtx", "k1", "v1"),
    "DATABASE GET gtx k1": lambda c: c.database_get("gtx", "k1"),
    'VERBOSE "gtx capture" 1': lambda c: c.verbose("gtx capture", 1),
    "FOO BAR": lambda c: c.send("FOO BAR"),
    "SET CALLERID 5551234": lambda c: c.set_callerid("5551234"),
    "SET MUSIC ON default": lambda c: c.set_music(True, "default"),
    "SET MUSIC OFF": lambda c: c.set_music(False),
}

URL = "http://127.0.0.1:9999/RPC2"
HUP = ChannelHangup

# The outcome of each exchange, in order: a value, or the exception class it fails with.
ALIVE_START: list[object] = [
    0,  # ANSWER
    URL,
    None,  # NO_SUCH_VAR
]
EXPECTED: dict[str, list[object]] = {
    "fastagi-full-session.txt": [
        *ALIVE_START,
        "5551234-1795304604.1",
        DigitReply(0, 11234),
        DigitReply(-1, 0),  # missing file
        GetDataReply("12", timed_out=False, failed=False),
        DigitReply(0),
        DigitReply(0),
        None,
        "step=2;x=y",
        DigitReply(0),
        RecordFileReply(0, "timeout", 0),
        6,
        0,
        UnknownApplication,
        True,
        "v1",
        None,
        CommandFailed,
        None,
        None,
        None,
        1,  # HANGUP
        URL,  # after the HANGUP notice
        HUP,
    ],
    "fastagi-caller-hangs-up.txt": [
        *ALIVE_START,
        "-1795304690.7",
        DigitReply(0, 11234),
        DigitReply(-1, 0),
        GetDataReply("", timed_out=False, failed=True),  # the caller hung up during GET DATA
        HUP,  # SAY DIGITS: HANGUP notice, then 511
        HUP,
        None,  # SET VARIABLE works on a dead channel
        "step=2;x=y",
        HUP,
        HUP,
        HUP,  # CHANNEL STATUS
        0,  # EXEC works on a dead channel
        UnknownApplication,
        True,
        "v1",
        None,
        CommandFailed,
        HUP,
        HUP,
        HUP,
        HUP,  # HANGUP
        URL,
        HUP,
    ],
    "fastagi-query-string-and-args.txt": [
        0,
        None,  # GTX_URL not set on this channel
        None,
        "-1795305300.38",
        DigitReply(0, 11234),
        DigitReply(-1, 0),
        GetDataReply("", timed_out=False, failed=True),
        HUP,
        HUP,
        None,
        "step=2;x=y",
        HUP,
        HUP,
        HUP,
        0,
        UnknownApplication,
        True,
        "v1",
        None,
        CommandFailed,
        HUP,
        HUP,
        HUP,
        HUP,
        None,
        HUP,
    ],
    "fastagi-iax2-handoff-server-b.txt": [
        None,
        "1795304604.1",
        '{"visits": 2, "lang": "en"}',
        "menu.three",
        "gtxa",
        DigitReply(0, 11234),
        1,
    ],
}

CALL_INFO: dict[str, dict[str, object]] = {
    "fastagi-full-session.txt": {
        "channel": "Local/agi@gtx-test-00000000;2",
        "uniqueid": "1795304604.1",
        "caller_number": "5551234",
        "caller_name": "Alice",
        "called": "",
        "script": "ivr",
        "query": {},
        "args": ("arg1", "arg 2"),
        "context": "gtx-test",
        "extension": "agi",
        "priority": "3",
        "accountcode": "",
    },
    "fastagi-caller-hangs-up.txt": {
        "channel": "Local/agi@gtx-test-00000003;2",
        "caller_number": "",
        "caller_name": "",
        "args": ("arg1", "arg 2"),
    },
    "fastagi-query-string-and-args.txt": {
        "script": "ivr",
        "query": {"url": "http://svc.example:8000/RPC2", "method": "menu.start"},
        "args": ("first arg", "2"),
        "extension": "agiq",
        "priority": "2",
    },
    "fastagi-iax2-handoff-server-b.txt": {
        "channel": "IAX2/gtxa-604",
        "context": "from-a",
        "extension": "ivr",
        "args": (),
    },
}


def test_every_fastagi_transcript_is_replayed(transcripts_dir: Path) -> None:
    assert {path.name for path in transcripts_dir.glob("fastagi-*.txt")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay(transcripts_dir: Path, name: str) -> None:
    transcript = read_transcript(transcripts_dir / name)
    channels: list[FastAGIChannel] = []

    def session_main(channel: FastAGIChannel) -> Deferred[None]:
        channels.append(channel)
        return Deferred()  # the test drives the channel

    factory = FastAGIFactory(session_main, clock=Clock(), asterisk_name_for=lambda host: "pbx1")
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived("".join(line + "\n" for line in [*transcript.environment, ""]).encode())

    [channel] = channels
    assert channel.info.asterisk == "pbx1"
    for attribute, value in CALL_INFO[name].items():
        assert getattr(channel.info, attribute) == value, attribute

    expected = EXPECTED[name]
    assert len(expected) == len(transcript.exchanges)
    for exchange, outcome in zip(transcript.exchanges, expected, strict=True):
        deferred = CALLS[exchange.command](channel.commands)
        # The recorded client wrote 'SAY NUMBER 42 "" ' with a trailing space.
        assert transport.value() == exchange.command.rstrip().encode() + b"\n", exchange.command
        transport.clear()
        protocol.dataReceived("".join(line + "\n" for line in exchange.replies).encode())
        got: list[object] = []
        deferred.addBoth(got.append)
        assert got, f"{exchange.command}: no outcome"
        if isinstance(outcome, type):
            assert getattr(got[0], "check", lambda *_: False)(outcome), (exchange.command, got[0])
        else:
            assert got[0] == outcome, exchange.command
        if "HANGUP" in exchange.replies:
            assert channel.hung_up, exchange.command
    assert not transport.disconnecting
