"""ARIOriginator against a scripted link: the request, the progress read from events shaped like
the real ones, exactly one ENDED, refusals, bounds, hang-ups and resynchronisation."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import (
    AriBadRequest,
    AriError,
    AriNotFound,
    AriServerError,
    AriTimeout,
    AriUnavailable,
)
from gtx.asterisk.ari_dialer_calls import originate_params
from gtx.asterisk.ari_originator import ENDED_WHILE_DOWN, ARIOriginator
from gtx.origination import (
    OriginateError,
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    OriginatorUnavailable,
)
from tests.asterisk.ari_fakes import (
    HOLD,
    FakeAriLink,
    channel,
    destroyed,
    dial,
    stasis_end,
    stasis_start,
    state_change,
    user_event,
)

CALL = "call-1"
LEG = channel(CALL, "PJSIP/trunk-00000001")


class Rig:
    """An ARIOriginator on a FakeAriLink, with the updates of every call."""

    def __init__(self) -> None:
        self.link = FakeAriLink()
        self.clock = Clock()
        self.originator = ARIOriginator(self.link, self.clock, margin=30.0)
        self.updates: dict[str, list[OriginateUpdate]] = {}

    def sink(self, update: OriginateUpdate) -> None:
        self.updates.setdefault(update.call_id, []).append(update)

    def originate(self, call_id: str = CALL, **fields: Any) -> list[object]:
        request = OriginateRequest(**{"call_id": call_id, "dial_string": "PJSIP/555@trunk",
                                      "timeout": 20, **fields})
        outcome: list[object] = []
        self.originator.originate(request, self.sink).addBoth(outcome.append)
        return outcome

    def progress(self, call_id: str = CALL) -> list[tuple[str, str | None]]:
        return [(u.progress.value, u.outcome) for u in self.updates.get(call_id, [])]

    def ended(self, call_id: str = CALL) -> OriginateUpdate:
        (last,) = [u for u in self.updates[call_id] if u.progress.value == "ended"]
        return last


@pytest.fixture
def rig() -> Rig:
    return Rig()


def error_of(outcome: list[object]) -> BaseException:
    (value,) = outcome
    assert isinstance(value, Failure)
    return value.value


def test_originate_request(rig: Rig) -> None:
    rig.link.answer("channels", "originate", LEG)
    assert rig.originate(caller_id='"Shop" <5550100>', variables={"GTX_AMD": "1"}) == [None]
    assert rig.link.requests == [("channels", "originate", {
        "endpoint": "PJSIP/555@trunk", "app": "gtx", "appArgs": "gtx-dialer",
        "channelId": CALL, "otherChannelId": f"{CALL}-2", "timeout": 20,
        "variables": {"GTX_CALL_ID": CALL, "GTX_AMD": "1"}, "callerId": '"Shop" <5550100>'})]
    assert rig.originator.calls == {CALL}
    assert rig.link.events.watched == 1


def test_answered_machine_runs_the_dialer_dialplan_and_ends_once(rig: Rig) -> None:
    rig.link.answer("channels", "originate", HOLD)
    placed = rig.originate(context="gtx-dialer", extension="answered", priority=1)
    # events come before the answer to the request: the channel is watched already
    rig.link.feed(dial(LEG, ""), dial(LEG, "RINGING"))
    assert rig.progress() == [("ringing", None)]
    _, _, held = rig.link.pending.pop()
    held.callback(LEG)
    assert placed == [None]
    rig.link.feed(state_change(LEG, "Up"), dial(LEG, "ANSWER"), stasis_start(LEG, "gtx-dialer"))
    assert rig.progress() == [("ringing", None), ("answered", None)]
    assert rig.link.ops()[1:] == ["applications.subscribe", "channels.continueInDialplan"]
    assert rig.link.requests[1][2] == {"applicationName": "gtx", "eventSource": f"channel:{CALL}"}
    assert rig.link.requests[2][2] == {"channelId": CALL, "context": "gtx-dialer",
                                       "extension": "answered", "priority": 1}
    rig.link.feed(stasis_end(LEG),
                  user_event(LEG, "GtxAmd", CallId=CALL, Status="MACHINE", Cause="LONGGREETING"),
                  destroyed(LEG))
    ended = rig.ended()
    assert (ended.outcome, ended.cause, ended.channel) == (
        "machine", "AMD MACHINE LONGGREETING", "PJSIP/trunk-00000001")
    rig.link.feed(destroyed(LEG))
    assert len(rig.updates[CALL]) == 3
    assert rig.link.events.watched == 0
    assert rig.originator.calls == frozenset()
    assert not rig.clock.getDelayedCalls()


def test_answered_person_and_abandoned(rig: Rig) -> None:
    rig.originate()
    rig.originate("call-2")
    other = channel("call-2")
    rig.link.feed(stasis_start(LEG, "gtx-dialer"), stasis_start(other, "gtx-dialer"))
    rig.link.feed(user_event(LEG, "GtxAmd", CallId=CALL, Status="HUMAN", Cause="HUMAN-1-1"),
                  user_event(LEG, "GtxConnected", CallId=CALL, To="app"),
                  destroyed(LEG))
    rig.link.feed(user_event(other, "GtxAbandoned", CallId="call-2", Queue="sales",
                             Reason="TIMEOUT"), destroyed(other))
    assert (rig.ended().outcome, rig.ended().cause) == (
        "answered", "hangup cause 16 (Normal Clearing)")
    assert (rig.ended("call-2").outcome, rig.ended("call-2").cause) == (
        "abandoned", "no agent in time")


def test_busy_as_in_the_transcript_ends_at_the_dial(rig: Rig) -> None:
    rig.originate()
    rig.link.feed(dial(LEG, ""), state_change(channel(f"{CALL}-2"), "Busy"), dial(LEG, "BUSY"))
    assert rig.progress() == [("ended", "busy")]
    assert rig.ended().cause == "dial BUSY"
    assert rig.link.events.watched == 0
    rig.link.feed(destroyed(LEG, 0, "Unknown"))
    assert rig.progress() == [("ended", "busy")]


@pytest.mark.parametrize(("status", "outcome"), [
    ("NOANSWER", "no_answer"), ("CONGESTION", "congestion"), ("CHANUNAVAIL", "failed")])
def test_dial_statuses(rig: Rig, status: str, outcome: str) -> None:
    rig.originate()
    rig.link.feed(dial(LEG, "RINGING"), dial(LEG, status))
    assert rig.progress() == [("ringing", None), ("ended", outcome)]


@pytest.mark.parametrize(("cause", "outcome"), [(17, "busy"), (19, "no_answer"), (16, "failed")])
def test_destroyed_before_any_answer_reads_the_cause(rig: Rig, cause: int, outcome: str) -> None:
    rig.originate()
    rig.link.feed(destroyed(LEG, cause, "x"))
    assert (rig.ended().outcome, rig.ended().cause) == (outcome, f"hangup cause {cause} (x)")


def test_a_dial_made_by_the_call_is_not_about_it(rig: Rig) -> None:
    rig.originate()
    rig.link.feed(stasis_start(LEG, "gtx-dialer"),
                  dial(channel("agent-1"), "BUSY", caller=LEG),
                  user_event(LEG, "GtxAmd", CallId="another", Status="MACHINE"),
                  stasis_start(LEG, "menu"))
    assert rig.progress() == [("answered", None)]
    assert rig.link.ops().count("channels.continueInDialplan") == 1


@pytest.mark.parametrize("error", [
    AriBadRequest("originate", 400, "Endpoint must be specified"),
    AriError("channels.originate has no parameter foo"),
    AriServerError("originate", 500, "Allocation failed")])
def test_refused_at_once(rig: Rig, error: Exception) -> None:
    rig.link.answer("channels", "originate", error)
    refused = error_of(rig.originate())
    assert isinstance(refused, OriginateRefused)
    assert str(error) in str(refused)
    assert rig.updates == {}
    assert rig.link.events.watched == 0
    assert not rig.clock.getDelayedCalls()


def test_link_down(rig: Rig) -> None:
    rig.link.drop()
    assert isinstance(error_of(rig.originate()), OriginatorUnavailable)
    assert rig.link.requests == []
    rig.link.connected_now = True
    rig.link.answer("channels", "originate", AriUnavailable("dropped"))
    assert isinstance(error_of(rig.originate()), OriginatorUnavailable)
    assert rig.originator.calls == frozenset()
    assert rig.link.events.watched == 0


def test_bad_requests_are_refused_before_sending(rig: Rig) -> None:
    assert isinstance(error_of(rig.originate(dial_string="nowhere")), OriginateRefused)
    assert isinstance(error_of(rig.originate(variables={"": "x"})), OriginateRefused)
    assert rig.link.requests == []
    rig.originate()
    assert isinstance(error_of(rig.originate()), OriginateError)
    with pytest.raises(ValueError, match="positive"):
        originate_params(OriginateRequest("c", "PJSIP/1@t", 0), "gtx")


def test_unanswered_request_is_followed_then_bounded(rig: Rig) -> None:
    rig.link.answer("channels", "originate", AriTimeout("no answer in 10 s"))
    assert rig.originate() == [None]
    rig.clock.advance(20 + 29)
    assert rig.updates == {}
    rig.clock.advance(1)
    assert rig.link.ops()[-1] == "channels.hangup"
    assert (rig.ended().outcome, rig.ended().cause) == (
        "failed", "no outcome from Asterisk within 50 s")
    assert rig.link.events.watched == 0


def test_bound_waits_for_the_resynchronisation_when_down(rig: Rig) -> None:
    rig.originate()
    rig.link.drop()
    rig.clock.advance(60)
    assert rig.updates == {}
    rig.link.answer("channels", "list", [{**LEG, "state": "Ringing"}])
    rig.link.ready()
    assert rig.progress() == [("ringing", None)]
    rig.clock.advance(30)
    assert rig.progress() == [("ringing", None), ("ended", "failed")]


def test_hangup_cancels(rig: Rig) -> None:
    rig.originate()
    rig.link.feed(dial(LEG, "RINGING"))
    done: list[object] = []
    rig.originator.hangup(CALL).addBoth(done.append)
    assert done == [None]
    assert rig.link.requests[-1] == ("channels", "hangup", {"channelId": CALL})
    rig.link.feed(dial(LEG, "CANCEL"))
    assert (rig.ended().outcome, rig.ended().cause) == ("canceled", "dial CANCEL")


def test_hangup_of_an_answered_call_and_of_one_gone(rig: Rig) -> None:
    rig.originate()
    rig.link.feed(stasis_start(LEG, "gtx-dialer"))
    rig.link.answer("channels", "hangup", AriNotFound("hangup", 404, "Channel not found"))
    done: list[object] = []
    rig.originator.hangup(CALL).addBoth(done.append)
    assert done == [None]
    rig.link.feed(destroyed(LEG, 32))
    assert rig.ended().outcome == "canceled"
    rig.link.drop()
    assert isinstance(error_of([*_fired(rig.originator.hangup("x"))]), OriginatorUnavailable)


def test_hangup_while_the_request_is_on_its_way(rig: Rig) -> None:
    rig.link.answer("channels", "originate", HOLD)
    rig.link.answer("channels", "hangup", AriNotFound("hangup", 404, "Channel not found"))
    rig.originate()
    rig.originator.hangup(CALL)
    rig.link.pending.pop()[2].callback(LEG)
    assert rig.link.ops() == ["channels.originate", "channels.hangup", "channels.hangup"]
    rig.link.feed(destroyed(LEG))
    assert rig.ended().outcome == "canceled"


def test_a_call_that_cannot_go_on_in_the_dialplan_is_hung_up(rig: Rig) -> None:
    rig.link.answer("channels", "continueInDialplan",
                    AriServerError("continueInDialplan", 500, "Internal Server Error"))
    rig.originate()
    rig.link.feed(stasis_start(LEG, "gtx-dialer"))
    assert rig.link.ops()[-1] == "channels.hangup"
    rig.link.feed(destroyed(LEG))
    assert rig.ended().outcome == "failed"
    assert "could not go on in the dialplan at gtx-dialer,answered,1" in str(rig.ended().cause)


def test_resynchronisation(rig: Rig) -> None:
    for call_id in ("ringing", "gone", "answered-gone", "waits", "in-dialplan", "canceled"):
        rig.originate(call_id)
    rig.link.feed(stasis_start(channel("answered-gone"), "gtx-dialer"),
                  stasis_start(channel("in-dialplan"), "gtx-dialer"))
    rig.originator.hangup("canceled")
    rig.link.drop()
    rig.link.requests.clear()
    rig.link.answer("channels", "list", [
        channel("ringing", state="Ringing"),
        {**channel("waits", state="Up", app_name="Stasis", app_data="gtx,gtx-dialer")},
        channel("in-dialplan", state="Up", app_name="AMD", app_data=""),
        channel("canceled", state="Ringing"),
        channel("stranger", state="Up"),
    ])
    rig.link.ready()
    assert rig.progress("ringing") == [("ringing", None)]
    assert rig.progress("gone") == [("ended", "failed")]
    assert rig.ended("gone").cause == ENDED_WHILE_DOWN
    assert rig.progress("answered-gone") == [("answered", None), ("ended", "answered")]
    assert rig.progress("waits") == [("answered", None)]
    assert ("channels", "continueInDialplan", {
        "channelId": "waits", "context": "gtx-dialer", "extension": "answered",
        "priority": 1}) in rig.link.requests
    assert ("applications", "subscribe", {"applicationName": "gtx",
                                          "eventSource": "channel:in-dialplan"}
            ) in rig.link.requests
    assert ("channels", "hangup", {"channelId": "canceled"}) in rig.link.requests
    assert rig.originator.calls == {"ringing", "waits", "in-dialplan", "canceled"}
    assert rig.link.events.watched == 4


def test_track_checks_at_once_when_connected(rig: Rig) -> None:
    rig.link.answer("channels", "list", [channel("kept", state="Up", app_name="Queue")], [])
    rig.originator.track("kept", rig.sink)
    assert rig.progress("kept") == [("answered", None)]
    rig.originator.track("lost", rig.sink)
    assert rig.progress("lost") == [("ended", "failed")]
    rig.link.feed(destroyed(channel("kept")))
    assert rig.progress("kept") == [("answered", None), ("ended", "answered")]
    assert rig.link.events.watched == 0


def test_a_sweep_during_a_sweep_runs_again(rig: Rig) -> None:
    rig.link.answer("channels", "list", HOLD)
    rig.originate()
    rig.link.ready()
    rig.link.ready()
    assert rig.link.ops().count("channels.list") == 1
    rig.link.pending.pop()[2].callback([LEG])
    assert rig.link.ops().count("channels.list") == 2
    rig.link.answer("channels", "list", AriServerError("list", 500, "x"))
    rig.link.ready()  # a failed sweep is only logged
    assert rig.originator.calls == {CALL}


def test_a_failing_sink_does_not_stop_the_call(rig: Rig) -> None:
    seen: list[OriginateUpdate] = []

    def sink(update: OriginateUpdate) -> None:
        seen.append(update)
        raise RuntimeError("boom")

    rig.originator.originate(OriginateRequest(CALL, "PJSIP/1@t", 20), sink)
    rig.link.feed(dial(LEG, "ANSWER"), destroyed(LEG))
    assert [u.progress.value for u in seen] == ["answered", "ended"]
    assert rig.link.events.watched == 0


def _fired(d: Deferred[None]) -> list[object]:
    out: list[object] = []
    d.addBoth(out.append)
    return out
