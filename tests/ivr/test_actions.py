"""Every action: what it does on the channel and the result fields it reports."""

from __future__ import annotations

import pytest

from tests.ivr.conftest import Harness


def test_play_reports_digit_played_and_missing(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "play", "files": ["a", "gone", "b", "c"], "interrupt": "5", "name": "p"},
        sounds={"a", "b", "c"}, presses=[(1.5, "5")],
    )
    assert result["p"] == {"action": "play", "name": "p", "status": "ok", "digit": "5",
                           "played": 2, "missing": ["gone"]}
    assert [c[0] for c in channel.called("stream")] == ["a", "gone", "b"]


def test_play_without_interrupt_plays_everything(ivr: Harness) -> None:
    _, channel, result = ivr.one_step({"action": "play", "files": "a"}, presses=["1"])
    assert result["actions"][0]["digit"] == ""
    assert channel.called("stream") == [("a", "")]


@pytest.mark.parametrize(("kind", "value", "said"), [
    ("digits", "1234", "1234"), ("number", 42, "42"), ("number", "-7", "-7"),
    ("alpha", "abc", "abc"), ("phonetic", "gtx", "gtx"), ("date", 1700000000, "1700000000"),
    ("time", 0, "0"),
])
def test_say(ivr: Harness, kind: str, value: object, said: str) -> None:
    _, channel, result = ivr.one_step({"action": "say", "type": kind, "value": value,
                                       "interrupt": "#"}, presses=["#"])
    assert channel.called("say") == [(kind, said, "#")]
    assert result["actions"][0] == {"action": "say", "status": "ok", "digit": "#"}


def test_record(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "record", "name": "msg", "format": "gsm", "max_seconds": 30,
         "silence_seconds": 0, "beep": False}, record_endpos=12000,
    )
    assert channel.called("record") == [
        ("/var/spool/asterisk/recording/gtx-s1-1", "gsm", "#", 30.0, None, False)
    ]
    assert result["msg"] == {"action": "record", "name": "msg", "status": "ok",
                             "file": "/var/spool/asterisk/recording/gtx-s1-1.gsm",
                             "reason": "dtmf", "digit": "#", "duration": 1.5}


def test_record_relative_name_with_placeholders(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "record", "file": "voicemail/{session}-{step}", "terminator": ""},
        record_reason="timeout",
    )
    assert channel.called("record")[0][:3] == (
        "/var/spool/asterisk/recording/voicemail/s1-1", "wav", ""
    )
    assert result["actions"][0]["reason"] == "timeout"
    assert result["actions"][0]["digit"] == ""


def test_record_error_is_failed(ivr: Harness) -> None:
    _, _, result = ivr.one_step({"action": "record"}, record_reason="error")
    assert result["actions"][0]["status"] == "failed"


def test_dial_answered(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "dial", "targets": ["PJSIP/100", "PJSIP/101"], "timeout": 20,
         "caller_id": '"Sales" <100>', "options": "tT", "time_limit": 600, "name": "d"}
    )
    assert channel.called("dial") == [(("PJSIP/100", "PJSIP/101"), 20, "tT", '"Sales" <100>', 600)]
    assert result["d"] == {"action": "dial", "name": "d", "status": "ok", "dialstatus": "ANSWER",
                           "answered_seconds": 42, "dialed_seconds": 47}


def test_dial_busy_is_failed_with_the_dialstatus(ivr: Harness) -> None:
    _, channel, result = ivr.one_step({"action": "dial", "target": "PJSIP/100"},
                                      dial_status={"PJSIP/100": "BUSY"})
    assert channel.called("dial")[0][:3] == (("PJSIP/100",), 30, "")
    assert result["actions"][0]["status"] == "failed"
    assert result["actions"][0]["dialstatus"] == "BUSY"


@pytest.mark.parametrize(("queuestatus", "status"), [
    ("", "ok"), ("TIMEOUT", "timeout"), ("FULL", "failed"), ("JOINEMPTY", "failed"),
])
def test_queue(ivr: Harness, queuestatus: str, status: str) -> None:
    _, channel, result = ivr.one_step(
        {"action": "queue", "queue": "support", "timeout": 60, "options": "t"},
        queue_status=queuestatus,
    )
    assert channel.called("queue") == [("support", 60, "t")]
    assert result["actions"][0] == {"action": "queue", "status": status,
                                    "queuestatus": queuestatus}


def test_conference(ivr: Harness) -> None:
    _, channel, result = ivr.one_step({"action": "conference", "conference": "room1",
                                       "user_profile": "quiet"})
    assert channel.called("conference") == [("room1", {"user_profile": "quiet"})]
    assert result["actions"][0] == {"action": "conference", "status": "ok"}


def test_set_wait_moh_dtmf_answer(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "answer"},
        {"action": "set", "vars": {"CDR_TAG": "vip", "LEVEL": 3}},
        {"action": "wait", "seconds": 1.5},
        {"action": "moh", "seconds": 10},
        {"action": "moh", "class": "jazz", "seconds": 2},
        {"action": "dtmf", "digits": "12w#"},
    )
    assert [a["status"] for a in result["actions"]] == ["ok"] * 6
    assert channel.variables["CDR_TAG"] == "vip"
    assert channel.variables["LEVEL"] == "3"
    assert channel.called("wait") == [(1.5,)]
    assert channel.called("music_on_hold") == [("default", 10.0), ("jazz", 2.0)]
    assert channel.called("send_dtmf") == [("12w#",)]
    assert channel.called("answer") == [()]


def test_exec_allowed_application_case_insensitive(ivr: Harness) -> None:
    _, channel, result = ivr.one_step(
        {"action": "exec", "application": "playback", "args": ["tt-monkeys", "noanswer"]},
        exec_results={"playback": 0},
    )
    assert channel.called("exec") == [("playback", ("tt-monkeys", "noanswer"))]
    assert result["actions"][0] == {"action": "exec", "status": "ok", "value": 0}


def test_exec_application_missing_in_asterisk_is_failed(ivr: Harness) -> None:
    _, _, result = ivr.one_step({"action": "exec", "application": "SayAlpha", "args": ["x"]},
                                unknown_apps=["SayAlpha"])
    entry = result["actions"][0]
    assert (entry["status"], entry["value"]) == ("failed", -2)


def test_a_command_asterisk_refuses_is_failed_and_the_step_goes_on(ivr: Harness) -> None:
    from twisted.internet.defer import fail

    from gtx.channel import CommandFailed

    channel = ivr.channel()
    channel.wait = lambda seconds: fail(CommandFailed("WAIT", "bad"))  # type: ignore[method-assign]
    ivr.answer("menu.start", {"actions": [{"action": "wait", "seconds": 1},
                                          {"action": "answer"}], "next": "step2"})
    ivr.answer("step2", {})
    ivr.run(channel)
    actions = ivr.ws.calls[1].request["result"]["actions"]
    assert actions == [{"action": "wait", "status": "failed", "error": "WAIT: bad"},
                       {"action": "answer", "status": "ok"}]
