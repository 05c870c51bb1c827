"""The caller script language."""

from __future__ import annotations

import pytest

from gtx.testing import CallerScriptError, ScriptedCaller


def test_statements_move_the_script_clock() -> None:
    caller = ScriptedCaller.parse("wait 2; press 1; wait 1\npress 23#; hangup")
    presses = [(e.at, e.digit) for e in caller.events if e.kind == "press"]
    assert presses == [(2.0, "1"), (3.25, "2"), (3.5, "3"), (3.75, "#")]
    assert caller.hangup_time == 4.0


def test_short_form_gives_absolute_times() -> None:
    caller = ScriptedCaller.parse("1@2.0, 9#@5 hangup@30")
    assert [(e.at, e.kind, e.digit) for e in caller.events] == [
        (2.0, "press", "1"),
        (5.0, "press", "9"),
        (5.25, "press", "#"),
        (30.0, "hangup", ""),
    ]


def test_command_triggers() -> None:
    caller = ScriptedCaller.parse("hangup during get data; press 5 during STREAM FILE")
    assert caller.hangs_up_on(7, "GET  DATA beep 1500 4")
    assert not caller.hangs_up_on(7, "GET VARIABLE X")
    assert caller.presses_during == [("STREAM FILE", "5")]
    assert ScriptedCaller.parse("hangup at command 3").hangs_up_on(3, "ANSWER")
    assert not ScriptedCaller.parse("hangup at command 3").hangs_up_on(2, "ANSWER")


def test_digit_gap_is_configurable() -> None:
    caller = ScriptedCaller.parse("press 12", digit_gap=1.0)
    assert [e.at for e in caller.events] == [0.0, 1.0]


@pytest.mark.parametrize(
    "script", ["press 1x", "wait soon", "jump 3", "hangup later", "wait -1", "press"]
)
def test_bad_scripts_say_what_is_wrong(script: str) -> None:
    with pytest.raises(CallerScriptError, match=r"caller script|DTMF|number|negative"):
        ScriptedCaller.parse(script)
