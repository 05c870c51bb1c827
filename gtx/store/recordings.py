"""The transactions on recordings and their call-back outbox.

Each function is the whole of one transaction (see :mod:`gtx.store.campaigns`). A state change
and the event that tells of it are written together; the recording row numbers its events (as
a call's row does), so two transactions queueing events of one recording take turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtx.recorder.events import (
    RecordingEvent,
    RecordingEventKind,
    recording_callback,
    recording_event,
)
from gtx.recorder.model import Recording, RecordingState
from gtx.recorder.service import RecordingFilter
from gtx.store import codec, recording_codec
from gtx.store.api import ConflictError, NotFoundError, RecordingChange, RecordingOutboxEvent
from gtx.store.sql import Sql

#: A recording's columns, in the order of :func:`recording_from_row`.
_SELECT = (
    "SELECT recording_id, target, options, state, files, started, started_by, channel,"
    " asterisk, node, ended, duration, size, error, campaign_id FROM recordings"
)

#: The states a recording may still leave by itself (reconciled after a restart).
_OPEN = (RecordingState.RECORDING.value, RecordingState.PAUSED.value,
         RecordingState.STOPPED.value)

#: The states retention deletes from.
_FINISHED = (RecordingState.READY.value, RecordingState.FAILED.value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def recording_from_row(row: tuple[Any, ...]) -> Recording:
    (recording_id, target, options, state, files, started, started_by, channel, asterisk, node,
     ended, duration, size, error, campaign_id) = row
    return Recording(
        recording_id=recording_id,
        target=recording_codec.decode_target(target),
        options=recording_codec.decode_options(options),
        state=RecordingState(state),
        files=recording_codec.decode_files(files),
        started=float(started),
        started_by=started_by,
        channel=channel,
        asterisk=asterisk,
        node=node,
        ended=_float(ended),
        duration=_float(duration),
        size=_int(size),
        error=error,
        campaign_id=_int(campaign_id),
    )


def create_recording(sql: Sql, recording: Recording) -> None:
    """A recording id already stored is a ConflictError (the driver's unique violation)."""
    sql.run(
        "INSERT INTO recordings (recording_id, target, options, state, files, started,"
        " started_by, channel, asterisk, node, ended, duration, size, error, campaign_id,"
        " call_id, session) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        recording.recording_id, recording_codec.encode_target(recording.target),
        recording_codec.encode_options(recording.options), recording.state.value,
        recording_codec.encode_files(recording.files), recording.started, recording.started_by,
        recording.channel, recording.asterisk, recording.node, recording.ended,
        recording.duration, recording.size, recording.error, recording.campaign_id,
        recording.target.call_id, recording.target.session,
    )


def get_recording(sql: Sql, recording_id: str, *, lock: bool = False) -> Recording:
    if lock:
        row = sql.one(_SELECT + " WHERE recording_id = ?{for_update}", recording_id)
    else:
        row = sql.one(_SELECT + " WHERE recording_id = ?", recording_id)
    if row is None:
        raise NotFoundError(f"no recording {recording_id}")
    return recording_from_row(row)


def update_recording(sql: Sql, recording_id: str, change: RecordingChange) -> Recording:
    current = get_recording(sql, recording_id, lock=True)
    if current.state not in change.allowed_from:
        raise ConflictError(
            f"recording {recording_id} is {current.state.value}: cannot become"
            f" {change.state.value}"
        )
    sql.run(
        "UPDATE recordings SET state = ?, ended = COALESCE(?, ended),"
        " duration = COALESCE(?, duration), size = COALESCE(?, size),"
        " error = COALESCE(?, error), files_reachable = COALESCE(?, files_reachable)"
        " WHERE recording_id = ?",
        change.state.value, change.ended, change.duration, change.size, change.error,
        change.files_reachable, recording_id,
    )
    changed = get_recording(sql, recording_id)
    if change.event is not None:
        _enqueue(sql, changed, change.event, change.at, change.cause)
    return changed


def _placeholders(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" * len(values)) + ")"


def list_recordings(sql: Sql, query: RecordingFilter) -> tuple[list[Recording], str | None]:
    """Newest first: by ``started``, then by creation (``seq``), both descending; the cursor
    is the last row of the page, and the next page starts strictly after it."""
    if query.states is not None and not query.states:
        return [], None
    where = ["1 = 1"]
    params: list[object] = []
    if query.after is not None:
        cursor = sql.one("SELECT started, seq FROM recordings WHERE recording_id = ?",
                         query.after)
        if cursor is None:
            raise NotFoundError(f"no recording {query.after} (the paging cursor)")
        where.append("(started < ? OR (started = ? AND seq < ?))")
        params += [cursor[0], cursor[0], cursor[1]]
    for clause, value in (
        ("started >= ?", query.since),
        ("started < ?", query.until),
        ("call_id = ?", query.call_id),
        ("campaign_id = ?", query.campaign_id),
        ("session = ?", query.session),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if query.states is not None:
        states = sorted(s.value for s in query.states)
        where.append("state IN " + _placeholders(states))
        params += states
    limit = max(query.limit, 0)
    rows = sql.all(
        _SELECT + " WHERE " + " AND ".join(where) + " ORDER BY started DESC, seq DESC LIMIT ?",
        *params, limit + 1,
    )
    page = [recording_from_row(r) for r in rows[:limit]]
    more = len(rows) > limit and bool(page)
    return page, page[-1].recording_id if more else None


def open_recordings(sql: Sql, node: str | None) -> list[Recording]:
    if node is None:
        rows = sql.all(_SELECT + " WHERE state IN " + _placeholders(_OPEN) + " ORDER BY seq",
                       *_OPEN)
    else:
        rows = sql.all(
            _SELECT + " WHERE node = ? AND state IN " + _placeholders(_OPEN) + " ORDER BY seq",
            node, *_OPEN)
    return [recording_from_row(r) for r in rows]


def expired_recordings(sql: Sql, before: float, limit: int) -> list[Recording]:
    rows = sql.all(
        _SELECT + " WHERE started < ? AND state IN " + _placeholders(_FINISHED)
        + " ORDER BY started, seq LIMIT ?",
        before, *_FINISHED, max(limit, 0),
    )
    return [recording_from_row(r) for r in rows]


# -- the call-back outbox ------------------------------------------------------------------


def _enqueue(sql: Sql, recording: Recording, kind: RecordingEventKind, at: float,
             cause: str | None) -> RecordingEvent | None:
    callback = recording_callback(recording)
    if callback is None:
        return None
    seq = int(sql.scalar(
        "UPDATE recordings SET events = events + 1 WHERE recording_id = ? RETURNING events",
        recording.recording_id,
    ))
    event = recording_event(recording, kind, at, cause)
    text = recording_codec.encode_event(event)
    sql.run(
        "INSERT INTO recording_outbox (recording_id, seq, event, callback, due)"
        " VALUES (?, ?, ?, ?, ?)",
        recording.recording_id, seq, text, codec.encode_callback(callback), at,
    )
    return recording_codec.decode_event(text, seq)


def enqueue_recording_event(sql: Sql, recording_id: str, kind: RecordingEventKind, at: float,
                            cause: str | None) -> RecordingEvent | None:
    return _enqueue(sql, get_recording(sql, recording_id, lock=True), kind, at, cause)


def due_recording_events(sql: Sql, now: float, limit: int) -> list[RecordingOutboxEvent]:
    """Only the oldest undelivered event of each recording can be due: its next event waits
    until the one before it is delivered."""
    rows = sql.all(
        "SELECT id, seq, event, callback, tries, due FROM recording_outbox o"
        " WHERE NOT delivered AND due <= ?"
        " AND seq = (SELECT MIN(seq) FROM recording_outbox w"
        " WHERE w.recording_id = o.recording_id AND NOT w.delivered)"
        " ORDER BY due, id LIMIT ?",
        now, max(limit, 0),
    )
    return [
        RecordingOutboxEvent(
            id=int(id_),
            event=recording_codec.decode_event(event, int(seq)),
            callback=codec.decode_callback(callback),
            tries=int(tries),
            due=float(due),
        )
        for id_, seq, event, callback, tries, due in rows
    ]


def recording_event_delivered(sql: Sql, event_id: int) -> None:
    if not sql.run("UPDATE recording_outbox SET delivered = TRUE WHERE id = ?", event_id):
        raise NotFoundError(f"no recording event {event_id}")


def recording_event_failed(sql: Sql, event_id: int, next_due: float) -> None:
    if not sql.run("UPDATE recording_outbox SET tries = tries + 1, due = ? WHERE id = ?",
                   next_due, event_id):
        raise NotFoundError(f"no recording event {event_id}")
