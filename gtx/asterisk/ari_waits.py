"""Bounded waits of an ARI channel for WebSocket events.

Over ARI every media operation is a REST request followed by a wait for an event
(``PlaybackFinished``, ``RecordingFinished``, ``StasisStart`` of a dial leg …). A
:class:`ChannelWait` is one such wait: it watches the router keys it needs, receives the
channel's DTMF digits if it asks for them, is bounded by a timer on the injected clock, and
removes every watcher and timer when it ends, whichever way it ends.

:class:`ChannelWaits` holds the waits of one channel, so that the channel can end them all at
once: a hang-up fails them with :class:`~gtx.channel.ChannelHangup` (unless a wait handles the
hang-up itself, as ``record`` and ``dial`` do: they return normally when the caller hangs up),
and a lost link fails them with :class:`~gtx.channel.ChannelGone`. While waits are pending it
also checks the link every ``link_check_interval`` seconds: events sent while the WebSocket was
down are lost, so a wait that outlives the socket could otherwise only end on its timer.
A digit that comes while no wait reads digits is kept for the next operation that does
(:meth:`ChannelWaits.take_digit`). :class:`ARILimits` holds the bounds of the waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from gtx.asterisk.ari_events import EventHandler, EventRouter
from gtx.channel import ChannelGone, ChannelHangup

_T = TypeVar("_T")
#: Digits kept for the next operation that reads digits, at most.
MAX_KEPT_DIGITS: Final = 32

#: What a wait does when its timer runs out: return a value, or raise to fail the wait.
OnTimeout = Callable[[], _T]


@dataclass(frozen=True)
class ARILimits:
    """Bounds of the waits of an ARI channel (seconds)."""

    #: A playback of unknown length (a prompt, a beep, say): generous, but a bound.
    media_timeout: float = 900.0
    #: An application with no bound of its own: dial without time limit, queue, conference,
    #: record without max_seconds.
    application_timeout: float = 4 * 3600.0
    #: How long a recording may take to report its end once the caller has hung up.
    hangup_grace: float = 5.0
    #: How often a pending wait checks that the link is still up.
    link_check_interval: float = 1.0


class ChannelWait(Generic[_T]):
    """One wait (see the module docstring). ``deferred`` fires once with the outcome.

    ``on_digit`` receives the DTMF digits of the channel while the wait is pending (the newest
    wait that asks for digits gets them); ``on_hangup`` replaces the default reaction to a
    hang-up (failing with ChannelHangup).
    """

    def __init__(
        self,
        owner: ChannelWaits,
        timeout: float,
        on_timeout: OnTimeout[_T],
        *,
        on_digit: Callable[[str], None] | None = None,
        on_hangup: Callable[[ChannelHangup], None] | None = None,
    ) -> None:
        self._owner = owner
        self._on_timeout = on_timeout
        self.on_digit = on_digit
        self.on_hangup = on_hangup
        self._unwatch: list[Callable[[], None]] = []
        self.deferred: Deferred[_T] = Deferred(lambda _: self._end())
        self._timer: IDelayedCall | None = owner.clock.callLater(max(0.0, timeout), self._expired)

    @property
    def done(self) -> bool:
        """True once the wait has its outcome."""
        return self.deferred.called

    def watch(self, events: EventRouter, key: str, handler: EventHandler) -> None:
        """Send the events about ``key`` to ``handler`` until the wait ends."""
        if not self.done:
            self._unwatch.append(events.watch(key, handler))

    def rearm(self, timeout: float, on_timeout: OnTimeout[_T]) -> None:
        """Replace the timer (e.g. a short grace once the caller has hung up)."""
        if self.done:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._on_timeout = on_timeout
        self._timer = self._owner.clock.callLater(max(0.0, timeout), self._expired)

    def succeed(self, value: _T) -> None:
        """End the wait with ``value`` (ignored once it has ended)."""
        if not self.done:
            self._end()
            self.deferred.callback(value)

    def fail(self, error: BaseException) -> None:
        """End the wait with ``error`` (ignored once it has ended)."""
        if not self.done:
            self._end()
            self.deferred.errback(Failure(error))

    def cancel(self) -> None:
        """Give the wait up: nobody will read its outcome (a pending wait fails with
        CancelledError, and an outcome already there is dropped, failure or not)."""
        if self.done:
            self.deferred.addErrback(lambda _: None)
            return
        self.deferred.addErrback(lambda f: f.trap(CancelledError))
        self.deferred.cancel()

    def hung_up(self, error: ChannelHangup) -> None:
        """The channel hung up."""
        if self.on_hangup is not None:
            self.on_hangup(error)
        else:
            self.fail(error)

    def _expired(self) -> None:
        self._timer = None
        if self.done:
            return
        try:
            value = self._on_timeout()
        except Exception as e:
            self.fail(e)
        else:
            self.succeed(value)

    def _end(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        unwatch, self._unwatch = self._unwatch, []
        for stop in unwatch:
            stop()
        self._owner.discard(self)


class ChannelWaits:
    """The pending waits of one channel (see the module docstring), and the digits
    that came while none of them read digits.

    ``link_up`` says whether the link is still connected; it is checked every
    ``link_check_interval`` seconds while a wait is pending.
    """

    def __init__(
        self,
        clock: IReactorTime,
        link_up: Callable[[], bool],
        link_check_interval: float = 1.0,
    ) -> None:
        self.clock = clock
        self._link_up = link_up
        self._interval = link_check_interval
        self._waits: list[ChannelWait[object]] = []
        self._check: IDelayedCall | None = None
        self._kept: list[str] = []

    @property
    def pending(self) -> int:
        """How many waits have not ended."""
        return len(self._waits)

    def new(
        self,
        timeout: float,
        on_timeout: OnTimeout[_T],
        *,
        on_digit: Callable[[str], None] | None = None,
        on_hangup: Callable[[ChannelHangup], None] | None = None,
    ) -> ChannelWait[_T]:
        """Start a wait bounded by ``timeout`` seconds."""
        wait: ChannelWait[_T] = ChannelWait(
            self, timeout, on_timeout, on_digit=on_digit, on_hangup=on_hangup
        )
        self._waits.append(wait)  # type: ignore[arg-type]
        if self._check is None:
            self._check = self.clock.callLater(self._interval, self._check_link)
        return wait

    def discard(self, wait: ChannelWait[_T]) -> None:
        """Forget an ended wait (called by the wait itself)."""
        if wait in self._waits:
            self._waits.remove(wait)  # type: ignore[arg-type]
        if not self._waits and self._check is not None:
            if self._check.active():
                self._check.cancel()
            self._check = None

    def digit(self, digit: str) -> None:
        """Hand a DTMF digit to the newest wait that reads digits; with none, keep it for the
        next operation that reads digits (see :meth:`take_digit`)."""
        for wait in reversed(self._waits):
            if wait.on_digit is not None and not wait.done:
                wait.on_digit(digit)
                return
        if len(self._kept) < MAX_KEPT_DIGITS:
            self._kept.append(digit)

    def take_digit(self, accepted: str) -> str | None:
        """The first digit kept if it is in ``accepted`` (the others stay kept); otherwise
        None, and the digits kept are dropped."""
        kept, self._kept = self._kept, []
        if kept and kept[0] in accepted:
            self._kept = kept[1:]
            return kept[0]
        return None

    def drop_digits(self) -> None:
        """Forget the digits kept (an operation that does not read digits runs)."""
        self._kept.clear()

    def hung_up(self, error: ChannelHangup) -> None:
        """The channel hung up: every wait reacts (most fail with ``error``)."""
        for wait in list(self._waits):
            wait.hung_up(error)

    def gone(self, error: ChannelGone) -> None:
        """The link is lost: every wait fails with ``error``."""
        for wait in list(self._waits):
            wait.fail(error)

    def close(self, error: ChannelHangup) -> None:
        """The channel is no longer driven: fail whatever still waits, stop checking."""
        for wait in list(self._waits):
            wait.fail(error)
        if self._check is not None and self._check.active():
            self._check.cancel()
        self._check = None

    def _check_link(self) -> None:
        self._check = None
        if not self._waits:
            return
        if not self._link_up():
            self.gone(ChannelGone("the ARI link to Asterisk is down"))
        if self._waits:
            self._check = self.clock.callLater(self._interval, self._check_link)
