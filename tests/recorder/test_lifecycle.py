"""The recorder over time: events with a receiver down, restarts, lost AMI links,
retention."""

from __future__ import annotations

from dataclasses import replace

import pytest_twisted

from gtx.recorder.model import RecordingOptions, RecordingState, RecordingTarget
from tests.recorder.conftest import HOOK, T0, Rig

CHAN = "PJSIP/alice-00000001"
OPTS = RecordingOptions(callback_url=HOOK, callback_method="rec.event",
                        metadata={"ticket": "T-1"})
DAY = 86_400.0


async def _state_is(rig: Rig, recording_id: str, state: str) -> bool:
    return await rig.state_of(recording_id) == state


async def _received(rig: Rig, count: int) -> bool:
    return len(rig.receiver.received) >= count


@pytest_twisted.ensureDeferred
async def test_events_arrive_in_order_once_a_receiver_down_is_back(rig: Rig) -> None:
    rig.pbx1.channels.update({"SIP/a-1", "SIP/b-2"})
    rig.receiver.down = True
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel="SIP/a-1"), OPTS, "alice")
    await recorder.start(RecordingTarget(channel="SIP/b-2"),
                         replace(OPTS, callback_url=None), "bob")  # no callback: no events
    await recorder.pause("r1")
    await recorder.resume("r1")
    await rig.wait(1)
    await recorder.stop("r1")
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    # the recorder went on while the receiver was down
    await rig.wait(3)
    assert rig.receiver.refused >= 2
    assert rig.receiver.received == []
    rig.receiver.down = False
    await rig.until(lambda: _received(rig, 5), limit=20_000)
    await rig.wait(2)
    assert rig.receiver.events("r1") == [
        (1, "started"), (2, "paused"), (3, "resumed"), (4, "stopped"), (5, "ready")]
    url, method, first = rig.receiver.received[0]
    assert (url, method) == (HOOK, "rec.event")
    assert first["metadata"] == {"ticket": "T-1"}
    assert first["at"] == "2027-01-15T08:00:00.000Z"
    assert rig.receiver.events("r2") == []


@pytest_twisted.ensureDeferred
async def test_restart_reconciles_recordings_left_open(rig: Rig) -> None:
    rig.pbx1.channels.update({"SIP/gone-1", "SIP/up-2", "SIP/paused-3"})
    first = await rig.recorder()
    for channel in ("SIP/gone-1", "SIP/up-2", "SIP/paused-3"):
        await first.start(RecordingTarget(channel=channel), OPTS, "alice")
    await first.pause("r3")
    await rig.wait(2)
    # gtx dies: nothing more reaches it; on Asterisk one channel hangs up meanwhile
    await first.stopService()
    rig.pbx1.forget()
    rig.pbx1.hang_up("SIP/gone-1")

    second = await rig.recorder()  # a new recorder on the same store and disk
    gone = await second.get("r1")
    assert (gone.state, gone.duration) == (RecordingState.READY, 2.0)
    assert (await second.get("r2")).state is RecordingState.RECORDING  # still going on
    assert (await second.get("r3")).state is RecordingState.PAUSED
    # a recording left open is still watched: its hang-up is seen by the next pass
    await rig.wait(1)
    rig.pbx1.hang_up("SIP/up-2")
    await rig.until(lambda: _state_is(rig, "r2", "ready"))
    # and it can still be stopped: no update will come, the files are checked shortly after
    assert (await second.stop("r3")).state is RecordingState.STOPPED
    await rig.until(lambda: _state_is(rig, "r3", "ready"))
    assert (await second.get("r3")).duration is not None
    assert any("3 recording(s) left open reconciled" in line for line in rig.logged)


@pytest_twisted.ensureDeferred
async def test_restart_fails_a_recording_whose_files_are_missing(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    rig.pbx1.write_files = False
    first = await rig.recorder()
    await first.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    await first.stopService()
    rig.pbx1.forget()
    rig.pbx1.hang_up(CHAN)
    second = await rig.recorder()
    failed = await second.get("r1")
    assert failed.state is RecordingState.FAILED
    assert failed.error is not None
    assert "wrote no file" in failed.error


@pytest_twisted.ensureDeferred
async def test_a_lost_link_is_reconciled_on_reconnect(rig: Rig) -> None:
    rig.pbx1.channels.update({"SIP/a-1", "SIP/b-2"})
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel="SIP/a-1"), OPTS, "alice")
    await recorder.start(RecordingTarget(channel="SIP/b-2"), OPTS, "alice")
    await rig.wait(1)
    rig.pbx1.lose_link()  # both reported STOPPED (link lost): they go on on Asterisk
    rig.pbx1.hang_up("SIP/a-1")  # … and one hangs up while gtx cannot see it
    await rig.wait(12)  # the link is still down: nothing can be decided
    assert await rig.state_of("r1") == await rig.state_of("r2") == "recording"
    rig.pbx1.connected_now = True
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    await rig.wait(6)
    assert await rig.state_of("r2") == "recording"
    rig.pbx1.hang_up("SIP/b-2")
    await rig.until(lambda: _state_is(rig, "r2", "ready"))


@pytest_twisted.ensureDeferred
async def test_a_hang_up_missed_while_the_link_was_down_finalises_at_once(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder(watch_interval=3600)
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    await rig.wait(2)
    rig.pbx1.missed_hang_up(CHAN)  # told after the login: the channel is gone
    await rig.until(lambda: _state_is(rig, "r1", "ready"), limit=100)  # not at the next watch
    assert (await recorder.get("r1")).duration == 2.0
    await rig.until(lambda: _received(rig, 3))
    assert rig.receiver.received[1][2]["cause"] == "link lost"


@pytest_twisted.ensureDeferred
async def test_stop_without_an_update_still_finalises(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    rig.pbx1.stopped_after = 10_000  # Asterisk never says the files are closed
    recorder = await rig.recorder(stop_timeout=5)
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    await rig.wait(1)
    await recorder.stop("r1")
    await rig.wait(4)
    assert await rig.state_of("r1") == "stopped"
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    assert rig.clock.seconds() >= T0 + 6


@pytest_twisted.ensureDeferred
async def test_retention_deletes_expired_recordings_daily_and_logs(rig: Rig) -> None:
    rig.pbx1.channels.update({"SIP/old-1", "SIP/live-2"})
    recorder = await rig.recorder(keep_days=2)
    await recorder.start(RecordingTarget(channel="SIP/old-1"), OPTS, "alice")
    await recorder.start(RecordingTarget(channel="SIP/live-2"), OPTS, "alice")
    await rig.wait(1)
    rig.pbx1.hang_up("SIP/old-1")
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    assert (rig.directory / "r1.wav").exists()

    rig.clock.advance(DAY)  # one day: kept
    await rig.wait(1)
    assert await rig.state_of("r1") == "ready"
    rig.clock.advance(DAY)  # the second daily run: two days and more have passed
    await rig.until(lambda: _state_is(rig, "r1", "deleted"))
    assert not (rig.directory / "r1.wav").exists()
    assert await rig.state_of("r2") == "recording"  # still recording: not expired
    assert any("[r1] expired (kept 2 days)" in line and "r1.wav" in line
               for line in rig.logged)
    assert any("1 recording(s) older than 2 day(s) deleted" in line for line in rig.logged)


@pytest_twisted.ensureDeferred
async def test_updates_after_stop_service_are_left_to_the_next_start(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    await recorder.stopService()
    rig.pbx1.hang_up(CHAN)
    await rig.wait(1)
    assert await rig.state_of("r1") == "recording"
    await rig.recorder()
    assert await rig.state_of("r1") == "ready"
