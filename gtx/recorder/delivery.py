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

The loop is the dialer's (:class:`gtx.dialer.callbacks.CallbackDelivery`) on another outbox:
the two outboxes are kept apart so that the dialer's, keyed by call and numbered by the call
row, stays as it is.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.dialer.callbacks import CallbackClient, iso_time, retry_delay
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


class RecordingEventDelivery:
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
        self.clock = clock
        self.store = store
        self.client = client
        self.timeout = timeout
        self.retry_max = retry_max
        self.interval = interval
        self.batch = batch
        self.log = log if log is not None else Logger(namespace="gtx.recorder")
        self._sending: set[int] = set()  # outbox ids in flight
        # ids whose delivery ended while the outbox was being read: that read may have begun
        # before the row was marked, and must not send it again
        self._ended_during_read: set[int] = set()
        self._loop: LoopingCall | None = None
        self._polling = False
        self._kicked = False

    def start(self) -> None:
        self._loop = LoopingCall(self.deliver_due)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(self._loop_failed)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

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

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("[recorder] event delivery loop stopped", failure)

    def deliver_due(self) -> Deferred[None]:
        """Send the events that are due now (one pass; the loop calls it every ``interval``)."""
        return Deferred.fromCoroutine(self._deliver_due())

    async def _deliver_due(self) -> None:
        if self._polling:
            return
        self._polling = True
        self._ended_during_read.clear()
        try:
            due = await self.store.due_recording_events(self.clock.seconds(), self.batch)
        except Exception:
            self.log.failure("[recorder] could not read the recording outbox")
            return
        finally:
            self._polling = False
        for row in due:
            if row.id not in self._sending and row.id not in self._ended_during_read:
                self._sending.add(row.id)
                Deferred.fromCoroutine(self._send(row))

    async def _send(self, row: RecordingOutboxEvent) -> None:
        event = row.event
        try:
            try:
                await self.client.call(row.callback.url, row.callback.method,
                                       [event_struct(event)], timeout=self.timeout)
            except Exception as e:
                delay = retry_delay(row.tries + 1, self.retry_max)
                self.log.info("[{recording_id}] event {seq} ({event}) to {method} failed "
                              "({why}); next try in {delay:g} s",
                              recording_id=event.recording_id, seq=event.seq,
                              event=event.event.value, method=row.callback.method, why=e,
                              delay=delay)
                await self.store.recording_event_failed(row.id, self.clock.seconds() + delay)
            else:
                await self.store.recording_event_delivered(row.id)
                self.kick()  # the recording's next event need not wait for the next round
        except Exception:
            self.log.failure("[{recording_id}] could not record an event delivery",
                             recording_id=event.recording_id)
        finally:
            self._sending.discard(row.id)
            if self._polling:
                self._ended_during_read.add(row.id)
