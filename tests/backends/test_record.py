"""record (the caller speaks into a file) and record_start/stop/pause/resume (the Recorder API
records the call) — the same over FastAGI and ARI."""

from __future__ import annotations

import pytest
import pytest_twisted

from gtx.ivr.app import RecordingRequest
from tests.backends.harness import Backend

BEEP = 2080 / 8000  # seconds


def recorded(backend: Backend, seconds: float) -> float:
    """The ``duration`` a recording of ``seconds`` reports: ARI's RecordingFinished gives
    whole seconds (LiveRecording.duration is an int, cut down), FastAGI's endpos samples."""
    return float(int(seconds)) if backend.name == "ari" else pytest.approx(seconds, abs=0.25)


@pytest_twisted.ensureDeferred
async def test_record_ended_by_the_terminator(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "record", "file": "voicemail/{session}",
                                "max_seconds": 30, "silence_seconds": 0, "name": "message"}]},
                  {})
    result = await backend.call("wait 4; press #; wait 30", caller_talks=True)
    entry = result.result(2)["message"]
    assert entry["status"] == "ok"
    assert entry["file"] == str(backend.record_dir / "voicemail" / "s1.wav")
    assert (entry["reason"], entry["digit"]) == ("dtmf", "#")
    assert entry["duration"] == recorded(backend, 4 - BEEP)
    assert result.heard == ["beep"]


@pytest_twisted.ensureDeferred
async def test_record_stops_at_max_seconds(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "record", "max_seconds": 3, "beep": False,
                                "silence_seconds": 0, "format": "gsm"}]}, {})
    result = await backend.call("wait 30", caller_talks=True)
    entry = result.action(1)
    assert entry["file"] == str(backend.record_dir / "gtx-s1-1.gsm")
    assert (entry["status"], entry["reason"], entry["digit"]) == ("ok", "timeout", "")
    assert entry["duration"] == recorded(backend, 3)
    assert result.heard == []  # no beep


@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_while_recording(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "record", "max_seconds": 60, "silence_seconds": 0},
                               {"action": "play", "files": "goodbye"}]}, {})
    result = await backend.call("wait 5; hangup", caller_talks=True)
    record, play = result.last["result"]["actions"]
    assert result.methods == ["menu.start", "menu.hangup"]
    assert (record["status"], record["reason"]) == ("hangup", "hangup")
    assert record["file"] == str(backend.record_dir / "gtx-s1-1.wav")  # kept and reported
    assert record["duration"] == recorded(backend, 5 - BEEP)
    assert play == {"action": "play", "status": "skipped"}
    assert result.outcome.status == "HANGUP"


@pytest_twisted.ensureDeferred
async def test_background_recording_through_the_recorder(backend: Backend) -> None:
    backend.steps(
        {"actions": [{"action": "record_start", "format": "wav", "max_seconds": 600,
                      "metadata": {"consent": "yes"}, "name": "rec"},
                     {"action": "record_pause"},
                     {"action": "read", "max_digits": 4, "name": "card"},
                     {"action": "record_resume"}]},
        {"actions": [{"action": "record_stop"}]}, {})
    result = await backend.call("wait 1; press 1234")
    (session, channel, asterisk, request), = backend.recorder.started
    assert (session, channel, asterisk) == ("s1", "PJSIP/alice-00000001", "pbx1")
    assert request == RecordingRequest(format="wav", max_seconds=600,
                                       metadata={"consent": "yes"})
    assert backend.recorder.operations == [("pause", "rec-1"), ("resume", "rec-1"),
                                           ("stop", "rec-1")]
    step2 = result.result(2)
    assert step2["rec"] == {"action": "record_start", "name": "rec", "status": "ok",
                            "recording_id": "rec-1"}
    assert step2["card"]["digits"] == "1234"
    assert result.action(2) == {"action": "record_stop", "status": "ok",
                                "recording_id": "rec-1"}


@pytest_twisted.ensureDeferred
async def test_record_stop_without_a_recording_fails_and_the_session_goes_on(
        backend: Backend) -> None:
    backend.steps({"actions": [{"action": "record_stop"},
                               {"action": "play", "files": "welcome"}]}, {})
    result = await backend.call()
    stop, play = result.result(2)["actions"]
    assert stop["status"] == "failed"
    assert "no recording" in stop["error"]
    assert play["status"] == "ok"
    assert backend.recorder.operations == []
