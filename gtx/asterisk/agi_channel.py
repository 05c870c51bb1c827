"""The FastAGI adapter of :class:`gtx.channel.Channel`.

Hang-up detection lives here and in the protocol's ``hung_up`` state, nowhere else: the
asynchronous ``HANGUP`` notice and ``511`` replies mark the protocol hung up, a ``result=-1`` of
a command that needs the caller (GET DATA, WAIT FOR DIGIT, SAY *, RECORD FILE's ``(hangup)``,
EXEC of Wait and MusicOnHold) marks it too, and a lost connection fails with
:class:`ChannelGone`. Other applications (ConfBridge, an exec'd one) may return 0 when the
caller hung up: that hang-up shows on the next command.

``STREAM FILE`` answers ``result=-1 endpos=0`` both for a missing file and for a hang-up; a
``CHANNEL STATUS`` (answered ``511`` on a dead channel) tells them apart.
"""

from __future__ import annotations

import re
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail

from gtx.asterisk.agi_commands import AGICommands, DigitReply
from gtx.asterisk.agi_parse import CommandSyntaxError
from gtx.channel import (
    DTMF_DIGITS,
    CallInfo,
    ChannelHangup,
    DialResult,
    PlayResult,
    RecordResult,
)

_T = TypeVar("_T")

#: A dial string: TECH/resource, no separators Dial() would split on.
_DIAL_TARGET = re.compile(r"^[A-Za-z0-9_-]+/[^\s&,|()\"\\]+$")
#: Dial() option letters (with parenthesised arguments) that cannot break out of the argument.
_DIAL_OPTIONS = re.compile(r"^[A-Za-z0-9()^:#*._@-]*$")
#: Caller id forms accepted by Dial's f(): a number, or "Name <number>".
_CALLER_ID = re.compile(r"^[A-Za-z0-9 +*#.'_<>-]{1,80}$")
#: A dialplan name (context, extension, queue, conference, music class, profile, menu).
_DIALPLAN_NAME = re.compile(r"^[A-Za-z0-9_+*#.@-]+$")
_SAY_KINDS = ("digits", "number", "alpha", "phonetic", "date", "time")
_CONFERENCE_OPTIONS = ("bridge_profile", "user_profile", "menu")


def _name(value: str, what: str) -> str:
    if not _DIALPLAN_NAME.match(value):
        raise CommandSyntaxError(f"invalid {what}: {value!r}")
    return value


def _seconds(value: float) -> str:
    """Seconds as Asterisk applications read them (``5``, ``2.5``)."""
    return f"{value:g}"


class FastAGIChannel:
    """A :class:`gtx.channel.Channel` driven over one FastAGI connection."""

    def __init__(self, info: CallInfo, commands: AGICommands) -> None:
        self._info = info
        self.commands = commands
        self._protocol = commands.protocol
        self._limits = commands.limits

    @property
    def info(self) -> CallInfo:
        """The call as Asterisk described it in the AGI environment."""
        return self._info

    @property
    def hung_up(self) -> bool:
        """True once the caller is known to have hung up (or the connection is gone)."""
        return self._protocol.hung_up

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> Deferred[_T]:
        return Deferred.fromCoroutine(coroutine)

    def _hung_up_on(self, command: str) -> ChannelHangup:
        """The one place a hang-up result turns into an error."""
        self._protocol.mark_hung_up()
        return ChannelHangup(f"{command}: the caller hung up")

    def _digit(self, reply: DigitReply, command: str) -> str | None:
        if reply.result < 0:
            raise self._hung_up_on(command)
        return reply.digit

    # --- call control ---------------------------------------------------------------------

    def answer(self) -> Deferred[None]:
        """Answer the channel."""

        async def answer() -> None:
            if await self.commands.answer() < 0:
                raise self._hung_up_on("ANSWER")

        return self._run(answer())

    def hangup(self, cause: int | None = None) -> Deferred[None]:
        """Hang up; with a Q.850 ``cause``, through the Hangup() application."""

        async def hangup() -> None:
            if cause is None:
                await self.commands.hangup()
            else:
                await self.commands.exec("Hangup", [str(int(cause))], self._limits.command_timeout)
            self._protocol.mark_hung_up()

        return self._run(hangup())

    def transfer(self, context: str, extension: str, priority: int) -> Deferred[None]:
        """Set where the dialplan continues when the AGI returns: SET CONTEXT, SET EXTENSION,
        SET PRIORITY (Asterisk compensates for the increment after the AGI application)."""

        async def transfer() -> None:
            # Validate everything first: a half-applied transfer would land somewhere else.
            target = (_name(context, "context"), _name(extension, "extension"))
            if int(priority) < 1:
                raise CommandSyntaxError(f"a priority is 1 or more, got {priority!r}")
            await self.commands.set_context(target[0])
            await self.commands.set_extension(target[1])
            await self.commands.set_priority(int(priority))

        return self._run(transfer())

    # --- media ----------------------------------------------------------------------------

    def stream(self, file: str, escape_digits: str = "") -> Deferred[PlayResult]:
        """Play one file; ``played=False`` when Asterisk could not play it (missing file)."""

        async def stream() -> PlayResult:
            reply = await self.commands.stream_file(file, escape_digits)
            if reply.result >= 0:
                return PlayResult(digit=reply.digit, played=True)
            if self.hung_up:
                raise self._hung_up_on("STREAM FILE")
            # -1 is a missing file or a hang-up: a live channel answers CHANNEL STATUS, a dead
            # one answers 511 (raised as ChannelHangup by the command layer).
            await self.commands.channel_status()
            return PlayResult(digit=None, played=False)

        return self._run(stream())

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        """Wait up to ``timeout`` seconds for one digit."""

        async def wait_for_digit() -> str | None:
            reply = await self.commands.wait_for_digit(int(timeout * 1000))
            return self._digit(reply, "WAIT FOR DIGIT")

        return self._run(wait_for_digit())

    def say(self, kind: str, value: str, escape_digits: str = "") -> Deferred[str | None]:
        """Say ``value`` as digits, number, alpha, phonetic, date or time."""
        if kind not in _SAY_KINDS:
            return fail(CommandSyntaxError(f"say: kind must be one of {_SAY_KINDS}, got {kind!r}"))

        async def say() -> str | None:
            if kind == "digits" and not str(value).isdigit():
                # SAY DIGITS takes a number only; for * and # SAY ALPHA says the very same
                # files (digits/N, digits/star, digits/pound) as Asterisk's digit strings.
                reply = await self.commands.say_alpha(str(value), escape_digits)
            elif kind == "digits":
                reply = await self.commands.say_digits(str(value), escape_digits)
            elif kind == "alpha":
                reply = await self.commands.say_alpha(str(value), escape_digits)
            elif kind == "phonetic":
                reply = await self.commands.say_phonetic(str(value), escape_digits)
            else:
                try:
                    number = int(value)
                except ValueError:
                    raise CommandSyntaxError(
                        f"say {kind}: expected an integer, got {value!r}"
                    ) from None
                if kind == "number":
                    reply = await self.commands.say_number(number, escape_digits)
                elif kind == "date":
                    reply = await self.commands.say_date(number, escape_digits)
                else:
                    reply = await self.commands.say_time(number, escape_digits)
            return self._digit(reply, f"SAY {kind.upper()}")

        return self._run(say())

    def record(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        max_seconds: float | None,
        silence_seconds: int | None,
        beep: bool,
    ) -> Deferred[RecordResult]:
        """Record to ``path``; a hang-up during the recording is reported as reason
        ``hangup`` (the file is kept) and marks the channel hung up."""

        async def record() -> RecordResult:
            timeout_ms = -1 if max_seconds is None else int(max_seconds * 1000)
            reply = await self.commands.record_file(
                path, fmt, escape_digits, timeout_ms, beep, silence_seconds
            )
            if reply.reason == "hangup":
                self._protocol.mark_hung_up()
            return RecordResult(reason=reply.reason, digit=reply.digit, endpos=reply.endpos)

        return self._run(record())

    def music_on_hold(self, moh_class: str | None, seconds: float | None) -> Deferred[None]:
        """MusicOnHold(class,duration); without ``seconds``, SET MUSIC ON (the next playback
        stops it)."""

        async def music_on_hold() -> None:
            moh = _name(moh_class, "music class") if moh_class else ""
            if seconds is None:
                await self.commands.set_music(True, moh or None)
                return
            bound = seconds + self._limits.command_timeout
            if await self.commands.exec("MusicOnHold", [moh, _seconds(seconds)], bound) < 0:
                raise self._hung_up_on("MusicOnHold")  # -1 only when the caller hangs up

        return self._run(music_on_hold())

    def wait(self, seconds: float) -> Deferred[None]:
        """Wait(seconds)."""

        async def wait() -> None:
            bound = seconds + self._limits.command_timeout
            if await self.commands.exec("Wait", [_seconds(seconds)], bound) < 0:
                raise self._hung_up_on("Wait")  # ast_safe_sleep: -1 only on a hang-up

        return self._run(wait())

    def send_dtmf(self, digits: str) -> Deferred[None]:
        """SendDTMF(digits); ``w`` is SendDTMF's half-second pause."""
        if not digits or any(char not in DTMF_DIGITS + "w" for char in digits):
            return fail(CommandSyntaxError(f"send_dtmf: not DTMF digits: {digits!r}"))
        bound = len(digits) * 1.0 + self._limits.command_timeout
        return self._exec_none("SendDTMF", [digits], bound)

    def _exec_none(self, application: str, args: list[str], bound: float) -> Deferred[None]:
        return self.commands.exec(application, args, bound).addCallback(lambda _: None)

    # --- applications that connect the caller elsewhere -----------------------------------

    def dial(
        self,
        targets: Sequence[str],
        timeout: int | None,
        options: str,
        caller_id: str | None,
        time_limit: int | None,
    ) -> Deferred[DialResult]:
        """``EXEC Dial "T1&T2,timeout,options"`` then DIALSTATUS, ANSWEREDTIME, DIALEDTIME.

        ``time_limit`` adds ``L(ms)``; ``caller_id`` adds ``f(caller_id)``, which forces the
        caller id sent to the called party without changing the caller's own channel.
        """

        async def dial() -> DialResult:
            dial_options = self._dial_options(options, caller_id, time_limit)
            if not targets or not all(_DIAL_TARGET.match(target) for target in targets):
                raise CommandSyntaxError(f"dial: invalid targets {list(targets)!r}")
            args = ["&".join(targets), "" if timeout is None else str(int(timeout)), dial_options]
            while args and not args[-1]:
                args.pop()
            if timeout is not None and time_limit is not None:
                bound = timeout + time_limit + self._limits.command_timeout
            else:
                bound = self._limits.application_timeout
            await self.commands.exec("Dial", args, bound)
            status = await self.commands.get_variable("DIALSTATUS")
            answered = await self.commands.get_variable("ANSWEREDTIME")
            dialed = await self.commands.get_variable("DIALEDTIME")
            return DialResult(
                status=status or "",
                answered_seconds=_int_or_zero(answered),
                dialed_seconds=_int_or_zero(dialed),
            )

        return self._run(dial())

    @staticmethod
    def _dial_options(options: str, caller_id: str | None, time_limit: int | None) -> str:
        if not _DIAL_OPTIONS.match(options):
            raise CommandSyntaxError(f"dial: invalid options {options!r}")
        result = options
        if time_limit is not None:
            if int(time_limit) <= 0:
                raise CommandSyntaxError(f"dial: time_limit must be positive, got {time_limit}")
            result += f"L({int(time_limit) * 1000})"
        if caller_id is not None:
            if not _CALLER_ID.match(caller_id):
                raise CommandSyntaxError(f"dial: invalid caller_id {caller_id!r}")
            result += f"f({caller_id})"
        return result

    def queue(self, name: str, timeout: int | None, options: str) -> Deferred[str]:
        """Queue(name,options,,,timeout) then QUEUESTATUS ("" when not set)."""

        async def queue() -> str:
            if not _DIAL_OPTIONS.match(options):
                raise CommandSyntaxError(f"queue: invalid options {options!r}")
            args = [_name(name, "queue name"), options]
            if timeout is not None:
                args += ["", "", str(int(timeout))]
            await self.commands.exec("Queue", args, self._limits.application_timeout)
            return await self.commands.get_variable("QUEUESTATUS") or ""

        return self._run(queue())

    def conference(self, name: str, options: Mapping[str, str]) -> Deferred[None]:
        """ConfBridge(name[,bridge_profile[,user_profile[,menu]]])."""

        async def conference() -> None:
            unknown = sorted(set(options) - set(_CONFERENCE_OPTIONS))
            if unknown:
                raise CommandSyntaxError(f"conference: unknown options {unknown}")
            args = [_name(name, "conference name")]
            args += [
                _name(options[key], key) if options.get(key) else "" for key in _CONFERENCE_OPTIONS
            ]
            while len(args) > 1 and not args[-1]:
                args.pop()
            await self.commands.exec("ConfBridge", args, self._limits.application_timeout)

        return self._run(conference())

    def exec(self, application: str, args: Sequence[str]) -> Deferred[int]:
        """Run a dialplan application (UnknownApplication if Asterisk has none such)."""
        return self.commands.exec(application, args)

    # --- variables (these work on a dead channel too) -------------------------------------

    def get_variable(self, name: str) -> Deferred[str | None]:
        """A channel variable, or None when not set."""
        return self.commands.get_variable(name)

    def get_full_variable(self, expression: str) -> Deferred[str | None]:
        """Evaluate a ``${…}`` expression on the channel."""
        return self.commands.get_full_variable(expression)

    def set_variable(self, name: str, value: str) -> Deferred[None]:
        """Set a channel variable."""
        return self.commands.set_variable(name, value)

    def set_variables(self, values: Mapping[str, str]) -> Deferred[None]:
        """Set variables one SET VARIABLE at a time (AGI has no command for several)."""

        async def set_all() -> None:
            for name, value in values.items():
                await self.commands.set_variable(name, value)

        return self._run(set_all())

    def verbose(self, message: str, level: int = 1) -> Deferred[None]:
        """Write to Asterisk's verbose log."""
        return self.commands.verbose(message, level)


def _int_or_zero(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
