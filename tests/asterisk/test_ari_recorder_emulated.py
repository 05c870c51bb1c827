"""ARIRecorder over the real ARIClient against the emulated ARI server: WAV files written through
snoop channels whose size follows the recorded time, mute (silence, same length) against pause
(a gap, a shorter file), stop, hang-up, max_seconds, Asterisk's 404 and 500, a link that drops,
a recording found after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from gtx.asterisk.ari_recorder import ARIRecorder
from gtx.recording import NoSuchChannel, RecordCommand, RecordingError
from gtx.testing.ari_recording import OPEN_SECONDS
from gtx.testing.wav import BYTES_PER_SECOND, HEADER_BYTES
from tests.asterisk.ari_dialer_rig import Rig, dropped, reconnected, rig

A, B, C = "1795000001.1", "1795000002.1", "1795000003.1"


def wav(seconds: float) -> int:
    return HEADER_BYTES + round(seconds * BYTES_PER_SECOND)


def recorded(seconds: float) -> int:
    """The size of a file recording from ``seconds`` of call time on: Asterisk opens it a
    moment after channels.record (OPEN_SECONDS)."""
    return wav(seconds - OPEN_SECONDS)


async def failure_of(r: Rig, d: Deferred[Any]) -> BaseException:
    settled: Deferred[list[object]] = Deferred()
    d.addBoth(lambda value: settled.callback([value]))
    (value,) = await r.run(settled)
    assert isinstance(value, Failure), value
    return value.value


def snoops(r: Rig) -> list[str]:
    """The snoop channels still up on the server."""
    return [c for c, channel in r.server.channels.items()
            if c.startswith("gtx-snoop-") and not channel.gone]


@pytest_twisted.ensureDeferred
async def test_mute_writes_silence_and_pause_leaves_a_gap(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    calls = [r.stasis_call(uniqueid, "wait 60; hangup") for uniqueid in (A, B, C)]
    await r.wait(0.5)
    for recording_id, uniqueid in (("plain", A), ("muted", B), ("paused", C)):
        await r.run(r.record(recording_id, uniqueid))
    await r.wait(2)
    await r.run(r.recorder.mute(B, True))
    await r.run(r.recorder.pause(C, True))
    await r.wait(4)
    await r.run(r.recorder.mute(B, False))
    await r.run(r.recorder.pause(C, False))
    await r.wait(4)
    for recording_id, uniqueid in (("plain", A), ("muted", B), ("paused", C)):
        await r.run(r.recorder.stop(uniqueid))
        assert (await r.stopped(recording_id)).cause == "stopped"
        assert [u.progress.value for u in r.recordings[recording_id]] == ["started", "stopped"]
    assert (r.size("plain"), r.size("muted"), r.size("paused")) == (
        recorded(10), recorded(10), recorded(6))
    assert snoops(r) == []
    for uniqueid, call in zip((A, B, C), calls, strict=True):
        r.server.hangup(uniqueid)
        await r.run(call)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_mute_and_pause_right_after_the_start_wait_for_the_file(tmp_path: Path) -> None:
    # The record is accepted while Asterisk has not opened the file yet (state queued): a mute
    # sent then would be refused with 409 "Recording not in session".
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 30; hangup")
    await r.wait(1)
    await r.run(r.record("r1", A))
    assert r.server.recordings.live["r1"].state == "queued"
    await r.run(r.recorder.mute(A, True))
    await r.run(r.recorder.pause(A, True))
    controls = [(q.operation, q.status) for q in r.server.requests
                if q.operation in ("recordings.mute", "recordings.pause")]
    assert controls == [("recordings.mute", 204), ("recordings.pause", 204)]
    assert r.server.recordings.live["r1"].state == "paused"
    assert [u.progress.value for u in r.recordings["r1"]] == ["started"]
    await r.run(r.recorder.stop(A))
    assert (await r.stopped("r1")).cause == "stopped"
    r.server.hangup(A)
    await r.run(call)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_recording_in_a_subdirectory_of_the_spool(tmp_path: Path) -> None:
    # ARI names it calls/2026/r1; its live recording's REST path carries calls%2F2026%2Fr1.
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 30; hangup")
    await r.wait(1)
    file = f"{r.server.recording_dir}/calls/2026/r1.wav"
    command = RecordCommand(channel=A, file=file, only_bridged=False, recording_id="r1")
    await r.run(r.recorder.start(command, r.on_recording_update))
    await r.wait(1)
    await r.run(r.recorder.pause(A, True))
    await r.wait(1)
    await r.run(r.recorder.pause(A, False))
    await r.wait(1)
    await r.run(r.recorder.stop(A))
    assert (await r.stopped("r1")).cause == "stopped"
    controls = [(q.path, q.status) for q in r.server.requests
                if q.operation is not None and q.operation.startswith("recordings.")]
    live = "/recordings/live/calls%2F2026%2Fr1"
    assert controls == [(f"{live}/pause", 204), (f"{live}/pause", 204), (f"{live}/stop", 204)]
    assert Path(file).stat().st_size == recorded(2)
    r.server.hangup(A)
    await r.run(call)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_the_file_grows_with_the_time_recorded(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    short, long = r.stasis_call(A, "wait 4; hangup"), r.stasis_call(B, "wait 9; hangup")
    await r.wait(1)
    await r.run(r.record("short", A))
    await r.run(r.record("long", f"PJSIP/{B}-00000001"))  # by name
    assert (await r.stopped("short")).cause == "hangup"
    assert (await r.stopped("long")).cause == "hangup"
    assert (r.size("short"), r.size("long")) == (recorded(3), recorded(8))
    await r.run(short)
    await r.run(long)
    assert snoops(r) == []
    await r.close()


@pytest_twisted.ensureDeferred
async def test_max_seconds(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 30; hangup")
    await r.wait(1)
    await r.run(r.record("r1", A, max_seconds=3))
    assert (await r.stopped("r1")).cause == "max_seconds"
    assert r.clock.seconds() == pytest.approx(4 + OPEN_SECONDS)  # 3 s recorded
    assert r.size("r1") == wav(3)
    await r.wait(0.1)
    assert snoops(r) == []  # the snoop is hung up with its recording
    await r.run(call)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_asterisk_refusals(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 30; hangup")
    await r.wait(1)
    assert isinstance(await failure_of(r, r.record("r1", "1795009999.9")), NoSuchChannel)
    assert isinstance(await failure_of(r, r.record("r1", "PJSIP/nobody-00000001")),
                      NoSuchChannel)
    r.server.fail_next("channels.record", 500)
    refused = await failure_of(r, r.record("r2", A))
    assert type(refused) is RecordingError
    assert "HTTP 500 Internal Server Error" in str(refused)
    await r.wait(0.1)
    assert snoops(r) == []
    assert not Path(r.file("r2")).exists()
    assert r.recordings == {}
    await r.run(call)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_recording_that_ends_while_the_link_is_down(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    gone, kept = r.stasis_call(A, "wait 60; hangup"), r.stasis_call(B, "wait 60; hangup")
    await r.wait(1)
    await r.run(r.record("gone", A))
    await r.run(r.record("kept", B))
    await r.wait(2)
    await dropped(r)
    r.server.hangup(A)  # its events are lost with the WebSocket
    await reconnected(r)
    assert (await r.stopped("gone")).cause == "hangup"
    assert r.recorder.recordings == {"kept"}
    await r.run(r.recorder.stop(B))
    assert (await r.stopped("kept")).cause == "stopped"
    await r.run(gone)
    r.server.hangup(B)
    await r.run(kept)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_recording_started_before_a_restart(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 60; hangup")
    await r.wait(1)
    await r.run(r.record("r1", A))
    await r.wait(2)
    restarted = ARIRecorder(r.link, r.clock, recording_dir=str(r.server.recording_dir))
    await r.run(restarted.pause(f"PJSIP/{A}-00000001", True))
    await r.wait(3)
    await r.run(restarted.mute(A, False))  # resumes, not knowing how it was paused
    await r.wait(1)
    await r.run(restarted.stop(A))
    assert (await r.stopped("r1")).cause == "stopped"
    assert r.size("r1") == recorded(3)
    assert snoops(r) == []
    assert isinstance(await failure_of(r, restarted.stop(A)), RecordingError)
    r.server.hangup(A)
    await r.run(call)
    assert isinstance(await failure_of(r, restarted.stop(A)), NoSuchChannel)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_channel_exists(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    call = r.stasis_call(A, "wait 5; hangup")
    await r.wait(1)
    assert await r.run(r.recorder.channel_exists(A)) is True
    assert await r.run(r.recorder.channel_exists(f"PJSIP/{A}-00000001")) is True
    assert await r.run(r.recorder.channel_exists(B)) is False
    assert await r.run(r.recorder.channel_exists(f"PJSIP/{B}-00000001")) is False
    await r.run(call)
    assert await r.run(r.recorder.channel_exists(A)) is False
    await r.close()
