"""The command API: the exact bytes of each command and the parsed result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from gtx.asterisk.agi_commands import (
    AGICommands,
    DigitReply,
    GetDataReply,
    RecordFileReply,
    escape_app_arg,
)
from gtx.asterisk.agi_parse import CommandSyntaxError
from gtx.channel import ChannelHangup, CommandFailed, UnknownApplication
from tests.asterisk.conftest import AGIConnection
from tests.asterisk.outcome import failure_of, result_of

Call = Callable[[AGICommands], "Deferred[Any]"]

CASES: list[tuple[Call, bytes, bytes, object]] = [
    (lambda c: c.answer(), b"ANSWER", b"200 result=0", 0),
    (lambda c: c.hangup(), b"HANGUP", b"200 result=1", 1),
    (lambda c: c.hangup("SIP/a-1"), b"HANGUP SIP/a-1", b"200 result=-1", -1),
    (lambda c: c.channel_status(), b"CHANNEL STATUS", b"200 result=6", 6),
    (
        lambda c: c.stream_file("hello-world", "#"),
        b'STREAM FILE hello-world "#"',
        b"200 result=0 endpos=11234",
        DigitReply(0, 11234),
    ),
    (
        lambda c: c.stream_file("hello-world", "", offset=8000),
        b'STREAM FILE hello-world "" 8000',
        b"200 result=49 endpos=9000",
        DigitReply(49, 9000),
    ),
    (
        lambda c: c.get_data("beep", 1500, 4),
        b"GET DATA beep 1500 4",
        b"200 result=12",
        GetDataReply("12", timed_out=False, failed=False),
    ),
    (
        lambda c: c.get_data("beep", 1500, 4),
        b"GET DATA beep 1500 4",
        b"200 result=1 (timeout)",
        GetDataReply("1", timed_out=True, failed=False),
    ),
    (
        lambda c: c.get_data("beep", 1500, 4),
        b"GET DATA beep 1500 4",
        b"200 result= (timeout)",
        GetDataReply("", timed_out=True, failed=False),
    ),
    (
        lambda c: c.get_data("beep"),
        b"GET DATA beep",
        b"200 result=-1",
        GetDataReply("", timed_out=False, failed=True),
    ),
    (
        lambda c: c.get_data("beep", max_digits=3),
        b"GET DATA beep 0 3",
        b"200 result=*12",
        GetDataReply("*12", False, False),
    ),
    (lambda c: c.say_digits("123"), b'SAY DIGITS 123 ""', b"200 result=0", DigitReply(0)),
    (lambda c: c.say_number(42), b'SAY NUMBER 42 ""', b"200 result=0", DigitReply(0)),
    (
        lambda c: c.say_number(1, "#", gender="f"),
        b'SAY NUMBER 1 "#" f',
        b"200 result=35",
        DigitReply(35),
    ),
    (lambda c: c.say_alpha("abc"), b'SAY ALPHA abc ""', b"200 result=0", DigitReply(0)),
    (lambda c: c.say_phonetic("gtx"), b'SAY PHONETIC gtx ""', b"200 result=0", DigitReply(0)),
    (
        lambda c: c.say_date(1700000000, "0123"),
        b'SAY DATE 1700000000 "0123"',
        b"200 result=0",
        DigitReply(0),
    ),
    (lambda c: c.say_time(1700000000), b'SAY TIME 1700000000 ""', b"200 result=-1", DigitReply(-1)),
    (
        lambda c: c.record_file(
            "/var/spool/asterisk/recording/agi-test", "wav", "#", 1500, False, 1
        ),
        b'RECORD FILE /var/spool/asterisk/recording/agi-test wav "#" 1500 0 s=1',
        b"200 result=0 (timeout) endpos=0",
        RecordFileReply(0, "timeout", 0),
    ),
    (
        lambda c: c.record_file("/tmp/r", "gsm", "#*", -1, True),
        b'RECORD FILE /tmp/r gsm "#*" -1 0 BEEP',
        b"200 result=35 (dtmf) endpos=16000",
        RecordFileReply(35, "dtmf", 16000),
    ),
    (
        lambda c: c.record_file("/tmp/r", "wav", "", 60000, True, 5),
        b'RECORD FILE /tmp/r wav "" 60000 0 BEEP s=5',
        b"200 result=-1 (hangup) endpos=4000",
        RecordFileReply(-1, "hangup", 4000),
    ),
    (
        lambda c: c.record_file("/tmp/r", "wav", "", 1000),
        b'RECORD FILE /tmp/r wav "" 1000 0',
        b"200 result=-1 (writefile)",
        RecordFileReply(-1, "error", 0),
    ),
    (
        lambda c: c.record_file("/tmp/r", "wav", "", 1000),
        b'RECORD FILE /tmp/r wav "" 1000 0',
        b"200 result=-1 (randomerror) endpos=0",
        RecordFileReply(-1, "error", 0),
    ),
    (lambda c: c.exec("Playback", ["silence/1"]), b'EXEC Playback "silence/1"', b"200 result=0", 0),
    (
        lambda c: c.exec("Dial", ["PJSIP/100&PJSIP/200", "30", "tT"]),
        b'EXEC Dial "PJSIP/100&PJSIP/200,30,tT"',
        b"200 result=0",
        0,
    ),
    (lambda c: c.exec("Answer"), b'EXEC Answer ""', b"200 result=0", 0),
    (
        lambda c: c.exec("Log", ["NOTICE", 'a,b "c"']),
        b'EXEC Log "NOTICE,a\\\\,b \\\\\\"c\\\\\\""',
        b"200 result=0",
        0,
    ),
    (
        lambda c: c.get_variable("GTX_URL"),
        b"GET VARIABLE GTX_URL",
        b"200 result=1 (http://x/RPC2)",
        "http://x/RPC2",
    ),
    (lambda c: c.get_variable("NO_SUCH_VAR"), b"GET VARIABLE NO_SUCH_VAR", b"200 result=0", None),
    (lambda c: c.get_variable("EMPTY"), b"GET VARIABLE EMPTY", b"200 result=1 ()", ""),
    (
        lambda c: c.get_full_variable("${CALLERID(num)}-${UNIQUEID}"),
        b"GET FULL VARIABLE ${CALLERID(num)}-${UNIQUEID}",
        b"200 result=1 (5551234-1795304604.1)",
        "5551234-1795304604.1",
    ),
    (
        lambda c: c.get_full_variable("The time is ${EPOCH}"),
        b'GET FULL VARIABLE "The time is ${EPOCH}"',
        b"200 result=1 (The time is 1578493800)",
        "The time is 1578493800",
    ),
    (
        lambda c: c.get_full_variable("${EXTEN}", "SIP/b-2"),
        b"GET FULL VARIABLE ${EXTEN} SIP/b-2",
        b"200 result=0",
        None,
    ),
    (
        lambda c: c.set_variable("GTX_STATE", "step=2;x=y"),
        b'SET VARIABLE GTX_STATE "step=2;x=y"',
        b"200 result=1",
        None,
    ),
    (
        lambda c: c.set_variable("GTX_VARS", '{"a": "b\\\\c"}'),
        b'SET VARIABLE GTX_VARS "{\\"a\\": \\"b\\\\\\\\c\\"}"',
        b"200 result=1",
        None,
    ),
    (lambda c: c.wait_for_digit(300), b"WAIT FOR DIGIT 300", b"200 result=0", DigitReply(0)),
    (lambda c: c.wait_for_digit(-1), b"WAIT FOR DIGIT -1", b"200 result=50", DigitReply(50)),
    (lambda c: c.set_music(True, "default"), b"SET MUSIC ON default", b"200 result=0", None),
    (lambda c: c.set_music(True), b"SET MUSIC ON", b"200 result=0", None),
    (lambda c: c.set_music(False), b"SET MUSIC OFF", b"200 result=0", None),
    (lambda c: c.set_context("gtx-out"), b"SET CONTEXT gtx-out", b"200 result=0", None),
    (lambda c: c.set_extension("100"), b"SET EXTENSION 100", b"200 result=0", None),
    (lambda c: c.set_priority(1), b"SET PRIORITY 1", b"200 result=0", None),
    (lambda c: c.set_callerid("5551234"), b"SET CALLERID 5551234", b"200 result=1", None),
    (
        lambda c: c.set_callerid('"Alice" <5551234>'),
        b'SET CALLERID "\\"Alice\\" <5551234>"',
        b"200 result=1",
        None,
    ),
    (lambda c: c.verbose("gtx capture"), b'VERBOSE "gtx capture" 1', b"200 result=1", None),
    (lambda c: c.verbose("x", 3), b'VERBOSE "x" 3', b"200 result=1", None),
    (lambda c: c.database_put("gtx", "k1", "v1"), b"DATABASE PUT gtx k1 v1", b"200 result=1", True),
    (lambda c: c.database_get("gtx", "k1"), b"DATABASE GET gtx k1", b"200 result=1 (v1)", "v1"),
    (lambda c: c.database_get("gtx", "nope"), b"DATABASE GET gtx nope", b"200 result=0", None),
    (lambda c: c.database_del("gtx", "k1"), b"DATABASE DEL gtx k1", b"200 result=1", True),
    (lambda c: c.database_del("gtx", "k1"), b"DATABASE DEL gtx k1", b"200 result=0", False),
]


@pytest.mark.parametrize(("call", "sent", "reply", "expected"), CASES)
def test_command(
    connection: AGIConnection, call: Call, sent: bytes, reply: bytes, expected: object
) -> None:
    deferred = call(connection.commands)
    assert connection.written() == sent + b"\n"
    connection.feed(reply + b"\n")
    assert result_of(deferred) == expected


def test_digit_reply_digit() -> None:
    assert DigitReply(35).digit == "#"
    assert DigitReply(0).digit is None
    assert DigitReply(-1).digit is None
    assert RecordFileReply(35, "dtmf", 0).digit == "#"
    assert RecordFileReply(0, "timeout", 0).digit is None


def test_510_unknown_command(connection: AGIConnection) -> None:
    deferred = connection.commands.send("FOO BAR")
    assert connection.written() == b"FOO BAR\n"
    connection.feed(b"510 Invalid or unknown command\n")
    error = failure_of(deferred, CommandFailed)
    assert isinstance(error, CommandFailed)
    assert (error.command, error.reason) == ("FOO BAR", "unknown command")
    assert not connection.protocol.hung_up


def test_520_usage(connection: AGIConnection) -> None:
    deferred = connection.commands.send("GET DATA")
    connection.feed(
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        b"520 End of proper usage.\n"
    )
    error = failure_of(deferred, CommandFailed)
    assert isinstance(error, CommandFailed)
    assert error.reason == "Usage: GET DATA <file to be streamed> [timeout] [max digits]"


def test_511_is_a_hang_up(connection: AGIConnection) -> None:
    deferred = connection.commands.say_digits("123")
    connection.feed(b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")
    error = failure_of(deferred, ChannelHangup)
    assert "SAY DIGITS" in str(error)
    assert connection.protocol.hung_up


def test_exec_unknown_application(connection: AGIConnection) -> None:
    deferred = connection.commands.exec("NoSuchApp", ["x"])
    assert connection.written() == b'EXEC NoSuchApp "x"\n'
    connection.feed(b"200 result=-2\n")
    error = failure_of(deferred, UnknownApplication)
    assert "NoSuchApp" in str(error)


def test_other_codes_fail_the_command(connection: AGIConnection) -> None:
    deferred = connection.commands.answer()
    connection.feed(b"599 Something new\n")
    error = failure_of(deferred, CommandFailed)
    assert "599" in str(error)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.set_variable("X", "a\nHANGUP"),
        lambda c: c.verbose("two\nlines"),
        lambda c: c.stream_file("hello", "1x"),
        lambda c: c.say_digits("12a"),
        lambda c: c.wait_for_digit(-5),
        lambda c: c.record_file("/tmp/x", "wav", "", -2),
        lambda c: c.exec("Playback", ["a\rb"]),
        lambda c: c.get_variable("A\0B"),
        lambda c: c.exec("Dial", ["PJSIP/1", "30", "L(1"]),
        lambda c: c.set_variable("GTX_VARS", "x" * 2030),
    ],
)
def test_unsendable_arguments_fail_before_writing(connection: AGIConnection, call: Call) -> None:
    failure_of(call(connection.commands), CommandSyntaxError)
    assert connection.written() == b""


def test_exec_is_bounded_by_the_application_cap(connection: AGIConnection) -> None:
    deferred = connection.commands.exec("Queue", ["support"])
    connection.clock.advance(connection.protocol.limits.application_timeout - 1)
    assert not deferred.called
    connection.clock.advance(1)
    failure_of(deferred, ChannelHangup)


def test_wait_for_digit_bound_follows_its_timeout(connection: AGIConnection) -> None:
    deferred = connection.commands.wait_for_digit(10_000)
    connection.clock.advance(10 + connection.protocol.limits.command_timeout)
    failure_of(deferred, ChannelHangup)


def test_escape_app_arg() -> None:
    assert escape_app_arg("silence/1") == "silence/1"
    assert escape_app_arg("a,b") == "a\\,b"
    assert escape_app_arg('say "(x)"') == 'say \\"(x)\\"'
    assert escape_app_arg("tL(60000)f(5551234)") == "tL(60000)f(5551234)"


@pytest.mark.parametrize("value", ["a(b", "a)b(", "x[1", "]"])
def test_escape_app_arg_refuses_unbalanced_brackets(value: str) -> None:
    with pytest.raises(CommandSyntaxError, match="unbalanced"):
        escape_app_arg(value)


def test_longest_command_asterisk_reads_whole(connection: AGIConnection) -> None:
    # "SET VARIABLE V " + quotes = 17 bytes: 2029 bytes of value make a 2046-byte line.
    deferred = connection.commands.set_variable("V", "x" * 2029)
    assert len(connection.written()) == 2046 + 1
    connection.feed(b"200 result=1\n")
    assert result_of(deferred) is None
