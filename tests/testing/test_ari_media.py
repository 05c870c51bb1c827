"""Emulated ARI media: several media in one playback, say-style media, missing sounds, the
playback queue, stopping, tones, DTMF to and from the caller, music on hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted

from tests.testing.ari_harness import Reply, Rig, rig


def _on_start(r: Rig, *requests: tuple[str, str, dict[str, Any]], replies: list[Reply]
              ) -> None:
    """On StasisStart: the requests in order (``{id}`` in paths is the channel id)."""

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]["id"]
        for method, path, params in requests:
            r.client.call(method, path.format(id=channel), params).addCallback(replies.append)

    r.client.events.on_stasis_start(started)


def _playback_events(r: Rig) -> list[tuple[str, str, str]]:
    return [(e["type"], e["playback"]["id"], e["playback"]["media_uri"])
            for e in r.client.received if "playback" in e]


@pytest_twisted.ensureDeferred
async def test_several_media_play_in_order_in_one_playback(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/play", {
        "media": "sound:hello-world,digits:42,number:42,characters:ab", "playbackId": "p"}),
        replies=replies)
    record = await r.run(r.server.stasis_call(caller="wait 10; hangup"))
    assert replies[0].body["next_media_uri"] == "digits:42"
    assert _playback_events(r) == [
        ("PlaybackStarted", "p", "sound:hello-world"),
        ("PlaybackContinuing", "p", "sound:hello-world"),
        ("PlaybackStarted", "p", "digits:42"),
        ("PlaybackContinuing", "p", "digits:42"),
        ("PlaybackStarted", "p", "number:42"),
        ("PlaybackContinuing", "p", "number:42"),
        ("PlaybackStarted", "p", "characters:ab"),
        ("PlaybackFinished", "p", "characters:ab"),
    ]
    continuing = next(e for e in r.client.received if e["type"] == "PlaybackContinuing")
    assert continuing["playback"]["state"] == "continuing"
    assert record.played == ["hello-world", "digits/4", "digits/2", "digits/40", "digits/2",
                             "letters/a", "letters/b"]
    finished = next(e for e in r.client.received if e["type"] == "PlaybackFinished")
    # 11234 (hello-world) + 2 * 3600 (4, 2) + 4000 + 3600 (40, 2) + 2 * 3200 (a, b) samples
    assert finished["timestamp"] == "2026-11-21T23:43:28.054+0000"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_missing_sound_fails_and_the_queue_goes_on(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/play", {"media": "sound:no-such", "playbackId": "a"}),
              ("POST", "/channels/{id}/play", {"media": "sound:beep", "playbackId": "b"}),
              ("POST", "/channels/{id}/play", {"media": "bogus:x", "playbackId": "c"}),
              replies=replies)
    record = await r.run(r.server.stasis_call(caller="wait 3; hangup"))
    assert [reply.status for reply in replies] == [201, 201, 201]
    states = [(e["playback"]["id"], e["type"], e["playback"]["state"])
              for e in r.client.received if "playback" in e]
    assert states == [("a", "PlaybackStarted", "playing"), ("a", "PlaybackFinished", "failed"),
                      ("b", "PlaybackStarted", "playing"), ("b", "PlaybackFinished", "done"),
                      ("c", "PlaybackStarted", "playing"), ("c", "PlaybackFinished", "failed")]
    assert record.played == ["beep"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_queued_playbacks_stop_and_get(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.asterisk.sounds.add("ten", seconds=10)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/play", {"media": "sound:ten", "playbackId": "one"}),
              ("POST", "/channels/{id}/play/two", {"media": "sound:ten"}),
              ("GET", "/playbacks/two", {}),
              ("DELETE", "/playbacks/two", {}),
              ("DELETE", "/playbacks/one", {}),
              ("GET", "/playbacks/one", {}),
              ("POST", "/channels/{id}/play", {"media": "tone:ring", "playbackId": "one"}),
              replies=replies)
    r.clock.callLater(4, lambda: r.client.call("DELETE", "/playbacks/one").addCallback(
        replies.append))
    record = await r.run(r.server.stasis_call(caller="wait 5; hangup"))
    assert [reply.status for reply in replies] == [201, 201, 200, 204, 204, 404, 201, 204]
    assert replies[2].body["state"] == "queued"
    assert replies[5].body == {"message": "Playback not found"}
    assert _playback_events(r) == [
        ("PlaybackStarted", "one", "sound:ten"), ("PlaybackFinished", "one", "sound:ten"),
        ("PlaybackStarted", "one", "tone:ring"), ("PlaybackFinished", "one", "tone:ring")]
    finished = [e for e in r.client.received if e["type"] == "PlaybackFinished"]
    assert [e["playback"]["state"] for e in finished] == ["done", "done"]
    assert finished[1]["timestamp"] == "2026-11-21T23:43:28.000+0000"
    assert record.played == ["ten", "tone:ring"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_caller_acts_during_operations(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.asterisk.sounds.add("ten", seconds=10)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/answer", {}),
              ("POST", "/channels/{id}/play", {"media": "sound:ten"}),
              ("POST", "/channels/{id}/dtmf", {"dtmf": "12"}),
              ("POST", "/channels/{id}/moh", {"mohClass": "jazz"}),
              replies=replies)
    record = await r.run(r.server.stasis_call(caller="press 9# during play; "
                                                     "hangup during startMoh"))
    assert [reply.status for reply in replies] == [204, 201, 204, 204]
    assert record.dtmf_sent == "12"
    assert record.hangup_source == "caller"
    # The caller hung up as music on hold started, before the keys (0.1 s after play) came.
    assert record.digits == ""
    assert record.duration == 0
    await r.close()


@pytest_twisted.ensureDeferred
async def test_keys_pressed_during_a_playback(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.asterisk.sounds.add("ten", seconds=10)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/play", {"media": "sound:ten", "offsetms": 9000}),
              replies=replies)
    record = await r.run(r.server.stasis_call(caller="press 9# during play; wait 2; hangup"))
    assert [e["digit"] for e in r.client.received if e["type"] == "ChannelDtmfReceived"] == [
        "9", "#"]
    finished = next(e for e in r.client.received if e["type"] == "PlaybackFinished")
    assert finished["timestamp"] == "2026-11-21T23:43:25.000+0000"  # 1 s left after the offset
    assert record.digits == "9#"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_stopped_say_of_sounds_has_only_the_files_it_reached(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    media = ",".join(f"sound:digits/{n}" for n in range(1, 7))
    _on_start(r, ("POST", "/channels/{id}/play", {"media": media, "playbackId": "d"}),
              replies=replies)
    # Each digit lasts 0.45 s: at 0.5 s the second one has started.
    r.clock.callLater(0.5, lambda: r.client.call("DELETE", "/playbacks/d").addCallback(
        replies.append))
    record = await r.run(r.server.stasis_call(caller="wait 2; hangup"))
    assert [reply.status for reply in replies] == [201, 204]
    assert record.played == ["digits/1", "digits/2"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_digits_number_and_characters_cannot_be_stopped(tmp_path: Path) -> None:
    """res_stasis_playback: only sound:, recording: and tone: are "controllable"; a stop of
    anything else answers 500 and the playback goes on to its end."""
    r = await rig(tmp_path)
    replies: list[Reply] = []
    _on_start(r, ("POST", "/channels/{id}/play", {"media": "digits:123456", "playbackId": "d"}),
              replies=replies)
    r.clock.callLater(0.5, lambda: r.client.call("DELETE", "/playbacks/d").addCallback(
        replies.append))
    record = await r.run(r.server.stasis_call(caller="wait 4; hangup"))
    assert [reply.status for reply in replies] == [201, 500]
    assert replies[1].body == {"message": "Could not stop playback"}
    assert record.played == [f"digits/{n}" for n in range(1, 7)]
    finished = next(e for e in r.client.received if e["type"] == "PlaybackFinished")
    assert finished["playback"]["state"] == "done"
    await r.close()
