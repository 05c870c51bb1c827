"""The channel interface that the IVR engine drives.

A :class:`Channel` is one live Asterisk channel seen from gtx. The FastAGI adapter
(:mod:`gtx.asterisk.agi_channel`) implements it today; an ARI adapter will implement the same
interface, so nothing under :mod:`gtx.ivr` knows how commands reach Asterisk.

Every method returns a Deferred. Once the caller has hung up, every method that needs a live
channel fails with :class:`ChannelHangup`; ``get_variable``, ``get_full_variable`` and
``set_variable`` keep working on a dead channel (Asterisk allows them), so the engine can still
write the session's final state to the channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred

#: The DTMF digits a caller can press.
DTMF_DIGITS = "0123456789*#ABCD"


class ChannelError(Exception):
    """Base class of the errors a channel reports."""


class ChannelHangup(ChannelError):
    """The caller hung up (or the channel went away): the session must stop driving it."""


class ChannelGone(ChannelHangup):
    """The connection to Asterisk itself was lost (socket closed, peer stopped answering)."""


class CommandFailed(ChannelError):
    """Asterisk refused or failed a command on a live channel (bad arguments, unknown command)."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: {reason}")
        self.command = command
        self.reason = reason


class UnknownApplication(CommandFailed):
    """``exec`` named a dialplan application that this Asterisk does not have."""


@dataclass(frozen=True)
class CallInfo:
    """What Asterisk tells about a call when it hands it to gtx (the AGI environment)."""

    channel: str
    uniqueid: str
    caller_number: str = ""
    caller_name: str = ""
    called: str = ""  # the dialled number (dnid); "" when Asterisk says "unknown"
    context: str = ""
    extension: str = ""
    priority: str = ""
    language: str = "en"
    accountcode: str = ""
    script: str = ""  # the app name: the path of agi://HOST:PORT/SCRIPT without the query
    query: Mapping[str, str] = field(default_factory=dict)  # decoded query string
    args: Sequence[str] = ()  # AGI(…, arg1, arg2) → ["arg1", "arg2"]
    asterisk: str = ""  # the configured name of the Asterisk server the call is on
    environment: Mapping[str, str] = field(default_factory=dict)  # the raw environment


@dataclass(frozen=True)
class PlayResult:
    """Outcome of streaming one sound file."""

    digit: str | None  # the digit that interrupted playback, if any
    played: bool  # False when the file could not be played (missing, bad format)


@dataclass(frozen=True)
class RecordResult:
    """Outcome of recording a file."""

    reason: str  # "dtmf", "timeout" (max length or silence), "hangup" or "error"
    digit: str | None  # the terminating digit when reason == "dtmf"
    endpos: int  # samples written


@dataclass(frozen=True)
class DialResult:
    """Outcome of Dial(): DIALSTATUS and the times Asterisk reports."""

    # ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS
    status: str
    answered_seconds: int  # ANSWEREDTIME (0 when not answered)
    dialed_seconds: int  # DIALEDTIME


class Channel(Protocol):
    """One live channel, driven by a session. See the module docstring for hang-up rules."""

    @property
    def info(self) -> CallInfo: ...

    def answer(self) -> Deferred[None]: ...

    def hangup(self, cause: int | None = None) -> Deferred[None]:
        """Hang the channel up (with a Q.850 cause if given)."""

    def stream(self, file: str, escape_digits: str = "") -> Deferred[PlayResult]:
        """Play one sound file (no extension); a digit in ``escape_digits`` interrupts it."""

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        """Wait up to ``timeout`` seconds for one DTMF digit; None when none came."""

    def say(self, kind: str, value: str, escape_digits: str = "") -> Deferred[str | None]:
        """Say ``value``. ``kind`` is digits, number, alpha, phonetic, date or time (date and time
        take seconds since the epoch). Returns the interrupting digit, if any."""

    def record(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        max_seconds: float | None,
        silence_seconds: int | None,
        beep: bool,
    ) -> Deferred[RecordResult]:
        """Record to ``path`` (no extension) in format ``fmt``."""

    def dial(
        self,
        targets: Sequence[str],
        timeout: int | None,
        options: str,
        caller_id: str | None,
        time_limit: int | None,
    ) -> Deferred[DialResult]:
        """Dial one or more targets (rung together); ``time_limit`` caps the answered call."""

    def queue(self, name: str, timeout: int | None, options: str) -> Deferred[str]:
        """Put the caller in an Asterisk queue; returns QUEUESTATUS ("" once bridged and done)."""

    def conference(self, name: str, options: Mapping[str, str]) -> Deferred[None]:
        """Join a ConfBridge conference until the caller leaves it."""

    def transfer(self, context: str, extension: str, priority: int) -> Deferred[None]:
        """Set where the dialplan continues once gtx lets go of the channel."""

    def music_on_hold(self, moh_class: str | None, seconds: float | None) -> Deferred[None]:
        """Play music on hold for ``seconds`` (None: until the next action stops it)."""

    def wait(self, seconds: float) -> Deferred[None]: ...

    def send_dtmf(self, digits: str) -> Deferred[None]: ...

    def exec(self, application: str, args: Sequence[str]) -> Deferred[int]:
        """Run a dialplan application; fails with UnknownApplication if Asterisk has none such."""

    def get_variable(self, name: str) -> Deferred[str | None]:
        """A channel variable's value, or None when it is not set. Works on a dead channel."""

    def get_full_variable(self, expression: str) -> Deferred[str | None]:
        """Evaluate a ``${…}`` expression on the channel. Works on a dead channel."""

    def set_variable(self, name: str, value: str) -> Deferred[None]:
        """Set a channel variable. Works on a dead channel."""

    def set_variables(self, values: Mapping[str, str]) -> Deferred[None]:
        """Set several channel variables, in order (one request where the backend can: ARI's
        ``setChannelVars``; one command each over FastAGI). Works on a dead channel."""

    def verbose(self, message: str, level: int = 1) -> Deferred[None]: ...

    @property
    def hung_up(self) -> bool:
        """True once the caller is known to have hung up."""
