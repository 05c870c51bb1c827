"""The FastAGI command API: one typed method per AGI command.

Each method writes exactly one command line and returns a Deferred of the parsed result. Reply
codes are mapped here, once: ``510`` → :class:`CommandFailed` ("unknown command"), ``520`` →
:class:`CommandFailed` with Asterisk's usage text, ``511`` → :class:`ChannelHangup` (the command
needs a live channel and the channel is dead). What a ``result=`` value *means* (a digit, a
hang-up, a missing file) is left to the caller, :class:`gtx.asterisk.agi_channel.FastAGIChannel`.

Formatting follows what Asterisk's own examples and the recorded transcripts send: plain tokens
bare (``GET DATA beep 1500 4``), escape digits, values and messages always quoted
(``STREAM FILE hello-world "#"``, ``SET VARIABLE GTX_STATE "step=2;x=y"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail

from gtx.asterisk.agi_parse import (
    AGIReply,
    CommandSyntaxError,
    digit_from_result,
    format_command,
    quote_arg,
    token_arg,
)
from gtx.asterisk.agi_protocol import FastAGIProtocol
from gtx.channel import DTMF_DIGITS, ChannelHangup, CommandFailed, UnknownApplication

#: RECORD FILE's reasons (the word in parentheses) mapped to gtx's.
_RECORD_REASONS = {
    "dtmf": "dtmf",
    "timeout": "timeout",
    "hangup": "hangup",
    "writefile": "error",
    "waitfor": "error",
    "randomerror": "error",
}


@dataclass(frozen=True)
class DigitReply:
    """Reply of a command that can be interrupted by a digit (STREAM FILE, SAY *, WAIT FOR
    DIGIT): ``result`` is 0 (no digit), the digit's ASCII code, or -1 (hang-up or error)."""

    result: int
    endpos: int | None = None

    @property
    def digit(self) -> str | None:
        """The digit pressed, if any."""
        return digit_from_result(self.result)


@dataclass(frozen=True)
class GetDataReply:
    """Reply of GET DATA: the digits entered; ``timed_out`` when input ended on the timeout;
    ``failed`` on ``result=-1`` (hang-up or error)."""

    digits: str
    timed_out: bool
    failed: bool


@dataclass(frozen=True)
class RecordFileReply:
    """Reply of RECORD FILE: ``reason`` is dtmf, timeout, hangup or error."""

    result: int
    reason: str
    endpos: int

    @property
    def digit(self) -> str | None:
        """The digit that ended the recording (reason ``dtmf``)."""
        return digit_from_result(self.result) if self.reason == "dtmf" else None


def escape_app_arg(value: str) -> str:
    """Escape one application argument so that its ``,`` ``"`` and ``\\`` stay literal when
    the application splits its arguments (Asterisk removes the backslashes).

    Parentheses and brackets group text in that split (``L(60000)``), so they are kept as they
    are, and must be balanced: an unbalanced one would swallow the following arguments.
    """
    depth = {"(": 0, "[": 0}
    for char in value:
        if char in "([":
            depth[char] += 1
        elif char in ")]":
            opening = "(" if char == ")" else "["
            depth[opening] -= 1
            if depth[opening] < 0:
                break
    if any(depth.values()):
        raise CommandSyntaxError(f"unbalanced brackets in an application argument: {value!r}")
    return "".join("\\" + char if char in ',"\\' else char for char in value)


class Quoted(str):
    """An argument always sent in double quotes (values, messages, application arguments)."""

    __slots__ = ()


class EscapeDigits(str):
    """Digits that interrupt playback or recording; always quoted (``""`` for none)."""

    __slots__ = ()


def format_arg(arg: str | int) -> str:
    """Format one argument: ints as numbers, :class:`EscapeDigits` checked and quoted,
    :class:`Quoted` quoted, anything else bare when it is a plain token."""
    if isinstance(arg, int):
        return str(arg)
    if isinstance(arg, EscapeDigits):
        if any(char not in DTMF_DIGITS for char in arg):
            raise CommandSyntaxError(f"escape digits must be DTMF digits, got {str(arg)!r}")
        return quote_arg(arg)
    if isinstance(arg, Quoted):
        return quote_arg(arg)
    return token_arg(arg)


def _milliseconds(value: int) -> int:
    if value < -1:
        raise CommandSyntaxError(f"a timeout is -1 (none) or a number of ms, got {value}")
    return int(value)


class AGICommands:
    """Typed AGI commands over one :class:`FastAGIProtocol`.

    Arguments are formatted by :func:`format_arg`; an argument that cannot be sent (a newline,
    a non-DTMF escape digit) fails the returned Deferred with :class:`CommandSyntaxError`
    before anything is written.
    """

    def __init__(self, protocol: FastAGIProtocol) -> None:
        self.protocol = protocol
        self.limits = protocol.limits

    def send(
        self, command: str, *args: str | int, timeout: float | None = None
    ) -> Deferred[AGIReply]:
        """Send ``command`` (e.g. ``"GET VARIABLE"``) with ``args``; fires with the ``200``
        reply, fails with CommandFailed (510, 520, other codes) or ChannelHangup (511)."""
        try:
            line = format_command(command, *(format_arg(arg) for arg in args))
        except CommandSyntaxError as error:
            return fail(error)
        return self.protocol.send_command(line, timeout).addCallback(_check_reply, command)

    # --- call control ---------------------------------------------------------------------

    def answer(self) -> Deferred[int]:
        """ANSWER → 0, or -1 when the channel failed."""
        return self._int(self.send("ANSWER"))

    def hangup(self, channel: str | None = None) -> Deferred[int]:
        """HANGUP [channel] → 1, or -1 when no such channel."""
        return self._int(self.send("HANGUP", *(() if channel is None else (channel,))))

    def channel_status(self) -> Deferred[int]:
        """CHANNEL STATUS → the channel state (6 is up)."""
        return self._int(self.send("CHANNEL STATUS"))

    def exec(
        self, application: str, args: Sequence[str] = (), timeout: float | None = None
    ) -> Deferred[int]:
        """EXEC application "arg1,arg2" → the application's result; fails with
        UnknownApplication on ``result=-2``. Each argument is escaped with
        :func:`escape_app_arg`. The reply comes when the application returns, so the default
        bound is ``limits.application_timeout``."""
        try:
            joined = Quoted(",".join(escape_app_arg(arg) for arg in args))
        except CommandSyntaxError as error:
            return fail(error)
        bound = self.limits.application_timeout if timeout is None else timeout

        def check(reply: AGIReply) -> int:
            if reply.result_int == -2:
                raise UnknownApplication(f"EXEC {application}", "no such application")
            return reply.result_int

        return self.send("EXEC", application, joined, timeout=bound).addCallback(check)

    def set_context(self, context: str) -> Deferred[None]:
        """SET CONTEXT: where the dialplan continues when the AGI returns."""
        return self._none(self.send("SET CONTEXT", context))

    def set_extension(self, extension: str) -> Deferred[None]:
        """SET EXTENSION."""
        return self._none(self.send("SET EXTENSION", extension))

    def set_priority(self, priority: int | str) -> Deferred[None]:
        """SET PRIORITY (a number or a label). While a dialplan application runs Asterisk
        stores one less (``ast_explicit_goto`` in the PBX autoloop), so the dialplan resumes
        exactly at ``priority`` once the AGI returns."""
        return self._none(self.send("SET PRIORITY", priority))

    def set_callerid(self, callerid: str) -> Deferred[None]:
        """SET CALLERID (``5551234`` or ``"Name" <5551234>``)."""
        return self._none(self.send("SET CALLERID", callerid))

    def set_music(self, on: bool, moh_class: str | None = None) -> Deferred[None]:
        """SET MUSIC ON [class] / SET MUSIC OFF."""
        if not on:
            return self._none(self.send("SET MUSIC", "OFF"))
        return self._none(self.send("SET MUSIC", "ON", *((moh_class,) if moh_class else ())))

    # --- media ----------------------------------------------------------------------------

    def stream_file(
        self, file: str, escape_digits: str = "", offset: int | None = None
    ) -> Deferred[DigitReply]:
        """STREAM FILE file "digits" [offset] → result 0 / digit code / -1, and endpos.
        A missing file and a hang-up both answer ``result=-1 endpos=0``."""
        args: list[str | int] = [file, EscapeDigits(escape_digits)]
        if offset is not None:
            args.append(int(offset))
        return self._digit(self.send("STREAM FILE", *args, timeout=self.limits.media_timeout))

    def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> Deferred[GetDataReply]:
        """GET DATA file [timeout_ms] [max_digits] (the digits, without the ``#`` that ends
        input)."""
        args: list[str | int] = [file]
        if timeout_ms is not None or max_digits is not None:
            args.append(int(timeout_ms or 0))  # 0: Asterisk's default wait between digits
        if max_digits is not None:
            args.append(int(max_digits))
        per_digit = (timeout_ms or 5000) / 1000.0
        bound = self.limits.media_timeout + per_digit * ((max_digits or 64) + 1)

        def parse(reply: AGIReply) -> GetDataReply:
            if reply.result == "-1":
                return GetDataReply(digits="", timed_out=False, failed=True)
            return GetDataReply(reply.result, timed_out=reply.data == "timeout", failed=False)

        return self.send("GET DATA", *args, timeout=bound).addCallback(parse)

    def wait_for_digit(self, timeout_ms: int) -> Deferred[DigitReply]:
        """WAIT FOR DIGIT timeout_ms (-1: no timeout, bounded by application_timeout)."""
        try:
            milliseconds = _milliseconds(timeout_ms)
        except CommandSyntaxError as error:
            return fail(error)
        if milliseconds < 0:
            bound = self.limits.application_timeout
        else:
            bound = milliseconds / 1000.0 + self.limits.command_timeout
        return self._digit(self.send("WAIT FOR DIGIT", milliseconds, timeout=bound))

    def say_digits(self, digits: str, escape_digits: str = "") -> Deferred[DigitReply]:
        """SAY DIGITS 123 "escape"."""
        if not digits.isdigit():
            return fail(CommandSyntaxError(f"SAY DIGITS needs digits, got {digits!r}"))
        return self._say("DIGITS", digits, escape_digits)

    def say_number(
        self, number: int, escape_digits: str = "", gender: str | None = None
    ) -> Deferred[DigitReply]:
        """SAY NUMBER 42 "escape" [gender]."""
        return self._say("NUMBER", int(number), escape_digits, *((gender,) if gender else ()))

    def say_alpha(self, text: str, escape_digits: str = "") -> Deferred[DigitReply]:
        """SAY ALPHA text "escape"."""
        return self._say("ALPHA", text, escape_digits)

    def say_phonetic(self, text: str, escape_digits: str = "") -> Deferred[DigitReply]:
        """SAY PHONETIC text "escape"."""
        return self._say("PHONETIC", text, escape_digits)

    def say_date(self, epoch: int, escape_digits: str = "") -> Deferred[DigitReply]:
        """SAY DATE seconds-since-epoch "escape"."""
        return self._say("DATE", int(epoch), escape_digits)

    def say_time(self, epoch: int, escape_digits: str = "") -> Deferred[DigitReply]:
        """SAY TIME seconds-since-epoch "escape"."""
        return self._say("TIME", int(epoch), escape_digits)

    def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        beep: bool = False,
        silence_s: int | None = None,
    ) -> Deferred[RecordFileReply]:
        """RECORD FILE path fmt "digits" timeout_ms 0 [BEEP] [s=silence].

        The sample offset 0 is always written so that ``BEEP`` is never read as an offset.
        """
        try:
            milliseconds = _milliseconds(timeout_ms)
        except CommandSyntaxError as error:
            return fail(error)
        args: list[str | int] = [path, fmt, EscapeDigits(escape_digits), milliseconds, 0]
        if beep:
            args.append("BEEP")
        if silence_s:
            args.append(f"s={int(silence_s)}")
        if milliseconds < 0:
            bound = self.limits.application_timeout
        else:
            bound = milliseconds / 1000.0 + self.limits.media_timeout

        def parse(reply: AGIReply) -> RecordFileReply:
            reason = _RECORD_REASONS.get(reply.data or "")
            if reason is None:
                reason = "error" if reply.result_int < 0 else "timeout"
            return RecordFileReply(reply.result_int, reason, reply.endpos or 0)

        return self.send("RECORD FILE", *args, timeout=bound).addCallback(parse)

    # --- variables, database, log ---------------------------------------------------------

    def get_variable(self, name: str) -> Deferred[str | None]:
        """GET VARIABLE name → its value, or None when not set (``result=0``)."""
        return self._value(self.send("GET VARIABLE", name))

    def get_full_variable(
        self, expression: str, channel: str | None = None
    ) -> Deferred[str | None]:
        """GET FULL VARIABLE expression [channel] → the evaluated text (None: no channel)."""
        extra = () if channel is None else (channel,)
        return self._value(self.send("GET FULL VARIABLE", expression, *extra))

    def set_variable(self, name: str, value: str) -> Deferred[None]:
        """SET VARIABLE name "value"."""
        return self._none(self.send("SET VARIABLE", name, Quoted(value)))

    def verbose(self, message: str, level: int = 1) -> Deferred[None]:
        """VERBOSE "message" level."""
        return self._none(self.send("VERBOSE", Quoted(message), int(level)))

    def database_get(self, family: str, key: str) -> Deferred[str | None]:
        """DATABASE GET family key → the value, or None."""
        return self._value(self.send("DATABASE GET", family, key))

    def database_put(self, family: str, key: str, value: str) -> Deferred[bool]:
        """DATABASE PUT family key value → True when stored."""
        return self._true(self.send("DATABASE PUT", family, key, value))

    def database_del(self, family: str, key: str) -> Deferred[bool]:
        """DATABASE DEL family key → True when a key was removed."""
        return self._true(self.send("DATABASE DEL", family, key))

    # --- helpers --------------------------------------------------------------------------

    def _say(
        self, kind: str, value: str | int, escape_digits: str, *extra: str
    ) -> Deferred[DigitReply]:
        args = (value, EscapeDigits(escape_digits), *extra)
        return self._digit(self.send(f"SAY {kind}", *args, timeout=self.limits.media_timeout))

    @staticmethod
    def _int(deferred: Deferred[AGIReply]) -> Deferred[int]:
        return deferred.addCallback(lambda reply: reply.result_int)

    @staticmethod
    def _true(deferred: Deferred[AGIReply]) -> Deferred[bool]:
        return deferred.addCallback(lambda reply: reply.result_int == 1)

    @staticmethod
    def _none(deferred: Deferred[AGIReply]) -> Deferred[None]:
        return deferred.addCallback(lambda reply: None)

    @staticmethod
    def _digit(deferred: Deferred[AGIReply]) -> Deferred[DigitReply]:
        return deferred.addCallback(lambda reply: DigitReply(reply.result_int, reply.endpos))

    @staticmethod
    def _value(deferred: Deferred[AGIReply]) -> Deferred[str | None]:
        def value(reply: AGIReply) -> str | None:
            if reply.result_int != 1:
                return None
            return reply.data if reply.data is not None else ""

        return deferred.addCallback(value)


def _check_reply(reply: AGIReply, command: str) -> AGIReply:
    if reply.code == 200:
        return reply
    if reply.code == 511:
        raise ChannelHangup(f"{command}: {reply.text or 'dead channel'}")
    if reply.code == 510:
        raise CommandFailed(command, "unknown command")
    if reply.code == 520:
        raise CommandFailed(command, reply.text or "invalid command syntax")
    raise CommandFailed(command, f"unexpected reply {reply.code} {reply.text}".rstrip())
