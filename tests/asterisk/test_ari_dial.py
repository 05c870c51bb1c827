"""ARIChannel.dial over a scripted AriLink and a Clock: legs originated into Stasis, the first
to answer bridged with the caller, DIALSTATUS from Dial events and hang-up causes, and nothing
left behind (legs, bridge, watchers, timers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gtx.asterisk.ari_api import AriUnavailable, http_error
from gtx.asterisk.ari_dial import RING_GRACE, combined_status, status_from_cause
from gtx.channel import ChannelGone, CommandFailed, DialResult
from tests.asterisk.scripted_ari import (
    Call,
    channel_json,
    event,
    failure,
    result,
    stasis_start,
)

Script = list[tuple[float, str, dict[str, Any]]]


def dial_event(leg: str, status: str) -> dict[str, Any]:
    return {"type": "Dial", "timestamp": "2026-11-21T23:44:20.942+0000", "dialstatus": status,
            "forward": "", "dialstring": "x", "peer": channel_json(leg, state="Down"),
            "asterisk_id": "02:fc:00:00:00:01", "application": "gtx"}


class Dialling(Call):
    """A Call whose originated legs follow a script per target."""

    def __init__(self, **start: Any) -> None:
        super().__init__(**start)
        self.scripts: dict[str, Script] = {}
        self.link.answer("channels.originate", self._originate)

    def target(self, endpoint: str, *steps: tuple[float, str, dict[str, Any]]) -> None:
        """What the leg to ``endpoint`` does: (seconds after originate, kind, fields)."""
        self.scripts[endpoint] = list(steps)

    def _originate(self, params: dict[str, Any]) -> Any:
        leg = params["channelId"]
        script = self.scripts.get(params["endpoint"])
        if script is None:
            return http_error("originate", 400, "Invalid endpoint")
        for delay, kind, fields in script:
            if kind == "Dial":
                item = dial_event(leg, fields["status"])
            elif kind == "StasisStart":
                item = stasis_start(leg, ["gtx-dial"])
            else:
                item = event(kind, leg, **fields)
            self.clock.callLater(delay, self.link.emit, item)
        return channel_json(leg, state="Down")

    def hung_up_legs(self) -> list[str]:
        return [p["channelId"] for p in self.link.made("channels.hangup")]


ANSWERS_AFTER_5 = ((1, "Dial", {"status": "RINGING"}), (5, "StasisStart", {}))
BUSY = ((1, "Dial", {"status": "BUSY"}),
        (1, "ChannelDestroyed", {"cause": 0, "cause_txt": "Unknown"}))


@pytest.fixture
def call() -> Iterator[Dialling]:
    c = Dialling()
    yield c
    c.clock.advance(1000)  # what the legs still had to do goes nowhere
    c.close()


def test_the_first_leg_to_answer_is_bridged_with_the_caller(call: Dialling) -> None:
    call.target("PJSIP/100", *ANSWERS_AFTER_5,
                (15, "ChannelHangupRequest", {"cause": 16}),
                (15, "ChannelDestroyed", {"cause": 16, "cause_txt": "Normal Clearing"}))
    d = call.channel.dial(["PJSIP/100"], 30, "", None, None)
    assert call.link.made("channels.originate") == [{
        "endpoint": "PJSIP/100", "app": "gtx", "appArgs": "gtx-dial", "channelId": "dial-1",
        "originator": "gtx-ari-1", "callerId": '"Alice" <5551234>', "timeout": 30}]
    assert call.link.names() == ["channels.ring", "channels.originate"]
    call.clock.advance(5)
    assert call.link.names()[2:] == ["channels.ringStop", "bridges.create",
                                     "bridges.addChannel"]
    assert call.link.made("bridges.create") == [{"type": "mixing", "bridgeId": "bridge-2"}]
    assert call.link.made("bridges.addChannel") == [
        {"bridgeId": "bridge-2", "channel": "gtx-ari-1,dial-1"}]
    call.clock.advance(10)
    assert result(d) == DialResult(status="ANSWER", answered_seconds=10, dialed_seconds=15)
    assert call.link.made("bridges.destroy") == [{"bridgeId": "bridge-2"}]
    assert call.hung_up_legs() == []  # it is gone already
    call.quiet()


def test_an_unanswered_caller_is_answered_before_the_bridge() -> None:
    c = Dialling(state="Ring")
    c.target("PJSIP/100", *ANSWERS_AFTER_5, (8, "ChannelDestroyed", {"cause": 16}))
    d = c.channel.dial(["PJSIP/100"], 30, "", "Sales <0123>", None)
    assert c.link.made("channels.originate")[0]["callerId"] == "Sales <0123>"
    c.clock.pump([5, 3])
    assert result(d).status == "ANSWER"
    assert c.link.names().index("channels.answer") < c.link.names().index("bridges.create")
    c.close()


def test_busy(call: Dialling) -> None:
    call.target("PJSIP/100", *BUSY)
    d = call.channel.dial(["PJSIP/100"], 30, "", None, None)
    call.clock.advance(1)
    assert result(d) == DialResult(status="BUSY", answered_seconds=0, dialed_seconds=1)
    assert call.hung_up_legs() == []
    assert "bridges.create" not in call.link.names()
    call.quiet()


def test_legs_failing_differently_report_the_most_telling_status(call: Dialling) -> None:
    call.target("PJSIP/100", (2, "ChannelDestroyed", {"cause": 34}))
    call.target("PJSIP/200", *BUSY)
    call.target("PJSIP/300", (3, "ChannelDestroyed", {"cause": 18}))
    d = call.channel.dial(["PJSIP/100", "PJSIP/200", "PJSIP/300"], 30, "", None, None)
    call.clock.advance(2)
    assert not d.called
    call.clock.advance(1)
    assert result(d).status == "BUSY"


def test_nobody_answering_in_time_is_noanswer(call: Dialling) -> None:
    call.target("PJSIP/100", (1, "Dial", {"status": "RINGING"}))
    call.target("PJSIP/200", (1, "Dial", {"status": "RINGING"}))
    d = call.channel.dial(["PJSIP/100", "PJSIP/200"], 20, "", None, None)
    call.clock.advance(20 + RING_GRACE)
    assert result(d) == DialResult(status="NOANSWER", answered_seconds=0, dialed_seconds=22)
    assert call.hung_up_legs() == ["dial-1", "dial-2"]
    assert call.link.names()[-3:-2] == ["channels.ringStop"]


def test_the_caller_hanging_up_while_it_rings_is_cancel(call: Dialling) -> None:
    call.target("PJSIP/100", (1, "Dial", {"status": "RINGING"}))
    d = call.channel.dial(["PJSIP/100"], 30, "", None, None)
    call.clock.advance(4)
    call.hang_up()
    assert result(d) == DialResult(status="CANCEL", answered_seconds=0, dialed_seconds=4)
    assert call.hung_up_legs() == ["dial-1"]
    assert "channels.ringStop" not in call.link.names()
    assert call.channel.hung_up


def test_the_other_legs_are_hung_up_when_one_answers(call: Dialling) -> None:
    call.target("PJSIP/100", (1, "Dial", {"status": "RINGING"}), (6, "StasisStart", {}))
    call.target("PJSIP/200", *ANSWERS_AFTER_5, (9, "ChannelDestroyed", {"cause": 16}))
    d = call.channel.dial(["PJSIP/100", "PJSIP/200"], 30, "", None, None)
    call.clock.advance(5)
    assert call.hung_up_legs() == ["dial-1"]
    assert call.link.made("bridges.addChannel")[0]["channel"] == "gtx-ari-1,dial-2"
    call.clock.advance(1)  # dial-1 answers late: still hung up once only
    assert call.hung_up_legs() == ["dial-1"]
    call.clock.advance(3)
    assert result(d) == DialResult(status="ANSWER", answered_seconds=4, dialed_seconds=9)


def test_the_time_limit_hangs_the_callee_up(call: Dialling) -> None:
    call.target("PJSIP/100", *ANSWERS_AFTER_5)
    d = call.channel.dial(["PJSIP/100"], 30, "", None, 60)
    call.clock.pump([5, 60])
    assert result(d) == DialResult(status="ANSWER", answered_seconds=60, dialed_seconds=65)
    assert call.hung_up_legs() == ["dial-1"]
    assert call.link.made("bridges.destroy") == [{"bridgeId": "bridge-2"}]
    assert not call.channel.hung_up


def test_the_caller_hanging_up_during_the_call(call: Dialling) -> None:
    call.target("PJSIP/100", *ANSWERS_AFTER_5)
    d = call.channel.dial(["PJSIP/100"], 30, "", None, None)
    call.clock.pump([5, 7])
    call.hang_up()
    assert result(d) == DialResult(status="ANSWER", answered_seconds=7, dialed_seconds=12)
    assert call.hung_up_legs() == ["dial-1"]
    assert call.link.made("bridges.destroy") == [{"bridgeId": "bridge-2"}]


def test_targets_that_cannot_be_called_are_chanunavail(call: Dialling) -> None:
    d = call.channel.dial(["PJSIP/nobody", "IAX2/nowhere"], 30, "", None, None)
    assert result(d).status == "CHANUNAVAIL"
    assert len(call.link.made("channels.originate")) == 2


def test_music_on_hold_instead_of_ringing(call: Dialling) -> None:
    call.target("PJSIP/100", *BUSY)
    d = call.channel.dial(["PJSIP/100"], 30, "m", None, None)
    call.clock.advance(1)
    assert result(d).status == "BUSY"
    assert call.link.names() == ["channels.startMoh", "channels.originate", "channels.stopMoh"]


def test_hand_off_state_goes_in_the_originate(call: Dialling) -> None:
    result(call.channel.set_variable("_GTX_HANDOFF_SESSION", "s1"))
    call.target("PJSIP/ivr@serverb", *BUSY)
    d = call.channel.dial(["PJSIP/ivr@serverb"], 30, "b(gtx-handoff-pjsip^s^1)", None, None)
    call.clock.advance(1)
    result(d)
    assert call.link.made("channels.originate")[0]["variables"] == {
        "PJSIP_HEADER(add,X-GTX-Session)": "s1"}


def test_bad_arguments_are_refused_before_anything_is_sent(call: Dialling) -> None:
    failure(call.channel.dial([], 30, "", None, None), CommandFailed)
    failure(call.channel.dial(["PJSIP/1&PJSIP/2"], 30, "", None, None), CommandFailed)
    failure(call.channel.dial(["PJSIP/1"], 30, "U(x,y)", None, None), CommandFailed)
    failure(call.channel.dial(["PJSIP/1"], 30, "", "a\nb", None), CommandFailed)
    failure(call.channel.dial(["PJSIP/1"], 30, "", None, 0), CommandFailed)
    assert call.link.calls == []


def test_the_link_failing_during_a_dial_is_channel_gone(call: Dialling) -> None:
    call.target("PJSIP/100", (1, "Dial", {"status": "RINGING"}))
    call.link.answer("channels.originate", call._originate, AriUnavailable("down"))
    d = call.channel.dial(["PJSIP/100", "PJSIP/200"], 30, "", None, None)
    failure(d, ChannelGone)
    assert call.hung_up_legs() == ["dial-1"]
    call.quiet()


def test_a_bridge_that_cannot_be_made_fails_the_dial(call: Dialling) -> None:
    call.target("PJSIP/100", *ANSWERS_AFTER_5)
    call.link.answer("bridges.create", http_error("create", 500, "Allocation failed"))
    d = call.channel.dial(["PJSIP/100"], 30, "", None, None)
    call.clock.advance(5)
    failure(d, CommandFailed)
    assert call.hung_up_legs() == ["dial-1"]


@pytest.mark.parametrize(("cause", "status"), [
    (17, "BUSY"), (16, "NOANSWER"), (18, "NOANSWER"), (19, "NOANSWER"), (21, "NOANSWER"),
    (34, "CONGESTION"), (38, "CONGESTION"), (1, "CHANUNAVAIL"), (0, "CHANUNAVAIL"),
    (None, "CHANUNAVAIL"),
])
def test_status_from_cause(cause: object, status: str) -> None:
    assert status_from_cause(cause) == status


def test_cause_0_after_ringing_is_noanswer() -> None:
    assert status_from_cause(0, rang=True) == "NOANSWER"
    assert status_from_cause(1, rang=True) == "CHANUNAVAIL"


def test_without_a_timeout_the_legs_ring_on(call: Dialling) -> None:
    """Dial() without a timeout rings on; an originate without one gives up after 30 s."""
    call.target("PJSIP/100", (1, "Dial", {"status": "RINGING"}), (45, "StasisStart", {}))
    d = call.channel.dial(["PJSIP/100"], None, "", None, None)
    assert call.link.made("channels.originate")[0]["timeout"] == -1
    call.clock.advance(45)  # answered after 45 s
    call.link.emit(event("ChannelLeftBridge", "dial-1"))  # the callee hangs up
    assert result(d).status == "ANSWER"


@pytest.mark.parametrize("ringing", [
    (1, "Dial", {"status": "RINGING"}),
    (1, "ChannelStateChange", {"channel": channel_json("dial-1", state="Ringing")}),
])
def test_a_leg_asterisk_times_out_with_cause_0_is_noanswer(
        call: Dialling, ringing: tuple[float, str, dict[str, Any]]) -> None:
    """The originate's timeout: the leg is destroyed with cause 0 and no Dial NOANSWER."""
    call.target("PJSIP/100", ringing,
                (20, "ChannelDestroyed", {"cause": 0, "cause_txt": "Unknown"}))
    d = call.channel.dial(["PJSIP/100"], 20, "", None, None)
    call.clock.advance(20)
    assert result(d) == DialResult(status="NOANSWER", answered_seconds=0, dialed_seconds=20)


def test_cause_0_at_the_timeout_without_ringing_is_noanswer(call: Dialling) -> None:
    call.target("PJSIP/100", (20, "ChannelDestroyed", {"cause": 0, "cause_txt": "Unknown"}))
    call.target("PJSIP/200", (3, "ChannelDestroyed", {"cause": 0, "cause_txt": "Unknown"}))
    d = call.channel.dial(["PJSIP/100"], 20, "", None, None)
    call.clock.advance(20)
    assert result(d).status == "NOANSWER"
    early = call.channel.dial(["PJSIP/200"], 20, "", None, None)
    call.clock.advance(3)
    assert result(early).status == "CHANUNAVAIL"  # neither rang nor timed out


def test_combined_status() -> None:
    assert combined_status(["NOANSWER", "CONGESTION"]) == "CONGESTION"
    assert combined_status(["NOANSWER", "CHANUNAVAIL"]) == "CHANUNAVAIL"
    assert combined_status(["NOANSWER"]) == "NOANSWER"
    assert combined_status([]) == "CHANUNAVAIL"
