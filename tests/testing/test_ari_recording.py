"""Emulated ARI recordings: real WAV files (sizes follow recorded time), beep, limits,
terminateOn, pause (a gap), mute (silence), ifExists, cancel, stored recordings, snoops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred, succeed

from gtx.testing import CallSpec, read_wav_header
from gtx.testing.ari_recording import OPEN_SECONDS
from tests.testing.ari_harness import Reply, Rig, rig

SECOND = 16000  # bytes of 8 kHz 16-bit audio


def _recorder(r: Rig, replies: list[Reply], **params: Any) -> None:
    """An application: answers and records every call entering Stasis with ``params``."""

    def started(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"
        r.client.call("POST", f"{base}/answer")
        r.client.call("POST", f"{base}/record", {"format": "wav", **params}).addCallback(
            replies.append)

    r.client.events.on_stasis_start(started)


def _events(r: Rig, kind: str) -> list[dict[str, Any]]:
    return [e for e in r.client.received if e["type"] == kind]


def _talking(**kwargs: Any) -> CallSpec:
    return CallSpec(caller_talks=True, context="gtx", extension="rec", priority=2, **kwargs)


@pytest_twisted.ensureDeferred
async def test_a_recording_with_beep_and_a_maximum_duration(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _recorder(r, replies, name="calls/r1", maxDurationSeconds=3, beep=True)
    record = await r.run(r.server.stasis_call(_talking(), "wait 8; hangup"))
    assert replies[0].status == 201
    assert replies[0].body == {"name": "calls/r1", "format": "wav", "state": "queued",
                               "target_uri": f"channel:{record.channel_id}"}
    started, = _events(r, "RecordingStarted")
    finished, = _events(r, "RecordingFinished")
    assert started["recording"]["state"] == "recording"
    # once the file is open (0.02 s after channels.record) and the beep played (0.26 s)
    assert started["timestamp"] == "2026-11-21T23:43:24.280+0000"
    assert finished["recording"] == {
        "name": "calls/r1", "format": "wav", "state": "done",
        "target_uri": f"channel:{record.channel_id}", "duration": 3, "talking_duration": 3,
        "silence_duration": 0}
    data = (tmp_path / "recordings" / "calls" / "r1.wav").read_bytes()
    assert read_wav_header(data).data_bytes == 3 * SECOND
    assert len(data) == 44 + 3 * SECOND
    assert any(data[44:])  # the caller's voice, not silence
    assert record.played == ["beep"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_terminate_on_a_key_and_a_hang_up_mid_recording(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _recorder(r, replies, name="by-key", terminateOn="#")
    await r.run(r.server.stasis_call(_talking(), "wait 1; press 1; wait 1; press #; hangup"))
    assert _events(r, "RecordingFinished")[0]["recording"]["duration"] == 2
    assert (tmp_path / "recordings" / "by-key.wav").stat().st_size == 44 + round(
        (2.25 - OPEN_SECONDS) * SECOND)
    assert [e["digit"] for e in _events(r, "ChannelDtmfReceived")] == ["1", "#"]
    r.client.received.clear()
    replies.clear()
    _recorder(r, replies, name="by-hangup", ifExists="overwrite")
    await r.run(r.server.stasis_call(_talking(), "wait 2.5; hangup"))
    types = r.client.types()
    assert types.index("RecordingFinished") < types.index("StasisEnd")
    assert (tmp_path / "recordings" / "by-hangup.wav").stat().st_size == 44 + round(
        (2.5 - OPEN_SECONDS) * SECOND)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_pause_leaves_a_gap_and_mute_writes_silence(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _recorder(r, replies, name="pm")
    live = "/recordings/live/pm"
    steps = [(1, "POST", f"{live}/pause"), (3, "DELETE", f"{live}/pause"),
             (4, "POST", f"{live}/mute"), (5, "DELETE", f"{live}/mute"),
             (6, "POST", f"{live}/stop")]
    answers: list[Reply] = []
    for at, method, path in steps:  # in seconds of recording: it starts at OPEN_SECONDS
        r.clock.callLater(at + OPEN_SECONDS, lambda m=method, p=path: r.client.call(
            m, p).addCallback(answers.append))
    record = r.server.stasis_call(_talking(), "wait 7; hangup")
    await r.run(record)
    assert [a.status for a in answers] == [204] * 5
    finished, = _events(r, "RecordingFinished")
    assert (finished["recording"]["duration"], finished["recording"]["talking_duration"],
            finished["recording"]["silence_duration"]) == (4, 3, 1)
    data = (tmp_path / "recordings" / "pm.wav").read_bytes()
    assert len(data) == 44 + 4 * SECOND
    muted = data[44 + 2 * SECOND: 44 + 3 * SECOND]  # the third recorded second
    assert not any(muted)
    assert any(data[44 + 3 * SECOND:])
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_queued_recording_accepts_only_a_stop(tmp_path: Path) -> None:
    # Until the file is open (OPEN_SECONDS after channels.record) the recording is queued:
    # pause, mute and their undoing answer 409, a stop ends it.
    r = await rig(tmp_path)
    call = r.client.call
    live = "/recordings/live/calls%2Fq"
    answers: list[tuple[str, Reply]] = []

    def started(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"

        def controls(_: Reply) -> None:
            # One after the other, on the Clock's same instant: the file is not open yet.
            chain: Deferred[Any] = succeed(None)
            for method, path in (("POST", "pause"), ("DELETE", "pause"), ("POST", "mute"),
                                 ("DELETE", "mute"), ("GET", ""), ("POST", "stop")):
                chain.addCallback(lambda _, m=method, p=path: call(
                    m, f"{live}/{p}".rstrip("/")).addCallback(
                        lambda reply: answers.append((f"{m} {p}", reply))))

        call("POST", f"{base}/record", {"name": "calls/q", "format": "wav"}).addCallback(
            controls)

    r.client.events.on_stasis_start(started)
    await r.run(r.server.stasis_call(_talking(), "wait 2; hangup"))
    assert [(what, a.status, a.body) for what, a in answers] == [
        ("POST pause", 409, {"message": "Recording not in session"}),
        ("DELETE pause", 409, {"message": "Recording not in session"}),
        ("POST mute", 409, {"message": "Recording not in session"}),
        ("DELETE mute", 409, {"message": "Recording not in session"}),
        ("GET ", 200, {"name": "calls/q", "format": "wav", "state": "queued",
                    "target_uri": answers[4][1].body["target_uri"]}),
        ("POST stop", 204, None)]
    assert _events(r, "RecordingStarted") == []
    finished, = _events(r, "RecordingFinished")
    assert finished["recording"]["name"] == "calls/q"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_if_exists_names_and_live_and_stored_recordings(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    call = r.client.call
    replies: list[Reply] = []
    _recorder(r, replies, name="same", maxDurationSeconds=1)
    await r.run(r.server.stasis_call(_talking(), "wait 2; hangup"))
    replies_fail: list[Reply] = []
    r.client.events.on_stasis_start(lambda e: [
        call("POST", f"/channels/{e['channel']['id']}/record", params).addCallback(
            replies_fail.append)
        for params in ({"name": "same", "format": "wav"},
                       {"name": "../escape", "format": "wav"},
                       {"name": "x", "format": "mp9"},
                       {"name": "same", "format": "wav", "ifExists": "append",
                        "maxDurationSeconds": 2})])
    await r.run(r.server.stasis_call(_talking(), "wait 3; hangup"))
    assert [(a.status, a.body.get("message")) for a in replies_fail[:3]] == [
        (409, "Recording 'same' already exists and can not be overwritten"),
        (400, "Recording name invalid"),
        (422, "specified format is unknown on this system")]
    assert replies_fail[3].status == 201
    assert (tmp_path / "recordings" / "same.wav").stat().st_size == 44 + 3 * SECOND
    stored = await r.run(call("GET", "/recordings/stored"))
    assert stored.body == [{"name": "same", "format": "wav"}]
    one = await r.run(call("GET", "/recordings/stored/same"))
    assert one.body == {"name": "same", "format": "wav"}
    none = await r.run(call("GET", "/recordings/stored/nope"))
    assert (none.status, none.body) == (404, {"message": "Recording not found"})
    live = await r.run(call("GET", "/recordings/live/same"))
    assert live.status == 404
    await r.close()


@pytest_twisted.ensureDeferred
async def test_cancel_deletes_the_file_and_faults_answer_500(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.server.fail_next("record")
    replies: list[Reply] = []
    _recorder(r, replies, name="c")
    r.clock.callLater(1, lambda: r.client.call("GET", "/recordings/live/c").addCallback(
        replies.append))
    r.clock.callLater(2, lambda: r.client.call("DELETE", "/recordings/live/c").addCallback(
        replies.append))
    r.client.events.on_every(lambda e: r.client.call(
        "POST", f"/channels/{e['channel']['id']}/record", {"name": "c", "format": "wav"}
    ).addCallback(replies.append) if e["type"] == "ChannelDtmfReceived" else None)
    await r.run(r.server.stasis_call(_talking(), "0@0.5, hangup@4"))
    assert (replies[0].status, replies[0].body) == (500, {"message": "Internal Server Error"})
    assert replies[1].status == 201
    assert (replies[2].status, replies[2].body["state"]) == (200, "recording")
    assert replies[3].status == 204
    assert _events(r, "RecordingFinished")[0]["recording"]["state"] == "canceled"
    assert not (tmp_path / "recordings" / "c.wav").exists()
    await r.close()


@pytest_twisted.ensureDeferred
async def test_snoop_recording_hears_the_caller_and_the_prompt_and_dies_with_the_call(
        tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.asterisk.sounds.add("long-prompt", seconds=10)
    call = r.client.call

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]["id"]
        if event["args"] == ["gtx-snoop"]:
            call("POST", f"/channels/{channel}/record", {"name": "snooped", "format": "wav",
                                                          "maxDurationSeconds": 4})
            return
        call("POST", f"/channels/{channel}/answer")
        call("POST", f"/channels/{channel}/play", {"media": "sound:long-prompt"})
        call("POST", f"/channels/{channel}/snoop", {"spy": "both", "app": "gtx",
                                                     "appArgs": "gtx-snoop", "snoopId": "sn1"})

    r.client.events.on_every(lambda e: started(e) if e["type"] == "StasisStart" else None)
    record = await r.run(r.server.stasis_call(_talking(), "wait 6; hangup"))
    data = (tmp_path / "recordings" / "snooped.wav").read_bytes()
    assert len(data) == 44 + 4 * SECOND
    assert any(data[44:])
    snoop_events = [e["type"] for e in r.client.received
                    if e.get("channel", {}).get("id") == "sn1"]
    assert snoop_events[:2] == ["ChannelVarset", "StasisStart"]
    assert snoop_events[-3:] == ["StasisEnd", "ChannelVarset", "ChannelDestroyed"]
    assert r.server.channels == {}
    assert r.clock.getDelayedCalls() == []
    assert record.hangup_source == "caller"
    snoop_record = next(rec for rec in r.server.records if rec.channel_id == "sn1")
    assert snoop_record.channel.startswith(f"Snoop/{record.channel_id}-")
    await r.close()


@pytest_twisted.ensureDeferred
async def test_silence_is_written_on_a_real_channel_but_not_on_a_local_one(
        tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    names = iter(["local", "pjsip"])
    r.client.events.on_stasis_start(lambda e: r.client.call(
        "POST", f"/channels/{e['channel']['id']}/record",
        {"name": next(names), "format": "wav", "maxDurationSeconds": 2}).addCallback(
        replies.append))
    await r.run(r.server.stasis_call(caller="wait 3; hangup"))
    await r.run(r.server.stasis_call(CallSpec(channel="PJSIP/bob-00000009"), "wait 3; hangup"))
    assert [e["recording"]["duration"] for e in _events(r, "RecordingFinished")] == [2, 2]
    assert (tmp_path / "recordings" / "local.wav").stat().st_size == 44
    data = (tmp_path / "recordings" / "pjsip.wav").read_bytes()
    assert len(data) == 44 + 2 * SECOND
    assert not any(data[44:])
    await r.close()


@pytest_twisted.ensureDeferred
async def test_max_silence_ends_a_recording_after_the_party_stops_talking(
        tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _recorder(r, replies, name="quiet", maxSilenceSeconds=2, maxDurationSeconds=20)
    ids: list[str] = []
    r.client.events.on_every(lambda e: ids.append(e["channel"]["id"])
                             if e["type"] == "StasisStart" else None)
    # The party talks for 3 s, then says nothing.
    r.clock.callLater(3 + OPEN_SECONDS, lambda: r.server.set_talks(ids[0], False))
    await r.run(r.server.stasis_call(_talking(channel="PJSIP/carol-00000003"),
                                     "wait 10; hangup"))
    finished, = _events(r, "RecordingFinished")
    assert (finished["recording"]["duration"], finished["recording"]["talking_duration"],
            finished["recording"]["silence_duration"]) == (5, 3, 2)
    assert finished["timestamp"] == "2026-11-21T23:43:29.020+0000"
    await r.close()
