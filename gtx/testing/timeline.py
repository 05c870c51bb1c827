"""Call time: when media ends and when the scripted caller acts.

Every emulated call measures time in *call seconds* from the moment Asterisk connected. Two
timelines implement that:

- :class:`PacedTimeline` runs on an ``IReactorTime`` (a ``Clock`` in tests, the reactor in
  demos), optionally faster or slower than real time (``time_scale`` = reactor seconds per call
  second, so 0.01 plays a 1 s prompt in 10 ms).
- :class:`InstantTimeline` takes no time at all: call time only moves forward while a command
  is waiting for media or the caller (a prompt playing, a digit timeout), jumping straight to
  the next event. The time the FastAGI server takes to answer counts as zero. Benchmarks use it:
  thousands of calls run as fast as the server answers, with scripted DTMF still landing in the
  right command.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Scheduled(Protocol):
    """A pending timeline event."""

    def cancel(self) -> None:
        """Do not run it (no error if it already ran)."""


class Timeline(Protocol):
    """The clock of one call (see the module docstring)."""

    def now(self) -> float:
        """Call seconds since the connection."""

    def call_later(self, delay: float, action: Callable[[], None]) -> Scheduled:
        """Run ``action`` after ``delay`` call seconds."""

    def set_busy(self, busy: bool) -> None:
        """Tell the timeline whether a command is waiting on media or the caller."""

    def advance(self) -> None:
        """Run what is due (instant time: jump ahead while a command waits)."""


class _ReactorCall:
    __slots__ = ("_call",)

    def __init__(self, call: IDelayedCall) -> None:
        self._call = call

    def cancel(self) -> None:
        if self._call.active():
            self._call.cancel()


class PacedTimeline:
    """Call time that follows an ``IReactorTime``, scaled by ``time_scale``."""

    def __init__(self, clock: IReactorTime, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive; use InstantTimeline for zero time")
        self._clock = clock
        self._scale = time_scale
        self._start = clock.seconds()
        self._firing: float | None = None

    def now(self) -> float:
        if self._firing is not None:
            return self._firing
        return (self._clock.seconds() - self._start) / self._scale

    def call_later(self, delay: float, action: Callable[[], None]) -> Scheduled:
        delay = max(delay, 0.0)
        due = self.now() + delay

        def fire() -> None:
            # A reactor (or a Clock advanced in steps) runs calls a little late; the call sees
            # the time it was due, so media positions and timestamps stay exact.
            outer, self._firing = self._firing, due
            try:
                action()
            finally:
                self._firing = outer

        return _ReactorCall(self._clock.callLater(delay * self._scale, fire))

    def set_busy(self, busy: bool) -> None:
        """Paced time flows on its own."""

    def advance(self) -> None:
        """Paced time flows on its own."""


class _InstantCall:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class InstantTimeline:
    """Call time that jumps from event to event while a command waits (see module docstring)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._queue: list[tuple[float, int, _InstantCall]] = []
        self._order = itertools.count()
        self._busy = False
        self._running = False

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, action: Callable[[], None]) -> Scheduled:
        call = _InstantCall(action)
        heapq.heappush(self._queue, (self._now + max(delay, 0.0), next(self._order), call))
        return call

    def set_busy(self, busy: bool) -> None:
        # Never runs events by itself: a command sets busy from inside its coroutine, before
        # it has suspended on what it waits for; running events then would race past it.
        self._busy = busy

    def advance(self) -> None:
        if self._running:
            return  # the outer loop picks up what was just scheduled
        self._running = True
        try:
            while self._queue:
                at, _, call = self._queue[0]
                if call.cancelled:
                    heapq.heappop(self._queue)
                    continue
                if at > self._now and not self._busy:
                    break
                heapq.heappop(self._queue)
                self._now = max(self._now, at)
                call.action()
        finally:
            self._running = False
