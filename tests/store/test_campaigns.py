"""The store contract for campaigns and contacts, on both backends."""

from __future__ import annotations

import pytest
import pytest_twisted

from gtx.dialer.model import CampaignState, ContactState, Outcome
from gtx.store.api import ConflictError, ContactOutcome, NotFoundError, Store
from tests.store.values import NODE, T0, call, contacts, spec

ANY_STATE = frozenset(CampaignState)


@pytest_twisted.ensureDeferred
async def test_campaign_round_trip(store: Store) -> None:
    created = await store.create_campaign(spec(priority=7), T0)
    assert created.state is CampaignState.DRAFT
    assert (created.created, created.updated) == (T0, T0)
    assert created.spec == spec(priority=7)
    assert await store.get_campaign(created.id) == created

    other = await store.create_campaign(spec("autumn"), T0 + 1)
    assert [c.id for c in await store.list_campaigns()] == [created.id, other.id]

    updated = await store.update_campaign(created.id, spec("renamed", max_cps=9.0), T0 + 5)
    assert updated.spec.name == "renamed"
    assert updated.spec.max_cps == 9.0
    assert (updated.created, updated.updated) == (T0, T0 + 5)


@pytest_twisted.ensureDeferred
async def test_missing_campaign_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.get_campaign(404)
    with pytest.raises(NotFoundError):
        await store.update_campaign(404, spec(), T0)
    with pytest.raises(NotFoundError):
        await store.set_campaign_state(404, CampaignState.RUNNING, T0, ANY_STATE)
    with pytest.raises(NotFoundError):
        await store.add_contacts(404, contacts("+3215550001"), T0)
    with pytest.raises(NotFoundError):
        await store.delete_campaign(404)


@pytest_twisted.ensureDeferred
async def test_state_moves_only_from_allowed_states(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    running = await store.set_campaign_state(
        campaign.id, CampaignState.RUNNING, T0 + 1, frozenset({CampaignState.DRAFT})
    )
    assert running.state is CampaignState.RUNNING
    assert running.updated == T0 + 1
    with pytest.raises(ConflictError, match="running"):
        await store.set_campaign_state(
            campaign.id, CampaignState.RUNNING, T0 + 2, frozenset({CampaignState.DRAFT})
        )
    assert (await store.get_campaign(campaign.id)).updated == T0 + 1


@pytest_twisted.ensureDeferred
async def test_delete_refuses_a_running_campaign_and_keeps_calls(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001"), T0)
    [contact] = await store.claim_contacts(campaign.id, NODE, 1, T0, 60)
    await store.create_call(call("c-1", campaign_id=campaign.id, contact_id=contact.id))
    await store.set_campaign_state(campaign.id, CampaignState.RUNNING, T0, ANY_STATE)
    with pytest.raises(ConflictError):
        await store.delete_campaign(campaign.id)

    await store.set_campaign_state(campaign.id, CampaignState.STOPPED, T0, ANY_STATE)
    await store.delete_campaign(campaign.id)
    with pytest.raises(NotFoundError):
        await store.get_campaign(campaign.id)
    with pytest.raises(NotFoundError):
        await store.get_contact(contact.id)
    assert (await store.get_call("c-1")).campaign_id == campaign.id
    # ids are never reused, so the kept calls never point at a newer campaign
    assert (await store.create_campaign(spec(), T0)).id > campaign.id


@pytest_twisted.ensureDeferred
async def test_add_contacts_reports_duplicates_and_dnc(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    first = await store.add_contacts(campaign.id, contacts("+3215550001", "+3215550002"), T0)
    assert (list(first.added), list(first.duplicates), list(first.dnc)) == ([0, 1], [], [])

    assert await store.dnc_add(["+3215550004"], T0) == 1
    again = await store.add_contacts(
        campaign.id,
        contacts("+3215550002", "+3215550003", "+3215550003", "+3215550004"),
        T0,
    )
    assert list(again.added) == [1]
    assert list(again.duplicates) == [0, 2]  # already stored; repeated in the input
    assert list(again.dnc) == [3]
    counters = await store.contact_counters(campaign.id)
    assert (counters["pending"], counters["dnc"]) == (3, 1)

    # the same number in another campaign is no duplicate
    other = await store.create_campaign(spec("other"), T0)
    assert list((await store.add_contacts(other.id, contacts("+3215550001"), T0)).added) == [0]


@pytest_twisted.ensureDeferred
async def test_claim_order_limit_and_lease(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001", "+3215550002"), T0)
    await store.add_contacts(campaign.id, contacts("+3215550003", priority=5), T0)
    await store.add_contacts(campaign.id, contacts("+3215550004", priority=-1), T0)

    first = await store.claim_contacts(campaign.id, NODE, 2, T0 + 10, 30)
    assert [c.number for c in first] == ["+3215550003", "+3215550001"]
    for contact in first:
        assert contact.state is ContactState.DIALING
        assert (contact.lease_owner, contact.lease_until) == (NODE, T0 + 40)
        assert contact.vars == {"number": contact.number, "tries": [1, 2]}
        assert contact.attempts == 0

    second = await store.claim_contacts(campaign.id, "gtx2", 10, T0 + 10, 30)
    assert [c.number for c in second] == ["+3215550002", "+3215550004"]
    assert await store.claim_contacts(campaign.id, NODE, 10, T0 + 10, 30) == []
    assert await store.claim_contacts(campaign.id, NODE, 0, T0 + 10, 30) == []
    assert (await store.get_contact(first[0].id)).lease_owner == NODE


@pytest_twisted.ensureDeferred
async def test_claim_waits_for_the_next_attempt_time(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001"), T0)
    [contact] = await store.claim_contacts(campaign.id, NODE, 1, T0, 60)
    await store.create_call(call("c-1", campaign_id=campaign.id, contact_id=contact.id))
    await store.finish_call(
        "c-1", Outcome.BUSY, T0 + 5, "17",
        ContactOutcome(ContactState.PENDING, T0 + 600, Outcome.BUSY),
    )
    retried = await store.get_contact(contact.id)
    assert (retried.state, retried.attempts, retried.last_outcome) == (
        ContactState.PENDING, 1, Outcome.BUSY)
    assert (retried.lease_owner, retried.lease_until) == (None, None)
    assert await store.claim_contacts(campaign.id, NODE, 1, T0 + 599, 60) == []
    [again] = await store.claim_contacts(campaign.id, NODE, 1, T0 + 600, 60)
    assert again.id == contact.id


@pytest_twisted.ensureDeferred
async def test_renew_release_and_expire_leases(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001", "+3215550002", "+3215550003"),
                             T0)
    mine = await store.claim_contacts(campaign.id, NODE, 2, T0, 30)
    [theirs] = await store.claim_contacts(campaign.id, "gtx2", 1, T0, 30)
    await store.create_call(call("c-1", campaign_id=campaign.id, contact_id=mine[0].id))
    await store.create_call(call("c-2", campaign_id=campaign.id, contact_id=theirs.id,
                                 node="gtx2"))

    assert await store.renew_leases(NODE, T0 + 20, 30) == 2
    assert (await store.get_contact(mine[0].id)).lease_until == T0 + 50
    await store.release_contact(mine[1].id, NODE)
    released = await store.get_contact(mine[1].id)
    assert (released.state, released.attempts, released.lease_owner) == (
        ContactState.PENDING, 0, None)
    with pytest.raises(ConflictError):
        await store.release_contact(theirs.id, NODE)  # not ours
    with pytest.raises(ConflictError):
        await store.release_contact(mine[1].id, NODE)  # no longer claimed
    with pytest.raises(NotFoundError):
        await store.release_contact(404, NODE)

    # gtx2 died: its lease runs out at T0 + 30, ours was renewed to T0 + 50
    closed = await store.expire_leases(T0 + 31)
    assert [(c.call_id, c.outcome, c.cause, c.ended_at) for c in closed] == [
        ("c-2", Outcome.FAILED, "lease_expired", T0 + 31)]
    expired = await store.get_contact(theirs.id)
    assert (expired.state, expired.lease_owner, expired.attempts, expired.last_outcome) == (
        ContactState.PENDING, None, 1, Outcome.FAILED)
    assert (await store.get_contact(mine[0].id)).state is ContactState.DIALING
    assert await store.expire_leases(T0 + 31) == []
    # eligible again: the released one first (lower id), then the expired one
    again = await store.claim_contacts(campaign.id, NODE, 5, T0 + 32, 30)
    assert [c.id for c in again] == [mine[1].id, theirs.id]


@pytest_twisted.ensureDeferred
async def test_counters_dnc_marking_and_cancel(store: Store) -> None:
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(
        campaign.id, contacts("+3215550001", "+3215550002", "+3215550003", "+3215550004"), T0
    )
    [contact] = await store.claim_contacts(campaign.id, NODE, 1, T0, 60)
    await store.create_call(call("c-1", campaign_id=campaign.id, contact_id=contact.id))
    await store.finish_call("c-1", Outcome.ANSWERED, T0 + 9, None,
                            ContactOutcome(ContactState.DONE, None, Outcome.ANSWERED))
    # a claimed (dialing) contact is not marked: only pending ones
    assert await store.mark_dnc_contacts(["+3215550002", "+3215550001", "+3215559999"]) == 1
    assert await store.cancel_pending_contacts(campaign.id) == 2
    counters = await store.contact_counters(campaign.id)
    assert counters["done"] == 1
    assert counters["dnc"] == 1
    assert counters["contacts_canceled"] == 2
    assert (counters["pending"], counters["dialing"]) == (0, 0)
    assert counters["answered"] == 1
    assert counters["busy"] == 0
    assert set(counters) >= {o.value for o in Outcome}


@pytest_twisted.ensureDeferred
async def test_release_until_a_later_time(store: Store) -> None:
    """A contact outside its calling window goes back, due when its window opens."""
    campaign = await store.create_campaign(spec(), T0)
    await store.add_contacts(campaign.id, contacts("+3215550001"), T0)
    [contact] = await store.claim_contacts(campaign.id, NODE, 1, T0, 60)
    await store.release_contact(contact.id, NODE, next_attempt_at=T0 + 3600)
    released = await store.get_contact(contact.id)
    assert (released.state, released.next_attempt_at, released.attempts) == (
        ContactState.PENDING, T0 + 3600, 0)
    assert await store.claim_contacts(campaign.id, NODE, 1, T0 + 3599, 60) == []
    assert len(await store.claim_contacts(campaign.id, NODE, 1, T0 + 3600, 60)) == 1
