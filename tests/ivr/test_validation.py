"""Invalid responses: refused before any action runs, with a message naming step, place, field."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.ivr.conftest import Harness


def invalid(ivr: Harness, answer: Any, **app_changes: Any) -> str:
    """Run a session whose step 1 answers ``answer``; return GTX_ERROR after checking that no
    action ran and the fallback played."""
    if app_changes:
        app = ivr.apps["menu"]
        ivr.apps["menu"] = app.__class__(**{**app.__dict__, **app_changes})
    ivr.answer("menu.start", answer)
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert channel.methods() == ["stream", "hangup"]  # the fallback, then hang up
    assert channel.called("stream") == [("an-error-has-occured", "")]
    assert channel.variables["GTX_STATUS"] == "ERROR"
    error = channel.variables["GTX_ERROR"]
    assert outcome.error == error
    assert error.startswith("invalid_response: step 1: ")
    return error.removeprefix("invalid_response: step 1: ")


@pytest.mark.parametrize(("answer", "message"), [
    ("hello", "response: expected a struct with actions, next, vars and end, got 'hello'"),
    ({"actions": {}}, "actions: expected an array of action structs, got a struct"),
    ({"acts": []}, "acts: unknown parameter (known: actions, end, next, vars)"),
    ({"actions": [{"action": "fly"}]},
     "actions[0].action: expected one of answer, callback, conference"),
    ({"actions": [{"action": "answer"}, "play"]},
     "actions[1]: expected an action struct, got 'play'"),
    ({"actions": [{"action": "answer"}, {"action": "read", "max_digits": "abc"}]},
     "actions[1].max_digits: expected an int from 1 to 64, got 'abc'"),
    ({"actions": [{"action": "read", "max_digits": True}]},
     "actions[0].max_digits: expected an int from 1 to 64, got true"),
    ({"actions": [{"action": "read", "max_digit": 3}]},
     "actions[0].max_digit: unknown parameter (known: action, attempts,"),
    ({"actions": [{"action": "play"}]}, "actions[0].files: missing (required)"),
    ({"actions": [{"action": "play", "files": ["ok", "bad name"]}]},
     "actions[0].files[1]: expected a sound file name"),
    ({"actions": [{"action": "play", "files": "a", "interrupt": "x"}]},
     "actions[0].interrupt: expected a string of DTMF digits"),
    ({"actions": [{"action": "say", "type": "number", "value": "twelve"}]},
     "actions[0].value: expected an int or a string of digits for type 'number'"),
    ({"actions": [{"action": "say", "type": "colour", "value": "1"}]},
     "actions[0].type: expected one of 'digits', 'number'"),
    ({"actions": [{"action": "read", "pattern": "(1+)+"}]},
     "actions[0].pattern: expected a regular expression without nested repetition"),
    ({"actions": [{"action": "read", "pattern": "[1-"}]},
     "actions[0].pattern: expected a valid regular expression"),
    ({"actions": [{"action": "read", "min_digits": 5, "max_digits": 2}]},
     "actions[0].min_digits: expected an int from 0 to 2, got 5"),
    ({"actions": [{"action": "record", "file": "/etc/passwd"}]},
     "actions[0].file: expected a relative name: absolute paths are refused"),
    ({"actions": [{"action": "record", "file": "a/../../etc"}]},
     "actions[0].file: expected a name without '..'"),
    ({"actions": [{"action": "dial", "target": "PJSIP/1&PJSIP/2"}]},
     "actions[0].target: expected a dial string"),
    ({"actions": [{"action": "dial", "target": "PJSIP/1", "targets": ["PJSIP/2"]}]},
     "actions[0]: expected either target (a string) or targets (an array)"),
    ({"actions": [{"action": "dial", "target": "PJSIP/1", "options": "tU"}]},
     "actions[0].options: expected Dial() option letters from 'HIKTWXcghikmrtwx' "
     "('U' is not allowed)"),
    ({"actions": [{"action": "dial", "target": "PJSIP/1", "options": "G(x)"}]},
     "actions[0].options: expected Dial() option letters"),
    ({"actions": [{"action": "queue", "queue": "q", "options": "b"}]},
     "actions[0].options: expected Queue() option letters"),
    ({"actions": [{"action": "set", "vars": {"GTX_STATUS": "DONE"}}]},
     "actions[0].vars.GTX_STATUS: GTX_* variables are reserved for gtx"),
    ({"actions": [{"action": "set", "vars": {"1abc": "x"}}]},
     "actions[0].vars.1abc: expected a variable name"),
    ({"actions": [{"action": "set", "vars": {"A": "x\ny"}}]},
     "actions[0].vars.A: expected a string (one line"),
    ({"actions": [{"action": "exec", "application": "System", "args": ["rm -rf /"]}]},
     "actions[0].application: 'System' is not allowed for app 'menu' "
     "(exec_allowed: Playback, SayAlpha)"),
    ({"actions": [{"action": "exec", "application": "Playback", "args": ["a,b"]}]},
     "actions[0].args[0]: expected a string without commas"),
    ({"actions": [{"action": "record_start", "file": "../etc/passwd"}]},
     "actions[0].file: expected a file name template"),
    ({"actions": [{"action": "record_start", "file": "a..b"}]},
     "actions[0].file: expected a name that does not start with '.' nor holds '..'"),
    ({"actions": [{"action": "record_start", "beep": 0}]},
     "actions[0].beep: expected an int from 1 to 3600"),
    ({"actions": [{"action": "record_start", "metadata": {"a": None}}]},
     "actions[0].metadata.a: expected a string, number, boolean, array or struct"),
    ({"actions": [{"action": "record_start", "callback": {"url": "ftp://x", "method": "m"}}]},
     "actions[0].callback.url: expected an http:// or https:// url"),
    ({"actions": [{"action": "record_stop", "recording_id": "a b"}]},
     "actions[0].recording_id: expected a recording id"),
    ({"actions": [{"action": "record_pause", "id": "r1"}]},
     "actions[0].id: unknown parameter"),
    ({"actions": [{"action": "transfer", "context": "a", "extension": "1"},
                  {"action": "answer"}]},
     "actions[0].action: transfer ends the step, so it must be the last action"),
    ({"actions": [{"action": "goto", "method": "x"}, {"action": "answer"}]},
     "actions[0].action: goto ends the step, so it must be the last action"),
    ({"actions": [{"action": "goto", "app": "nope"}]},
     "actions[0].app: expected a configured app (configured: menu, sales), got 'nope'"),
    ({"actions": [{"action": "answer", "name": "a"}, {"action": "wait", "seconds": 1,
                                                      "name": "a"}]},
     "actions: two actions are named 'a'"),
    ({"actions": [{"action": "answer", "name": "digits"}]},
     "actions[0].name: 'digits' is reserved"),
    ({"actions": [{"action": "wait", "seconds": 0}]},
     "actions[0].seconds: expected a number of seconds over 0 and up to 3600, got 0"),
    ({"actions": [{"action": "moh"}]}, "actions[0].seconds: missing (required)"),
    ({"next": 5}, "next: expected a method name, {url, method} or {app}, got 5"),
    ({"next": {"url": "ftp://x", "method": "m"}}, "next.url: expected an http:// or https:// url"),
    ({"next": {"app": "nope"}}, "next.app: expected a configured app"),
    ({"end": "later"}, "end: expected one of 'hangup', 'continue', got 'later'"),
    ({"vars": []}, "vars: expected a struct, got an array"),
    ({"vars": {"when": datetime.datetime(2026, 1, 1)}},
     "vars.when: dateTime values cannot be kept in session variables"),
    ({"vars": {"blob": b"\x00"}}, "vars.blob: base64 values cannot be kept in session variables"),
    ({"vars": {"x": float("nan")}}, "vars.x: expected a finite number"),
    ({"vars": {"big": "x" * 3000}}, "vars: the session variables take 3014 bytes on the "
                                    "channel (as JSON, quotes counted twice), over the limit of "
                                    "1900"),
])
def test_invalid_response_messages(ivr: Harness, answer: Any, message: str) -> None:
    assert invalid(ivr, answer).startswith(message)


def test_all_actions_are_validated_before_the_first_runs(ivr: Harness) -> None:
    message = invalid(ivr, {"actions": [{"action": "answer"}, {"action": "play", "files": "a"},
                                        {"action": "wait", "seconds": "x"}]})
    assert message.startswith("actions[2].seconds:")


def test_on_error_continue_returns_to_the_dialplan(ivr: Harness) -> None:
    app = ivr.apps["menu"]
    ivr.apps["menu"] = app.__class__(**{**app.__dict__, "on_error": "continue",
                                        "fallback": ("sorry", "goodbye")})
    ivr.answer("menu.start", "garbage")
    channel = ivr.channel()
    ivr.run(channel)
    assert channel.methods() == ["stream", "stream"]
    assert [c[0] for c in channel.called("stream")] == ["sorry", "goodbye"]
    assert channel.variables["GTX_STATUS"] == "ERROR"


def test_error_status_is_written_before_the_fallback_plays(ivr: Harness) -> None:
    ivr.answer("menu.start", "garbage")
    channel = ivr.channel()
    ivr.run(channel)
    names = [c[0] if c[0] != "set_variable" else c[1] for c in channel.calls]
    assert names.index("GTX_ERROR") < names.index("stream")
    assert names.index("GTX_STATUS", names.index("GTX_ERROR")) < names.index("stream")
