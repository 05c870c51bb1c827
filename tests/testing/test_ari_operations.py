"""Emulated ARI: the other REST operations one by one — channels (get, list, ring, silence,
hold, mute, variables in bulk, redirect, move), asterisk, applications, bridges, stored
recordings — and paced time on the real reactor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor

from gtx.testing import CallSpec, EmulatedARIServer, EmulatedAsterisk, read_wav_header
from tests.testing.ari_harness import RawARI, Reply, Rig, rig


async def _in_stasis(r: Rig, spec: CallSpec | None = None) -> tuple[str, Any]:
    """A call in Stasis (its id) and the Deferred of its record."""
    ids: list[str] = []
    r.client.events.on_stasis_start(lambda e: ids.append(e["channel"]["id"]))
    d = r.server.stasis_call(spec or CallSpec(context="gtx", extension="menu", priority=2,
                                              channel="PJSIP/alice-00000001"))
    await r.run(r.client.call("GET", "/asterisk/ping"))
    return ids[0], d


@pytest_twisted.ensureDeferred
async def test_channel_operations(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    channel, d = await _in_stasis(r)
    base = f"/channels/{channel}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", base, {}),
        ("GET", "/channels", {}),
        ("POST", f"{base}/ring", {}),
        ("DELETE", f"{base}/ring", {}),
        ("POST", f"{base}/silence", {}),
        ("DELETE", f"{base}/silence", {}),
        ("POST", f"{base}/hold", {}),
        ("DELETE", f"{base}/hold", {}),
        ("POST", f"{base}/mute", {"direction": "in"}),
        ("POST", f"{base}/mute", {"direction": "sideways"}),
        ("DELETE", f"{base}/mute", {"direction": "both"}),
        ("GET", f"{base}/variables", {"variables": "A,CHANNEL(name),NONE"}),
        ("DELETE", f"{base}/moh", {}),
    ]
    replies = [await r.run(r.client.call(m, p, q)) for m, p, q in calls]
    set_many = await r.run(r.client.call("POST", f"{base}/variables",
                                         body={"variables": {"A": "1", "B": "2"}}))
    many = await r.run(r.client.call("GET", f"{base}/variables", {"variables": "A,B"}))
    assert [reply.status for reply in replies] == [200, 200] + [204] * 7 + [400, 204, 200, 204]
    assert replies[0].body["name"] == "PJSIP/alice-00000001"
    assert [c["id"] for c in replies[1].body] == [channel]
    assert replies[9].body == {"message": "Invalid direction specified"}
    assert replies[11].body == {"CHANNEL(name)": "PJSIP/alice-00000001"}
    assert (set_many.status, many.body) == (204, {"A": "1", "B": "2"})
    wrong = await r.run(r.client.call("POST", f"{base}/redirect", {"endpoint": "SIP/x"}))
    assert (wrong.status, wrong.body) == (422, {
        "message": "Endpoint technology 'SIP' does not match channel technology 'PJSIP'"})
    moved = await r.run(r.client.call("POST", f"{base}/move", {"app": "gtx",
                                                               "appArgs": "gtx-dial,x"}))
    assert moved.status == 204
    assert r.client.received[-1]["type"] == "StasisStart"
    assert r.client.received[-1]["args"] == ["gtx-dial", "x"]
    redirected = await r.run(r.client.call("POST", f"{base}/redirect",
                                           {"endpoint": "PJSIP/operator"}))
    assert redirected.status == 204
    record = await r.run(d)
    assert record.continued_at == ("redirect", "PJSIP/operator", 0)
    gone = await r.run(r.client.call("GET", base))
    assert (gone.status, gone.body) == (404, {"message": "Channel not found"})
    await r.close()


@pytest_twisted.ensureDeferred
async def test_asterisk_and_applications(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    channel, d = await _in_stasis(r)
    call = r.client.call
    info = await r.run(call("GET", "/asterisk/info", {"only": "system"}))
    assert info.body == {"system": {"version": "GIT-master-f0c1c1a7b7",
                                    "entity_id": "02:fc:00:00:00:01"}}
    apps = await r.run(call("GET", "/applications"))
    assert apps.body == [{"name": "gtx", "channel_ids": [channel], "bridge_ids": [],
                          "endpoint_ids": [], "device_names": [], "events_allowed": [],
                          "events_disallowed": []}]
    unknown_app = await r.run(call("GET", "/applications/other"))
    assert (unknown_app.status, unknown_app.body) == (404, {"message": "Application not found"})
    bad_scheme = await r.run(call("POST", "/applications/gtx/subscription",
                                  {"eventSource": "endpoint:PJSIP/1"}))
    assert (bad_scheme.status, bad_scheme.body) == (
        400, {"message": "Invalid event source URI scheme"})
    no_source = await r.run(call("POST", "/applications/gtx/subscription",
                                 {"eventSource": "channel:nope"}))
    assert (no_source.status, no_source.body) == (422, {"message": "Event source does not exist"})
    subscribed = await r.run(call("POST", "/applications/gtx/subscription",
                                  {"eventSource": f"channel:{channel}"}))
    assert subscribed.body["channel_ids"] == [channel]
    await r.run(call("DELETE", "/applications/gtx/subscription",
                     {"eventSource": f"channel:{channel}"}))
    await r.run(call("POST", f"/channels/{channel}/continue"))
    await r.run(d)
    # Unsubscribed and out of Stasis: the hang-up after the continue was not heard.
    assert r.client.types()[-2:] == ["StasisEnd", "ChannelVarset"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_bridge_operations(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    channel, d = await _in_stasis(r)
    call = r.client.call
    created = await r.run(call("POST", "/bridges", {"bridgeId": "b1", "name": "conf",
                                                    "type": "holding"}))
    assert (created.body["id"], created.body["bridge_type"], created.body["name"]) == (
        "b1", "holding", "conf")
    taken = await r.run(call("POST", "/bridges/b1"))
    assert taken.status == 409
    missing = await r.run(call("POST", "/bridges/b1/addChannel", {"channel": "nope"}))
    assert (missing.status, missing.body) == (400, {"message": "Channel not found"})
    added = await r.run(call("POST", "/bridges/b1/addChannel", {"channel": channel}))
    listed = await r.run(call("GET", "/bridges"))
    got = await r.run(call("GET", "/bridges/b1"))
    assert added.status == 204
    assert [b["channels"] for b in listed.body] == [[channel]] == [got.body["channels"]]
    removed = await r.run(call("POST", "/bridges/b1/removeChannel", {"channel": channel}))
    again = await r.run(call("POST", "/bridges/b1/removeChannel", {"channel": channel}))
    assert (removed.status, again.status, again.body) == (
        204, 422, {"message": "Channel not in this bridge"})
    destroyed = await r.run(call("DELETE", "/bridges/b1"))
    nothing = await r.run(call("GET", "/bridges/b1"))
    assert (destroyed.status, nothing.status, nothing.body) == (
        204, 404, {"message": "Bridge not found"})
    assert [e["type"] for e in r.client.received if "bridge" in e] == [
        "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed"]
    r.server.hangup(channel)
    await r.run(d)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_stored_recording_file_copy_delete(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies: list[Reply] = []
    r.client.events.on_stasis_start(lambda e: r.client.call(
        "POST", f"/channels/{e['channel']['id']}/record",
        {"name": "msg", "format": "wav", "maxDurationSeconds": 1}).addCallback(replies.append))
    await r.run(r.server.stasis_call(CallSpec(caller_talks=True), "wait 2; hangup"))
    call = r.client.call
    file = await r.run(call("GET", "/recordings/stored/msg/file"))
    copied = await r.run(call("POST", "/recordings/stored/msg/copy",
                              {"destinationRecordingName": "old/msg"}))
    twice = await r.run(call("POST", "/recordings/stored/msg/copy",
                             {"destinationRecordingName": "old/msg"}))
    deleted = await r.run(call("DELETE", "/recordings/stored/msg"))
    stored = await r.run(call("GET", "/recordings/stored"))
    assert file.status == 200
    assert copied.body == {"name": "old/msg", "format": "wav"}
    assert twice.status == 409
    assert deleted.status == 204
    assert stored.body == [{"name": "old/msg", "format": "wav"}]
    data = (tmp_path / "recordings" / "old" / "msg.wav").read_bytes()
    assert read_wav_header(data).data_bytes == 16000
    await r.close()


@pytest_twisted.ensureDeferred
async def test_paced_time_on_the_reactor(tmp_path: Path) -> None:
    """For demos and benchmarks: call seconds scaled down on the real reactor."""
    asterisk = EmulatedAsterisk(reactor, time_scale=0.01)
    server = EmulatedARIServer(asterisk, recording_dir=tmp_path)
    await server.start()
    client = RawARI(server)
    await client.connect()
    for _ in range(100):
        if server.app_connected("gtx"):
            break
        await client.call("GET", "/asterisk/ping")
    record = await server.stasis_call(caller="wait 2; press 1; wait 1; hangup")
    assert record.digits == "1"
    assert record.hangup_source == "caller"
    assert record.duration == pytest.approx(3.25, abs=0.1)
    await client.close()
    await server.stop()
