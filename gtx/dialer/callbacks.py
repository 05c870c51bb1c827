"""Call-backs: every state change of a call with a ``callback`` goes to the customer's method.

:class:`CallbackDelivery` queues each event in the store's outbox (the store numbers the
events of a call 1, 2, … as ``seq``) and a delivery loop sends the due ones with the XML-RPC
client, as ``method(event)`` with the struct of :func:`event_struct`. A delivered event is
marked so; a failed one (connection refused, timeout, fault) is tried again after an
exponential back-off (1 s, 2 s, 4 s … capped at ``[dialer] callback_retry_max``). The store
hands out only the oldest undelivered event of each call, and one call has at most one event in
flight, so the events of a call arrive in order. Delivery is at least once: a receiver that
answered too late gets the event again, and drops it by its ``(call_id, seq)``.

Nothing here waits on a receiver while dialling: events are queued in the store and delivered
by their own loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.dialer.model import Call, CallEvent, CallState, Outcome
from gtx.store.api import OutboxEvent, Store

#: The first delay before an event is tried again, in seconds (then doubled per try).
FIRST_RETRY_DELAY = 1.0


class CallbackClient(Protocol):
    """Calls a method of a remote XML-RPC service (:class:`gtx.xmlrpc.client` implements it)."""

    def call(
        self, url: str, method: str, params: Sequence[object], *, timeout: float
    ) -> Deferred[object]: ...


def iso_time(at: float) -> str:
    """Epoch seconds as an ISO 8601 UTC string with milliseconds (``2025-01-31T09:00:00.250Z``)."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def event_struct(event: CallEvent) -> dict[str, object]:
    """The struct a callback receives: ``call_id``, ``seq``, ``state``, ``at`` (an ISO 8601
    UTC string: every XML-RPC client reads it, unlike dateTime.iso8601 which has no zone),
    ``number``, and when they apply ``outcome``, ``cause``, ``campaign_id``, ``contact_id``,
    ``vars``, ``recording_id`` (campaign option ``record``)."""
    struct: dict[str, object] = {
        "call_id": event.call_id,
        "seq": event.seq,
        "state": str(event.state),
        "at": iso_time(event.at),
    }
    if event.outcome is not None:
        struct["outcome"] = str(event.outcome)
    for key in ("number", "cause", "campaign_id", "contact_id", "vars", "recording_id"):
        value = event.data.get(key)
        if value is not None:
            struct[key] = value
    return struct


def call_event(call: Call, state: CallState, at: float, outcome: Outcome | None = None,
               cause: str | None = None) -> CallEvent:
    """The event of ``call`` entering ``state`` (``seq`` is set by the store)."""
    data: dict[str, object] = {"number": call.request.destination}
    if cause is not None:
        data["cause"] = cause
    if call.campaign_id is not None:
        data["campaign_id"] = call.campaign_id
    if call.contact_id is not None:
        data["contact_id"] = call.contact_id
    if call.request.vars:
        data["vars"] = dict(call.request.vars)
    if call.recording_id is not None:
        data["recording_id"] = call.recording_id
    return CallEvent(call.call_id, 0, state, at, outcome, data)


def retry_delay(tries: int, cap: float) -> float:
    """The delay before the next try after ``tries`` failed ones: 1, 2, 4 … at most ``cap``."""
    return float(min(cap, FIRST_RETRY_DELAY * 2 ** min(max(tries - 1, 0), 30)))


class CallbackDelivery:
    """Queues the events of calls and delivers them (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        store: Store,
        client: CallbackClient,
        timeout: float,
        retry_max: float,
        interval: float = 1.0,
        batch: int = 100,
        log: Logger | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.client = client
        self.timeout = timeout
        self.retry_max = retry_max
        self.interval = interval
        self.batch = batch
        self.log = log if log is not None else Logger(namespace="gtx.dialer")
        self._sending: set[int] = set()  # outbox ids in flight
        # Deliveries that ended while the outbox was being read: that read may still list
        # them as undelivered, and must not send them again.
        self._ended_during_read: set[int] = set()
        self._loop: LoopingCall | None = None
        self._polling = False
        self._kicked = False

    async def publish(self, call: Call, state: CallState, at: float,
                      outcome: Outcome | None = None, cause: str | None = None) -> None:
        """Queue the event of ``call`` entering ``state`` (nothing when it has no callback)."""
        if call.request.callback is None:
            return
        await self.store.enqueue_event(
            call_event(call, state, at, outcome, cause), call.request.callback, at)

    def start(self) -> None:
        self._loop = LoopingCall(self.deliver_due)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(self._loop_failed)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("[dialer] call-back delivery loop stopped", failure)

    def _kick(self) -> None:
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
            due = await self.store.due_events(self.clock.seconds(), self.batch)
        except Exception:
            self.log.failure("[dialer] could not read the call-back outbox")
            return
        finally:
            self._polling = False
        for row in due:
            if row.id not in self._sending and row.id not in self._ended_during_read:
                self._sending.add(row.id)
                Deferred.fromCoroutine(self._send(row))

    async def _send(self, row: OutboxEvent) -> None:
        try:
            try:
                await self.client.call(row.callback.url, row.callback.method,
                                       [event_struct(row.event)], timeout=self.timeout)
            except Exception as e:
                delay = retry_delay(row.tries + 1, self.retry_max)
                self.log.info("[{call_id}] call-back {method} of event {seq} failed ({why}); "
                              "next try in {delay:g} s", call_id=row.event.call_id,
                              method=row.callback.method, seq=row.event.seq, why=e, delay=delay)
                await self.store.event_failed(row.id, self.clock.seconds() + delay)
            else:
                await self.store.event_delivered(row.id)
                self._kick()  # the call's next event need not wait for the next round
        except Exception:
            self.log.failure("[{call_id}] could not record a call-back delivery",
                             call_id=row.event.call_id)
        finally:
            self._sending.discard(row.id)
            if self._polling:
                self._ended_during_read.add(row.id)
