"""The transactions of the call-back outbox: call events queued, numbered and delivered in
order per call (at least once).

Each function is the whole of one transaction (see :mod:`gtx.store.campaigns`).
"""

from __future__ import annotations

from gtx.dialer.model import Callback, CallEvent
from gtx.store import codec
from gtx.store.api import NotFoundError, OutboxEvent
from gtx.store.sql import Sql


def enqueue_event(sql: Sql, event: CallEvent, callback: Callback, now: float) -> CallEvent:
    """Number the event after the call's last one (the call row is the counter, so two
    transactions queueing events of one call take turns) and queue it, due at once."""
    seq = sql.scalar(
        "UPDATE calls SET events = events + 1 WHERE call_id = ? RETURNING events", event.call_id
    )
    if seq is None:
        raise NotFoundError(f"no call {event.call_id}")
    sql.run(
        "INSERT INTO outbox (call_id, seq, event, callback, due) VALUES (?, ?, ?, ?, ?)",
        event.call_id, int(seq), codec.encode_event(event), codec.encode_callback(callback), now,
    )
    return codec.decode_event(codec.encode_event(event), int(seq))


def due_events(sql: Sql, now: float, limit: int) -> list[OutboxEvent]:
    """Only the oldest undelivered event of each call can be due: a call's next event waits
    until the one before it is delivered."""
    rows = sql.all(
        "SELECT id, seq, event, callback, tries, due FROM outbox o"
        " WHERE NOT delivered AND due <= ?"
        " AND seq = (SELECT MIN(seq) FROM outbox w WHERE w.call_id = o.call_id"
        " AND NOT w.delivered)"
        " ORDER BY due, id LIMIT ?",
        now, max(limit, 0),
    )
    return [
        OutboxEvent(
            id=int(id_),
            event=codec.decode_event(event, int(seq)),
            callback=codec.decode_callback(callback),
            tries=int(tries),
            due=float(due),
        )
        for id_, seq, event, callback, tries, due in rows
    ]


def event_delivered(sql: Sql, event_id: int) -> None:
    if not sql.run("UPDATE outbox SET delivered = TRUE WHERE id = ?", event_id):
        raise NotFoundError(f"no call-back event {event_id}")


def event_failed(sql: Sql, event_id: int, next_due: float) -> None:
    if not sql.run("UPDATE outbox SET tries = tries + 1, due = ? WHERE id = ?",
                   next_due, event_id):
        raise NotFoundError(f"no call-back event {event_id}")
