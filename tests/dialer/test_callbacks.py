"""Call-backs: at least once, in order per call, retried with back-off, never in the way."""

from __future__ import annotations

import pytest

from gtx.dialer.callbacks import event_struct, iso_time, retry_delay
from gtx.dialer.model import CallEvent, CallState, Outcome
from tests.dialer import fakes
from tests.dialer.harness import HOOK, World, request, run


@pytest.fixture
def world() -> World:
    return World()


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 60) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_event_struct() -> None:
    event = CallEvent("c1", 3, CallState.COMPLETED, 1736157600.25, Outcome.BUSY,
                      {"number": "5551000", "cause": "17", "campaign_id": 7})
    assert event_struct(event) == {
        "call_id": "c1", "seq": 3, "state": "completed", "at": "2025-01-06T10:00:00.250Z",
        "outcome": "busy", "number": "5551000", "cause": "17", "campaign_id": 7}
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"


def test_receiver_down_events_wait_and_arrive_in_order(world: World) -> None:
    node = world.node()
    world.receiver.down = True
    world.originator.default = fakes.answers(ring=1, talk=2)
    first = run(node.dialer.call(request("5551000", callback=HOOK)))
    second = run(node.dialer.call(request("5551001", callback=HOOK)))
    world.advance(30)
    # Dialling went on: both calls are over although no event got through.
    assert run(node.dialer.call_status(first)).outcome is Outcome.ANSWERED
    assert run(node.dialer.call_status(second)).outcome is Outcome.ANSWERED
    assert world.receiver.received == []
    refused_in_30s = world.receiver.refused
    # Back-off: 1 + 2 + 4 + 8 + 16 s between tries, so a handful of tries per call, not 30.
    assert refused_in_30s <= 2 * 6
    world.advance(120)
    assert world.receiver.refused - refused_in_30s <= 2 * 3  # tries now 32 s, then 60 s apart
    world.receiver.down = False
    world.advance(61)
    for call_id in (first, second):
        events = world.receiver.events(call_id)
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert [e["state"] for e in events] == [
            "queued", "dialing", "ringing", "answered", "completed"]
    assert all(row.delivered for row in world.store.outbox)


def test_a_late_answer_gives_a_duplicate_the_receiver_can_drop(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.busy(after=1)
    original = world.receiver.call
    calls: list[int] = []

    def lost_reply(url: str, method: str, params: list[object], *, timeout: float) -> object:
        calls.append(1)
        d = original(url, method, params, timeout=timeout)
        if len(calls) == 1:  # the receiver got it, but its answer never came back
            return fakes.fail(TimeoutError("no answer"))
        return d

    world.receiver.call = lost_reply  # type: ignore[method-assign]
    call_id = run(node.dialer.call(request("5551000", callback=HOOK)))
    world.advance(10)
    seqs = [e["seq"] for e in world.receiver.events(call_id)]
    assert seqs[:2] == [1, 1]  # delivered twice: same seq, dropped by the receiver
    assert sorted(set(seqs)) == [1, 2, 3]


def test_calls_without_callback_queue_nothing(world: World) -> None:
    node = world.node()
    run(node.dialer.call(request("5551000")))
    world.advance(20)
    assert world.store.outbox == []


def test_database_restart_mid_call_loses_no_state_and_no_event(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=5)
    call_id = run(node.dialer.call(request("5551000", callback=HOOK)))
    world.store.down = True
    world.advance(20)  # ringing, answered and ended while the database was away
    world.store.down = False
    world.advance(60)
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.outcome) == (CallState.COMPLETED, Outcome.ANSWERED)
    assert call.answered_at is not None
    states = [e["state"] for e in world.receiver.events(call_id)]
    assert list(dict.fromkeys(states)) == ["queued", "dialing", "ringing", "answered",
                                           "completed"]
