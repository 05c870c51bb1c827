"""The recorder: starting on each kind of target, faults, pause/resume/stop, hang-ups,
listing, deleting, signed URLs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted

from gtx.dialer.model import CallState, Outcome
from gtx.errors import Conflict, InvalidArgument, NotFound
from gtx.ivr.app import SessionChannel
from gtx.recorder.model import PauseMode, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.service import RecordingFilter
from gtx.recording import RecordingError, RecordingNotSupported, RecordingUnavailable
from tests.recorder.conftest import HOOK, T0, Rig
from tests.store.values import call

CHAN = "PJSIP/alice-00000001"
OPTS = RecordingOptions(callback_url=HOOK, callback_method="rec.event")


@pytest_twisted.ensureDeferred
async def test_start_on_a_channel_records_into_the_directory(rig: Rig) -> None:
    rig.pbx2.channels.add(CHAN)
    recorder = await rig.recorder()
    started = await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    assert (started.recording_id, started.state, started.asterisk, started.channel) == (
        "r1", RecordingState.RECORDING, "pbx2", CHAN)  # found on the server that has it
    assert started.files == (f"{rig.directory}/r1.wav",)
    assert (started.started, started.started_by, started.node) == (T0, "alice", "gtx1")
    assert rig.pbx2.active[CHAN].command.only_bridged is False
    assert await recorder.get("r1") == started


@pytest_twisted.ensureDeferred
async def test_start_by_uniqueid_on_a_named_server_with_split_legs(rig: Rig) -> None:
    rig.pbx1.channels.add("1700000000.7")
    recorder = await rig.recorder()
    options = replace(OPTS, split=True, beep=15, max_seconds=60, format="wav",
                      name="{asterisk}-{uniqueid}")
    started = await recorder.start(RecordingTarget(uniqueid="1700000000.7", asterisk="pbx1"),
                                   options, "alice")
    base = f"{rig.directory}/pbx1-1700000000.7"
    assert started.files == (f"{base}.wav", f"{base}-in.wav", f"{base}-out.wav")
    command = rig.pbx1.active["1700000000.7"].command
    assert (command.file, command.receive_file, command.transmit_file) == started.files
    assert (command.beep_seconds, command.max_seconds, command.recording_id) == (15, 60, "r1")


@pytest_twisted.ensureDeferred
async def test_start_on_a_dialer_call_and_an_ivr_session(rig: Rig) -> None:
    await rig.store.create_call(replace(call("c-1", campaign_id=4), state=CallState.QUEUED))
    await rig.store.update_call("c-1", CallState.ANSWERED, T0, asterisk="pbx1",
                                channel="PJSIP/trunk-00000002")
    rig.pbx1.channels.add("PJSIP/trunk-00000002")
    rig.pbx2.channels.add("IAX2/b-3")
    rig.sessions.running["s-1"] = SessionChannel("s-1", "IAX2/b-3", "170.3", "pbx2")
    recorder = await rig.recorder()

    of_call = await recorder.start(RecordingTarget(call_id="c-1"),
                                   replace(OPTS, name="{campaign_id}-{call_id}"), "dialer:4")
    assert (of_call.channel, of_call.asterisk, of_call.campaign_id) == (
        "PJSIP/trunk-00000002", "pbx1", 4)
    assert of_call.files == (f"{rig.directory}/4-c-1.wav",)
    of_session = await recorder.start(RecordingTarget(session="s-1"),
                                      replace(OPTS, name="{session}"), "ivr:s-1")
    assert (of_session.channel, of_session.asterisk) == ("IAX2/b-3", "pbx2")
    page, _ = await recorder.list(RecordingFilter(call_id="c-1"))
    assert [r.recording_id for r in page] == [of_call.recording_id]
    page, _ = await recorder.list(RecordingFilter(session="s-1"))
    assert [r.recording_id for r in page] == [of_session.recording_id]


@pytest_twisted.ensureDeferred
async def test_unknown_targets_and_ids(rig: Rig) -> None:
    recorder = await rig.recorder()
    with pytest.raises(NotFound, match="no call c-9"):
        await recorder.start(RecordingTarget(call_id="c-9"), OPTS, "alice")
    with pytest.raises(NotFound, match="no IVR session s-9"):
        await recorder.start(RecordingTarget(session="s-9"), OPTS, "alice")
    with pytest.raises(NotFound, match="does not exist on any connected Asterisk"):
        await recorder.start(RecordingTarget(channel="SIP/nobody-1"), OPTS, "alice")
    with pytest.raises(NotFound, match="does not exist on pbx1"):
        await recorder.start(RecordingTarget(uniqueid="1.1", asterisk="pbx1"), OPTS, "alice")
    with pytest.raises(InvalidArgument, match="no Asterisk server 'pbx9'"):
        await recorder.start(RecordingTarget(channel=CHAN, asterisk="pbx9"), OPTS, "alice")
    with pytest.raises(InvalidArgument, match="exactly one"):
        await recorder.start(RecordingTarget(channel=CHAN, call_id="c-1"), OPTS, "alice")
    with pytest.raises(InvalidArgument, match="exactly one"):
        await recorder.start(RecordingTarget(), OPTS, "alice")
    for operation in (recorder.get, recorder.stop, recorder.pause, recorder.resume,
                      recorder.delete):
        with pytest.raises(NotFound, match="no recording nope"):
            await operation("nope")
    with pytest.raises(InvalidArgument, match=r"filter\.after"):
        await recorder.list(RecordingFilter(after="nope"))
    assert rig.pbx1.commands == rig.pbx2.commands == []  # nothing was sent


@pytest_twisted.ensureDeferred
async def test_calls_that_cannot_be_recorded(rig: Rig) -> None:
    await rig.store.create_call(call("queued"))
    await rig.store.create_call(call("ended"))
    await rig.store.update_call("ended", CallState.DIALING, T0, asterisk="pbx1")
    await rig.store.finish_call("ended", Outcome.BUSY, T0 + 1, "17", None)
    await rig.store.create_call(call("gone"))
    await rig.store.update_call("gone", CallState.ANSWERED, T0, asterisk="pbx1",
                                channel="PJSIP/trunk-9")
    recorder = await rig.recorder()
    with pytest.raises(Conflict, match="not placed yet"):
        await recorder.start(RecordingTarget(call_id="queued"), OPTS, "alice")
    with pytest.raises(Conflict, match=r"call ended has ended \(busy\)"):
        await recorder.start(RecordingTarget(call_id="ended"), OPTS, "alice")
    with pytest.raises(Conflict, match="its channel PJSIP/trunk-9 has hung up"):
        await recorder.start(RecordingTarget(call_id="gone"), OPTS, "alice")
    rig.pbx1.channels.add("PJSIP/trunk-9")
    rig.pbx1.connected_now = False
    with pytest.raises(Conflict, match="link to Asterisk server pbx1 is down"):
        await recorder.start(RecordingTarget(call_id="gone"), OPTS, "alice")


@pytest_twisted.ensureDeferred
async def test_asterisk_refusing_fails_the_recording_with_a_clear_fault(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    rig.pbx1.refuse = RecordingError("Cannot start MixMonitor")
    with pytest.raises(Conflict, match="Asterisk refused to record"):
        await recorder.start(RecordingTarget(channel=CHAN, asterisk="pbx1"), OPTS, "alice")
    rig.pbx1.refuse = RecordingUnavailable("link down")
    with pytest.raises(Conflict, match="is down"):
        await recorder.start(RecordingTarget(channel=CHAN, asterisk="pbx1"), OPTS, "alice")
    failed = await recorder.get("r1")
    assert (failed.state, failed.error, failed.ended) == (
        RecordingState.FAILED, "Cannot start MixMonitor", T0)
    await rig.wait(1)
    assert rig.receiver.received == []  # the caller had the fault: no event


@pytest_twisted.ensureDeferred
async def test_path_traversal_is_refused_and_nothing_is_written_outside(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    target = RecordingTarget(channel=CHAN)
    attempts = [
        replace(OPTS, name="../../escaped"),
        replace(OPTS, name="..{recording_id}"),
        replace(OPTS, name="sub/{recording_id}"),
        replace(OPTS, name="{metadata.customer}", metadata={"customer": "../../escaped"}),
        replace(OPTS, name="{metadata.customer}", metadata={"customer": "/tmp/escaped"}),
        replace(OPTS, format="wav/../../escaped"),
    ]
    for options in attempts:
        with pytest.raises(InvalidArgument):
            await recorder.start(target, options, "mallory")
    with pytest.raises(InvalidArgument, match=r"options\.metadata"):
        await recorder.start(target, replace(OPTS, metadata={"x": object()}), "mallory")
    assert rig.pbx1.commands == []  # refused before Asterisk was asked
    page, _ = await recorder.list(RecordingFilter())
    assert page == []
    # the recording that is allowed is written inside the directory, and only there
    allowed = await recorder.start(target, replace(OPTS, name="ok-{metadata.customer}",
                                                   metadata={"customer": "Zoë 42"}), "alice")
    rig.pbx1.hang_up(CHAN)
    await rig.until(lambda: _state_is(rig, allowed.recording_id, "ready"))
    assert [p.name for p in rig.directory.iterdir()] == ["ok-Zoë 42.wav"]
    assert rig.outside() == []


async def _state_is(rig: Rig, recording_id: str, state: str) -> bool:
    return await rig.state_of(recording_id) == state


@pytest_twisted.ensureDeferred
async def test_one_recording_per_channel_at_a_time(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    with pytest.raises(Conflict, match=r"already being recorded \(recording r1\)"):
        await recorder.start(RecordingTarget(channel=CHAN), OPTS, "bob")
    await recorder.stop("r1")
    again = await recorder.start(RecordingTarget(channel=CHAN), OPTS, "bob")
    assert again.state is RecordingState.RECORDING


@pytest_twisted.ensureDeferred
async def test_a_name_already_taken_is_a_conflict(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    (rig.directory / "mine.wav").write_bytes(b"someone else's")
    recorder = await rig.recorder()
    with pytest.raises(Conflict, match="already exists"):
        await recorder.start(RecordingTarget(channel=CHAN), replace(OPTS, name="mine"), "bob")
    assert (rig.directory / "mine.wav").read_bytes() == b"someone else's"


@pytest_twisted.ensureDeferred
async def test_pause_resume_stop_and_their_conflicts(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    with pytest.raises(Conflict, match="r1 is recording: already recording"):
        await recorder.resume("r1")
    assert (await recorder.pause("r1")).state is RecordingState.PAUSED
    with pytest.raises(Conflict, match="r1 is paused: already paused"):
        await recorder.pause("r1")
    assert (await recorder.resume("r1")).state is RecordingState.RECORDING
    assert rig.pbx1.active[CHAN].muted == [True, False]
    await rig.wait(2)
    stopped = await recorder.stop("r1")
    assert (stopped.state, stopped.ended) == (RecordingState.STOPPED, rig.clock.seconds())
    with pytest.raises(Conflict, match="r1 is stopped: it is not recording"):
        await recorder.stop("r1")
    with pytest.raises(Conflict, match="r1 is stopped: cannot pause"):
        await recorder.pause("r1")
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    ready = await recorder.get("r1")
    assert (ready.size, ready.duration) == (44 + 2 * 16_000, 2.0)
    with pytest.raises(Conflict, match="r1 is ready: it is not recording"):
        await recorder.stop("r1")
    with pytest.raises(Conflict, match="r1 is ready: cannot resume"):
        await recorder.resume("r1")


@pytest_twisted.ensureDeferred
async def test_a_pause_that_leaves_a_gap(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    rig.pbx1.gaps = True  # recorded over ARI
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    assert (await recorder.pause("r1", PauseMode.GAP)).state is RecordingState.PAUSED
    assert (await recorder.resume("r1")).state is RecordingState.RECORDING  # undoes either
    assert rig.pbx1.commands[-2:] == [("pause", CHAN), ("unmute", CHAN)]
    assert rig.pbx1.active[CHAN].paused == [True]


@pytest_twisted.ensureDeferred
async def test_no_gap_where_the_server_records_with_mixmonitor(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    with pytest.raises(InvalidArgument, match=r"options\.mode: gap is not possible on Asterisk "
                       "server pbx1: MixMonitor cannot leave a gap: pause writes silence"):
        await recorder.pause("r1", PauseMode.GAP)
    assert (await recorder.get("r1")).state is RecordingState.RECORDING
    assert (await recorder.pause("r1", PauseMode.SILENCE)).state is RecordingState.PAUSED
    assert rig.pbx1.active[CHAN].muted == [True]


@pytest_twisted.ensureDeferred
async def test_what_the_server_cannot_record_is_the_options_fault(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    rig.pbx1.refuse = RecordingNotSupported("ARI recordings cannot beep periodically (beep)")
    with pytest.raises(InvalidArgument, match=r"options\.beep: not possible on Asterisk server "
                       "pbx1: ARI recordings cannot beep"):
        await recorder.start(RecordingTarget(channel=CHAN), replace(OPTS, beep=15), "alice")
    assert (await recorder.get("r1")).state is RecordingState.FAILED


@pytest_twisted.ensureDeferred
async def test_pause_of_a_channel_that_hung_up(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    rig.pbx1.channels.discard(CHAN)  # gone, and Asterisk has not told yet
    with pytest.raises(Conflict, match="has hung up"):
        await recorder.pause("r1")


@pytest_twisted.ensureDeferred
async def test_hang_up_finalises_the_recording(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), replace(OPTS, split=True), "alice")
    await rig.wait(3)
    rig.pbx1.hang_up(CHAN)
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    ready = await recorder.get("r1")
    assert ready.duration == 3.0
    assert ready.size == 3 * (44 + 3 * 16_000)  # the mixed file and both legs
    assert ready.ended is not None
    assert ready.ended >= T0 + 3
    await rig.until(lambda: _received(rig, 3))
    assert rig.receiver.events("r1") == [(1, "started"), (2, "stopped"), (3, "ready")]
    stopped = rig.receiver.received[1][2]
    assert (stopped["cause"], stopped["state"]) == ("hangup", "stopped")
    last = rig.receiver.received[2][2]
    assert (last["size"], last["duration"], last["files"]) == (
        ready.size, 3.0, list(ready.files))


async def _received(rig: Rig, count: int) -> bool:
    return len(rig.receiver.received) >= count


@pytest_twisted.ensureDeferred
async def test_no_file_written_fails_the_recording(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    rig.pbx1.write_files = False
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    rig.pbx1.hang_up(CHAN)
    await rig.until(lambda: _state_is(rig, "r1", "failed"))
    failed = await recorder.get("r1")
    assert failed.error == f"Asterisk wrote no file {rig.directory}/r1.wav"
    await rig.until(lambda: _received(rig, 3))
    assert rig.receiver.events("r1")[-1] == (3, "failed")
    assert rig.receiver.received[-1][2]["error"] == failed.error


@pytest_twisted.ensureDeferred
async def test_files_not_reachable_from_gtx(rig: Rig) -> None:
    """Asterisk on another host, nothing shared: ready, size and duration unknown."""
    rig.pbx1.channels.add(CHAN)
    rig.pbx1.write_files = False
    recorder = await rig.recorder(directory="/var/spool/asterisk/elsewhere")
    started = await recorder.start(RecordingTarget(channel=CHAN), OPTS, "alice")
    assert started.files == ("/var/spool/asterisk/elsewhere/r1.wav",)
    rig.pbx1.hang_up(CHAN)
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    ready = await recorder.get("r1")
    assert (ready.size, ready.duration) == (None, None)
    assert any("not visible from gtx" in line for line in rig.logged)
    await recorder.delete("r1")  # nothing to remove here: said in the log
    assert (await recorder.get("r1")).state is RecordingState.DELETED
    assert any("remove /var/spool/asterisk/elsewhere/r1.wav on the Asterisk host" in line
               for line in rig.logged)


@pytest_twisted.ensureDeferred
async def test_delete(rig: Rig) -> None:
    rig.pbx1.channels.add(CHAN)
    recorder = await rig.recorder()
    await recorder.start(RecordingTarget(channel=CHAN), replace(OPTS, split=True), "alice")
    with pytest.raises(Conflict, match="r1 is recording: stop it"):
        await recorder.delete("r1")
    await rig.wait(1)
    await recorder.stop("r1")
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    assert len(list(rig.directory.iterdir())) == 3
    await recorder.delete("r1")
    assert list(rig.directory.iterdir()) == []
    deleted = await recorder.get("r1")
    assert (deleted.state, deleted.size, deleted.started_by) == (
        RecordingState.DELETED, 3 * (44 + 16_000), "alice")  # the row is kept
    with pytest.raises(Conflict, match="already deleted"):
        await recorder.delete("r1")
    page, _ = await recorder.list(RecordingFilter(states=frozenset({RecordingState.DELETED})))
    assert [r.recording_id for r in page] == ["r1"]


@pytest_twisted.ensureDeferred
async def test_list_filters_and_pages(rig: Rig) -> None:
    recorder = await rig.recorder()
    for n in range(5):
        rig.pbx1.channels.add(f"SIP/a-{n}")
        await recorder.start(RecordingTarget(channel=f"SIP/a-{n}"), OPTS, "alice")
        await rig.wait(1)
    rig.pbx1.hang_up("SIP/a-0")
    await rig.until(lambda: _state_is(rig, "r1", "ready"))
    seen, cursor = [], None
    while True:
        page, cursor = await recorder.list(RecordingFilter(after=cursor, limit=2))
        seen += [r.recording_id for r in page]
        if cursor is None:
            break
    assert seen == ["r5", "r4", "r3", "r2", "r1"]
    page, _ = await recorder.list(RecordingFilter(since=T0 + 1, until=T0 + 3))
    assert [r.recording_id for r in page] == ["r3", "r2"]
    page, _ = await recorder.list(RecordingFilter(states=frozenset({RecordingState.READY})))
    assert [r.recording_id for r in page] == ["r1"]


@pytest_twisted.ensureDeferred
async def test_url_is_signed_by_the_signer_it_was_given(rig: Rig) -> None:
    recorder = await rig.recorder()
    with pytest.raises(Conflict, match="not configured"):
        recorder.url("r1", 60)
    signed = await rig.recorder(url_signer=lambda rid, ttl: f"http://gtx/recordings/{rid}?{ttl}")
    assert signed.url("r1", 60) == "http://gtx/recordings/r1?60"
