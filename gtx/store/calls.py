"""The transactions on calls (attempts): creation, progress, the one final outcome, paging.

Each function is the whole of one transaction (see :mod:`gtx.store.campaigns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gtx.dialer.model import Call, CallState, Outcome
from gtx.store import codec
from gtx.store.api import ConflictError, ContactOutcome, NotFoundError
from gtx.store.sql import Sql

#: The order of progress: a call never moves back.
_PROGRESS = {state: rank for rank, state in enumerate(CallState)}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def call_from_row(row: tuple[Any, ...]) -> Call:
    (call_id, request, state, outcome, cause, created, dialing_at, answered_at, ended_at, node,
     campaign_id, contact_id, attempt, asterisk, channel, recording_id) = row
    return Call(
        call_id=call_id,
        request=codec.decode_request(request),
        state=CallState(state),
        created=float(created),
        node=node,
        campaign_id=_int(campaign_id),
        contact_id=_int(contact_id),
        attempt=int(attempt),
        outcome=None if outcome is None else Outcome(outcome),
        cause=cause,
        dialing_at=_float(dialing_at),
        answered_at=_float(answered_at),
        ended_at=_float(ended_at),
        asterisk=asterisk,
        channel=channel,
        recording_id=recording_id,
    )


def get_call(sql: Sql, call_id: str, *, lock: bool = False) -> Call:
    if lock:
        row = sql.one("SELECT {call} FROM calls WHERE call_id = ?{for_update}", call_id)
    else:
        row = sql.one("SELECT {call} FROM calls WHERE call_id = ?", call_id)
    if row is None:
        raise NotFoundError(f"no call {call_id}")
    return call_from_row(row)


def create_call(sql: Sql, call: Call) -> None:
    """A call id already stored is a ConflictError (the driver's unique violation)."""
    sql.run(
        "INSERT INTO calls ({call}) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        call.call_id, codec.encode_request(call.request), call.state.value,
        None if call.outcome is None else call.outcome.value, call.cause, call.created,
        call.dialing_at, call.answered_at, call.ended_at, call.node, call.campaign_id,
        call.contact_id, call.attempt, call.asterisk, call.channel, call.recording_id,
    )


def set_call_recording(sql: Sql, call_id: str, recording_id: str) -> Call:
    """Link the call to its recording (the campaign option ``record``)."""
    get_call(sql, call_id)  # NotFoundError when there is no such call
    sql.run("UPDATE calls SET recording_id = ? WHERE call_id = ?", recording_id, call_id)
    return get_call(sql, call_id)


def update_call(
    sql: Sql,
    call_id: str,
    state: CallState,
    at: float,
    asterisk: str | None,
    channel: str | None,
) -> Call:
    """Progress only goes forward: a completed call, or a state before the current one, is
    a ConflictError; the same state again only fills in ``asterisk`` / ``channel``."""
    if state is CallState.COMPLETED:
        raise ValueError("a call is completed by finish_call, with its outcome")
    call = get_call(sql, call_id, lock=True)
    if call.state is CallState.COMPLETED or _PROGRESS[state] < _PROGRESS[call.state]:
        raise ConflictError(f"call {call_id} is {call.state.value}: cannot become {state.value}")
    sql.run(
        "UPDATE calls SET state = ?,"
        " dialing_at = CASE WHEN ? AND dialing_at IS NULL THEN ? ELSE dialing_at END,"
        " answered_at = CASE WHEN ? AND answered_at IS NULL THEN ? ELSE answered_at END,"
        " asterisk = COALESCE(?, asterisk), channel = COALESCE(?, channel)"
        " WHERE call_id = ?",
        state.value, state is CallState.DIALING, at, state is CallState.ANSWERED, at,
        asterisk, channel, call_id,
    )
    return get_call(sql, call_id)


def finish_call(
    sql: Sql,
    call_id: str,
    outcome: Outcome,
    at: float,
    cause: str | None,
    contact: ContactOutcome | None,
) -> Call:
    """Close the call and, when ``contact`` is given, update its contact: that attempt is
    counted, the lease is given up, and the contact takes ``contact``'s state."""
    call = get_call(sql, call_id)
    if call.contact_id is not None and contact is not None:
        # lock the contact before the call, in the order expire_leases takes them, so the
        # two never wait for each other
        sql.one("SELECT id FROM contacts WHERE id = ?{for_update}", call.contact_id)
    row = sql.one(
        "UPDATE calls SET state = 'completed', outcome = ?, cause = ?, ended_at = ?"
        " WHERE call_id = ? AND state <> 'completed' RETURNING {call}",
        outcome.value, cause, at, call_id,
    )
    if row is None:
        done = get_call(sql, call_id)
        outcome_text = "" if done.outcome is None else done.outcome.value
        raise ConflictError(f"call {call_id} already completed: {outcome_text}")
    if call.contact_id is not None and contact is not None:
        sql.run(
            "UPDATE contacts SET state = ?, next_attempt_at = ?, last_outcome = ?,"
            " attempts = attempts + 1, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            contact.state.value, contact.next_attempt_at, contact.last_outcome.value,
            call.contact_id,
        )
    return call_from_row(row)


def open_calls(sql: Sql, node: str | None) -> list[Call]:
    if node is None:
        rows = sql.all("SELECT {call} FROM calls WHERE state <> 'completed' ORDER BY seq")
    else:
        rows = sql.all(
            "SELECT {call} FROM calls WHERE state <> 'completed' AND node = ? ORDER BY seq", node
        )
    return [call_from_row(r) for r in rows]


def campaign_calls(
    sql: Sql, campaign_id: int, after_call_id: str | None, limit: int
) -> list[Call]:
    """Paged by creation order: the next page starts after the last call of the previous."""
    after = 0
    if after_call_id is not None:
        seq = sql.scalar("SELECT seq FROM calls WHERE call_id = ?", after_call_id)
        if seq is None:
            raise NotFoundError(f"no call {after_call_id}")
        after = int(seq)
    rows = sql.all(
        "SELECT {call} FROM calls WHERE campaign_id = ? AND seq > ?"
        " ORDER BY seq LIMIT ?",
        campaign_id, after, max(limit, 0),
    )
    return [call_from_row(r) for r in rows]


def answer_stats(sql: Sql, campaign_id: int, since: float) -> Mapping[str, int]:
    """Since ``since``: ``placed``, calls created; ``answered``, calls answered by a person
    and handed on (those still up included: outcome answered or none yet); ``abandoned``,
    answered but no agent was free; ``machine``, answering machines. Live answers are
    ``answered + abandoned``."""
    row = sql.one(
        "SELECT"
        " SUM(CASE WHEN created >= ? THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN answered_at >= ? AND (outcome IS NULL OR outcome = 'answered')"
        " THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN outcome = 'abandoned' AND COALESCE(answered_at, ended_at) >= ?"
        " THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN outcome = 'machine' AND COALESCE(answered_at, ended_at) >= ?"
        " THEN 1 ELSE 0 END)"
        " FROM calls WHERE campaign_id = ?",
        since, since, since, since, campaign_id,
    )
    values = row if row is not None else (None, None, None, None)
    keys = ("placed", "answered", "abandoned", "machine")
    return {key: int(value or 0) for key, value in zip(keys, values, strict=True)}
