"""The read action, built from stream + wait_for_digit: every branch."""

from __future__ import annotations

from typing import Any

from tests.ivr.conftest import Harness


def read(ivr: Harness, presses: list[Any], **params: Any) -> tuple[dict[str, Any], Any]:
    _, channel, result = ivr.one_step({"action": "read", "name": "r", **params}, presses=presses)
    return result["r"], channel


def test_prompt_interrupted_by_a_digit_starts_the_input(ivr: Harness) -> None:
    r, channel = read(ivr, ["4", "2", "#"], prompt=["please", "enter"], max_digits=5)
    assert (r["status"], r["digits"], r["attempts"]) == ("ok", "42", 1)
    # The prompt listens to every digit; "enter" never played.
    assert channel.called("stream") == [("please", "0123456789*#ABCD")]
    assert channel.called("wait_for_digit") == [(3.0,), (3.0,)]


def test_first_digit_timeout_counts_after_the_prompt(ivr: Harness) -> None:
    r, channel = read(ivr, [], prompt="please", attempts=1, timeout=7)
    assert (r["status"], r["digits"], r["attempts"]) == ("timeout", "", 1)
    assert channel.called("wait_for_digit") == [(7.0,)]


def test_inter_digit_timeout_ends_the_input(ivr: Harness) -> None:
    r, _ = read(ivr, ["1", "2", (5.0, "3")], max_digits=4, min_digits=1)
    assert (r["status"], r["digits"]) == ("ok", "12")


def test_terminator_ends_the_input_and_is_not_part_of_the_digits(ivr: Harness) -> None:
    r, _ = read(ivr, ["1", "#", "9"], max_digits=4)
    assert r["digits"] == "1"


def test_no_terminator_makes_hash_a_digit(ivr: Harness) -> None:
    r, _ = read(ivr, ["1", "#"], max_digits=2, terminator="")
    assert r["digits"] == "1#"


def test_max_digits_ends_the_input_without_waiting(ivr: Harness) -> None:
    r, channel = read(ivr, ["1", "2", "3"], max_digits=2)
    assert r["digits"] == "12"
    assert len(channel.called("wait_for_digit")) == 2


def test_min_digits_makes_a_short_input_invalid(ivr: Harness) -> None:
    r, _ = read(ivr, ["1", "#"], min_digits=3, max_digits=5, attempts=1)
    assert (r["status"], r["digits"]) == ("invalid", "1")


def test_terminator_alone_is_ok_when_min_digits_is_zero(ivr: Harness) -> None:
    r, _ = read(ivr, ["#"], min_digits=0, max_digits=5)
    assert (r["status"], r["digits"]) == ("ok", "")


def test_pattern_must_match_all_digits(ivr: Harness) -> None:
    r, _ = read(ivr, ["5", "#"], max_digits=3, pattern="[1-3]", attempts=1)
    assert r["status"] == "invalid"


def test_attempts_with_invalid_and_timeout_prompts(ivr: Harness) -> None:
    # attempt 1: "9" fails the pattern; attempt 2: nothing; attempt 3: "2" is right.
    r, channel = read(
        ivr, ["9", (6.0, "x"), "2"], prompt="menu", pattern="[1-3]", attempts=3,
        invalid_prompt="invalid", timeout_prompt=["no-input", "try-again"],
    )
    assert (r["status"], r["digits"], r["attempts"]) == ("ok", "2", 3)
    played = [c[0] for c in channel.called("stream")]
    assert played == ["menu", "invalid", "menu", "no-input", "try-again", "menu"]


def test_last_attempt_status_is_reported(ivr: Harness) -> None:
    r, channel = read(ivr, [], attempts=2, timeout_prompt="no-input")
    assert (r["status"], r["attempts"]) == ("timeout", 2)
    # No timeout prompt after the last attempt.
    assert [c[0] for c in channel.called("stream")] == ["no-input"]


def test_digits_of_the_last_read_are_in_the_result(ivr: Harness) -> None:
    _, _, result = ivr.one_step(
        {"action": "read"}, {"action": "read", "max_digits": 2}, presses=["1", "7", "8"]
    )
    assert result["digits"] == "78"
