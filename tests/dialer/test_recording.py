"""The campaign option ``record``: recordings started on answer, linked to the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gtx.dialer.model import Outcome
from gtx.dialer.recording import sampled
from gtx.dialer.structs import call_struct, spec_struct
from gtx.dialer.validate_campaign import record
from gtx.errors import InvalidArgument, NotFound
from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from tests.dialer import fakes
from tests.dialer.harness import HOOK, World, run


@dataclass
class FakeRecorderService:
    """What the dialer uses of :class:`gtx.recorder.service.RecorderService`."""

    started: list[tuple[RecordingTarget, RecordingOptions, str]] = field(default_factory=list)
    refuse: Exception | None = None

    async def start(self, target: RecordingTarget, options: RecordingOptions,
                    started_by: str) -> Recording:
        if self.refuse is not None:
            raise self.refuse
        self.started.append((target, options, started_by))
        return Recording(recording_id=f"rec-{len(self.started)}", target=target,
                         options=options, state=RecordingState.RECORDING, files=(),
                         started=0.0, started_by=started_by)


@pytest.fixture
def world() -> World:
    return World()


def numbers(n: int) -> list[str]:
    return [str(5550000 + i) for i in range(n)]


def campaign_calls(world: World, cid: int) -> list[Any]:
    return [c for c in world.store.calls.values() if c.campaign_id == cid]


def test_every_answered_call_is_recorded_and_linked(world: World) -> None:
    recorder = FakeRecorderService()
    node = world.node(recorder=recorder)
    world.originator.default = fakes.answers(ring=1, talk=3)
    cid = world.campaign(node.dialer, numbers(3), record=100.0, callback=HOOK)
    run(node.dialer.start(cid))
    world.advance(30)
    calls = campaign_calls(world, cid)
    assert {c.outcome for c in calls} == {Outcome.ANSWERED}
    assert sorted(c.recording_id for c in calls) == ["rec-1", "rec-2", "rec-3"]
    target, options, started_by = recorder.started[0]
    assert target.call_id in {c.call_id for c in calls}
    assert started_by == f"dialer:{cid}"
    assert options.metadata["campaign_id"] == cid
    for call in calls:
        events = world.receiver.events(call.call_id)
        by_state = {e["state"]: e for e in events}
        assert "recording_id" not in by_state["ringing"]  # not answered yet
        assert by_state["answered"]["recording_id"] == call.recording_id
        assert by_state["completed"]["recording_id"] == call.recording_id
        assert call_struct(call)["recording_id"] == call.recording_id


def test_unanswered_calls_and_campaigns_without_the_option_are_not_recorded(
    world: World,
) -> None:
    recorder = FakeRecorderService()
    node = world.node(recorder=recorder)
    world.originator.default = fakes.busy()
    busy = world.campaign(node.dialer, numbers(2), record=100.0, max_attempts=1)
    run(node.dialer.start(busy))
    world.advance(20)
    world.originator.default = fakes.answers(ring=1, talk=2)
    plain = world.campaign(node.dialer, [str(5551000 + i) for i in range(2)], name="plain")
    run(node.dialer.start(plain))
    world.advance(20)
    assert recorder.started == []
    assert all(c.recording_id is None for c in world.store.calls.values())
    assert "recording_id" not in call_struct(next(iter(world.store.calls.values())))


def test_a_recorder_failure_leaves_the_call_unrecorded_but_answered(world: World) -> None:
    recorder = FakeRecorderService(refuse=NotFound("no channel for call"))
    node = world.node(recorder=recorder)
    world.originator.default = fakes.answers(ring=1, talk=2)
    cid = world.campaign(node.dialer, numbers(1), record=100.0)
    run(node.dialer.start(cid))
    world.advance(20)
    (call,) = campaign_calls(world, cid)
    assert (call.outcome, call.recording_id) == (Outcome.ANSWERED, None)


def test_without_a_recorder_the_option_records_nothing(world: World) -> None:
    node = world.node()
    world.originator.default = fakes.answers(ring=1, talk=2)
    cid = world.campaign(node.dialer, numbers(1), record=100.0)
    run(node.dialer.start(cid))
    world.advance(20)
    (call,) = campaign_calls(world, cid)
    assert (call.outcome, call.recording_id) == (Outcome.ANSWERED, None)


def test_a_percentage_records_a_stable_sample(world: World) -> None:
    recorder = FakeRecorderService()
    node = world.node(recorder=recorder)
    world.originator.default = fakes.answers(ring=1, talk=1)
    cid = world.campaign(node.dialer, numbers(40), record=25.0, max_concurrent=40,
                         max_cps=100)
    run(node.dialer.start(cid))
    world.advance(60)
    calls = campaign_calls(world, cid)
    recorded = {c.call_id for c in calls if c.recording_id is not None}
    assert recorded == {c.call_id for c in calls if sampled(c.call_id, 25.0)}
    assert 0 < len(recorded) < len(calls)


def test_sampling_is_decided_by_the_call_id_alone() -> None:
    ids = [f"call-{n}" for n in range(10_000)]
    chosen = [i for i in ids if sampled(i, 10.0)]
    assert 900 < len(chosen) < 1100
    assert chosen == [i for i in ids if sampled(i, 10.0)]  # the same answer every time
    assert all(sampled(i, 100.0) for i in ids[:50])
    assert not any(sampled(i, 0.0) for i in ids[:50])
    assert set(chosen) <= {i for i in ids if sampled(i, 20.0)}  # a larger sample keeps these


@pytest.mark.parametrize(("value", "expected"), [
    (True, 100.0), (False, 0.0), ({"percent": 12.5}, 12.5), ({"percent": 0}, 0.0)])
def test_record_option_values(value: object, expected: float) -> None:
    assert record(value, "spec.record") == expected


@pytest.mark.parametrize(("value", "message"), [
    ("yes", "spec.record"), ({"percent": 101}, "spec.record.percent"),
    ({"share": 5}, "spec.record"), ({}, "spec.record.percent")])
def test_bad_record_option_values(value: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        record(value, "spec.record")
    assert message in str(raised.value)


def test_the_option_round_trips_through_the_spec_struct(world: World) -> None:
    node = world.node()
    for given, shown in ((100.0, True), (0.0, False), (30.0, {"percent": 30.0})):
        cid = world.campaign(node.dialer, [], name=f"r{given}", record=given)
        campaign = run(world.store.get_campaign(cid))
        assert spec_struct(campaign.spec)["record"] == shown
