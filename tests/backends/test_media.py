"""answer, hangup, play, say, wait, moh, dtmf and set — the same results over FastAGI and ARI."""

from __future__ import annotations

import calendar

import pytest
import pytest_twisted

from tests.backends.harness import Backend

# Lengths in the emulated Asterisk's sound catalogue (seconds).
HELLO_WORLD = 11234 / 8000
WELCOME = 1.2


@pytest_twisted.ensureDeferred
async def test_answer_an_unanswered_call(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "answer"}]}, {})
    result = await backend.call(answered=False)
    assert result.answered
    assert result.action(1) == {"action": "answer", "status": "ok"}
    assert result.outcome.status == "DONE"


@pytest_twisted.ensureDeferred
async def test_hangup_with_a_cause_skips_the_rest(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "hangup", "cause": 21},
                               {"action": "play", "files": "welcome"}], "next": "never"})
    result = await backend.call("wait 30")
    assert result.methods == ["menu.start"]  # no next step, no hang-up call
    assert result.hung_up_by == "gtx"
    assert result.hangup_cause == 21
    assert result.heard == []
    assert result.variables["GTX_STATUS"] == "DONE"
    assert result.outcome.status == "DONE"


@pytest_twisted.ensureDeferred
async def test_play_several_files(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": ["hello-world", "welcome"]}]}, {})
    result = await backend.call()
    assert result.heard == ["hello-world", "welcome"]
    assert result.action(1) == {"action": "play", "status": "ok", "digit": "", "played": 2,
                                "missing": []}
    assert result.at[1] == pytest.approx(HELLO_WORLD + WELCOME, abs=0.1)


@pytest_twisted.ensureDeferred
async def test_play_interrupted_by_a_digit(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": ["hello-world", "welcome"],
                                "interrupt": "12"}]}, {})
    # 3 does not interrupt; 2, pressed at 0.95 s, does.
    result = await backend.call("wait 0.5; press 3; wait 0.2; press 2")
    entry = result.action(1)
    assert (entry["digit"], entry["played"], entry["status"]) == ("2", 1, "ok")
    assert result.heard == ["hello-world"]  # cut short; welcome never starts
    assert result.at[1] == pytest.approx(0.95, abs=0.05)


@pytest_twisted.ensureDeferred
async def test_play_with_a_missing_file(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": ["welcome", "no-such-file",
                                                            "goodbye"]}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "play", "status": "ok", "digit": "", "played": 2,
                                "missing": ["no-such-file"]}
    assert result.heard == ["welcome", "goodbye"]


# 2026-11-21 (a Saturday) 14:05:00 UTC.
NOON_AFTER = calendar.timegm((2026, 11, 21, 14, 5, 0))


@pytest.mark.parametrize(("kind", "value", "heard"), [
    ("digits", "4#2", ["digits/4", "digits/pound", "digits/2"]),
    ("number", 42, ["digits/40", "digits/2"]),
    ("number", 1234, ["digits/1", "digits/thousand", "digits/2", "digits/hundred",
                      "digits/30", "digits/4"]),
    ("alpha", "ab1", ["letters/a", "letters/b", "digits/1"]),
    ("alpha", "A-b@", ["letters/a", "letters/dash", "letters/b", "letters/at"]),
    ("digits", "*1", ["digits/star", "digits/1"]),
    ("phonetic", "ab", ["phonetic/a_p", "phonetic/b_p"]),
    ("date", NOON_AFTER, ["digits/day-6", "digits/mon-10", "digits/20", "digits/1",
                          "digits/2", "digits/thousand", "digits/20", "digits/6"]),
    ("time", NOON_AFTER, ["digits/2", "digits/oh", "digits/5", "digits/p-m"]),
])
@pytest_twisted.ensureDeferred
async def test_say(backend: Backend, kind: str, value: object, heard: list[str]) -> None:
    backend.steps({"actions": [{"action": "say", "type": kind, "value": value}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "say", "status": "ok", "digit": ""}
    assert result.heard == heard


@pytest_twisted.ensureDeferred
async def test_say_interrupted(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "say", "type": "digits", "value": "123456",
                                "interrupt": "#"}]}, {})
    result = await backend.call("wait 0.6; press #")
    assert result.action(1)["digit"] == "#"
    # Stopped in the second digit (each lasts 0.45 s): over ARI too, the digits being sound
    # files (Asterisk cannot stop a digits: playback).
    assert result.heard == ["digits/1", "digits/2"]


@pytest_twisted.ensureDeferred
async def test_say_number_interrupted(backend: Backend) -> None:
    """SAY NUMBER stops at the digit; over ARI ``number:`` cannot be stopped
    (res_stasis_playback), so the digit is returned once the number has been said."""
    backend.steps({"actions": [{"action": "say", "type": "number", "value": 1234,
                                "interrupt": "#"}]}, {})
    result = await backend.call("wait 0.6; press #")
    assert result.action(1)["digit"] == "#"
    number = ["digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30",
              "digits/4"]
    if backend.name == "fastagi":
        assert result.heard == number[:2]
        assert result.at[1] == pytest.approx(0.6, abs=0.1)
    else:
        assert result.heard == number
        assert result.at[1] == pytest.approx(23600 / 8000, abs=0.1)  # the whole number


@pytest_twisted.ensureDeferred
async def test_wait_lets_time_pass_and_ignores_digits(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "wait", "seconds": 2.5}]},
                  {"actions": [{"action": "read", "timeout": 1, "attempts": 1}]}, {})
    result = await backend.call("wait 1; press 5")
    assert result.action(1) == {"action": "wait", "status": "ok"}
    assert result.at[1] == pytest.approx(2.5, abs=0.1)
    # The digit pressed during the wait was not kept for the read that followed.
    assert result.action(2)["status"] == "timeout"


@pytest_twisted.ensureDeferred
async def test_music_on_hold_for_some_seconds(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "moh", "class": "jazz", "seconds": 3}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "moh", "status": "ok"}
    assert result.at[1] == pytest.approx(3, abs=0.1)
    assert result.heard == []  # music on hold is not a prompt


@pytest_twisted.ensureDeferred
async def test_dtmf_sends_digits_to_the_caller(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "dtmf", "digits": "12w#"}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "dtmf", "status": "ok"}
    assert result.dtmf_sent == "12#"
    assert result.applications == []  # no dialplan excursion for it over ARI


@pytest_twisted.ensureDeferred
async def test_set_writes_channel_variables(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "set", "vars": {"CUSTOMER": "C-1001", "TIER": 2}}],
                   "end": "continue"})
    result = await backend.call()
    assert result.variables["CUSTOMER"] == "C-1001"
    assert result.variables["TIER"] == "2"
    assert result.location == ("gtx", "100", 3)  # the priority after AGI() or Stasis()
    assert result.variables["GTX_STATUS"] == "DONE"
