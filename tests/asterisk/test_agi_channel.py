"""FastAGIChannel: Channel methods mapped onto AGI commands, hang-up detection."""

from __future__ import annotations

import pytest

from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_parse import CommandSyntaxError
from gtx.channel import (
    Channel,
    ChannelGone,
    ChannelHangup,
    DialResult,
    PlayResult,
    RecordResult,
    UnknownApplication,
)
from tests.asterisk.conftest import AGIConnection
from tests.asterisk.outcome import failure_of, pending, result_of

DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"


def exchange(connection: AGIConnection, *steps: tuple[bytes, bytes]) -> None:
    """For each (expected command, reply): assert the bytes written, feed the reply."""
    for sent, reply in steps:
        assert connection.written() == sent + b"\n"
        connection.feed(reply + b"\n")


def test_is_a_channel(channel: FastAGIChannel) -> None:
    implementation: Channel = channel
    assert implementation.info.channel == "Local/agi@gtx-test-00000000;2"
    assert channel.info.asterisk == "pbx1"
    assert not channel.hung_up


def test_answer(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.answer()
    exchange(connection, (b"ANSWER", b"200 result=0"))
    assert result_of(deferred) is None


def test_answer_failure_is_a_hang_up(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.answer()
    exchange(connection, (b"ANSWER", b"200 result=-1"))
    failure_of(deferred, ChannelHangup)
    assert channel.hung_up


def test_stream_played(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.stream("hello-world", "#")
    exchange(connection, (b'STREAM FILE hello-world "#"', b"200 result=0 endpos=11234"))
    assert result_of(deferred) == PlayResult(digit=None, played=True)


def test_stream_interrupted(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.stream("menu", "123")
    exchange(connection, (b'STREAM FILE menu "123"', b"200 result=50 endpos=800"))
    assert result_of(deferred) == PlayResult(digit="2", played=True)


def test_stream_missing_file_on_a_live_channel(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.stream("no-such-file", "#")
    exchange(
        connection,
        (b'STREAM FILE no-such-file "#"', b"200 result=-1 endpos=0"),
        (b"CHANNEL STATUS", b"200 result=6"),
    )
    assert result_of(deferred) == PlayResult(digit=None, played=False)
    assert not channel.hung_up


def test_stream_minus_one_on_a_dead_channel(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.stream("hello-world", "#")
    exchange(
        connection,
        (b'STREAM FILE hello-world "#"', b"200 result=-1 endpos=0"),
        (b"CHANNEL STATUS", b"HANGUP\n" + DEAD.strip()),
    )
    failure_of(deferred, ChannelHangup)
    assert channel.hung_up


def test_stream_after_hangup_notice_needs_no_probe(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.stream("hello-world")
    exchange(connection, (b'STREAM FILE hello-world ""', b"HANGUP\n200 result=-1 endpos=0"))
    failure_of(deferred, ChannelHangup)
    assert connection.written() == b""


def test_wait_for_digit(connection: AGIConnection, channel: FastAGIChannel) -> None:
    got = channel.wait_for_digit(2.5)
    exchange(connection, (b"WAIT FOR DIGIT 2500", b"200 result=35"))
    assert result_of(got) == "#"
    none = channel.wait_for_digit(0.3)
    exchange(connection, (b"WAIT FOR DIGIT 300", b"200 result=0"))
    assert result_of(none) is None
    hung = channel.wait_for_digit(1)
    exchange(connection, (b"WAIT FOR DIGIT 1000", b"200 result=-1"))
    failure_of(hung, ChannelHangup)
    assert channel.hung_up


@pytest.mark.parametrize(
    ("kind", "value", "sent"),
    [
        ("digits", "123", b'SAY DIGITS 123 "#"'),
        ("number", "42", b'SAY NUMBER 42 "#"'),
        ("alpha", "abc", b'SAY ALPHA abc "#"'),
        ("phonetic", "gtx", b'SAY PHONETIC gtx "#"'),
        ("date", "1700000000", b'SAY DATE 1700000000 "#"'),
        ("time", "1700000000", b'SAY TIME 1700000000 "#"'),
    ],
)
def test_say(
    connection: AGIConnection, channel: FastAGIChannel, kind: str, value: str, sent: bytes
) -> None:
    deferred = channel.say(kind, value, "#")
    exchange(connection, (sent, b"200 result=0"))
    assert result_of(deferred) is None


def test_say_hang_up(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.say("number", "7")
    exchange(connection, (b'SAY NUMBER 7 ""', b"200 result=-1"))
    failure_of(deferred, ChannelHangup)


def test_say_refuses_bad_input(connection: AGIConnection, channel: FastAGIChannel) -> None:
    failure_of(channel.say("colour", "red"), CommandSyntaxError)
    failure_of(channel.say("number", "forty"), CommandSyntaxError)
    assert connection.written() == b""


def test_record(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.record("/var/spool/gtx/r1", "wav", "#", 60, 5, True)
    exchange(
        connection,
        (
            b'RECORD FILE /var/spool/gtx/r1 wav "#" 60000 0 BEEP s=5',
            b"200 result=35 (dtmf) endpos=24000",
        ),
    )
    assert result_of(deferred) == RecordResult(reason="dtmf", digit="#", endpos=24000)


def test_record_without_limits(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.record("/tmp/r", "wav", "", None, None, False)
    exchange(connection, (b'RECORD FILE /tmp/r wav "" -1 0', b"200 result=0 (timeout) endpos=8000"))
    assert result_of(deferred) == RecordResult(reason="timeout", digit=None, endpos=8000)


def test_record_hang_up_keeps_the_file_and_marks_the_channel(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.record("/tmp/r", "wav", "#", 10, None, False)
    exchange(
        connection, (b'RECORD FILE /tmp/r wav "#" 10000 0', b"200 result=-1 (hangup) endpos=4000")
    )
    assert result_of(deferred) == RecordResult(reason="hangup", digit=None, endpos=4000)
    assert channel.hung_up


def test_dial_reads_the_outcome(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.dial(["PJSIP/100", "PJSIP/200"], 30, "tT", "5551234", 600)
    exchange(
        connection,
        (b'EXEC Dial "PJSIP/100&PJSIP/200,30,tTL(600000)f(5551234)"', b"200 result=0"),
        (b"GET VARIABLE DIALSTATUS", b"200 result=1 (ANSWER)"),
        (b"GET VARIABLE ANSWEREDTIME", b"200 result=1 (42)"),
        (b"GET VARIABLE DIALEDTIME", b"200 result=1 (50)"),
    )
    assert result_of(deferred) == DialResult(
        status="ANSWER", answered_seconds=42, dialed_seconds=50
    )


def test_dial_no_answer(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.dial(["PJSIP/100"], None, "", None, None)
    exchange(
        connection,
        (b'EXEC Dial "PJSIP/100"', b"200 result=0"),
        (b"GET VARIABLE DIALSTATUS", b"200 result=1 (NOANSWER)"),
        (b"GET VARIABLE ANSWEREDTIME", b"200 result=0"),
        (b"GET VARIABLE DIALEDTIME", b"200 result=1 (30)"),
    )
    assert result_of(deferred) == DialResult(
        status="NOANSWER", answered_seconds=0, dialed_seconds=30
    )


def test_dial_bound_follows_timeout_and_time_limit(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.dial(["PJSIP/100"], 20, "", None, 60)
    connection.written()
    connection.clock.advance(20 + 60 + connection.protocol.limits.command_timeout - 1)
    assert pending(deferred)
    connection.clock.advance(1)
    failure_of(deferred, ChannelGone)


@pytest.mark.parametrize(
    ("targets", "options", "caller_id"),
    [
        ([], "", None),
        (["PJSIP/100,30"], "", None),
        (["PJSIP/1&PJSIP/2"], "", None),
        (["nodevice"], "", None),
        (["PJSIP/100"], "t,G(x)", None),
        (["PJSIP/100"], "", "555)U(evil"),
    ],
)
def test_dial_refuses_unsafe_input(
    connection: AGIConnection,
    channel: FastAGIChannel,
    targets: list[str],
    options: str,
    caller_id: str | None,
) -> None:
    failure_of(channel.dial(targets, 30, options, caller_id, None), CommandSyntaxError)
    assert connection.written() == b""


def test_queue(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.queue("support", 120, "t")
    exchange(
        connection,
        (b'EXEC Queue "support,t,,,120"', b"200 result=0"),
        (b"GET VARIABLE QUEUESTATUS", b"200 result=1 (TIMEOUT)"),
    )
    assert result_of(deferred) == "TIMEOUT"


def test_queue_bridged_has_no_status(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.queue("support", None, "")
    exchange(
        connection,
        (b'EXEC Queue "support,"', b"200 result=0"),
        (b"GET VARIABLE QUEUESTATUS", b"200 result=0"),
    )
    assert result_of(deferred) == ""


def test_conference(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.conference("room1", {"user_profile": "caller"})
    exchange(connection, (b'EXEC ConfBridge "room1,,caller"', b"200 result=0"))
    assert result_of(deferred) is None
    failure_of(channel.conference("room1", {"pin": "1"}), CommandSyntaxError)


def test_transfer_sets_context_extension_priority(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.transfer("sales", "100", 2)
    exchange(
        connection,
        (b"SET CONTEXT sales", b"200 result=0"),
        (b"SET EXTENSION 100", b"200 result=0"),
        (b"SET PRIORITY 2", b"200 result=0"),
    )
    assert result_of(deferred) is None


@pytest.mark.parametrize(
    ("context", "extension", "priority"), [("a b", "1", 1), ("c", "", 1), ("c", "1", 0)]
)
def test_transfer_refuses_bad_targets_before_sending(
    connection: AGIConnection, channel: FastAGIChannel, context: str, extension: str, priority: int
) -> None:
    failure_of(channel.transfer(context, extension, priority), CommandSyntaxError)
    assert connection.written() == b""


def test_music_on_hold(connection: AGIConnection, channel: FastAGIChannel) -> None:
    timed = channel.music_on_hold("jazz", 30)
    exchange(connection, (b'EXEC MusicOnHold "jazz,30"', b"200 result=0"))
    assert result_of(timed) is None
    default = channel.music_on_hold(None, 2.5)
    exchange(connection, (b'EXEC MusicOnHold ",2.5"', b"200 result=0"))
    assert result_of(default) is None
    open_ended = channel.music_on_hold("default", None)
    exchange(connection, (b"SET MUSIC ON default", b"200 result=0"))
    assert result_of(open_ended) is None


def test_wait_and_send_dtmf(connection: AGIConnection, channel: FastAGIChannel) -> None:
    waited = channel.wait(1.5)
    exchange(connection, (b'EXEC Wait "1.5"', b"200 result=0"))
    assert result_of(waited) is None
    sent = channel.send_dtmf("12#")
    exchange(connection, (b'EXEC SendDTMF "12#"', b"200 result=0"))
    assert result_of(sent) is None
    failure_of(channel.send_dtmf("12x"), CommandSyntaxError)


def test_exec_unknown_application(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.exec("NoSuchApp", ["x"])
    exchange(connection, (b'EXEC NoSuchApp "x"', b"200 result=-2"))
    failure_of(deferred, UnknownApplication)


def test_hangup(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.hangup()
    exchange(connection, (b"HANGUP", b"200 result=1"))
    assert result_of(deferred) is None
    assert channel.hung_up


def test_hangup_with_cause(connection: AGIConnection, channel: FastAGIChannel) -> None:
    deferred = channel.hangup(17)
    exchange(connection, (b'EXEC Hangup "17"', b"200 result=-1"))
    assert result_of(deferred) is None
    assert channel.hung_up


def test_variables_work_on_a_dead_channel(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    connection.feed(b"HANGUP\n")
    assert channel.hung_up
    stored = channel.set_variable("GTX_STATUS", "HANGUP")
    exchange(connection, (b'SET VARIABLE GTX_STATUS "HANGUP"', b"200 result=1"))
    assert result_of(stored) is None
    read = channel.get_variable("GTX_STATUS")
    exchange(connection, (b"GET VARIABLE GTX_STATUS", b"200 result=1 (HANGUP)"))
    assert result_of(read) == "HANGUP"
    full = channel.get_full_variable("${GTX_STATUS}")
    exchange(connection, (b"GET FULL VARIABLE ${GTX_STATUS}", b"200 result=1 (HANGUP)"))
    assert result_of(full) == "HANGUP"
    logged = channel.verbose("bye")
    exchange(connection, (b'VERBOSE "bye" 1', b"200 result=1"))
    assert result_of(logged) is None
    answered = channel.answer()
    exchange(connection, (b"ANSWER", DEAD.strip()))
    failure_of(answered, ChannelHangup)


def test_connection_lost_is_channel_gone(
    connection: AGIConnection, channel: FastAGIChannel
) -> None:
    deferred = channel.stream("hello-world")
    connection.protocol.connectionLost(None)
    failure_of(deferred, ChannelGone)
    assert channel.hung_up
