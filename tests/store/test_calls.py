"""The store contract for calls, the call-back outbox, the do-not-call list and the audit log,
on both backends."""

from __future__ import annotations

import pytest
import pytest_twisted

from gtx.audit import AuditEntry
from gtx.dialer.model import Callback, CallEvent, CallState, ContactState, Outcome
from gtx.store.api import ConflictError, ContactOutcome, NotFoundError, Store
from tests.store.values import NODE, T0, call, contacts, request, spec

CRM = Callback(url="http://crm.example/RPC2", method="call.event")


@pytest_twisted.ensureDeferred
async def test_call_round_trip_and_progress(store: Store) -> None:
    await store.create_call(call("c-1"))
    stored = await store.get_call("c-1")
    assert stored == call("c-1")
    assert stored.request == request()  # vars, on_answer, callback kept as given

    dialing = await store.update_call("c-1", CallState.DIALING, T0 + 1, asterisk="pbx1")
    assert (dialing.state, dialing.dialing_at, dialing.asterisk) == (
        CallState.DIALING, T0 + 1, "pbx1")
    ringing = await store.update_call("c-1", CallState.RINGING, T0 + 2,
                                      channel="PJSIP/trunk-0001")
    assert (ringing.dialing_at, ringing.channel, ringing.asterisk) == (
        T0 + 1, "PJSIP/trunk-0001", "pbx1")
    answered = await store.update_call("c-1", CallState.ANSWERED, T0 + 3)
    assert (answered.state, answered.answered_at) == (CallState.ANSWERED, T0 + 3)
    with pytest.raises(ConflictError):
        await store.update_call("c-1", CallState.RINGING, T0 + 4)  # never backwards


@pytest_twisted.ensureDeferred
async def test_call_ids_are_unique_and_missing_calls_not_found(store: Store) -> None:
    await store.create_call(call("c-1"))
    with pytest.raises(ConflictError):
        await store.create_call(call("c-1"))
    with pytest.raises(NotFoundError):
        await store.get_call("nope")
    with pytest.raises(NotFoundError):
        await store.update_call("nope", CallState.DIALING, T0)
    with pytest.raises(NotFoundError):
        await store.finish_call("nope", Outcome.BUSY, T0, None, None)


@pytest_twisted.ensureDeferred
async def test_finish_call_once_with_its_contact(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001"), T0)
    [contact] = await store.claim_contacts(campaign.id, NODE, 1, T0, 60)
    await store.create_call(call("c-1", campaign_id=campaign.id, contact_id=contact.id))
    await store.update_call("c-1", CallState.DIALING, T0 + 1)

    done = await store.finish_call(
        "c-1", Outcome.NO_ANSWER, T0 + 31, "19",
        ContactOutcome(ContactState.DONE, None, Outcome.NO_ANSWER),
    )
    assert (done.state, done.outcome, done.cause, done.ended_at) == (
        CallState.COMPLETED, Outcome.NO_ANSWER, "19", T0 + 31)
    assert done.dialing_at == T0 + 1
    finished = await store.get_contact(contact.id)
    assert (finished.state, finished.attempts, finished.last_outcome) == (
        ContactState.DONE, 1, Outcome.NO_ANSWER)

    # an outcome never changes, and the contact is not counted twice
    with pytest.raises(ConflictError, match="no_answer"):
        await store.finish_call("c-1", Outcome.ANSWERED, T0 + 40, None,
                                ContactOutcome(ContactState.DONE, None, Outcome.ANSWERED))
    with pytest.raises(ConflictError):
        await store.update_call("c-1", CallState.ANSWERED, T0 + 41)
    assert (await store.get_call("c-1")).outcome is Outcome.NO_ANSWER
    assert (await store.get_contact(contact.id)).attempts == 1
    # a call closed by a lease expiry cannot be finished by its late node either
    assert await store.expire_leases(T0 + 1000) == []


@pytest_twisted.ensureDeferred
async def test_open_calls_by_node(store: Store) -> None:
    await store.create_call(call("c-1"))
    await store.create_call(call("c-2", node="gtx2"))
    await store.create_call(call("c-3"))
    await store.finish_call("c-3", Outcome.CANCELED, T0, "hangup", None)
    assert [c.call_id for c in await store.open_calls()] == ["c-1", "c-2"]
    assert [c.call_id for c in await store.open_calls(NODE)] == ["c-1"]
    assert await store.open_calls("gtx9") == []


@pytest_twisted.ensureDeferred
async def test_campaign_calls_are_paged_in_creation_order(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    # created at the same instant, ids out of alphabetical order: creation order still wins
    ids = ["c-9", "c-3", "c-7", "c-1", "c-5"]
    for call_id in ids:
        await store.create_call(call(call_id, campaign_id=campaign.id))
    await store.create_call(call("single"))  # not of the campaign

    pages: list[list[str]] = []
    after = None
    while page := await store.campaign_calls(campaign.id, after, 2):
        pages.append([c.call_id for c in page])
        after = page[-1].call_id
    assert pages == [["c-9", "c-3"], ["c-7", "c-1"], ["c-5"]]
    with pytest.raises(NotFoundError):
        await store.campaign_calls(campaign.id, "nope", 2)


@pytest_twisted.ensureDeferred
async def test_answer_stats(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    answered = {Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MACHINE}
    outcomes = [Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MACHINE, Outcome.BUSY, None, None]
    for i, outcome in enumerate(outcomes):
        call_id = f"c-{i}"
        await store.create_call(call(call_id, campaign_id=campaign.id, created=T0 + 10))
        if outcome in answered or i == 5:  # c-5 is up: answered, no outcome yet
            await store.update_call(call_id, CallState.ANSWERED, T0 + 20)
        if outcome is not None:
            await store.finish_call(call_id, outcome, T0 + 30, None, None)
    await store.create_call(call("old", campaign_id=campaign.id, created=T0 - 100))

    assert dict(await store.answer_stats(campaign.id, T0)) == {
        "placed": 6, "answered": 2, "abandoned": 1, "machine": 1}
    assert dict(await store.answer_stats(campaign.id, T0 + 100)) == {
        "placed": 0, "answered": 0, "abandoned": 0, "machine": 0}


@pytest_twisted.ensureDeferred
async def test_outbox_numbers_events_and_keeps_their_order(store: Store) -> None:
    await store.create_call(call("c-1"))
    await store.create_call(call("c-2"))
    queued = await store.enqueue_event(
        CallEvent("c-1", 99, CallState.QUEUED, T0, data={"number": "+3215551234"}), CRM, T0)
    assert (queued.seq, queued.data) == (1, {"number": "+3215551234"})
    dialing = await store.enqueue_event(CallEvent("c-1", 0, CallState.DIALING, T0 + 1), CRM,
                                        T0 + 1)
    other = await store.enqueue_event(CallEvent("c-2", 0, CallState.QUEUED, T0 + 2), CRM,
                                      T0 + 2)
    assert (dialing.seq, other.seq) == (2, 1)
    with pytest.raises(NotFoundError):
        await store.enqueue_event(CallEvent("nope", 0, CallState.QUEUED, T0), CRM, T0)

    due = await store.due_events(T0 + 5, 10)
    assert [(e.event.call_id, e.event.seq) for e in due] == [("c-1", 1), ("c-2", 1)]
    assert due[0].event == queued
    assert (due[0].callback, due[0].tries, due[0].due) == (CRM, 0, T0)

    # c-1's first event failed: its second waits behind it, c-2 goes on
    await store.event_failed(due[0].id, T0 + 60)
    await store.event_delivered(due[1].id)
    assert await store.due_events(T0 + 30, 10) == []
    [retry] = await store.due_events(T0 + 60, 10)
    assert (retry.event.seq, retry.tries, retry.due) == (1, 1, T0 + 60)
    await store.event_delivered(retry.id)
    [second] = await store.due_events(T0 + 60, 10)
    assert (second.event.seq, second.event.state) == (2, CallState.DIALING)
    assert await store.due_events(T0 + 60, 0) == []
    with pytest.raises(NotFoundError):
        await store.event_delivered(10_000)
    with pytest.raises(NotFoundError):
        await store.event_failed(10_000, T0)


@pytest_twisted.ensureDeferred
async def test_do_not_call_list(store: Store) -> None:
    assert await store.dnc_add(["+3215550001", "+3215550002", "+3215550001"], T0) == 2
    assert await store.dnc_add(["+3215550002", "+3215550003"], T0) == 1
    assert await store.dnc_check(["+3215550001", "+3215550003", "+3215550009"]) == {
        "+3215550001", "+3215550003"}
    assert await store.dnc_remove(["+3215550001", "+3215550009"]) == 1
    assert await store.dnc_check(["+3215550001"]) == set()
    assert await store.dnc_check([]) == set()
    # large lists go through in slices
    many = [f"+32155{i:06d}" for i in range(1200)]
    assert await store.dnc_add(many, T0) == 1200
    assert len(await store.dnc_check(many)) == 1200


@pytest_twisted.ensureDeferred
async def test_audit_log(store: Store) -> None:
    entries = [
        AuditEntry(T0 + 2, "alice", "dialer.campaign.start", "10.0.0.5", "campaign_id=1"),
        AuditEntry(T0, "bob", "dialer.call", "10.0.0.6", "destination=+3215550001"),
        AuditEntry(T0 + 5, "alice", "dialer.dnc.add", "10.0.0.5", "1 number"),
    ]
    for entry in entries:
        await store.audit(entry)
    assert await store.audit_log(T0, 10) == [entries[1], entries[0], entries[2]]
    assert await store.audit_log(T0 + 1, 1) == [entries[0]]
