"""Hang-ups, dead-channel rules and AGISTATUS."""

from __future__ import annotations

from gtx.testing import CallSpec
from tests.testing.replay import start_call

DEAD = "511 Command Not Permitted on a dead channel or intercept routine\n"


def test_hangup_between_commands_sends_hangup_at_once() -> None:
    call = start_call(CallSpec(), "wait 1; hangup")
    call.advance(1.1)
    assert call.server.received.endswith(b"\n\nHANGUP\n")
    assert call.command("ANSWER") == DEAD
    record = call.hang_up_server()
    assert record.agi_status == "HANGUP"
    assert record.hangup_time == 1.0


def test_hangup_during_playback_answers_minus_one_then_hangup() -> None:
    call = start_call(CallSpec(), "wait 0.5; hangup")
    assert call.command('STREAM FILE hello-world ""') == "200 result=-1 endpos=4000\nHANGUP\n"


def test_dead_channel_still_runs_variables_exec_database_verbose() -> None:
    call = start_call(CallSpec(variables={"A": "1"}), "hangup at command 1")
    assert call.command("ANSWER", expect_lines=2) == "200 result=-1\nHANGUP\n"
    assert call.command("SET VARIABLE GTX_STATUS HANGUP") == "200 result=1\n"
    assert call.command("GET VARIABLE A") == "200 result=1 (1)\n"
    assert call.command("GET FULL VARIABLE ${A}${A}") == "200 result=1 (11)\n"
    assert call.command("DATABASE PUT f k v") == "200 result=1\n"
    assert call.command("VERBOSE hi 1") == "200 result=1\n"
    assert call.command("NOOP") == "200 result=0\n"
    assert call.command("EXEC Wait 1") == "200 result=-1\n"
    for command in ("STREAM FILE beep #", "GET DATA beep", "CHANNEL STATUS", "HANGUP"):
        assert call.command(command) == DEAD
    record = call.hang_up_server()
    assert record.variables["GTX_STATUS"] == "HANGUP"
    assert record.hung_up


def test_hangup_command_then_hangup_line_before_next_reply() -> None:
    call = start_call(CallSpec())
    assert call.command("HANGUP") == "200 result=1\nHANGUP\n"
    assert call.command("GET VARIABLE AGISTATUS") == "200 result=0\n"
    assert call.hang_up_server().agi_status == "HANGUP"


def test_server_closing_returns_success_with_channel_variables() -> None:
    call = start_call(CallSpec())
    call.command("ANSWER")
    call.command('SET VARIABLE GTX_STATUS "RUNNING"')
    record = call.hang_up_server()
    assert record.agi_status == "SUCCESS"
    assert record.variables["GTX_STATUS"] == "RUNNING"
    assert record.variables["AGISTATUS"] == "SUCCESS"
    assert record.continues_at == ("gtx-test", "agi", 4)


def test_a_failed_command_on_a_live_channel_makes_agistatus_failure() -> None:
    call = start_call(CallSpec())
    assert call.command('STREAM FILE no-such-file ""') == "200 result=-1 endpos=0\n"
    assert call.hang_up_server().agi_status == "FAILURE"


def test_closing_during_a_command_returns_after_it() -> None:
    call = start_call(CallSpec())
    call.server.send('STREAM FILE hello-world ""')
    call.server.transport.loseConnection()
    assert call.results == []
    call.advance(1.5)
    assert call.results[0].agi_status == "SUCCESS"


def test_unknown_command_and_bad_syntax() -> None:
    call = start_call(CallSpec())
    assert call.command("FOO BAR") == "510 Invalid or unknown command\n"
    usage = call.command("WAIT FOR DIGIT", expect_lines=7)
    assert usage.startswith("520-Invalid command syntax.  Proper usage follows:\n")
    assert usage.endswith("520 End of proper usage.\n")
    assert call.command("SAY DIGITS abc #", expect_lines=5).startswith("520-")


def test_channel_status_ringing_until_answer() -> None:
    call = start_call(CallSpec(answered=False))
    assert call.command("CHANNEL STATUS") == "200 result=4\n"
    assert call.command("ANSWER") == "200 result=0\n"
    assert call.command("CHANNEL STATUS") == "200 result=6\n"
