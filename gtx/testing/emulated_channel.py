"""The state of one emulated channel, and the one media primitive every command is built on.

:meth:`EmulatedChannel.listen` waits for media to end (or a timeout), for a DTMF digit among a
set of escape digits, or for the caller to hang up — whichever comes first — on the call's
:class:`~gtx.testing.timeline.Timeline`. STREAM FILE, GET DATA, WAIT FOR DIGIT, RECORD FILE,
Dial… are sequences of ``listen`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred

from gtx.testing.timeline import Scheduled, Timeline

#: Channel states as CHANNEL STATUS reports them (enum ast_channel_state).
STATE_RINGING = 4
STATE_UP = 6

#: Every DTMF digit: an escape set that lets any digit through (AST_DIGIT_ANY).
ANY_DIGIT = "0123456789*#ABCD"


@dataclass(frozen=True)
class Heard:
    """How a :meth:`EmulatedChannel.listen` ended."""

    elapsed: float  # call seconds spent listening
    digit: str | None = None  # the escape digit that stopped it
    hangup: bool = False  # the caller hung up (or was already gone)


@dataclass(frozen=True)
class TimedEvent:
    """One line of the readable call log: ``kind`` is "sent", "received" or "caller"."""

    at: float
    kind: str
    text: str


@dataclass
class EmulatedChannel:
    """One channel of the emulated Asterisk: identity, variables, dialplan position, media."""

    timeline: Timeline
    name: str
    uniqueid: str
    caller_number: str | None
    caller_name: str | None
    dnid: str | None
    rdnis: str | None
    context: str
    extension: str
    priority: int
    language: str
    accountcode: str
    state: int
    variables: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)  # IAXVAR()/PJSIP headers received
    peer: str = ""  # CHANNEL(peername)
    hung_up: bool = False  # the caller (or a HANGUP) ended the channel
    hangup_time: float | None = None
    hangup_cause: int = 16
    moh_class: str | None = None
    played: list[str] = field(default_factory=list)
    digits_consumed: list[str] = field(default_factory=list)
    digits_dropped: list[str] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    log: list[TimedEvent] = field(default_factory=list)
    on_hangup: Callable[[], None] | None = None  # told once when the channel hangs up

    _listener: _Listener | None = field(default=None, repr=False)

    # -- events from the caller -------------------------------------------------------------

    def caller_presses(self, digit: str) -> None:
        """A DTMF digit arrives from the caller."""
        listener = self._listener
        if listener is not None and not self.hung_up and digit in listener.escape:
            self.note("caller", f"caller presses {digit}")
            self.digits_consumed.append(digit)
            listener.finish(Heard(self.timeline.now() - listener.started, digit=digit))
        elif not self.hung_up:
            self.note("caller", f"caller presses {digit} (nothing listens: dropped)")
            self.digits_dropped.append(digit)

    def caller_hangs_up(self) -> None:
        """The caller hangs up."""
        if self.hung_up:
            return
        self.note("caller", "caller hangs up")
        self.hang_up()

    def hang_up(self, cause: int = 16) -> None:
        """End the channel (the caller left, or HANGUP / Hangup() was run)."""
        if self.hung_up:
            return
        self.hung_up = True
        self.hangup_cause = cause
        self.hangup_time = self.timeline.now()
        self.variables.setdefault("HANGUPCAUSE", str(cause))
        listener = self._listener
        if listener is not None:
            listener.finish(Heard(self.timeline.now() - listener.started, hangup=True))
        if self.on_hangup is not None:
            self.on_hangup()

    # -- media -------------------------------------------------------------------------------

    def listen(self, duration: float | None, escape: str = "") -> Deferred[Heard]:
        """Wait ``duration`` call seconds (None: forever) unless an escape digit comes or the
        caller hangs up. Only one listen runs at a time on a channel."""
        if self.hung_up:
            return _succeed(Heard(0.0, hangup=True))
        if duration is not None and duration <= 0:
            return _succeed(Heard(0.0))
        listener = _Listener(self, escape, self.timeline.now())
        self._listener = listener
        if duration is not None:
            listener.timer = self.timeline.call_later(
                duration, lambda: listener.finish(Heard(duration))
            )
        self.timeline.set_busy(True)
        return listener.deferred

    def stop_listening(self) -> None:
        """End the listen under way as if its media ended (the far end of a bridge left)."""
        listener = self._listener
        if listener is not None:
            listener.finish(Heard(self.timeline.now() - listener.started))

    def _listen_ended(self, listener: _Listener) -> None:
        if self._listener is listener:
            self._listener = None

    def note(self, kind: str, text: str) -> None:
        """Add a line to the readable call log."""
        self.log.append(TimedEvent(self.timeline.now(), kind, text))

    # -- variables ---------------------------------------------------------------------------

    def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable; an empty value removes it, as in Asterisk."""
        if value == "":
            self.variables.pop(name, None)
        else:
            self.variables[name] = value


class _Listener:
    __slots__ = ("channel", "deferred", "done", "escape", "started", "timer")

    def __init__(self, channel: EmulatedChannel, escape: str, started: float) -> None:
        self.channel = channel
        self.escape = escape.upper()
        self.started = started
        self.deferred: Deferred[Heard] = Deferred()
        self.timer: Scheduled | None = None
        self.done = False

    def finish(self, heard: Heard) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        self.channel._listen_ended(self)
        self.deferred.callback(heard)


def _succeed(heard: Heard) -> Deferred[Heard]:
    d: Deferred[Heard] = Deferred()
    d.callback(heard)
    return d
