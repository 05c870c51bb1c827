"""The ``read`` action: collect DTMF digits, built from ``stream`` and ``wait_for_digit``.

Built from the two channel primitives (rather than a backend's own "get data") so it behaves
the same whatever carries the commands. One attempt:

1. play the prompt files, each interruptible by any digit (the digit starts the input);
2. wait up to ``timeout`` seconds for the first digit (unless the prompt was interrupted);
3. collect digits, each within ``inter_digit_timeout`` seconds, until the terminator, until
   ``max_digits`` digits, or until the inter-digit timeout;
4. check the input: nothing at all is ``timeout``; fewer than ``min_digits`` digits or digits
   that do not fully match ``pattern`` are ``invalid``.

On ``timeout`` or ``invalid`` the next attempt starts after ``timeout_prompt`` or
``invalid_prompt``; the last attempt's status is the action's status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

from gtx.channel import DTMF_DIGITS, Channel
from gtx.ivr.actions.base import (
    INVALID,
    OK,
    TIMEOUT,
    Action,
    ActionOutcome,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.fields import Fields

MAX_DIGITS: Final = 64
MAX_PATTERN_LENGTH: Final = 200
#: A quantified group that itself holds a quantifier ("(1+)+"): such patterns can take
#: exponential time, and they run on the reactor thread, so they are refused.
_NESTED_REPETITION: Final = re.compile(r"\([^()]*[+*}][^()]*\)\s*[+*{]")


def _compile_pattern(fields: Fields) -> re.Pattern[str] | None:
    text = fields.optional_string("pattern", expected="a regular expression")
    if text is None:
        return None
    if len(text) > MAX_PATTERN_LENGTH:
        raise fields.error("pattern", f"expected a regular expression of at most "
                           f"{MAX_PATTERN_LENGTH} characters", text)
    if _NESTED_REPETITION.search(text):
        raise fields.error("pattern", "expected a regular expression without nested "
                           "repetition such as '(1+)+'", text)
    try:
        return re.compile(text)
    except re.error as e:
        raise fields.error("pattern", f"expected a valid regular expression ({e})", text) from None


@register
@dataclass(frozen=True)
class Read(Action):
    """Ask the caller for digits."""

    kind = "read"
    parameters = (
        "prompt", "min_digits", "max_digits", "timeout", "inter_digit_timeout", "terminator",
        "attempts", "invalid_prompt", "timeout_prompt", "pattern",
    )
    prompt: tuple[str, ...] = ()
    min_digits: int = 1
    max_digits: int = 1
    timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    terminator: str = "#"
    attempts: int = 3
    invalid_prompt: tuple[str, ...] = ()
    timeout_prompt: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        max_digits = fields.integer("max_digits", 1, low=1, high=MAX_DIGITS)
        terminator = fields.dtmf("terminator", "#")
        if len(terminator) > 1:
            raise fields.error("terminator", "expected one DTMF digit or \"\"", terminator)
        return cls(
            prompt=fields.files("prompt", ()) if fields.has("prompt") else (),
            min_digits=fields.integer("min_digits", 1, low=0, high=max_digits),
            max_digits=max_digits,
            timeout=fields.seconds("timeout", 5, low=0, high=300),
            inter_digit_timeout=fields.seconds("inter_digit_timeout", 3, low=0, high=60),
            terminator=terminator,
            attempts=fields.integer("attempts", 3, low=1, high=10),
            invalid_prompt=fields.files("invalid_prompt") if fields.has("invalid_prompt") else (),
            timeout_prompt=fields.files("timeout_prompt") if fields.has("timeout_prompt") else (),
            pattern=_compile_pattern(fields),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        status, digits = TIMEOUT, ""
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            status, digits = await self._attempt(channel)
            if status == OK or attempt == self.attempts:
                break
            for file in self.timeout_prompt if status == TIMEOUT else self.invalid_prompt:
                await channel.stream(file, "")
        return ActionOutcome(status=status, fields={"digits": digits, "attempts": attempt})

    async def _attempt(self, channel: Channel) -> tuple[str, str]:
        """One prompt + input; returns (status, digits)."""
        first: str | None = None
        for file in self.prompt:
            played = await channel.stream(file, DTMF_DIGITS)
            if played.digit:
                first = played.digit
                break
        if first is None:
            first = await channel.wait_for_digit(self.timeout)
        if first is None:
            return TIMEOUT, ""
        digits = ""
        digit: str | None = first
        while digit is not None:
            if self.terminator and digit == self.terminator:
                break
            digits += digit
            if len(digits) >= self.max_digits:
                break
            digit = await channel.wait_for_digit(self.inter_digit_timeout)
        if len(digits) < self.min_digits:
            return INVALID, digits
        if self.pattern is not None and not self.pattern.fullmatch(digits):
            return INVALID, digits
        return OK, digits
