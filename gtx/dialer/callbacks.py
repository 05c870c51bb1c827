"""Call-backs: every state change of a call with a ``callback`` goes to the customer's method.

:class:`CallbackDelivery` queues each event in the store's outbox (the store numbers the
events of a call 1, 2, … as ``seq``) and delivers them with the loop of :mod:`gtx.outbox`, as
``method(event)`` with the struct of :func:`event_struct`: at least once, in order per call,
with back-off up to ``[dialer] callback_retry_max``. Nothing here waits on a receiver while
dialling: events are queued in the store and delivered by their own loop.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gtx.dialer.model import Call, CallEvent, CallState, Outcome
from gtx.outbox import CallbackClient, OutboxDelivery, iso_time, retry_delay
from gtx.store.api import OutboxEvent, Store

__all__ = ["CallbackClient", "CallbackDelivery", "call_event", "event_struct", "iso_time",
           "retry_delay"]


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


class CallbackDelivery(OutboxDelivery[OutboxEvent]):
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
        super().__init__(clock=clock, client=client, timeout=timeout, retry_max=retry_max,
                         interval=interval, batch=batch,
                         log=log if log is not None else Logger(namespace="gtx.dialer"))
        self.store = store

    async def publish(self, call: Call, state: CallState, at: float,
                      outcome: Outcome | None = None, cause: str | None = None) -> None:
        """Queue the event of ``call`` entering ``state`` (nothing when it has no callback)."""
        if call.request.callback is None:
            return
        await self.store.enqueue_event(
            call_event(call, state, at, outcome, cause), call.request.callback, at)

    def due(self, now: float, limit: int) -> Deferred[list[OutboxEvent]]:
        return self.store.due_events(now, limit)

    def delivered(self, row: OutboxEvent) -> Deferred[None]:
        return self.store.event_delivered(row.id)

    def failed(self, row: OutboxEvent, next_due: float) -> Deferred[None]:
        return self.store.event_failed(row.id, next_due)

    def target(self, row: OutboxEvent) -> tuple[str, str, dict[str, object]]:
        return row.callback.url, row.callback.method, event_struct(row.event)

    def describe(self, row: OutboxEvent) -> str:
        return f"[{row.event.call_id}] call-back of event {row.event.seq}"
