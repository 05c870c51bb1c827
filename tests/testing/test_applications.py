"""EXEC applications: Dial and Queue outcomes, Playback, Wait, Goto, Set."""

from __future__ import annotations

from twisted.internet.task import Clock

from gtx.testing import CallSpec, DialDestination, EmulatedAsterisk, QueueBehaviour
from tests.testing.replay import start_call


def _asterisk() -> EmulatedAsterisk:
    return EmulatedAsterisk(
        Clock(),
        destinations={
            "PJSIP/100": DialDestination.answer(after=3, talk=20),
            "PJSIP/busy": DialDestination.busy(after=2),
            "PJSIP/ring": DialDestination.no_answer(),
            "PJSIP/cong": DialDestination.congestion(),
        },
        queues={
            "sales": QueueBehaviour(wait_seconds=4, talk_seconds=6),
            "empty": QueueBehaviour(status="JOINEMPTY", wait_seconds=0),
        },
    )


def _dial(options: str, caller: str = "") -> tuple[str, dict[str, str], bool]:
    call = start_call(CallSpec(), caller, asterisk=_asterisk())
    reply = call.command(f"EXEC Dial {options}")
    call.command("NOOP")
    record = call.hang_up_server()
    return reply, record.variables, record.hung_up


def test_answered_dial_with_g_continues_and_reports_times() -> None:
    reply, variables, hung_up = _dial("PJSIP/100,30,g")
    assert reply == "200 result=0\n"
    assert variables["DIALSTATUS"] == "ANSWER"
    assert variables["ANSWEREDTIME"] == "20"
    assert variables["DIALEDTIME"] == "23"
    assert not hung_up


def test_answered_dial_without_g_ends_the_call_when_the_callee_hangs_up() -> None:
    reply, variables, hung_up = _dial("PJSIP/100,30")
    assert reply == "200 result=-1\nHANGUP\n"
    assert variables["DIALSTATUS"] == "ANSWER"
    assert hung_up


def test_unanswered_outcomes() -> None:
    assert _dial("PJSIP/busy,30")[1]["DIALSTATUS"] == "BUSY"
    assert _dial("PJSIP/cong,30")[1]["DIALSTATUS"] == "CONGESTION"
    assert _dial("PJSIP/unknown,30")[1]["DIALSTATUS"] == "CHANUNAVAIL"
    reply, variables, _ = _dial("PJSIP/ring,5")
    assert reply == "200 result=0\n"
    assert (variables["DIALSTATUS"], variables["DIALEDTIME"]) == ("NOANSWER", "5")
    assert _dial("PJSIP/100,2")[1]["DIALSTATUS"] == "NOANSWER"


def test_targets_ring_together_and_the_first_answer_wins() -> None:
    _, variables, _ = _dial("PJSIP/busy&PJSIP/100,30,g")
    assert variables["DIALSTATUS"] == "ANSWER"


def test_caller_hanging_up_while_ringing_cancels() -> None:
    reply, variables, hung_up = _dial("PJSIP/ring,30", "wait 4; hangup")
    assert reply == "200 result=-1\nHANGUP\n"
    assert variables["DIALSTATUS"] == "CANCEL"
    assert hung_up


def test_dial_records_what_was_dialled() -> None:
    call = start_call(CallSpec(), asterisk=_asterisk())
    call.command('EXEC Dial "PJSIP/busy,10"')
    record = call.hang_up_server()
    assert record.dials[0]["targets"] == ["PJSIP/busy"]
    assert record.dials[0]["status"] == "BUSY"


def test_queue_outcomes() -> None:
    call = start_call(CallSpec(), asterisk=_asterisk())
    assert call.command("EXEC Queue empty") == "200 result=0\n"
    assert call.command("GET VARIABLE QUEUESTATUS") == "200 result=1 (JOINEMPTY)\n"
    assert call.command("EXEC Queue sales,,,,2") == "200 result=0\n"
    assert call.command("GET VARIABLE QUEUESTATUS") == "200 result=1 (TIMEOUT)\n"
    assert call.command("EXEC Queue sales,c") == "200 result=0\n"
    assert call.command("EXEC Queue nosuch") == "200 result=0\n"
    assert call.command("GET VARIABLE QUEUESTATUS") == "200 result=1 (UNKNOWN)\n"


def test_playback_wait_and_unknown_applications() -> None:
    call = start_call(CallSpec())
    assert call.command("EXEC Playback hello-world&no-such") == "200 result=0\n"
    assert call.command("GET VARIABLE PLAYBACKSTATUS") == "200 result=1 (FAILED)\n"
    assert call.command("EXEC Wait 2") == "200 result=0\n"
    assert call.command('EXEC NoSuchApp "x"') == "200 result=-2\n"
    assert call.command("EXEC SendDTMF 12") == "200 result=0\n"
    record = call.hang_up_server()
    assert record.played == ["hello-world"]
    assert record.dtmf_sent == "12"
    assert record.duration >= 3.4


def test_goto_and_set_priority_choose_where_the_dialplan_continues() -> None:
    call = start_call(CallSpec())
    assert call.command("EXEC Goto sales,s,1") == "200 result=0\n"
    assert call.hang_up_server().continues_at == ("sales", "s", 1)
    call = start_call(CallSpec())
    call.command("SET CONTEXT other")
    call.command("SET EXTENSION 200")
    assert call.hang_up_server().continues_at == ("other", "200", 4)
    call = start_call(CallSpec())
    call.command("SET PRIORITY 7")
    assert call.hang_up_server().continues_at == ("gtx-test", "agi", 7)


def test_exec_set_and_agiexecfull() -> None:
    call = start_call(CallSpec(variables={"N": "5"}))
    call.command("EXEC Set X=${N}")
    assert call.command("GET VARIABLE X") == "200 result=1 (${N})\n"
    call.command("SET VARIABLE AGIEXECFULL yes")
    call.command("EXEC Set X=${N}")
    assert call.command("GET VARIABLE X") == "200 result=1 (5)\n"
