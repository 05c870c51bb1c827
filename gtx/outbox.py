"""Delivering queued events to the customer's XML-RPC methods: at least once, in order.

The dialer's call-backs (:mod:`gtx.dialer.callbacks`) and the recorder's events
(:mod:`gtx.recorder.delivery`) both keep their events in an outbox in the store and send them
with this loop. The store hands out only the oldest undelivered event of each subject (a call,
a recording) and a subject has at most one event in flight here, so its events arrive in order.
A failed delivery (connection refused, timeout, fault) is tried again after an exponential
back-off (1 s, 2 s, 4 s … capped at ``retry_max``); delivery is at least once, and a receiver
drops a repeat by its ``(subject id, seq)``. A receiver that is down delays only its own
subjects' events; the loop never waits on a receiver for anything else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

#: The first delay before an event is tried again, in seconds (then doubled per try).
FIRST_RETRY_DELAY = 1.0


class CallbackClient(Protocol):
    """Calls a method of a remote XML-RPC service (:class:`gtx.xmlrpc.client` implements it)."""

    def call(
        self, url: str, method: str, params: Sequence[object], *, timeout: float
    ) -> Deferred[object]: ...


class OutboxRow(Protocol):
    """What the loop needs of a queued event."""

    @property
    def id(self) -> int: ...

    @property
    def tries(self) -> int: ...


def iso_time(at: float) -> str:
    """Epoch seconds as an ISO 8601 UTC string with milliseconds (``2025-01-31T09:00:00.250Z``)."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def retry_delay(tries: int, cap: float) -> float:
    """The delay before the next try after ``tries`` failed ones: 1, 2, 4 … at most ``cap``."""
    return float(min(cap, FIRST_RETRY_DELAY * 2 ** min(max(tries - 1, 0), 30)))


Row = TypeVar("Row", bound=OutboxRow)


class OutboxDelivery(ABC, Generic[Row]):
    """The delivery loop (see the module docstring); a subclass says how to read and mark its
    outbox, and what a row sends where."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        client: CallbackClient,
        timeout: float,
        retry_max: float,
        interval: float = 1.0,
        batch: int = 100,
        log: Logger,
    ) -> None:
        self.clock = clock
        self.client = client
        self.timeout = timeout
        self.retry_max = retry_max
        self.interval = interval
        self.batch = batch
        self.log = log
        self._sending: set[int] = set()  # outbox ids in flight
        # Deliveries that ended while the outbox was being read: that read may still list
        # them as undelivered, and must not send them again.
        self._ended_during_read: set[int] = set()
        self._loop: LoopingCall | None = None
        self._polling = False
        self._kicked = False

    # -- what a subclass provides ------------------------------------------------------------

    @abstractmethod
    def due(self, now: float, limit: int) -> Deferred[list[Row]]:
        """The undelivered events due at ``now`` (the oldest of each subject only)."""

    @abstractmethod
    def delivered(self, row: Row) -> Deferred[None]: ...

    @abstractmethod
    def failed(self, row: Row, next_due: float) -> Deferred[None]: ...

    @abstractmethod
    def target(self, row: Row) -> tuple[str, str, dict[str, object]]:
        """Where a row goes and what it says: ``(url, method, struct)``."""

    @abstractmethod
    def describe(self, row: Row) -> str:
        """The row for a log line, e.g. ``[call-id] event 3``."""

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = LoopingCall(self.deliver_due)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(self._loop_failed)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("event delivery loop stopped", failure)

    def kick(self) -> None:
        """Look for due events at once (an event was just queued, or one delivered)."""
        if self._kicked or self._loop is None:
            return
        self._kicked = True

        def poll() -> None:
            self._kicked = False
            if self._loop is not None:
                self.deliver_due()

        self.clock.callLater(0, poll)

    def deliver_due(self) -> Deferred[None]:
        """Send the events that are due now (one pass; the loop calls it every ``interval``)."""
        return Deferred.fromCoroutine(self._deliver_due())

    async def _deliver_due(self) -> None:
        if self._polling:
            return
        self._polling = True
        self._ended_during_read.clear()
        try:
            due = await self.due(self.clock.seconds(), self.batch)
        except Exception:
            self.log.failure("could not read the outbox")
            return
        finally:
            self._polling = False
        for row in due:
            if row.id not in self._sending and row.id not in self._ended_during_read:
                self._sending.add(row.id)
                Deferred.fromCoroutine(self._send(row))

    async def _send(self, row: Row) -> None:
        url, method, struct = self.target(row)
        try:
            try:
                await self.client.call(url, method, [struct], timeout=self.timeout)
            except Exception as e:
                delay = retry_delay(row.tries + 1, self.retry_max)
                self.log.info("{row} to {method} failed ({why}); next try in {delay:g} s",
                              row=self.describe(row), method=method, why=e, delay=delay)
                await self.failed(row, self.clock.seconds() + delay)
            else:
                await self.delivered(row)
                self.kick()  # the subject's next event need not wait for the next round
        except Exception:
            self.log.failure("{row}: could not record its delivery", row=self.describe(row))
        finally:
            self._sending.discard(row.id)
            if self._polling:
                self._ended_during_read.add(row.id)
