"""One emulated call: its channel, the Asterisk it lives on, and the media operations that AGI
commands and dialplan applications share (playing files, saying things, collecting digits)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gtx.testing.emulated_channel import ANY_DIGIT, EmulatedChannel
from gtx.testing.pbx import CallSpec, EmulatedAsterisk
from gtx.testing.sounds import SAMPLE_RATE


@dataclass(frozen=True)
class Recording:
    """A RECORD FILE the call made (the emulator writes no file)."""

    path: str
    format: str
    reason: str  # "dtmf", "timeout", "hangup"
    digit: str | None
    seconds: float
    endpos: int


@dataclass(frozen=True)
class Played:
    """The outcome of playing one file."""

    result: int  # 0 played to the end, ASCII code of the interrupting digit, -1 error/hangup
    endpos: int  # samples reached


@dataclass
class ActiveCall:
    """A call in progress on an :class:`EmulatedAsterisk`."""

    asterisk: EmulatedAsterisk
    spec: CallSpec
    channel: EmulatedChannel
    recordings: list[Recording] = field(default_factory=list)
    dials: list[dict[str, object]] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    failed_command: bool = False  # a command failed on a live channel → AGISTATUS=FAILURE

    def epoch(self) -> float:
        """Seconds since 1970 at this point of the call."""
        return self.asterisk.epoch() + self.channel.timeline.now()

    async def play(self, name: str, escape: str = "", offset: int = 0) -> Played:
        """Play one file; stops early on an escape digit or a hang-up."""
        samples = self.asterisk.sounds.samples(name)
        if self.channel.hung_up:
            return Played(-1, offset)
        if samples is None:
            self.channel.note("media", f"missing sound {name}")
            return Played(-1, offset)
        self.channel.played.append(name)
        self.channel.moh_class = None  # playing a file stops music on hold
        start = min(max(offset, 0), samples)
        heard = await self.channel.listen((samples - start) / SAMPLE_RATE, escape)
        reached = min(samples, start + round(heard.elapsed * SAMPLE_RATE))
        if heard.hangup:
            return Played(-1, reached)
        if heard.digit is not None:
            return Played(ord(heard.digit), reached)
        return Played(0, samples)

    async def play_all(self, names: list[str], escape: str = "") -> int:
        """Play files one after another (ast_say style): 0, an ASCII digit, or -1."""
        for name in names:
            played = await self.play(name, escape)
            if played.result != 0:
                return played.result
        return 0

    async def wait_digit(self, timeout_ms: int) -> int:
        """WAIT FOR DIGIT semantics: ASCII code, 0 on timeout, -1 on hang-up; <0 waits forever."""
        heard = await self.channel.listen(None if timeout_ms < 0 else timeout_ms / 1000, ANY_DIGIT)
        if heard.hangup:
            return -1
        return ord(heard.digit) if heard.digit is not None else 0

    async def read_digits(
        self, prompt: str, max_digits: int, first_ms: int, inter_ms: int
    ) -> tuple[int, str]:
        """ast_app_getdata_full: returns (status, digits); status 0 done (# or max digits),
        1 timeout, 3 ``#`` alone, -1 hang-up or missing prompt."""
        if self.channel.hung_up:
            return -1, ""
        digits = ""
        pending: int = 0
        if prompt:
            if self.asterisk.sounds.samples(prompt) is None:
                return -1, ""
            played = await self.play(prompt, ANY_DIGIT)
            pending = played.result
        wait_ms = first_ms
        while True:
            code = pending if pending else await self.wait_digit(wait_ms)
            pending = 0
            if code < 0:
                return -1, digits
            if code == 0:
                return 1, digits
            digit = chr(code)
            if digit == "#":
                return (3 if not digits else 0), digits
            digits += digit
            if len(digits) >= max_digits:
                return 0, digits
            wait_ms = inter_ms

    def date_files(self, seconds: int, with_date: bool, with_time: bool) -> list[str]:
        """The sounds Asterisk's English ``say date``/``say time`` play."""
        moment = time.gmtime(seconds)
        files: list[str] = []
        if with_date:
            files += [f"digits/day-{(moment.tm_wday + 1) % 7}", f"digits/mon-{moment.tm_mon - 1}"]
            files += number_files(moment.tm_mday)
            if not with_time:  # ast_say_date_en ends with the year ("ABdY")
                files += number_files(moment.tm_year)
        if with_time:
            hour = moment.tm_hour % 12 or 12
            files += number_files(hour)
            if moment.tm_min:
                if moment.tm_min < 10:
                    files.append("digits/oh")
                files += number_files(moment.tm_min)
            files.append("digits/p-m" if moment.tm_hour >= 12 else "digits/a-m")
        return files


def number_files(number: int) -> list[str]:
    """The sounds of an English ``say number``."""
    if number < 0:
        return ["digits/minus", *number_files(-number)]
    files: list[str] = []
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if number >= size:
            files += [*number_files(number // size), f"digits/{word}"]
            number %= size
    if number >= 20:
        files.append(f"digits/{number - number % 10}")
        number %= 10
        if number:
            files.append(f"digits/{number}")
    elif number or not files:
        files.append(f"digits/{number}")
    return files


#: The sounds of the symbols ``say alpha`` / ``say phonetic`` / ``say digits`` say (say.c).
SYMBOL_FILES = {
    "*": "digits/star", "#": "digits/pound", "!": "letters/exclaimation-point",
    "@": "letters/at", "$": "letters/dollar", "-": "letters/dash", ".": "letters/dot",
    "=": "letters/equals", "+": "letters/plus", "/": "letters/slash", " ": "letters/space",
}


def character_files(text: str, phonetic: bool = False) -> list[str]:
    """The sounds of ``say alpha`` / ``say phonetic`` / ``say digits``."""
    files = []
    for char in text.lower():
        if "0" <= char <= "9":
            files.append(f"digits/{char}")
        elif "a" <= char <= "z":
            files.append(f"phonetic/{char}_p" if phonetic else f"letters/{char}")
        elif char in SYMBOL_FILES:
            files.append(SYMBOL_FILES[char])
    return files
