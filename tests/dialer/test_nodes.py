"""Restarts and several nodes: open calls resynchronised, leases, no contact dialled twice."""

from __future__ import annotations

from collections import Counter

import pytest
from twisted.internet.defer import Deferred

from gtx.dialer.model import CallState, CampaignState, ContactState, Outcome
from tests.dialer import fakes
from tests.dialer.harness import HOOK, Node, World, request, run


@pytest.fixture
def world() -> World:
    return World()


def crash(node: Node) -> None:
    """The node's process dies: its loops stop and nothing it had in memory hears Asterisk."""
    run(node.dialer.stopService())
    for call_id in list(node.originator.sinks):
        node.originator.sinks[call_id] = lambda update: None


def test_restart_tracks_the_open_calls_and_resumes_campaigns(world: World) -> None:
    first = world.node()
    world.originator.default = fakes.answers(ring=1, talk=20)
    single = run(first.dialer.call(request("5551000", callback=HOOK)))
    cid = world.campaign(first.dialer, [str(5552000 + i) for i in range(6)], max_concurrent=2,
                         max_cps=10)
    run(first.dialer.start(cid))
    world.advance(2)
    assert len(world.originator.originated) == 3
    crash(first)
    world.advance(5)  # Asterisk goes on: the calls are answered meanwhile
    second = world.node()  # same node name, same store
    assert set(second.dialer._calls) == {c.call_id for c in world.store.calls.values()}
    world.advance(120)
    assert run(second.dialer.call_status(single)).outcome is Outcome.ANSWERED
    status = run(second.dialer.campaign_status(cid))
    assert status.campaign.state is CampaignState.COMPLETED
    assert status.counters["answered"] == 6
    dialled = Counter(world.originator.number_of(r) for _, r in world.originator.originated)
    assert set(dialled.values()) == {1}  # nothing dialled twice across the restart
    assert [e["state"] for e in world.receiver.events(single)][-1] == "completed"


def test_a_queued_call_never_sent_is_sent_after_a_restart(world: World) -> None:
    first = world.node()
    world.originator.connected = False
    call_id = run(first.dialer.call(request("5551000")))  # queued: the link was down
    assert world.store.calls[call_id].state is CallState.QUEUED
    crash(first)
    world.originator.connected = True
    second = world.node()
    world.advance(30)
    call = run(second.dialer.call_status(call_id))
    assert call.outcome is Outcome.ANSWERED
    assert [r.call_id for _, r in world.originator.originated] == [call_id]  # sent once


def test_a_dialing_call_gone_from_asterisk_is_closed(world: World) -> None:
    """The node died between recording `dialing` and sending the Originate: Asterisk never
    heard of the call, and the resynchronisation reports it ended."""
    first = world.node()
    world.originator.connected = False
    call_id = run(first.dialer.call(request("5551000")))
    crash(first)
    run(world.store.update_call(call_id, CallState.DIALING, world.clock.seconds(),
                                asterisk="pbx1"))
    world.originator.connected = True
    second = world.node()
    world.advance(1)
    call = run(second.dialer.call_status(call_id))
    assert (call.outcome, call.cause) == (Outcome.FAILED, "gone")
    assert world.originator.originated == []  # followed, never sent twice


def test_two_nodes_never_dial_one_contact_at_once(world: World) -> None:
    a, b = world.node("gtx1"), world.node("gtx2")
    world.originator.default = fakes.busy(after=3)
    cid = world.campaign(a.dialer, [str(5550000 + i) for i in range(40)], max_concurrent=5,
                         max_cps=5, max_attempts=2)
    run(a.dialer.start(cid))
    run(b.dialer.sync_campaigns())
    assert cid in b.dialer.runners
    for _ in range(int(900 / 0.25)):
        world.clock.advance(0.25)
        open_per_contact = Counter(c.contact_id for c in world.store.calls.values()
                                   if c.state is not CallState.COMPLETED)
        assert max(open_per_contact.values(), default=0) <= 1
    nodes = Counter(c.node for c in world.store.calls.values())
    assert set(nodes) == {"gtx1", "gtx2"}
    per_contact = Counter(c.contact_id for c in world.store.calls.values())
    assert set(per_contact.values()) == {2}  # max_attempts, no more
    assert run(a.dialer.campaign_status(cid)).campaign.state is CampaignState.COMPLETED


def test_a_dead_nodes_leases_expire_and_another_node_takes_over(world: World) -> None:
    a = world.node("gtx1")
    world.originator.default = fakes.answers(ring=1, talk=600)
    cid = world.campaign(a.dialer, ["5550000"], callback=HOOK)
    run(a.dialer.start(cid))
    world.advance(1)
    (lost,) = [c.call_id for c in world.store.calls.values()]
    crash(a)
    b = world.node("gtx2")
    world.advance(30)
    assert len(world.originator.originated) == 1  # the lease of gtx1 still runs
    world.advance(60)
    call = run(b.dialer.call_status(lost))
    assert (call.outcome, call.cause) == (Outcome.FAILED, "lease_expired")
    assert [e["outcome"] for e in world.receiver.events(lost) if "outcome" in e] == ["failed"]
    world.advance(30)  # the contact is pending again, and gtx2 dials it
    assert [r.call_id.startswith("c") for _, r in world.originator.originated] == [True, True]
    retry = world.originator.originated[1][1]
    assert retry.call_id != lost
    assert world.store.calls[retry.call_id].node == "gtx2"


def test_a_campaign_paused_through_another_node_stops_dialling_here(world: World) -> None:
    a, b = world.node("gtx1"), world.node("gtx2")
    world.originator.default = fakes.busy(after=1)
    cid = world.campaign(a.dialer, [str(5550000 + i) for i in range(50)], max_concurrent=1,
                         max_cps=1, max_attempts=1)
    run(a.dialer.start(cid))
    world.advance(6)
    run(b.dialer.pause(cid))
    world.advance(6)  # gtx1 learns it at its next campaign sync (5 s)
    before = len(world.originator.originated)
    world.advance(30)
    assert len(world.originator.originated) == before
    assert cid not in a.dialer.runners
    assert all(c.state is not ContactState.DIALING for c in world.store.contacts.values())


def test_a_queued_campaign_call_is_sent_after_a_restart_once(world: World) -> None:
    """The node died after storing the call, before recording `dialing`: never sent."""
    first = world.node()
    world.store.update_call = lambda *args, **kwargs: Deferred()  # type: ignore[method-assign]
    cid = world.campaign(first.dialer, ["5552000", "5552001"], max_concurrent=1, max_cps=10)
    run(first.dialer.start(cid))
    world.advance(1)
    (queued,) = [c for c in world.store.calls.values() if c.state is CallState.QUEUED]
    crash(first)
    del world.store.update_call  # the database answers again
    assert world.originator.originated == []
    second = world.node()
    world.advance(120)
    assert world.store.calls[queued.call_id].outcome is Outcome.ANSWERED
    assert world.originator.originated[0][1].call_id == queued.call_id  # the same call, sent
    dialled = Counter(world.originator.number_of(r) for _, r in world.originator.originated)
    assert dialled == {"5552000": 1, "5552001": 1}
    assert run(second.dialer.campaign_status(cid)).campaign.state is CampaignState.COMPLETED
