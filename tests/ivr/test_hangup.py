"""Caller hang-up in the middle of each kind of action."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ivr.conftest import Harness

ACTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "play": ({"action": "play", "files": ["a", "b"]}, "stream"),
    "say": ({"action": "say", "type": "number", "value": 5}, "say"),
    "read": ({"action": "read", "prompt": "p"}, "stream"),
    "read-waiting": ({"action": "read"}, "wait_for_digit"),
    "record": ({"action": "record"}, "record"),
    "dial": ({"action": "dial", "target": "PJSIP/100"}, "dial"),
    "wait": ({"action": "wait", "seconds": 5}, "wait"),
    "moh": ({"action": "moh", "seconds": 5}, "music_on_hold"),
    "queue": ({"action": "queue", "queue": "support"}, "queue"),
    "conference": ({"action": "conference", "conference": "room"}, "conference"),
    "exec": ({"action": "exec", "application": "Playback", "args": ["x"]}, "exec"),
    "dtmf": ({"action": "dtmf", "digits": "123"}, "send_dtmf"),
    "answer": ({"action": "answer"}, "answer"),
}


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_hangup_during_an_action(ivr: Harness, kind: str) -> None:
    action, method = ACTIONS[kind]
    ivr.answer("menu.start", {
        "actions": [{"action": "set", "vars": {"X": "1"}}, action,
                    {"action": "play", "files": "after"}, {"action": "wait", "seconds": 1}],
        "vars": {"k": "v"},
        "next": "menu.never",
    })
    ivr.answer("menu.hangup", {"actions": [{"action": "play", "files": "ignored"}]})
    channel = ivr.channel(hangup_during=method)
    outcome = ivr.run(channel)
    assert outcome.status == "HANGUP"
    assert channel.variables["GTX_STATUS"] == "HANGUP"
    assert ivr.ws.methods() == ["menu.start", "menu.hangup"]
    request = ivr.ws.calls[1].request
    assert request["step"] == 2
    assert request["vars"] == {"k": "v"}
    result = request["result"]
    assert result["status"] == "hangup"
    statuses = [a["status"] for a in result["actions"]]
    assert statuses == ["ok", "hangup", "skipped", "skipped"]
    assert "after" not in [c[0] for c in channel.called("stream")]
    assert "ignored" not in [c[0] for c in channel.called("stream")]
    assert channel.called("hangup") == []  # the caller is gone: nothing to hang up


def test_dial_keeps_its_fields_when_the_caller_hangs_up(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "dial", "target": "PJSIP/1", "name": "d"}]})
    ivr.answer("menu.hangup", {})
    ivr.run(ivr.channel(hangup_during="dial"))
    result = ivr.ws.calls[1].request["result"]
    assert result["d"]["status"] == "hangup"
    assert result["d"]["dialstatus"] == "CANCEL"


def test_record_keeps_the_file_when_the_caller_hangs_up(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "record", "name": "msg"}]})
    ivr.answer("menu.hangup", {})
    ivr.run(ivr.channel(hangup_during="record", record_endpos=40000))
    msg = ivr.ws.calls[1].request["result"]["msg"]
    assert (msg["status"], msg["reason"], msg["duration"]) == ("hangup", "hangup", 5.0)
    assert msg["file"].endswith("/gtx-s1-1.wav")


def test_hangup_between_steps_calls_the_hangup_method_with_the_last_result(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}], "next": "menu.two"})
    ivr.answer("menu.hangup", {})
    channel = ivr.channel(hangup_at=2)  # the answer is the 1st live command; the 2nd never comes
    ivr.answer("menu.two", {"actions": [{"action": "play", "files": "x"}]})
    outcome = ivr.run(channel)
    assert outcome.status == "HANGUP"
    assert ivr.ws.methods() == ["menu.start", "menu.two", "menu.hangup"]
    result = ivr.ws.calls[2].request["result"]
    assert result["actions"] == [{"action": "play", "status": "hangup"}]
    assert ivr.ws.calls[2].request["step"] == 3


def test_no_hangup_method_configured(ivr: Harness) -> None:
    app = ivr.apps["menu"]
    ivr.apps["menu"] = app.__class__(**{**app.__dict__, "hangup_method": None})
    ivr.answer("menu.start", {"actions": [{"action": "wait", "seconds": 2}]})
    outcome = ivr.run(ivr.channel(hangup_during="wait"))
    assert outcome.status == "HANGUP"
    assert ivr.ws.methods() == ["menu.start"]


def test_hangup_call_errors_are_only_logged_and_bounded(ivr: Harness) -> None:
    from gtx.xmlrpc.errors import ConnectFailed
    from tests.ivr.fakes import Hang

    ivr.answer("menu.start", {"actions": [{"action": "wait", "seconds": 2}]})
    ivr.answer("menu.hangup", Hang())
    outcome = ivr.run(ivr.channel(hangup_during="wait"))
    assert outcome.status == "HANGUP"
    ivr.answer("menu.hangup", ConnectFailed("refused"))
    outcome = ivr.run(ivr.channel(hangup_during="wait"))
    assert outcome.status == "HANGUP"
    # One call, no retries: the caller is gone.
    assert ivr.ws.methods().count("menu.hangup") == 2


def test_connection_lost_leaves_the_session_running_for_failover(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "wait", "seconds": 1}], "next": "menu.two"})
    ivr.answer("menu.two", {"actions": [{"action": "play", "files": "x"}]})
    channel = ivr.channel(gone_during="stream")
    outcome = ivr.run(channel)
    assert outcome.status == "LOST"
    assert channel.variables["GTX_STATUS"] == "RUNNING"
    assert channel.variables["GTX_STEP"] == "2"
    assert ivr.ws.methods() == ["menu.start", "menu.two"]  # no hang-up call
    assert ivr.metric("gtx_ivr_sessions_total", app="menu", status="LOST") == 1
