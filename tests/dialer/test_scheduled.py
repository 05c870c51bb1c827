"""Scheduled single calls (``not_before`` / ``delay``): stored queued at once, dialled when due,
never before and never twice, across restarts and from another node."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gtx.dialer.ivr_callbacks import DialerCallbacks
from gtx.dialer.model import CallState, OnAnswer, Outcome
from gtx.errors import Conflict, InvalidArgument
from tests.dialer.harness import HOOK, SETTINGS, Node, World, request, run
from tests.dialer.test_nodes import crash

HOUR = 3600.0
DAY = 86400.0


@pytest.fixture
def world() -> World:
    return World()


def dialled(world: World) -> list[tuple[float, str]]:
    return [(at, r.call_id) for at, r in world.originator.originated]


def test_a_call_with_a_delay_is_stored_queued_and_dialled_when_due(world: World) -> None:
    node = world.node()
    start = world.clock.seconds()
    call_id = run(node.dialer.call(request("5551000", delay=HOUR, callback=HOOK)))
    stored = world.store.calls[call_id]
    assert stored.state is CallState.QUEUED
    assert stored.request.not_before == start + HOUR
    assert stored.request.delay is None  # resolved before it was stored
    world.advance(HOUR - 1, step=5)
    assert dialled(world) == []
    assert run(node.dialer.call_status(call_id)).state is CallState.QUEUED
    world.advance(2)
    assert dialled(world) == [(start + HOUR, call_id)]
    world.advance(60)
    assert run(node.dialer.call_status(call_id)).outcome is Outcome.ANSWERED
    assert [e["state"] for e in world.receiver.events(call_id)] == [
        "queued", "dialing", "ringing", "answered", "completed"]
    assert len(dialled(world)) == 1


def test_a_call_at_a_time_is_dialled_then(world: World) -> None:
    node = world.node()
    at = world.clock.seconds() + 120
    call_id = run(node.dialer.call(request("5551000", not_before=at)))
    world.advance(119)
    assert dialled(world) == []
    world.advance(1)
    assert dialled(world) == [(at, call_id)]


def test_a_time_a_little_in_the_past_is_dialled_at_once(world: World) -> None:
    node = world.node()
    now = world.clock.seconds()
    call_id = run(node.dialer.call(request("5551000", not_before=now - 30)))
    assert dialled(world) == [(now, call_id)]


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"not_before": -2 * HOUR}, "options.at", "in the past"),
    ({"not_before": 31 * DAY}, "options.at", "more than 30 days ahead"),
    ({"delay": 31 * DAY}, "options.delay", "30 days"),
    ({"delay": -1.0}, "options.delay", "30 days"),
    ({"delay": 60.0, "not_before": 60.0}, "options.delay", "either at or delay"),
])
def test_times_out_of_range_are_refused(world: World, options: dict[str, float], field: str,
                                        words: str) -> None:
    node = world.node()
    now = world.clock.seconds()
    if "not_before" in options:
        options["not_before"] += now
    with pytest.raises(InvalidArgument) as refused:
        run(node.dialer.call(request("5551000", **options)))
    assert refused.value.field == field
    assert words in refused.value.problem
    assert world.store.calls == {}


def test_a_scheduled_call_survives_a_restart_and_is_dialled_once(world: World) -> None:
    first = world.node()
    start = world.clock.seconds()
    call_id = run(first.dialer.call(request("5551000", delay=600, callback=HOOK)))
    world.advance(100)
    crash(first)
    world.advance(100)
    second = world.node()  # same node name, same store: the call is scheduled again
    world.advance(399)
    assert dialled(world) == []
    world.advance(2)
    assert dialled(world) == [(start + 600, call_id)]
    world.advance(120)
    assert run(second.dialer.call_status(call_id)).outcome is Outcome.ANSWERED
    assert len(dialled(world)) == 1
    states = [e["state"] for e in world.receiver.events(call_id)]
    assert states == ["queued", "dialing", "ringing", "answered", "completed"]


def test_a_call_due_while_the_node_was_down_is_dialled_at_its_start(world: World) -> None:
    first = world.node()
    call_id = run(first.dialer.call(request("5551000", delay=60)))
    crash(first)
    world.advance(300)  # the node is down when the call is due
    assert dialled(world) == []
    world.node()
    world.advance(0.25)
    assert [c for _, c in dialled(world)] == [call_id]


def test_a_stopped_dialer_does_not_dial_it_too(world: World) -> None:
    """A restart of the same node: the old dialer's timer was cancelled with its service."""
    first = world.node()
    call_id = run(first.dialer.call(request("5551000", delay=60)))
    run(first.dialer.stopService())
    world.node()
    world.advance(120)
    assert [c for _, c in dialled(world)] == [call_id]


def test_hangup_of_a_scheduled_call_cancels_it(world: World) -> None:
    node = world.node()
    call_id = run(node.dialer.call(request("5551000", delay=60, callback=HOOK)))
    run(node.dialer.hangup(call_id))
    call = run(node.dialer.call_status(call_id))
    assert (call.outcome, call.cause) == (Outcome.CANCELED, "hangup")
    world.advance(120)
    assert dialled(world) == []
    assert node.dialer._timers == {}
    assert [e["state"] for e in world.receiver.events(call_id)] == ["queued", "completed"]


def test_hangup_through_another_node_cancels_it_there_and_here(world: World) -> None:
    owner = world.node("gtx1")
    other: Node = world.node("gtx2")
    call_id = run(owner.dialer.call(request("5551000", delay=60, callback=HOOK)))
    run(other.dialer.hangup(call_id))
    assert run(owner.dialer.call_status(call_id)).outcome is Outcome.CANCELED
    with pytest.raises(Conflict):
        run(other.dialer.hangup(call_id))
    world.advance(120)
    assert dialled(world) == []  # the owner found it completed when it came to dial it
    assert call_id not in owner.dialer._calls
    assert [e["state"] for e in world.receiver.events(call_id)] == ["queued", "completed"]


def test_link_down_when_due_waits_for_the_link(world: World) -> None:
    node = world.node()
    call_id = run(node.dialer.call(request("5551000", delay=60)))
    world.originator.connected = False
    world.advance(90)
    assert run(node.dialer.call_status(call_id)).state is CallState.QUEUED
    world.originator.connected = True
    world.advance(1)
    assert [c for _, c in dialled(world)] == [call_id]


def test_a_call_into_an_app_carries_its_vars_when_scheduled(world: World) -> None:
    node = world.node()
    run(node.dialer.call(request("5551000", delay=30, vars={"topic": "billing"},
                                 on_answer=OnAnswer(app="survey"))))
    world.advance(31)
    ((_, sent),) = world.originator.originated
    assert sent.variables["GTX_DIALER_APP"] == "survey"
    assert sent.variables["GTX_STATUS"] == "READY"
    assert sent.variables["GTX_VARS"] == '{"topic":"billing"}'


# -- the IVR's callback action, through DialerCallbacks -------------------------------------


def test_a_call_back_of_the_ivr_is_a_scheduled_call_into_the_app(world: World) -> None:
    node = world.node()
    callbacks = DialerCallbacks(node.dialer, SETTINGS)
    due = world.clock.seconds() + 60
    call_id = run(callbacks.schedule("5551000", due, "survey", {"topic": "billing"},
                                     '"Support" <100>'))
    request = world.store.calls[call_id].request
    assert (request.destination, request.channel, request.not_before) == (
        "5551000", SETTINGS.channel, due)
    assert (request.on_answer, request.caller_id) == (OnAnswer(app="survey"), '"Support" <100>')
    world.advance(59)
    assert dialled(world) == []
    world.advance(1)
    ((_, sent),) = world.originator.originated
    assert sent.variables["GTX_DIALER_APP"] == "survey"
    assert sent.variables["GTX_VARS"] == '{"topic":"billing"}'
    assert sent.caller_id == '"Support" <100>'


def test_a_call_back_into_a_web_service_named_by_url(world: World) -> None:
    node = world.node()
    callbacks = DialerCallbacks(node.dialer, SETTINGS)
    call_id = run(callbacks.schedule("5551000", world.clock.seconds() + 5,
                                     ("https://shop.example/rpc", "shop.start"), {}, None))
    assert world.store.calls[call_id].request.on_answer == OnAnswer(
        url="https://shop.example/rpc", method="shop.start")


def test_call_backs_refused_by_the_dialer(world: World) -> None:
    node = world.node()
    with pytest.raises(Conflict, match=r"no \[dialer\] channel in gtx.ini"):
        run(DialerCallbacks(node.dialer, replace(SETTINGS, channel=None)).schedule(
            "5551000", world.clock.seconds() + 60, "survey", {}, None))
    with pytest.raises(InvalidArgument, match="is in the past"):
        run(DialerCallbacks(node.dialer, SETTINGS).schedule(
            "5551000", world.clock.seconds() - HOUR, "survey", {}, None))
    assert world.store.calls == {}
