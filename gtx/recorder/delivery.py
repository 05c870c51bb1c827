"""Recording events to their callbacks, with the guarantees of the dialer's call-backs.

The store queues each event with the state change it tells of (see
:mod:`gtx.recorder.events`) in its recording outbox; this loop sends the due ones with the
XML-RPC client as ``method(event)`` (the struct of :func:`event_struct`). The store hands out
only the oldest undelivered event of each recording and one recording has at most one event in
flight, so the events of a recording arrive in order. A failed delivery (connection refused,
timeout, fault) is tried again after the dialer's exponential back-off (1 s, 2 s, 4 s … capped
at ``retry_max``); delivery is at least once, and a receiver drops a repeat by its
``(recording_id, seq)``. A receiver that is down delays only its own recordings' events, and
never the recorder: the loop runs on its own.

The loop is :class:`gtx.outbox.OutboxDelivery`, as for the dialer's call-backs, on an outbox of
its own: the dialer's is keyed by call and numbered by the call row.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gtx.outbox import CallbackClient, OutboxDelivery, iso_time
from gtx.recorder.events import RecordingEvent
from gtx.store.api import RecordingOutboxEvent, Store


def event_struct(event: RecordingEvent) -> dict[str, object]:
    """The struct a callback receives: ``recording_id``, ``seq``, ``event``, ``at`` (ISO 8601
    UTC, as the dialer's events), ``state``, ``files``, and when they apply ``size`` (bytes)
    and ``duration`` (seconds; absent when gtx cannot read the files), ``cause``, ``error``,
    ``call_id``, ``session``, ``campaign_id``, ``channel``, ``asterisk``, ``metadata``."""
    struct: dict[str, object] = dict(event.data)
    struct.update({
        "recording_id": event.recording_id,
        "seq": event.seq,
        "event": event.event.value,
        "at": iso_time(event.at),
    })
    return struct


class RecordingEventDelivery(OutboxDelivery[RecordingOutboxEvent]):
    """Delivers the queued recording events (see the module docstring)."""

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
                         log=log if log is not None else Logger(namespace="gtx.recorder"))
        self.store = store

    def due(self, now: float, limit: int) -> Deferred[list[RecordingOutboxEvent]]:
        return self.store.due_recording_events(now, limit)

    def delivered(self, row: RecordingOutboxEvent) -> Deferred[None]:
        return self.store.recording_event_delivered(row.id)

    def failed(self, row: RecordingOutboxEvent, next_due: float) -> Deferred[None]:
        return self.store.recording_event_failed(row.id, next_due)

    def target(self, row: RecordingOutboxEvent) -> tuple[str, str, dict[str, object]]:
        return row.callback.url, row.callback.method, event_struct(row.event)

    def describe(self, row: RecordingOutboxEvent) -> str:
        event = row.event
        return f"[{event.recording_id}] event {event.seq} ({event.event.value})"
