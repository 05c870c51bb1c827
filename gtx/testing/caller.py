"""Scripted callers: what the person on the phone does, and when.

A :class:`ScriptedCaller` is written in a small script language. Statements are separated by
``;`` or new lines; time starts when Asterisk connects to the FastAGI server::

    wait 2; press 1; wait 1.5; press 23#; hangup

- ``wait SECONDS`` — let time pass (decimals allowed).
- ``press DIGITS`` — press keys (``0-9 * # A-D``), one every :attr:`ScriptedCaller.digit_gap`
  seconds (0.25 s by default); the script's time moves on accordingly.
- ``hangup`` — hang up now (the script ends there).
- ``hangup during COMMAND`` — hang up as the FastAGI server's first command of that name starts,
  e.g. ``hangup during GET DATA`` (the command sees a caller who has just gone).
- ``hangup at command N`` — hang up as the Nth command (1-based) starts.
- ``press DIGITS during COMMAND`` — press keys once the first not yet matched command of that
  name is under way: the first key 0.1 s after it starts, then one every ``digit_gap``
  (e.g. ``press 12# during GET DATA``). Timing-free, so scripts survive prompt changes.
- ``DIGITS@SECONDS`` — the short form: press DIGITS at that absolute time, e.g. ``1@2.0``;
  ``hangup@SECONDS`` hangs up then. Short forms may be mixed with statements and with spaces
  or commas between them: ``"1@2.0, 9#@5, hangup@30"``.

DTMF reaches whatever reads the channel at that moment: an interruptible STREAM FILE (when the
digit is one of its escape digits), GET DATA, WAIT FOR DIGIT, RECORD FILE… A digit pressed while
nothing reads the channel is lost, as on a real Asterisk: between AGI commands ``run_agi`` reads
and frees every frame of the channel, and a playback that is not interruptible by that digit
drops it too. The call record lists such digits as dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gtx.channel import DTMF_DIGITS


class CallerScriptError(ValueError):
    """A caller script could not be understood; the message says where."""


@dataclass(frozen=True)
class CallerEvent:
    """Something the caller does at a given time (seconds from the connection)."""

    at: float
    kind: str  # "press" (one digit) or "hangup"
    digit: str = ""


@dataclass
class ScriptedCaller:
    """A caller driven by a script (see the module docstring).

    >>> caller = ScriptedCaller.parse("wait 2; press 12#; hangup during RECORD FILE")
    >>> [(e.at, e.digit) for e in caller.events]
    [(2.0, '1'), (2.25, '2'), (2.5, '#')]
    """

    events: list[CallerEvent] = field(default_factory=list)
    hangup_on_command: str | None = None  # upper-case command words, e.g. "GET DATA"
    hangup_at_command: int | None = None  # 1-based index of the command
    presses_during: list[tuple[str, str]] = field(default_factory=list)  # (COMMAND, digits)
    digit_gap: float = 0.25
    script: str = ""

    @classmethod
    def parse(cls, script: str, *, digit_gap: float = 0.25) -> ScriptedCaller:
        """Read a caller script; raises :class:`CallerScriptError` on a bad statement."""
        caller = cls(digit_gap=digit_gap, script=script)
        now = 0.0
        statements = [s.strip() for s in re.split(r"[;\n]", script)]
        for statement in filter(None, statements):
            now = caller._statement(statement, now)
        caller.events.sort(key=lambda e: e.at)
        return caller

    @classmethod
    def silent(cls) -> ScriptedCaller:
        """A caller who presses nothing and never hangs up."""
        return cls()

    def hangs_up_on(self, index: int, command: str) -> bool:
        """Whether the caller hangs up as command number ``index`` (1-based) starts."""
        if self.hangup_at_command is not None and index >= self.hangup_at_command:
            return True
        if self.hangup_on_command is None:
            return False
        return command_matches(command, self.hangup_on_command)

    @property
    def hangup_time(self) -> float | None:
        """When the caller hangs up on its own clock, if the script says so."""
        times = [e.at for e in self.events if e.kind == "hangup"]
        return min(times) if times else None

    def _statement(self, statement: str, now: float) -> float:
        words = statement.split()
        head = words[0].lower()
        if head == "wait" and len(words) == 2:
            return now + _seconds(words[1], statement)
        if head == "press" and len(words) >= 4 and words[2].lower() == "during":
            _check_digits(words[1], statement)
            self.presses_during.append((" ".join(words[3:]).upper(), words[1].upper()))
            return now
        if head == "press" and len(words) == 2:
            return self._press(words[1], now, statement)
        if head == "hangup" and not any("@" in w for w in words):
            self._hangup(words, now, statement)
            return now
        tokens = [t for t in re.split(r"[\s,]+", statement) if t]
        if tokens and all("@" in t for t in tokens):
            for token in tokens:
                what, _, when = token.partition("@")
                at = _seconds(when, statement)
                if what.lower() == "hangup":
                    self.events.append(CallerEvent(at, "hangup"))
                else:
                    self._press(what, at, statement)
            return now
        raise CallerScriptError(f"cannot understand {statement!r} in the caller script")

    def _hangup(self, words: list[str], now: float, statement: str) -> None:
        if len(words) == 1:
            self.events.append(CallerEvent(now, "hangup"))
        elif len(words) >= 3 and words[1].lower() == "during":
            self.hangup_on_command = " ".join(words[2:]).upper()
        elif len(words) == 4 and [w.lower() for w in words[1:3]] == ["at", "command"]:
            self.hangup_at_command = int(_seconds(words[3], statement))
        else:
            raise CallerScriptError(f"cannot understand {statement!r} in the caller script")

    def _press(self, digits: str, now: float, statement: str) -> float:
        _check_digits(digits, statement)
        for index, digit in enumerate(digits.upper()):
            self.events.append(CallerEvent(now + index * self.digit_gap, "press", digit))
        return now + len(digits) * self.digit_gap


def command_matches(command: str, wanted: str) -> bool:
    """Whether an AGI command line is a command of the name ``wanted`` (e.g. ``GET DATA``)."""
    return " ".join(command.upper().split()).startswith(wanted)


def _check_digits(digits: str, statement: str) -> None:
    if not digits or any(d not in DTMF_DIGITS for d in digits.upper()):
        raise CallerScriptError(f"{statement!r}: DTMF digits are 0-9, *, #, A-D")


def _seconds(text: str, statement: str) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise CallerScriptError(f"{statement!r}: {text!r} is not a number") from None
    if value < 0:
        raise CallerScriptError(f"{statement!r}: negative time")
    return value
