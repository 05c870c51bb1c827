"""The Recorder API's IVR actions: record_start, record_stop, record_pause, record_resume."""

from __future__ import annotations

from twisted.internet.defer import fail

from gtx.errors import Conflict, NotFound
from gtx.ivr.actions.recording import RECORDING_VARIABLE
from gtx.ivr.app import RecordingRequest
from tests.ivr.conftest import Harness
from tests.ivr.fakes import FakeRecorder, FakeScheduler


def recorder(ivr: Harness) -> FakeRecorder:
    assert ivr.recorder is not None
    return ivr.recorder


def test_record_start_records_the_session_channel_and_gives_the_id(ivr: Harness) -> None:
    outcome, channel, result = ivr.one_step({
        "action": "record_start", "name": "rec", "format": "gsm", "split": True, "beep": 15,
        "max_seconds": 600, "file": "consent-{recording_id}",
        "metadata": {"customer": "C-1", "tags": ["vip"]},
        "callback": {"url": "https://crm.example/rpc", "method": "rec.event"},
    })
    assert outcome.status == "DONE"
    assert recorder(ivr).started == [("s1", "PJSIP/alice-00000001", "pbx1", RecordingRequest(
        format="gsm", split=True, beep=15, max_seconds=600, name="consent-{recording_id}",
        callback_url="https://crm.example/rpc", callback_method="rec.event",
        metadata={"customer": "C-1", "tags": ["vip"]},
    ))]
    assert result["rec"] == {"action": "record_start", "name": "rec", "status": "ok",
                             "recording_id": "rec-1"}
    assert channel.variables[RECORDING_VARIABLE] == "rec-1"


def test_defaults_of_record_start(ivr: Harness) -> None:
    ivr.one_step({"action": "record_start"})
    assert recorder(ivr).started[0][3] == RecordingRequest()


def test_record_stop_without_an_id_stops_the_channel_s_current_recording(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "record_start"}], "next": "step2"})
    ivr.answer("step2", {"actions": [{"action": "record_stop"}], "next": "step3"})
    ivr.answer("step3", {})
    channel = ivr.channel()
    assert ivr.run(channel).status == "DONE"
    assert recorder(ivr).operations == [("stop", "rec-1")]
    result = ivr.ws.calls[-1].request["result"]
    assert result["actions"] == [{"action": "record_stop", "status": "ok",
                                  "recording_id": "rec-1"}]
    assert channel.variables[RECORDING_VARIABLE] == ""  # nothing current any more


def test_pause_around_a_card_number_then_resume_and_stop(ivr: Harness) -> None:
    _, _, result = ivr.one_step(
        {"action": "record_start"},
        {"action": "record_pause"},
        {"action": "read", "name": "card", "max_digits": 16, "timeout": 1},
        {"action": "record_resume"},
        {"action": "record_stop", "recording_id": "rec-1"},
    )
    assert recorder(ivr).operations == [("pause", "rec-1"), ("resume", "rec-1"),
                                        ("stop", "rec-1")]
    statuses = [(a["action"], a["status"]) for a in result["actions"]]
    assert statuses[:2] == [("record_start", "ok"), ("record_pause", "ok")]
    assert statuses[3:] == [("record_resume", "ok"), ("record_stop", "ok")]


def test_a_recording_started_elsewhere_is_found_on_the_channel(ivr: Harness) -> None:
    # The dialer's `record` option (or a previous node) left its id on the channel.
    ivr.one_step({"action": "record_pause"}, variables={RECORDING_VARIABLE: "rec-dialer"})
    assert recorder(ivr).operations == [("pause", "rec-dialer")]


def test_record_stop_without_any_recording_fails_clearly(ivr: Harness) -> None:
    outcome, _, result = ivr.one_step({"action": "record_stop"}, {"action": "answer"})
    assert outcome.status == "DONE"
    first, second = result["actions"]
    assert first == {"action": "record_stop", "status": "failed",
                     "error": "no recording was started on this channel: give recording_id"}
    assert second["status"] == "ok"


def test_without_a_recorder_every_recording_action_fails_and_the_session_goes_on(
    ivr: Harness,
) -> None:
    ivr.recorder = None
    outcome, channel, result = ivr.one_step(
        {"action": "record_start"}, {"action": "record_pause", "recording_id": "r"},
        {"action": "record_stop", "recording_id": "r"}, {"action": "answer"})
    assert outcome.status == "DONE"
    *failed, last = result["actions"]
    for entry in failed:
        assert entry["status"] == "failed"
        assert entry["error"].startswith("no recorder on this node")
    assert last["status"] == "ok"
    assert RECORDING_VARIABLE not in channel.variables


def test_the_recorder_s_fault_is_the_action_s_error(ivr: Harness) -> None:
    recorder(ivr).refuse = Conflict("recording rec-9 is already stopped")
    _, _, result = ivr.one_step({"action": "record_stop", "recording_id": "rec-9"})
    assert result["actions"][0] == {"action": "record_stop", "status": "failed",
                                    "error": "recording rec-9 is already stopped"}
    recorder(ivr).refuse = NotFound("no recording rec-0")
    _, _, result = ivr.one_step({"action": "record_resume", "recording_id": "rec-0"})
    assert result["actions"][0]["error"] == "no recording rec-0"


def test_an_unexpected_recorder_failure_is_reported_not_raised(ivr: Harness) -> None:
    class Broken(FakeRecorder):
        def start(self, session: str, channel: str, asterisk: str, request: object):  # type: ignore[no-untyped-def]
            return fail(RuntimeError("disk full"))

    ivr.recorder = Broken()
    outcome, _, result = ivr.one_step({"action": "record_start"})
    assert outcome.status == "DONE"
    assert result["actions"][0] == {"action": "record_start", "status": "failed",
                                    "error": "the recorder failed: disk full"}


def test_channel_of_finds_a_running_session_only(ivr: Harness) -> None:
    seen = []

    class Spy(FakeScheduler):
        def schedule(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(ivr.engine.channel_of("s1"))
            return super().schedule(*args, **kwargs)

    ivr.callbacks = Spy()
    ivr.one_step({"action": "callback", "delay": 60})
    (found,) = seen
    assert found is not None
    assert (found.session, found.channel, found.uniqueid, found.asterisk) == (
        "s1", "PJSIP/alice-00000001", "1700000000.1", "pbx1")
    assert ivr.engine.channel_of("s1") is None  # ended
    assert ivr.engine.channel_of("nope") is None
