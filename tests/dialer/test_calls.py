"""Single calls: states recorded in order, one outcome, events, refused, link down, hang-up."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gtx.dialer.model import CallState, CampaignMode, OnAnswer, Outcome
from gtx.errors import Conflict, InvalidArgument, NotFound
from tests.dialer import fakes
from tests.dialer.harness import HOOK, SETTINGS, World, request, run


@pytest.fixture
def world() -> World:
    return World()


def test_answered_call_goes_through_every_state(world: World) -> None:
    node = world.node()
    world.originator.scripts["5551000"] = fakes.answers(ring=2, talk=10)
    call_id = run(node.dialer.call(request("5551000", callback=HOOK)))
    assert run(node.dialer.call_status(call_id)).state is CallState.DIALING
    world.advance(1)
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.channel) == (CallState.RINGING, "PJSIP/5551000-0001")
    world.advance(2)
    assert run(node.dialer.call_status(call_id)).state is CallState.ANSWERED
    world.advance(10)
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.outcome, call.cause) == (CallState.COMPLETED, Outcome.ANSWERED, "16")
    assert call.dialing_at is not None
    assert call.answered_at is not None
    assert call.ended_at is not None
    assert call.asterisk == "pbx1"
    world.advance(2)
    events = world.receiver.events(call_id)
    assert [(e["seq"], e["state"]) for e in events] == [
        (1, "queued"), (2, "dialing"), (3, "ringing"), (4, "answered"), (5, "completed")]
    assert events[-1]["outcome"] == "answered"
    assert events[0]["number"] == "5551000"
    assert str(events[0]["at"]).endswith("Z")


@pytest.mark.parametrize(("script", "outcome", "cause"), [
    (fakes.busy(), Outcome.BUSY, "17"),
    (fakes.no_answer(), Outcome.NO_ANSWER, "19"),
    (fakes.congestion(), Outcome.CONGESTION, "34"),
    (fakes.machine(), Outcome.MACHINE, "LONGGREETING"),
])
def test_each_outcome_is_recorded_once(world: World, script: fakes.Script, outcome: Outcome,
                                       cause: str) -> None:
    node = world.node()
    world.originator.scripts["5551000"] = script
    call_id = run(node.dialer.call(request("5551000", timeout=20, callback=HOOK)))
    world.advance(30)
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.outcome, call.cause) == (CallState.COMPLETED, outcome, cause)
    completed = [e for e in world.receiver.events(call_id) if e["state"] == "completed"]
    assert [e["outcome"] for e in completed] == [str(outcome)]


def test_no_answer_uses_the_ringing_timeout(world: World) -> None:
    node = world.node()
    world.originator.scripts["5551000"] = fakes.no_answer()
    call_id = run(node.dialer.call(request("5551000", timeout=20)))
    world.advance(19)
    assert run(node.dialer.call_status(call_id)).outcome is None
    world.advance(2)
    assert run(node.dialer.call_status(call_id)).outcome is Outcome.NO_ANSWER


def test_refused_originate_fails_at_once(world: World) -> None:
    node = world.node()
    world.originator.scripts["999"] = fakes.refused()
    call_id = run(node.dialer.call(request("999", callback=HOOK)))
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.outcome) == (CallState.COMPLETED, Outcome.FAILED)
    assert call.cause is not None
    assert call.cause.startswith("refused")
    world.advance(1)
    # `dialing` is recorded before the Originate goes out, so it comes before the refusal.
    assert [e["state"] for e in world.receiver.events(call_id)] == [
        "queued", "dialing", "completed"]


def test_link_down_keeps_the_call_queued_until_the_link_is_back(world: World) -> None:
    node = world.node()
    world.originator.connected = False
    call_id = run(node.dialer.call(request("5551000")))
    world.advance(30)
    assert run(node.dialer.call_status(call_id)).state is CallState.QUEUED
    assert world.originator.originated == []
    world.originator.connected = True
    world.advance(1)
    assert run(node.dialer.call_status(call_id)).state is not CallState.QUEUED
    assert len(world.originator.originated) == 1
    world.advance(30)
    assert len(world.originator.originated) == 1  # sent once
    assert run(node.dialer.call_status(call_id)).outcome is Outcome.ANSWERED


def test_link_down_past_the_deadline_fails_the_call(world: World) -> None:
    node = world.node()
    world.originator.connected = False
    call_id = run(node.dialer.call(request("5551000")))
    world.advance(node.dialer.queue_deadline + 1)
    call = run(node.dialer.call_status(call_id))
    assert (call.outcome, call.cause) == (Outcome.FAILED, "asterisk_unavailable")
    world.originator.connected = True
    world.advance(5)
    assert world.originator.originated == []


def test_hangup_of_a_ringing_call_cancels_it(world: World) -> None:
    node = world.node()
    world.originator.scripts["5551000"] = fakes.no_answer()
    call_id = run(node.dialer.call(request("5551000")))
    world.advance(1)
    run(node.dialer.hangup(call_id))
    call = run(node.dialer.call_status(call_id))
    assert (call.state, call.outcome) == (CallState.COMPLETED, Outcome.CANCELED)
    assert world.originator.hangups == [call_id]
    with pytest.raises(Conflict):
        run(node.dialer.hangup(call_id))


def test_hangup_of_a_queued_call_cancels_it_without_asterisk(world: World) -> None:
    node = world.node()
    world.originator.connected = False
    call_id = run(node.dialer.call(request("5551000")))
    run(node.dialer.hangup(call_id))
    assert run(node.dialer.call_status(call_id)).outcome is Outcome.CANCELED
    world.originator.connected = True
    world.advance(5)
    assert world.originator.originated == []


def test_unknown_call_and_unknown_server(world: World) -> None:
    node = world.node()
    with pytest.raises(NotFound):
        run(node.dialer.call_status("nope"))
    with pytest.raises(NotFound):
        run(node.dialer.hangup("nope"))
    with pytest.raises(InvalidArgument):
        run(node.dialer.call(request("1", asterisk="pbx9")))


def test_originate_carries_the_hand_off_variables(world: World) -> None:
    node = world.node()
    run(node.dialer.call(request("5551000", caller_id="100", timeout=25, amd=True,
                                 vars={"order": 42}, on_answer=OnAnswer(app="survey"))))
    run(node.dialer.call(request("5551001", on_answer=OnAnswer(queue="sales"))))
    run(node.dialer.call(request("5551002",
                                 on_answer=OnAnswer(context="from-gtx", extension="s"))))
    run(node.dialer.call(request("5551003", on_answer=OnAnswer(
        url="http://ivr.example/rpc", method="survey.step"))))
    app, queue, goto, url = (r for _, r in world.originator.originated)
    assert app.dial_string == "PJSIP/5551000@trunk"
    assert (app.timeout, app.caller_id) == (25, "100")
    assert (app.context, app.extension, app.priority) == ("gtx-dialer", "answered", 1)
    assert app.variables["GTX_CALL_ID"] == app.call_id
    assert app.variables["GTX_AMD"] == "1"
    assert app.variables["GTX_DIALER_APP"] == "survey"
    assert app.variables["GTX_STATUS"] == "READY"
    assert json.loads(app.variables["GTX_VARS"]) == {"order": 42}
    assert queue.variables["GTX_DIALER_QUEUE"] == "sales"
    assert "GTX_DIALER_APP" not in queue.variables
    assert "GTX_AMD" not in queue.variables
    assert goto.variables["GTX_DIALER_GOTO"] == "from-gtx,s,1"
    assert url.variables["GTX_DIALER_APP"] == (
        "ivr?url=http%3A%2F%2Fivr.example%2Frpc&method=survey.step")


def test_calls_to_a_queue_carry_the_safe_harbor_prompt(world: World) -> None:
    settings = replace(SETTINGS, safe_harbor="custom/acme-safe-harbor")
    node = world.node(settings=settings)
    run(node.dialer.call(request("5551001", on_answer=OnAnswer(queue="sales"))))
    run(node.dialer.call(request("5551000", on_answer=OnAnswer(app="survey"))))
    queue, app = (r for _, r in world.originator.originated)
    assert queue.variables["GTX_SAFE_HARBOR"] == "custom/acme-safe-harbor"
    assert "GTX_SAFE_HARBOR" not in app.variables


def test_power_campaign_calls_carry_the_safe_harbor_prompt(world: World) -> None:
    node = world.node()
    world.agents.free["sales"] = 1
    cid = world.campaign(node.dialer, ["5552000"], mode=CampaignMode.POWER, queue="sales",
                         max_cps=10)
    run(node.dialer.start(cid))
    world.advance(1)
    ((_, sent),) = world.originator.originated
    assert sent.variables["GTX_DIALER_QUEUE"] == "sales"
    assert sent.variables["GTX_ABANDON_SECONDS"] == "2"
    assert sent.variables["GTX_SAFE_HARBOR"] == SETTINGS.safe_harbor


def test_a_second_outcome_is_ignored(world: World) -> None:
    node = world.node()
    world.originator.scripts["5551000"] = fakes.busy(after=1)
    call_id = run(node.dialer.call(request("5551000")))
    world.advance(2)
    world.originator.sinks[call_id](fakes.OriginateUpdate(call_id, fakes.Progress.ENDED,
                                                          "answered"))
    assert run(node.dialer.call_status(call_id)).outcome is Outcome.BUSY
