"""Recording event delivery on its own: the struct sent, the back-off, and no second send of
an event whose delivery ended while the outbox was being read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from gtx.dialer.model import Callback
from gtx.recorder.delivery import RecordingEventDelivery, event_struct
from gtx.recorder.events import RecordingEvent, RecordingEventKind
from gtx.store.api import RecordingOutboxEvent, Store

T0 = 1_800_000_000.0
HOOK = Callback("http://crm.example/RPC2", "rec.event")


def row(id_: int, seq: int, tries: int = 0) -> RecordingOutboxEvent:
    event = RecordingEvent("r1", seq, RecordingEventKind.READY, T0,
                           {"state": "ready", "size": 44, "duration": 0.0})
    return RecordingOutboxEvent(id_, event, HOOK, tries, T0)


class Outbox:
    """The three store methods the delivery uses, answered when the test says."""

    def __init__(self) -> None:
        self.reads: list[Deferred[list[RecordingOutboxEvent]]] = []
        self.delivered: list[int] = []
        self.failed: list[tuple[int, float]] = []

    def due_recording_events(self, now: float, limit: int) -> Deferred[
            list[RecordingOutboxEvent]]:
        self.reads.append(Deferred())
        return self.reads[-1]

    def recording_event_delivered(self, event_id: int) -> Deferred[None]:
        self.delivered.append(event_id)
        return succeed(None)

    def recording_event_failed(self, event_id: int, next_due: float) -> Deferred[None]:
        self.failed.append((event_id, next_due))
        return succeed(None)


class Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any], Deferred[object]]] = []

    def call(self, url: str, method: str, params: Sequence[object], *,
             timeout: float) -> Deferred[object]:
        d: Deferred[object] = Deferred()
        self.calls.append((url, method, cast(dict[str, Any], params[0]), d))
        return d


def delivery(clock: Clock, outbox: Outbox, client: Client) -> RecordingEventDelivery:
    return RecordingEventDelivery(clock=clock, store=cast(Store, outbox), client=client,
                                  timeout=5, retry_max=8)


def test_event_struct() -> None:
    struct = event_struct(row(1, 3).event)
    assert struct == {"recording_id": "r1", "seq": 3, "event": "ready",
                      "at": "2027-01-15T08:00:00.000Z", "state": "ready", "size": 44,
                      "duration": 0.0}


def test_a_failed_delivery_is_tried_again_later() -> None:
    clock, outbox, client = Clock(), Outbox(), Client()
    clock.advance(T0)
    sender = delivery(clock, outbox, client)
    sender.deliver_due()
    outbox.reads[-1].callback([row(1, 1, tries=3)])
    url, method, struct, answer = client.calls[0]
    assert (url, method, struct["seq"]) == (HOOK.url, "rec.event", 1)
    answer.errback(ConnectionRefusedError())
    assert outbox.failed == [(1, T0 + 8)]  # 1, 2, 4, then capped at retry_max


def test_an_event_delivered_during_a_read_is_not_sent_again() -> None:
    clock, outbox, client = Clock(), Outbox(), Client()
    sender = delivery(clock, outbox, client)
    sender.deliver_due()
    outbox.reads[0].callback([row(1, 1)])
    assert len(client.calls) == 1
    sender.deliver_due()  # a read begins before the receiver answers …
    client.calls[0][3].callback(True)  # … and the event is delivered meanwhile
    assert outbox.delivered == [1]
    outbox.reads[1].callback([row(1, 1)])  # the read saw it still undelivered
    assert len(client.calls) == 1
    sender.deliver_due()
    outbox.reads[2].callback([row(2, 2)])
    assert [c[2]["seq"] for c in client.calls] == [1, 2]
