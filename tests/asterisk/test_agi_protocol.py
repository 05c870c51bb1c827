"""FastAGI framing: environment, one command in flight, HANGUP notices, bounds."""

from __future__ import annotations

from collections.abc import Callable

from twisted.python.failure import Failure

from gtx.asterisk.agi_parse import AGIProtocolError, AGIReply
from gtx.asterisk.agi_protocol import FastAGILimits
from gtx.channel import ChannelGone
from tests.asterisk.conftest import ENVIRONMENT, AGIConnection
from tests.asterisk.outcome import failure_of, pending, result_of


def test_environment_is_read_up_to_the_empty_line(
    make_connection: Callable[..., AGIConnection],
) -> None:
    connection = make_connection()
    connection.feed(ENVIRONMENT[:40])
    assert connection.environments == []
    connection.feed(ENVIRONMENT[40:])
    assert connection.environments[0][0] == "agi_network: yes"
    assert connection.environments[0][-1] == "agi_accountcode: "
    assert connection.protocol.environment_complete


def test_crlf_line_endings_are_accepted(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection()
    connection.feed(ENVIRONMENT.replace(b"\n", b"\r\n"))
    assert connection.environments[0][-1] == "agi_accountcode: "
    deferred = connection.protocol.send_command("ANSWER")
    connection.feed(b"200 result=0\r\n")
    assert result_of(deferred) == AGIReply(200, "0")


def test_command_bytes_and_reply(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("GET VARIABLE GTX_URL")
    assert connection.written() == b"GET VARIABLE GTX_URL\n"
    assert pending(deferred)
    connection.feed(b"200 result=1 (http://127.0.0.1:9999/RPC2)\n")
    assert result_of(deferred).data == "http://127.0.0.1:9999/RPC2"


def test_one_command_in_flight_others_queue(connection: AGIConnection) -> None:
    first = connection.protocol.send_command("ANSWER")
    second = connection.protocol.send_command("CHANNEL STATUS")
    assert connection.written() == b"ANSWER\n"
    connection.feed(b"200 result=0\n")
    assert result_of(first).result == "0"
    assert connection.written() == b"CHANNEL STATUS\n"
    connection.feed(b"200 result=6\n")
    assert result_of(second).result == "6"


def test_replies_in_one_packet_go_to_their_commands(connection: AGIConnection) -> None:
    first = connection.protocol.send_command("ANSWER")
    second = connection.protocol.send_command("CHANNEL STATUS")
    connection.feed(b"200 result=0\n200 result=6\n")
    assert (result_of(first).result, result_of(second).result) == ("0", "6")


def test_hangup_notice_before_the_reply_is_not_a_reply(connection: AGIConnection) -> None:
    hangups: list[bool] = []
    connection.protocol.on_hangup(lambda: hangups.append(True))
    deferred = connection.protocol.send_command("GET VARIABLE GTX_URL")
    connection.feed(b"HANGUP\n")
    assert pending(deferred)
    assert connection.protocol.hung_up
    assert hangups == [True]
    connection.feed(b"200 result=1 (x)\n")
    assert result_of(deferred).data == "x"


def test_hangup_notice_while_idle(connection: AGIConnection) -> None:
    connection.feed(b"HANGUP\n")
    assert connection.protocol.hung_up
    deferred = connection.protocol.send_command("GET VARIABLE X")
    connection.feed(b"200 result=0\n")
    assert result_of(deferred).result == "0"


def test_511_marks_the_channel_hung_up(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("ANSWER")
    connection.feed(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert result_of(deferred).code == 511
    assert connection.protocol.hung_up


def test_520_usage_block_is_one_reply(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("GET DATA")
    following = connection.protocol.send_command("ANSWER")
    connection.feed(
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        b"520 End of proper usage.\n"
    )
    reply = result_of(deferred)
    assert reply.code == 520
    assert "Usage: GET DATA" in reply.text
    assert connection.written() == b"GET DATA\nANSWER\n"
    connection.feed(b"200 result=0\n")
    assert result_of(following).code == 200


def test_provisional_100_is_skipped(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("GOSUB ctx s 1")
    connection.feed(b"100 result=0 Trying...\n")
    assert pending(deferred)
    connection.feed(b"200 result=0 Gosub complete\n")
    assert result_of(deferred).text == "Gosub complete"


def test_reply_timeout_fails_with_channel_gone_and_drops(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("ANSWER", timeout=5)
    queued = connection.protocol.send_command("CHANNEL STATUS")
    connection.clock.advance(4.9)
    assert pending(deferred)
    connection.clock.advance(0.2)
    error = failure_of(deferred, ChannelGone)
    assert "ANSWER" in str(error)
    failure_of(queued, ChannelGone)
    assert connection.transport.disconnecting
    assert connection.protocol.hung_up


def test_default_reply_timeout(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection(FastAGILimits(command_timeout=2)).start()
    deferred = connection.protocol.send_command("ANSWER")
    connection.clock.advance(2)
    failure_of(deferred, ChannelGone)


def test_connection_lost_mid_command(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command('EXEC Dial "PJSIP/100"')
    connection.protocol.connectionLost(Failure(ConnectionError("reset")))
    failure_of(deferred, ChannelGone)
    assert connection.closed == [connection.protocol]
    assert connection.clock.getDelayedCalls() == []
    failure_of(connection.protocol.send_command("ANSWER"), ChannelGone)


def test_probe_closing_before_environment(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection()
    connection.protocol.connectionLost(Failure(ConnectionError("closed")))
    assert connection.environments == []
    assert connection.closed == [connection.protocol]
    assert connection.clock.getDelayedCalls() == []


def test_environment_timeout(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection(FastAGILimits(environment_timeout=3))
    connection.feed(b"agi_network: yes\n")
    connection.clock.advance(2.9)
    assert not connection.transport.disconnecting
    connection.clock.advance(0.1)
    assert connection.transport.disconnecting
    assert connection.environments == []


def test_environment_in_time_cancels_the_timer(
    make_connection: Callable[..., AGIConnection],
) -> None:
    connection = make_connection(FastAGILimits(environment_timeout=3)).start()
    assert connection.clock.getDelayedCalls() == []
    connection.clock.advance(10)
    assert not connection.transport.disconnecting


def test_overlong_line_drops_the_connection(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection(FastAGILimits(max_line_length=64)).start()
    deferred = connection.protocol.send_command("GET VARIABLE BIG")
    connection.feed(b"200 result=1 (" + b"x" * 100 + b")\n")
    failure_of(deferred, AGIProtocolError)
    assert connection.transport.disconnecting


def test_overlong_line_without_newline(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection(FastAGILimits(max_line_length=64))
    connection.feed(b"agi_x: " + b"y" * 200)
    assert connection.transport.disconnecting


def test_too_many_environment_lines(make_connection: Callable[..., AGIConnection]) -> None:
    connection = make_connection(FastAGILimits(max_environment_lines=3))
    connection.feed(b"agi_a: 1\nagi_b: 2\nagi_c: 3\nagi_d: 4\n")
    assert connection.transport.disconnecting


def test_garbage_reply_drops_the_connection(connection: AGIConnection) -> None:
    deferred = connection.protocol.send_command("ANSWER")
    connection.feed(b"hello there\n")
    failure_of(deferred, AGIProtocolError)
    assert connection.transport.disconnecting


def test_reply_without_command_drops_the_connection(connection: AGIConnection) -> None:
    connection.feed(b"200 result=0\n")
    assert connection.transport.disconnecting


def test_command_before_environment_is_refused(
    make_connection: Callable[..., AGIConnection],
) -> None:
    connection = make_connection()
    failure_of(connection.protocol.send_command("ANSWER"), ValueError)
    assert connection.written() == b""


def test_multi_line_command_is_refused(connection: AGIConnection) -> None:
    failure_of(connection.protocol.send_command("VERBOSE x\nHANGUP"), ValueError)
    failure_of(connection.protocol.send_command("VERBOSE " + "x" * 2040), ValueError)
    assert connection.written() == b""


def test_finish_closes_and_fails_nothing_twice(connection: AGIConnection) -> None:
    connection.protocol.finish()
    assert connection.transport.disconnecting
    connection.protocol.connectionLost(Failure(ConnectionError("closed")))
    assert connection.closed == [connection.protocol]
