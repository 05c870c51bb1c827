"""AMIOriginator: Originate with a pre-assigned ChannelId, outcomes read from the real event
streams, refusal, hang-up, AMD and abandon verdicts, bounds and resynchronisation."""

from __future__ import annotations

import pytest
from twisted.python.failure import Failure

from gtx.asterisk.ami_originator import AMIOriginator, originate_fields
from gtx.origination import (
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    OriginatorUnavailable,
    Progress,
)
from tests.asterisk.ami_transcripts import BANNER, Link, Transcript, pending_times, wire
from tests.dialplan_sim import load
from tests.test_dialplan import DIALPLAN, answered, read_config, user_events

OUTCOMES = Transcript.load("ami-originate-outcomes.txt")
INTO_AGI = Transcript.load("ami-originate-into-agi.txt")
AMD = Transcript.load("ami-amd-outcomes.txt")
UNKNOWN_EXTENSION = Transcript.load("ami-originate-unknown-extension.txt")
MIXMONITOR = Transcript.load("ami-mixmonitor.txt")


class Dialer:
    """An originator on a logged-in link, recording every update per call."""

    def __init__(self, *action_ids: str) -> None:
        # Pings far apart, so they take no ActionID of the test.
        self.link = Link("login-1", *action_ids, ping_interval=3600).login()
        self.peer = self.link.endpoint.peer
        self.peer.written()
        self.originator = AMIOriginator(self.link.client, self.link.clock, margin=30.0,
                                        response_grace=5.0)
        self.updates: dict[str, list[OriginateUpdate]] = {}

    def sink(self, update: OriginateUpdate) -> None:
        self.updates.setdefault(update.call_id, []).append(update)

    def place(self, call_id: str, timeout: int = 30, **kwargs: object) -> list[object]:
        """Originate; returns a list that receives the Deferred's result or Failure."""
        request = OriginateRequest(call_id=call_id, dial_string=f"Local/{call_id}@gtx-test",
                                   timeout=timeout, **kwargs)  # type: ignore[arg-type]
        outcome: list[object] = []
        self.originator.originate(request, self.sink).addBoth(outcome.append)
        return outcome

    def progress(self, call_id: str) -> list[tuple[str, str | None]]:
        return [(u.progress.value, u.outcome) for u in self.updates.get(call_id, [])]

    def ended(self, call_id: str) -> OriginateUpdate:
        (last,) = [u for u in self.updates[call_id] if u.progress is Progress.ENDED]
        return last


def error_of(outcome: list[object]) -> BaseException:
    (result,) = outcome
    assert isinstance(result, Failure)
    return result.value


def test_originate_writes_the_documented_action() -> None:
    dialer = Dialer("orig-1")
    outcome = dialer.place("c-1", caller_id='"Acme" <5551000>',
                           variables={"GTX_DIALER_APP": "survey", "GTX_VARS": '{"a": 1, "b": "x"}'})
    assert dialer.peer.written() == wire([
        "Action: Originate",
        "Channel: Local/c-1@gtx-test",
        "Context: gtx-dialer",
        "Exten: answered",
        "Priority: 1",
        "Timeout: 30000",
        'CallerID: "Acme" <5551000>',
        "Variable: GTX_CALL_ID=c-1",
        "Variable: GTX_DIALER_APP=survey",
        # Asterisk splits a Variable value on commas and drops quotes unless escaped.
        'Variable: GTX_VARS={\\"a\\": 1\\, \\"b\\": \\"x\\"}',
        "Async: true",
        "ChannelId: c-1",
        "OtherChannelId: c-1-2",
        "ActionID: orig-1",
    ])
    assert outcome == []  # until Asterisk answers
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1",
                           "Message: Originate successfully queued"]))
    assert outcome == [None]
    assert 60.0 in pending_times(dialer.link.clock)  # ring timeout + margin


def test_refused_at_once_is_originate_refused_and_no_update_follows() -> None:
    dialer = Dialer("amd-machine")
    outcome = dialer.place("amd-m-1")
    dialer.peer.feed(UNKNOWN_EXTENSION.asterisk_bytes(after="amd-machine", until="amd-silent"))
    error = error_of(outcome)
    assert isinstance(error, OriginateRefused)
    assert "Extension does not exist." in str(error)
    assert dialer.updates == {}
    assert dialer.originator.calls == frozenset()
    dialer.link.stop()  # no bound left behind


def test_link_down_is_unavailable_and_nothing_is_sent() -> None:
    dialer = Dialer()
    dialer.peer.close()
    outcome = dialer.place("c-1")
    assert isinstance(error_of(outcome), OriginatorUnavailable)
    assert dialer.originator.calls == frozenset()


def test_bad_variable_is_refused_before_sending() -> None:
    dialer = Dialer("orig-1")
    outcome = dialer.place("c-1", variables={"GTX_X": "line\r\nAction: Hangup"})
    assert isinstance(error_of(outcome), OriginateRefused)
    assert dialer.peer.written() == b""


def test_outcomes_of_the_real_transcript() -> None:
    # Call ids are the transcript's Uniqueids, ActionIDs its ActionIDs; the answered call was
    # originated from another session (its OriginateResponse has no ActionID of ours).
    calls = {"1795304690.6": "orig-answer", "1795304690.8": "orig-busy",
             "1795304690.10": "orig-nonexist", "1795304690.12": "orig-noanswer"}
    dialer = Dialer(*calls.values())
    for call_id, action_id in calls.items():
        assert dialer.place(call_id) == []
        dialer.peer.feed(wire(["Response: Success", f"ActionID: {action_id}"]))
    dialer.peer.feed(OUTCOMES.asterisk_bytes(after="login-1"))
    assert dialer.progress("1795304690.6") == [("answered", None), ("ended", "answered")]
    assert dialer.progress("1795304690.8") == [("ended", "busy")]
    assert dialer.ended("1795304690.8").cause == "Reason 5: busy"
    assert dialer.progress("1795304690.10") == [("ended", "failed")]
    assert dialer.progress("1795304690.12") == [("ended", "no_answer")]
    assert dialer.ended("1795304690.6").channel == "Local/agi@gtx-test-00000003;1"
    assert dialer.originator.calls == frozenset()
    dialer.link.stop()


def test_event_stream_of_a_call_into_the_agi() -> None:
    dialer = Dialer("orig-1")
    dialer.place("1795304604.0")
    dialer.peer.feed(INTO_AGI.asterisk_bytes(after="orig-1"))
    assert dialer.progress("1795304604.0") == [("answered", None), ("ended", "answered")]
    assert dialer.ended("1795304604.0").cause == "hangup cause 0 (Unknown)"
    dialer.link.stop()


def test_ringing_then_answered_then_hangup() -> None:
    dialer = Dialer("orig-1")
    dialer.place("c-1")
    state = ["Event: Newstate", "Channel: PJSIP/trunk-00000001", "Uniqueid: c-1"]
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire([*state, "ChannelState: 5", "ChannelStateDesc: Ringing"])
                     + wire([*state, "ChannelState: 5", "ChannelStateDesc: Ringing"])
                     + wire([*state, "ChannelState: 6", "ChannelStateDesc: Up"])
                     + wire(["Event: OriginateResponse", "ActionID: orig-1", "Response: Success",
                             "Reason: 4", "Uniqueid: c-1"])
                     + wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16",
                             "Cause-txt: Normal Clearing"]))
    assert dialer.progress("c-1") == [("ringing", None), ("answered", None), ("ended", "answered")]
    assert dialer.ended("c-1").channel == "PJSIP/trunk-00000001"


def test_amd_machine_from_the_dialplans_user_event() -> None:
    dialer = Dialer("amd-machine", "amd-silent")
    dialer.place("amd-m-1")
    dialer.place("amd-s-1")
    # The reference dialplan named its event AMDResult; gtx's dialplan names it GtxAmd.
    stream = AMD.asterisk_bytes(after="amd-machine").replace(b"AMDResult", b"GtxAmd")
    dialer.peer.feed(stream)
    assert dialer.progress("amd-m-1") == [("answered", None), ("ended", "machine")]
    assert dialer.ended("amd-m-1").cause == "AMD MACHINE LONGGREETING-1500-1500"
    # NOTSURE is not a machine: the call counts as answered.
    assert dialer.progress("amd-s-1") == [("answered", None), ("ended", "answered")]
    dialer.link.stop()


def test_abandoned_from_the_dialplans_user_event() -> None:
    dialer = Dialer("orig-1")
    dialer.place("c-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire(["Event: OriginateResponse", "ActionID: orig-1", "Response: Success",
                             "Reason: 4", "Uniqueid: c-1"])
                     + wire(["Event: UserEvent", "Channel: PJSIP/x-1", "Uniqueid: c-1",
                             "UserEvent: GtxAbandoned", "CallId: c-1"])
                     + wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16"]))
    assert dialer.progress("c-1") == [("answered", None), ("ended", "abandoned")]


def test_hangup_ends_the_call_canceled() -> None:
    dialer = Dialer("orig-rec", "hup-1")
    dialer.place("gtx-rec-1")
    dialer.peer.feed(MIXMONITOR.asterisk_bytes(after="orig-rec", until="mm-1"))
    assert dialer.progress("gtx-rec-1") == [("answered", None)]
    dialer.peer.written()
    done: list[object] = []
    dialer.originator.hangup("gtx-rec-1").addBoth(done.append)
    assert dialer.peer.written() == MIXMONITOR.action("hup-1")
    dialer.peer.feed(MIXMONITOR.asterisk_bytes(after="hup-1", until="gv-1"))
    assert done == [None]
    assert dialer.progress("gtx-rec-1")[-1] == ("ended", "canceled")
    dialer.link.stop()


def test_hangup_while_ringing_is_canceled_whatever_the_reason() -> None:
    dialer = Dialer("orig-1", "hup-1")
    dialer.place("c-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"]))
    dialer.originator.hangup("c-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: hup-1", "Message: Channel Hungup"])
                     + wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16"])
                     + wire(["Event: OriginateResponse", "ActionID: orig-1",
                             "Response: Failure", "Reason: 1", "Uniqueid: <unknown>"]))
    assert dialer.progress("c-1") == [("ended", "canceled")]


def test_hangup_before_answer_waits_for_the_originate_response_then_uses_the_cause() -> None:
    dialer = Dialer("orig-1", "orig-2")
    dialer.place("c-1")
    dialer.place("c-2")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire(["Response: Success", "ActionID: orig-2"])
                     + wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 17",
                             "Cause-txt: User busy"])
                     + wire(["Event: Hangup", "Uniqueid: c-2", "Cause: 34"]))
    assert dialer.updates == {}  # the OriginateResponse may still come
    dialer.peer.feed(wire(["Event: OriginateResponse", "ActionID: orig-1",
                           "Response: Failure", "Reason: 1", "Uniqueid: <unknown>"]))
    assert dialer.progress("c-1") == [("ended", "busy")]
    assert dialer.ended("c-1").cause == "Reason 1: hung up before answering, hangup cause 17 " \
        "(User busy)"
    dialer.link.clock.advance(5)  # no OriginateResponse for c-2: its cause decides
    assert dialer.progress("c-2") == [("ended", "congestion")]


def test_a_call_that_never_gets_an_event_is_ended_by_its_bound() -> None:
    dialer = Dialer("orig-1", "hup-1")
    dialer.place("c-1", timeout=20)
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"]))
    dialer.peer.written()
    dialer.link.clock.advance(49)
    assert dialer.updates == {}
    dialer.link.clock.advance(1)
    assert dialer.progress("c-1") == [("ended", "failed")]
    assert dialer.ended("c-1").cause == "no outcome from Asterisk within 50 s"
    # And it is hung up, in case it is ringing after all.
    assert dialer.peer.written() == wire(["Action: Hangup", "Channel: c-1", "ActionID: hup-1"])
    dialer.peer.feed(wire(["Response: Error", "ActionID: hup-1", "Message: No such channel"]))
    dialer.peer.feed(wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16"]))
    assert len(dialer.updates["c-1"]) == 1  # exactly one ENDED
    dialer.link.stop()


def test_unanswered_originate_is_followed_as_placed_never_refused() -> None:
    dialer = Dialer("orig-1")
    outcome = dialer.place("c-1")
    dialer.link.clock.advance(10)  # the action timeout
    assert outcome == [None]
    assert dialer.originator.calls == frozenset({"c-1"})


def test_resynchronisation_after_a_reconnect() -> None:
    dialer = Dialer("orig-rec", "orig-2", "login-2", "csc-1")
    dialer.place("gtx-rec-1")
    dialer.place("gone-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-rec"])
                     + wire(["Response: Success", "ActionID: orig-2"])
                     + wire(["Event: Newstate", "Uniqueid: gone-1", "ChannelState: 5"]))
    assert dialer.progress("gone-1") == [("ringing", None)]
    dialer.peer.close()
    assert isinstance(error_of(dialer.place("late-1")), OriginatorUnavailable)
    dialer.link.clock.advance(1.25)
    peer = dialer.link.endpoint.peer
    peer.feed(BANNER)
    peer.written()
    peer.feed(wire(["Response: Success", "ActionID: login-2"]))
    assert peer.written() == MIXMONITOR.action("csc-1")
    peer.feed(MIXMONITOR.asterisk_bytes(after="csc-1", until="hup-1"))
    # Still up (answered while the link was down): reported; gone: ended.
    assert dialer.progress("gtx-rec-1") == [("answered", None)]
    assert dialer.progress("gone-1") == [("ringing", None), ("ended", "failed")]
    assert dialer.ended("gone-1").cause == "ended while the AMI link was down"
    assert dialer.originator.calls == frozenset({"gtx-rec-1"})


def test_answered_call_gone_while_down_keeps_its_verdict() -> None:
    dialer = Dialer("orig-1", "login-2", "csc-1")
    dialer.place("c-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire(["Event: Newstate", "Uniqueid: c-1", "ChannelState: 6"])
                     + wire(["Event: UserEvent", "UserEvent: GtxAmd", "CallId: c-1",
                             "Status: MACHINE", "Cause: LONGGREETING-1500-1500"]))
    dialer.peer.close()
    dialer.link.clock.advance(1.25)
    peer = dialer.link.endpoint.peer
    peer.feed(BANNER + wire(["Response: Success", "ActionID: login-2"]))
    peer.feed(wire(["Response: Success", "ActionID: csc-1", "EventList: start"])
              + wire(["Event: CoreShowChannelsComplete", "ActionID: csc-1",
                      "EventList: Complete", "ListItems: 0"]))
    assert dialer.progress("c-1") == [("answered", None), ("ended", "machine")]


def test_bound_running_out_while_down_defers_to_the_resynchronisation() -> None:
    dialer = Dialer("orig-1")
    dialer.place("c-1", timeout=10)
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"]))
    dialer.peer.close()
    dialer.link.endpoint.refuse = 10
    dialer.link.clock.advance(45)
    assert dialer.updates == {}  # unknown while down: not declared failed


def test_tracked_call_is_checked_at_once_when_connected() -> None:
    dialer = Dialer("csc-1", "csc-2")
    dialer.originator.track("gtx-rec-1", dialer.sink)
    assert dialer.peer.written() == MIXMONITOR.action("csc-1")
    dialer.originator.track("old-1", dialer.sink)  # while one runs: another follows it
    dialer.peer.feed(MIXMONITOR.asterisk_bytes(after="csc-1", until="hup-1"))
    assert dialer.progress("gtx-rec-1") == [("answered", None)]
    assert dialer.peer.written() == wire(["Action: CoreShowChannels", "ActionID: csc-2"])
    dialer.peer.feed(wire(["Response: Success", "ActionID: csc-2", "EventList: start"])
                     + wire(["Event: CoreShowChannelsComplete", "ActionID: csc-2",
                             "EventList: Complete", "ListItems: 0"]))
    assert dialer.progress("old-1") == [("ended", "failed")]
    assert dialer.progress("gtx-rec-1") == [("answered", None), ("ended", "answered")]


def test_a_failing_sink_does_not_break_the_others() -> None:
    dialer = Dialer("orig-1")

    def broken(update: OriginateUpdate) -> None:
        raise RuntimeError("bug")

    dialer.originator.originate(OriginateRequest("c-1", "Local/x@y", 30), broken)
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16"])
                     + wire(["Event: OriginateResponse", "ActionID: orig-1",
                             "Response: Failure", "Reason: 0", "Uniqueid: <unknown>"]))
    assert dialer.originator.calls == frozenset()


@pytest.mark.parametrize(("timeout", "ms"), [(30, "30000"), (1, "1000")])
def test_timeout_is_in_milliseconds(timeout: int, ms: str) -> None:
    fields = dict(originate_fields(OriginateRequest("c", "PJSIP/1@t", timeout)))
    assert fields["Timeout"] == ms


def _as_ami_event(data: str, uniqueid: str) -> bytes:
    """What Asterisk sends for ``UserEvent(data)`` run on the channel ``uniqueid``."""
    name, *headers = data.split(",")
    return wire(["Event: UserEvent", "Channel: PJSIP/trunk-00000001", f"Uniqueid: {uniqueid}",
                 f"UserEvent: {name}", *headers])


@pytest.mark.parametrize(
    ("variables", "amd", "queue_status", "outcome"),
    [
        ({"GTX_AMD": "1", "GTX_DIALER_APP": "survey"}, "MACHINE:LONGGREETING-1500-1500", None,
         "machine"),
        ({"GTX_DIALER_QUEUE": "agents", "GTX_ABANDON_SECONDS": "2"}, None, "TIMEOUT",
         "abandoned"),
        ({"GTX_DIALER_QUEUE": "agents", "GTX_ABANDON_SECONDS": "2"}, None, "CONTINUE",
         "answered"),
    ],
)
def test_the_dialplans_events_give_the_originators_verdict(
    variables: dict[str, str], amd: str | None, queue_status: str | None, outcome: str
) -> None:
    channel = answered(load(read_config(DIALPLAN)), amd=amd, queue_status=queue_status,
                       **variables)
    dialer = Dialer("orig-1")
    dialer.place("c-1")
    dialer.peer.feed(wire(["Response: Success", "ActionID: orig-1"])
                     + wire(["Event: Newstate", "Uniqueid: c-1", "ChannelState: 6"]))
    for data in user_events(channel):
        dialer.peer.feed(_as_ami_event(data, "c-1"))
    dialer.peer.feed(wire(["Event: Hangup", "Uniqueid: c-1", "Cause: 16"]))
    assert dialer.progress("c-1") == [("answered", None), ("ended", outcome)]
