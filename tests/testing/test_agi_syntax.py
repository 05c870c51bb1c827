"""Asterisk's AGI argument splitting and command lookup."""

from __future__ import annotations

import pytest

from gtx.testing import parse_args
from gtx.testing.agi_syntax import find_command, usage_lines


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ('STREAM FILE hello-world "#"', ["STREAM", "FILE", "hello-world", "#"]),
        ('SAY NUMBER 42 "" ', ["SAY", "NUMBER", "42", ""]),
        ('SET VARIABLE GTX_STATE "step=2;x=y"', ["SET", "VARIABLE", "GTX_STATE", "step=2;x=y"]),
        ('SET VARIABLE X "a \\"quoted\\" word"', ["SET", "VARIABLE", "X", 'a "quoted" word']),
        ("SET VARIABLE X a\\ b\\\\c", ["SET", "VARIABLE", "X", "a b\\c"]),
        ('VERBOSE "two  spaces"\t1', ["VERBOSE", "two  spaces", "1"]),
        ('EXEC Dial "PJSIP/1&PJSIP/2,30"', ["EXEC", "Dial", "PJSIP/1&PJSIP/2,30"]),
        ('X ab"c d"e', ["X", "abc de"]),
        ("", []),
    ],
)
def test_parse_args_splits_like_asterisk(line: str, argv: list[str]) -> None:
    assert parse_args(line) == argv


def test_too_many_arguments_are_dropped() -> None:
    assert len(parse_args(" ".join(["a"] * 200))) == 127


def test_commands_match_case_insensitively_and_longest_first() -> None:
    spec = find_command(["get", "FULL", "variable", "${X}"])
    assert spec is not None
    assert spec.name == "GET FULL VARIABLE"
    assert spec.runs_dead
    data = find_command(["GET", "DATA", "beep"])
    assert data is not None
    assert not data.runs_dead
    assert find_command(["FOO", "BAR"]) is None
    assert find_command(["GET"]) is None


def test_usage_reply_is_framed_by_520_lines() -> None:
    spec = find_command(["WAIT", "FOR", "DIGIT"])
    assert spec is not None
    lines = usage_lines(spec)
    assert lines[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert lines[-1] == "520 End of proper usage."
    assert lines[1].startswith("Waits up to <timeout> milliseconds")
