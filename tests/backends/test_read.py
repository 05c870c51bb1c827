"""read: digits, timeouts, terminators, max_digits, retries, patterns — the same over FastAGI
and ARI (the action is built from ``stream`` and ``wait_for_digit``, which each backend
implements its own way)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from tests.backends.harness import Backend, CallResult

WELCOME = 1.2  # seconds


async def read(backend: Backend, caller: str, **params: Any) -> tuple[dict[str, Any],
                                                                       CallResult]:
    """One step with a ``read`` named ``input``; its entry and the call."""
    backend.steps({"actions": [{"action": "read", "name": "input", **params}]}, {})
    result = await backend.call(caller)
    return result.result(2)["input"], result


@pytest_twisted.ensureDeferred
async def test_digits_ended_by_the_terminator(backend: Backend) -> None:
    entry, result = await read(backend, "wait 2; press 123#", prompt="welcome", max_digits=8)
    assert entry == {"action": "read", "name": "input", "status": "ok", "digits": "123",
                     "attempts": 1}
    assert result.result(2)["digits"] == "123"
    assert result.heard == ["welcome"]


@pytest_twisted.ensureDeferred
async def test_input_ends_at_max_digits(backend: Backend) -> None:
    entry, result = await read(backend, "wait 2; press 12345", prompt="welcome", max_digits=3)
    assert (entry["status"], entry["digits"]) == ("ok", "123")
    # The step ends on the third digit, without waiting for a terminator.
    assert result.at[1] == pytest.approx(2.5, abs=0.05)


@pytest_twisted.ensureDeferred
async def test_a_digit_during_the_prompt_starts_the_input(backend: Backend) -> None:
    entry, result = await read(backend, "wait 0.5; press 4; wait 0.5; press 2#",
                               prompt=["welcome", "hello-world"], max_digits=4)
    assert (entry["status"], entry["digits"]) == ("ok", "42")
    assert result.heard == ["welcome"]  # the rest of the prompt is not played


@pytest_twisted.ensureDeferred
async def test_nothing_entered_times_out_after_every_attempt(backend: Backend) -> None:
    entry, result = await read(backend, "wait 60", prompt="welcome", timeout=2, attempts=3,
                               timeout_prompt="please-try-again")
    assert entry == {"action": "read", "name": "input", "status": "timeout", "digits": "",
                     "attempts": 3}
    assert result.heard == ["welcome", "please-try-again", "welcome",
                            "please-try-again", "welcome"]
    please_try_again = 1.4
    assert result.at[1] == pytest.approx(3 * (WELCOME + 2) + 2 * please_try_again, abs=0.1)


@pytest_twisted.ensureDeferred
async def test_the_inter_digit_timeout_ends_the_input(backend: Backend) -> None:
    entry, result = await read(backend, "wait 2; press 7; wait 10", prompt="welcome",
                               max_digits=4, inter_digit_timeout=2)
    assert (entry["status"], entry["digits"]) == ("ok", "7")
    assert result.at[1] == pytest.approx(2 + 2, abs=0.1)


@pytest_twisted.ensureDeferred
async def test_invalid_input_is_asked_again(backend: Backend) -> None:
    entry, result = await read(backend, "wait 2; press 9; wait 3; press 2", prompt="welcome",
                               pattern="[12]", invalid_prompt="pbx-invalid", attempts=2)
    assert entry == {"action": "read", "name": "input", "status": "ok", "digits": "2",
                     "attempts": 2}
    assert result.heard == ["welcome", "pbx-invalid", "welcome"]


@pytest_twisted.ensureDeferred
async def test_invalid_on_the_last_attempt(backend: Backend) -> None:
    entry, _ = await read(backend, "wait 2; press 12#; wait 3; press 3#", max_digits=4,
                          min_digits=3, attempts=2)
    # Too short (2 < min_digits), then too short again.
    assert (entry["status"], entry["digits"], entry["attempts"]) == ("invalid", "3", 2)


@pytest_twisted.ensureDeferred
async def test_an_empty_input_is_valid_with_min_digits_0(backend: Backend) -> None:
    entry, _ = await read(backend, "wait 1; press #", min_digits=0, max_digits=4)
    assert (entry["status"], entry["digits"]) == ("ok", "")


@pytest_twisted.ensureDeferred
async def test_another_terminator_and_none(backend: Backend) -> None:
    backend.steps({"actions": [
        {"action": "read", "name": "star", "terminator": "*", "max_digits": 5},
        {"action": "read", "name": "plain", "terminator": "", "max_digits": 5,
         "inter_digit_timeout": 1}]}, {})
    result = await backend.call("wait 1; press 1#2*; wait 1; press 3#")
    entries = result.result(2)
    # * ends the first read and # is a digit there; without a terminator # is a digit too.
    assert (entries["star"]["digits"], entries["plain"]["digits"]) == ("1#2", "3#")
    assert result.result(2)["digits"] == "3#"  # the step's last read
