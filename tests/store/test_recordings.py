"""The store contract for recordings and their call-back outbox, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import psycopg2
import pytest
import pytest_twisted

from gtx.recorder.events import RecordingEventKind
from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.service import RecordingFilter
from gtx.store.api import ConflictError, NotFoundError, RecordingChange, Store
from tests.store.values import NODE, T0

REC = RecordingState.RECORDING
PAUSED = RecordingState.PAUSED
STOPPED = RecordingState.STOPPED
READY = RecordingState.READY
HOOK = "http://crm.example/RPC2"


@pytest_twisted.async_yield_fixture
async def rstore(store: Store, backend: str, contract_url: str) -> AsyncIterator[Store]:
    """The contract store, without the recordings a previous test left on the shared
    PostgreSQL database."""
    if backend == "postgresql":
        connection = psycopg2.connect(contract_url)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM recording_outbox")
                cursor.execute("DELETE FROM recordings")
        finally:
            connection.close()
    yield store


def recording(recording_id: str = "r1", *, started: float = T0, callback: bool = True,
              target: RecordingTarget | None = None, node: str = NODE,
              campaign_id: int | None = None, state: RecordingState = REC) -> Recording:
    return Recording(
        recording_id=recording_id,
        target=target or RecordingTarget(call_id="c-1", asterisk="pbx1"),
        options=RecordingOptions(
            format="wav", split=True, beep=15, max_seconds=600, name="{call_id}-{date}",
            callback_url=HOOK if callback else None,
            callback_method="rec.event" if callback else None,
            metadata={"customer": 42, "name": "Zoë", "tags": ["a", "b"], "deep": {"x": 1.5}},
        ),
        state=state,
        files=(f"/var/spool/rec/{recording_id}.wav", f"/var/spool/rec/{recording_id}-in.wav",
               f"/var/spool/rec/{recording_id}-out.wav"),
        started=started,
        started_by="alice",
        channel="PJSIP/trunk-00000001",
        asterisk="pbx1",
        node=node,
        campaign_id=campaign_id,
    )


def change(state: RecordingState, *allowed: RecordingState, at: float = T0 + 1,
           **fields: object) -> RecordingChange:
    return replace(RecordingChange(state, frozenset(allowed), at), **fields)


@pytest_twisted.ensureDeferred
async def test_round_trip_and_unique_ids(rstore: Store) -> None:
    await rstore.create_recording(recording())
    assert await rstore.get_recording("r1") == recording()
    with pytest.raises(ConflictError):
        await rstore.create_recording(recording())
    with pytest.raises(NotFoundError):
        await rstore.get_recording("nope")
    with pytest.raises(NotFoundError):
        await rstore.update_recording("nope", change(PAUSED, REC))


@pytest_twisted.ensureDeferred
async def test_state_changes_only_from_allowed_states(rstore: Store) -> None:
    await rstore.create_recording(recording())
    paused = await rstore.update_recording("r1", change(PAUSED, REC))
    assert paused.state is PAUSED
    with pytest.raises(ConflictError, match="r1 is paused: cannot become paused"):
        await rstore.update_recording("r1", change(PAUSED, REC))
    await rstore.update_recording("r1", change(STOPPED, REC, PAUSED, ended=T0 + 30))
    ready = await rstore.update_recording(
        "r1", change(READY, STOPPED, size=48_044, duration=3.0, files_reachable=True))
    assert (ready.state, ready.ended, ready.size, ready.duration, ready.error) == (
        READY, T0 + 30, 48_044, 3.0, None)
    assert await rstore.get_recording("r1") == ready


@pytest_twisted.ensureDeferred
async def test_events_are_queued_with_the_change_numbered_and_in_order(rstore: Store) -> None:
    await rstore.create_recording(recording())
    started = await rstore.enqueue_recording_event("r1", RecordingEventKind.STARTED, T0)
    assert started is not None
    assert started.seq == 1
    assert started.data["metadata"] == recording().options.metadata
    await rstore.update_recording("r1", change(STOPPED, REC, at=T0 + 5, ended=T0 + 5,
                                               event=RecordingEventKind.STOPPED,
                                               cause="hangup"))
    with pytest.raises(ConflictError):  # a refused change queues nothing
        await rstore.update_recording("r1", change(PAUSED, REC,
                                                   event=RecordingEventKind.PAUSED))
    await rstore.update_recording("r1", change(READY, STOPPED, at=T0 + 6, size=100,
                                               duration=2.5, event=RecordingEventKind.READY))

    [first] = await rstore.due_recording_events(T0 + 10, 10)  # one at a time per recording
    assert (first.event.seq, first.event.event, first.tries) == (1, RecordingEventKind.STARTED, 0)
    assert (first.callback.url, first.callback.method) == (HOOK, "rec.event")
    await rstore.recording_event_failed(first.id, T0 + 20)
    assert await rstore.due_recording_events(T0 + 10, 10) == []  # the next one waits too
    [again] = await rstore.due_recording_events(T0 + 20, 10)
    assert (again.id, again.tries) == (first.id, 1)
    await rstore.recording_event_delivered(first.id)
    [stopped] = await rstore.due_recording_events(T0 + 20, 10)
    assert (stopped.event.seq, stopped.event.event) == (2, RecordingEventKind.STOPPED)
    assert stopped.event.data["cause"] == "hangup"
    await rstore.recording_event_delivered(stopped.id)
    [ready] = await rstore.due_recording_events(T0 + 20, 10)
    assert (ready.event.seq, ready.event.at) == (3, T0 + 6)
    assert (ready.event.data["size"], ready.event.data["duration"]) == (100, 2.5)
    assert ready.event.data["state"] == "ready"
    await rstore.recording_event_delivered(ready.id)
    assert await rstore.due_recording_events(T0 + 100, 10) == []
    with pytest.raises(NotFoundError):
        await rstore.recording_event_delivered(10_000)
    with pytest.raises(NotFoundError):
        await rstore.recording_event_failed(10_000, T0)


@pytest_twisted.ensureDeferred
async def test_no_callback_no_events_and_recordings_do_not_block_each_other(
        rstore: Store) -> None:
    await rstore.create_recording(recording("quiet", callback=False))
    assert await rstore.enqueue_recording_event("quiet", RecordingEventKind.STARTED, T0) is None
    await rstore.update_recording("quiet", change(PAUSED, REC, event=RecordingEventKind.PAUSED))
    for rid in ("a", "b"):
        await rstore.create_recording(recording(rid))
        await rstore.enqueue_recording_event(rid, RecordingEventKind.STARTED, T0)
    due = await rstore.due_recording_events(T0, 10)
    assert sorted(e.event.recording_id for e in due) == ["a", "b"]
    with pytest.raises(NotFoundError):
        await rstore.enqueue_recording_event("nope", RecordingEventKind.STARTED, T0)


@pytest_twisted.ensureDeferred
async def test_list_filters_and_pages_newest_first(rstore: Store) -> None:
    await rstore.create_recording(recording("call-a", started=T0))
    await rstore.create_recording(recording(
        "call-b", started=T0 + 10, campaign_id=7,
        target=RecordingTarget(call_id="c-2")))
    await rstore.create_recording(recording(
        "ivr", started=T0 + 20, target=RecordingTarget(session="s-9")))
    await rstore.create_recording(recording(
        "chan", started=T0 + 20, target=RecordingTarget(channel="PJSIP/x-1")))
    await rstore.update_recording("ivr", change(STOPPED, REC))

    async def ids(**fields: object) -> list[str]:
        page, _ = await rstore.list_recordings(RecordingFilter(**fields))  # type: ignore[arg-type]
        return [r.recording_id for r in page]

    # same start: the later created first
    assert await ids() == ["chan", "ivr", "call-b", "call-a"]
    assert await ids(since=T0 + 10) == ["chan", "ivr", "call-b"]
    assert await ids(until=T0 + 20) == ["call-b", "call-a"]
    assert await ids(call_id="c-2") == ["call-b"]
    assert await ids(campaign_id=7) == ["call-b"]
    assert await ids(session="s-9") == ["ivr"]
    assert await ids(states=frozenset({STOPPED})) == ["ivr"]
    assert await ids(states=frozenset({REC, STOPPED}), since=T0 + 15) == ["chan", "ivr"]
    assert await ids(states=frozenset()) == []

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await rstore.list_recordings(RecordingFilter(after=cursor, limit=3))
        seen += [r.recording_id for r in page]
        pages += 1
        if cursor is None:
            break
    assert (seen, pages) == (["chan", "ivr", "call-b", "call-a"], 2)
    page, cursor = await rstore.list_recordings(RecordingFilter(limit=4))
    assert (len(page), cursor) == (4, None)  # an exact last page has no next cursor
    with pytest.raises(NotFoundError):
        await rstore.list_recordings(RecordingFilter(after="nope"))


@pytest_twisted.ensureDeferred
async def test_open_and_expired_recordings(rstore: Store) -> None:
    await rstore.create_recording(recording("live"))
    await rstore.create_recording(recording("other-node", node="gtx2"))
    await rstore.create_recording(recording("old-ready", started=T0 - 100))
    await rstore.create_recording(recording("old-failed", started=T0 - 50))
    await rstore.create_recording(recording("new-ready", started=T0 + 50))
    await rstore.update_recording("old-ready", change(STOPPED, REC))
    for rid in ("old-ready", "new-ready"):
        await rstore.update_recording(rid, change(READY, REC, STOPPED))
    await rstore.update_recording("old-failed", change(RecordingState.FAILED, REC,
                                                       error="no file"))
    await rstore.create_recording(recording("old-deleted", started=T0 - 200, state=READY))
    await rstore.update_recording("old-deleted", change(RecordingState.DELETED, READY))

    assert [r.recording_id for r in await rstore.open_recordings(NODE)] == ["live"]
    assert [r.recording_id for r in await rstore.open_recordings()] == ["live", "other-node"]
    expired = await rstore.expired_recordings(T0 + 1, 10)
    assert [r.recording_id for r in expired] == ["old-ready", "old-failed"]
    assert expired[1].error == "no file"
    assert [r.recording_id for r in await rstore.expired_recordings(T0 + 1, 1)] == [
        "old-ready"]
