"""Campaigns on one node: each mode's pacing, windows, retries, do-not-call, life cycle."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import time

import pytest

from gtx.dialer.model import (
    CallState,
    CampaignMode,
    CampaignState,
    ContactInput,
    ContactState,
    Outcome,
    RetryRule,
    Window,
)
from gtx.errors import Conflict, NotFound
from tests.dialer import fakes
from tests.dialer.harness import HOOK, World, run


@pytest.fixture
def world() -> World:
    return World()


def numbers(n: int, start: int = 5550000) -> list[str]:
    return [str(start + i) for i in range(n)]


def contact_states(world: World, campaign_id: int) -> Counter[str]:
    return Counter(str(c.state) for c in world.store.contacts.values()
                   if c.campaign_id == campaign_id)


def test_broadcast_is_bounded_by_max_concurrent_and_max_cps(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=4)
    cid = world.campaign(node.dialer, numbers(60), max_concurrent=5, max_cps=2)
    run(node.dialer.start(cid))
    t0 = world.clock.seconds()
    most_at_once = 0
    for _ in range(int(60 / 0.05)):
        world.clock.advance(0.05)
        most_at_once = max(most_at_once, len(node.dialer.in_flight(cid)))
    starts = [t - t0 for t, _ in world.originator.originated]
    per_second = Counter(int(round(s, 3)) for s in starts)
    assert max(per_second.values()) <= 2
    assert most_at_once == 5
    assert len(starts) == 60  # everything dialled: ~5 calls per 5.x s, limited by concurrency
    assert all(r.variables["GTX_DIALER_APP"] == "survey" for _, r in world.originator.originated)
    assert all("GTX_ABANDON_SECONDS" not in r.variables for _, r in world.originator.originated)


def test_broadcast_rate_alone_bounds_originations_per_second(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=60)
    cid = world.campaign(node.dialer, numbers(100), max_concurrent=100, max_cps=3)
    run(node.dialer.start(cid))
    t0 = world.clock.seconds()
    world.advance(9.9)
    per_second = Counter(int(round(t - t0, 3)) for t, _ in world.originator.originated)
    assert len(world.originator.originated) == 30
    assert set(per_second.values()) == {3}


def test_progressive_dials_one_call_per_free_agent(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.no_answer()
    world.agents.free["sales"] = 2
    cid = world.campaign(node.dialer, numbers(10), mode=CampaignMode.PROGRESSIVE,
                         queue="sales", on_answer=None)
    run(node.dialer.start(cid))
    world.advance(5)
    assert len(world.originator.originated) == 2
    world.agents.free["sales"] = 3
    world.advance(5)
    assert len(world.originator.originated) == 3
    request = world.originator.originated[0][1]
    assert request.variables["GTX_DIALER_QUEUE"] == "sales"
    assert "GTX_ABANDON_SECONDS" not in request.variables


def test_power_dials_ratio_calls_per_free_agent(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.no_answer()
    world.agents.free["sales"] = 3
    cid = world.campaign(node.dialer, numbers(20), mode=CampaignMode.POWER, queue="sales",
                         ratio=2.0, max_cps=100, on_answer=None)
    run(node.dialer.start(cid))
    world.advance(5)
    assert len(world.originator.originated) == 6
    assert world.originator.originated[0][1].variables["GTX_ABANDON_SECONDS"] == "2"
    status = run(node.dialer.campaign_status(cid))
    assert (status.dial_ratio, status.agents_free) == (2.0, 3)
    assert status.counters["dialing"] == 6


def test_no_free_agent_no_call(world: World) -> None:
    node = world.node()
    cid = world.campaign(node.dialer, numbers(5), mode=CampaignMode.PREDICTIVE, queue="sales",
                         on_answer=None)
    run(node.dialer.start(cid))
    world.advance(10)
    assert world.originator.originated == []


def test_preview_flow(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.busy()
    cid = world.campaign(node.dialer, numbers(3), mode=CampaignMode.PREVIEW, queue="sales",
                         on_answer=None)
    with pytest.raises(Conflict):  # not running yet
        run(node.dialer.preview_next(cid, "alice"))
    run(node.dialer.start(cid))
    world.advance(5)
    assert world.originator.originated == []  # nobody dials without an agent asking
    first = run(node.dialer.preview_next(cid, "alice"))
    second = run(node.dialer.preview_next(cid, "bob"))
    assert first is not None
    assert second is not None
    assert first.id != second.id
    with pytest.raises(Conflict):
        run(node.dialer.preview_dial(cid, first.id, "bob"))
    call_id = run(node.dialer.preview_dial(cid, first.id, "alice"))
    assert world.originator.originated[0][1].call_id == call_id
    run(node.dialer.preview_skip(cid, second.id, "bob"))
    assert world.store.contacts[second.id].state is ContactState.PENDING
    third = run(node.dialer.preview_next(cid, "bob"))
    assert third is not None
    assert third.id not in (first.id, second.id)
    assert run(node.dialer.preview_next(cid, "carol")) is None


def test_preview_next_refuses_other_modes(world: World) -> None:
    node = world.node()
    cid = world.campaign(node.dialer, numbers(1))
    run(node.dialer.start(cid))
    with pytest.raises(Conflict):
        run(node.dialer.preview_next(cid, "alice"))


def test_windows_use_the_contacts_time_zone(world: World) -> None:
    node = world.node()  # Monday 10:00 UTC = 05:00 in New York, 11:00 in Paris
    cid = world.campaign(node.dialer, [], timezone="America/New_York")
    run(node.dialer.add_contacts(cid, [ContactInput("5551000"),
                                       ContactInput("5551001", timezone="Europe/Paris")]))
    run(node.dialer.start(cid))
    world.advance(2)
    assert [world.originator.number_of(r) for _, r in world.originator.originated] == ["5551001"]
    ny = next(c for c in world.store.contacts.values() if c.number == "5551000")
    assert ny.state is ContactState.PENDING
    assert ny.next_attempt_at == world.clock.seconds() - 2 + 3 * 3600  # 08:00 in New York
    world.advance(3 * 3600)
    assert len(world.originator.originated) == 2


def test_contact_whose_window_opens_tomorrow(world: World) -> None:
    node = world.node()  # Monday 10:00 UTC = 19:00 in Tokyo
    mornings = (Window(frozenset(range(5)), time(9), time(12)),)
    cid = world.campaign(node.dialer, [], windows=mornings)
    run(node.dialer.add_contacts(cid, [ContactInput("5551000", timezone="Asia/Tokyo")]))
    run(node.dialer.start(cid))
    world.advance(60)
    assert world.originator.originated == []
    contact = next(iter(world.store.contacts.values()))
    tuesday_9h_tokyo = world.clock.seconds() - 60 + 14 * 3600
    assert contact.next_attempt_at == tuesday_9h_tokyo
    world.clock.advance(tuesday_9h_tokyo - world.clock.seconds() - 1)
    world.advance(0.5)
    assert world.originator.originated == []
    world.advance(1)
    assert len(world.originator.originated) == 1


def test_busy_retried_per_its_rule(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.busy(after=1)
    cid = world.campaign(node.dialer, ["5551000"], max_attempts=5,
                         retry={Outcome.BUSY: RetryRule(attempts=3, delay=60)})
    run(node.dialer.start(cid))
    world.advance(400)
    starts = [t for t, _ in world.originator.originated]
    assert len(starts) == 3
    assert all(b - a >= 61 for a, b in itertools.pairwise(starts))
    contact = next(iter(world.store.contacts.values()))
    assert (contact.state, contact.attempts, contact.last_outcome) == (
        ContactState.DONE, 3, Outcome.BUSY)
    calls = run(node.dialer.results(cid, None, 10))[0]
    assert [c.attempt for c in calls] == [1, 2, 3]


def test_max_attempts_bounds_retries(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.no_answer()
    cid = world.campaign(node.dialer, ["5551000"], max_attempts=2, timeout=10)
    run(node.dialer.start(cid))
    world.advance(2000)
    assert len(world.originator.originated) == 2
    assert run(node.dialer.campaign_status(cid)).campaign.state is CampaignState.COMPLETED


def test_answered_contact_is_done_and_campaign_completes(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=3)
    cid = world.campaign(node.dialer, numbers(3), callback=HOOK)
    run(node.dialer.start(cid))
    world.advance(20)
    status = run(node.dialer.campaign_status(cid))
    assert status.campaign.state is CampaignState.COMPLETED
    assert (status.counters["answered"], status.counters["done"]) == (3, 3)
    assert cid not in node.dialer.runners
    events = [e for _, _, e in world.receiver.received]
    assert {e["campaign_id"] for e in events} == {cid}
    answered = next(e for e in events if e["state"] == "answered")
    assert answered["vars"] == {"campaign_id": cid, "campaign": "test",
                                "contact_id": answered["contact_id"],
                                "number": answered["number"]}


def test_dnc_at_load_and_added_later(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.busy(after=1)
    assert run(node.dialer.dnc_add(["5550000"])) == 1
    cid = world.campaign(node.dialer, [], retry={Outcome.BUSY: RetryRule(3, 60)})
    report = run(node.dialer.add_contacts(cid, [ContactInput(n) for n in numbers(3)]))
    assert (report.added, list(report.dnc)) == (3, [0])
    run(node.dialer.start(cid))
    world.advance(5)  # 5550001 and 5550002 were busy once; retries due in 60 s
    run(node.dialer.dnc_add(["5550001"]))
    world.store.dnc.add("5550002")  # on the list behind the dialer's back: caught at claim
    world.advance(300)
    dialled = Counter(world.originator.number_of(r) for _, r in world.originator.originated)
    assert dialled == {"5550001": 1, "5550002": 1}
    assert contact_states(world, cid) == {"dnc": 3}
    assert run(node.dialer.dnc_check(["5550000", "5559999"])) == ["5550000"]
    assert run(node.dialer.dnc_remove(["5550000"])) == 1


def test_pause_resume_stop(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=30)
    cid = world.campaign(node.dialer, numbers(20), max_concurrent=2, max_cps=10)
    run(node.dialer.start(cid))
    world.advance(1)
    assert len(world.originator.originated) == 2
    run(node.dialer.pause(cid))
    world.advance(60)  # the two calls end; nothing new is dialled
    assert len(world.originator.originated) == 2
    assert run(node.dialer.campaign_status(cid)).counters["answered"] == 2
    with pytest.raises(Conflict):
        run(node.dialer.pause(cid))
    run(node.dialer.resume(cid))
    world.advance(2)
    assert len(world.originator.originated) == 4
    stopped = run(node.dialer.stop(cid))
    assert stopped.state is CampaignState.STOPPED
    world.advance(60)
    assert len(world.originator.originated) == 4
    # two calls hung up, sixteen contacts never reached
    assert contact_states(world, cid) == {"done": 2, "canceled": 18}
    outcomes = Counter(str(c.outcome) for c in world.store.calls.values())
    assert outcomes == {"answered": 2, "canceled": 2}
    with pytest.raises(Conflict):
        run(node.dialer.resume(cid))


def test_abandon_rate_in_status(world: World) -> None:
    node = world.node()
    world.agents.free["sales"] = 4
    world.originator.scripts["5550000"] = fakes.Script(
        [(1, fakes.Progress.ANSWERED, None, None), (2, fakes.Progress.ENDED, "abandoned", None)])
    cid = world.campaign(node.dialer, numbers(4), mode=CampaignMode.POWER, queue="sales",
                         on_answer=None, max_cps=10)
    run(node.dialer.start(cid))
    world.advance(30)
    status = run(node.dialer.campaign_status(cid))
    assert (status.counters["abandoned"], status.counters["answered"]) == (1, 3)
    assert status.abandon_rate == pytest.approx(0.25)


def test_results_are_paged(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.busy()
    cid = world.campaign(node.dialer, numbers(5), max_attempts=1, max_cps=10)
    run(node.dialer.start(cid))
    world.advance(10)
    page, cursor = run(node.dialer.results(cid, None, 2))
    seen = [c.call_id for c in page]
    while cursor is not None:
        page, cursor = run(node.dialer.results(cid, cursor, 2))
        seen += [c.call_id for c in page]
    assert len(seen) == len(set(seen)) == 5
    assert all(c.state is CallState.COMPLETED for c in world.store.calls.values())


def test_unknown_campaign_and_bad_time_zone(world: World) -> None:
    node = world.node()
    with pytest.raises(NotFound):
        run(node.dialer.campaign_status(99))
    with pytest.raises(NotFound):
        run(node.dialer.start(99))
    cid = world.campaign(node.dialer, [])
    report = run(node.dialer.add_contacts(cid, [ContactInput("1", timezone="Nowhere/Land"),
                                                ContactInput("2"), ContactInput("2")]))
    assert report.added == 1
    assert list(report.duplicate) == [2]
    assert report.rejected[0][0] == 0
    assert "Nowhere/Land" in report.rejected[0][1]


def test_delete_refused_while_running(world: World) -> None:
    node = world.node()
    world.store.down = False
    cid = world.campaign(node.dialer, numbers(1))
    run(node.dialer.start(cid))
    with pytest.raises(Conflict):
        run(node.dialer.delete_campaign(cid))
    run(node.dialer.stop(cid))
    run(node.dialer.delete_campaign(cid))
    assert run(node.dialer.list_campaigns()) == []
