"""RecorderForIvr: the IVR's SessionRecorder over the Recorder API's service."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gtx.errors import Conflict
from gtx.ivr.app import RecordingRequest
from gtx.recorder.ivr_adapter import RecorderForIvr, recording_options
from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from tests.dialer.harness import run


@dataclass
class Service:
    calls: list[tuple[object, ...]] = field(default_factory=list)
    refuse: Exception | None = None

    def _recording(self, recording_id: str) -> Recording:
        return Recording(recording_id=recording_id, target=RecordingTarget(session="s1"),
                         options=RecordingOptions(), state=RecordingState.RECORDING, files=(),
                         started=0.0, started_by="ivr:s1")

    async def start(self, target: RecordingTarget, options: RecordingOptions,
                    started_by: str) -> Recording:
        self.calls.append(("start", target, options, started_by))
        return self._recording("rec-7")

    async def _op(self, name: str, recording_id: str) -> Recording:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append((name, recording_id))
        return self._recording(recording_id)

    async def stop(self, recording_id: str) -> Recording:
        return await self._op("stop", recording_id)

    async def pause(self, recording_id: str) -> Recording:
        return await self._op("pause", recording_id)

    async def resume(self, recording_id: str) -> Recording:
        return await self._op("resume", recording_id)


def test_start_targets_the_session_on_its_server() -> None:
    service = Service()
    adapter = RecorderForIvr(service)  # type: ignore[arg-type]
    request = RecordingRequest(format="gsm", split=True, beep=10, max_seconds=60,
                               name="c-{recording_id}", callback_url="http://h/rpc",
                               callback_method="m", metadata={"k": 1})
    assert run(adapter.start("s1", "PJSIP/alice-1", "pbx1", request)) == "rec-7"
    ((_, target, options, started_by),) = service.calls
    assert target == RecordingTarget(session="s1", asterisk="pbx1")
    assert started_by == "ivr:s1"
    assert options == RecordingOptions(format="gsm", split=True, beep=10, max_seconds=60,
                                       name="c-{recording_id}", callback_url="http://h/rpc",
                                       callback_method="m", metadata={"k": 1})


def test_without_a_name_the_recorder_s_default_template_is_kept() -> None:
    assert recording_options(RecordingRequest()).name == RecordingOptions().name


def test_stop_pause_resume_and_their_faults() -> None:
    service = Service()
    adapter = RecorderForIvr(service)  # type: ignore[arg-type]
    run(adapter.pause("r1"))
    run(adapter.resume("r1"))
    run(adapter.stop("r1"))
    assert service.calls == [("pause", "r1"), ("resume", "r1"), ("stop", "r1")]
    service.refuse = Conflict("recording r1 is already stopped")
    with pytest.raises(Conflict):
        run(adapter.stop("r1"))
