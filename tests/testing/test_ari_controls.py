"""Emulated ARI: bridges, and the test controls — faults, dropped WebSockets, an unreachable
server, a replaced application, hang-ups from the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_twisted

from gtx.testing import CallSpec, DialDestination
from tests.testing.ari_harness import RawARI, Reply, rig


@pytest_twisted.ensureDeferred
async def test_bridged_pair_one_leaves_the_other_stays_in_stasis(tmp_path: Path) -> None:
    r = await rig(tmp_path, destinations={
        "PJSIP/agent@trunk": DialDestination.answer(after=1, talk=4)})
    call = r.client.call
    answers: list[Reply] = []

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]["id"]
        if event["args"] == ["gtx-dial"]:
            call("POST", "/bridges/br1", {"type": "mixing"}).addCallback(answers.append)
            call("POST", "/bridges/br1/addChannel", {"channel": f"{channel},{caller_id[0]}"}
                 ).addCallback(answers.append)
            return
        caller_id.append(channel)
        call("POST", "/channels", {"endpoint": "PJSIP/agent@trunk", "app": "gtx",
                                   "appArgs": "gtx-dial", "channelId": "agent-leg"})

    def left(event: dict[str, Any]) -> None:
        # The agent left: the caller is still in Stasis; destroy the bridge, hang up.
        call("DELETE", "/bridges/br1").addCallback(answers.append)
        call("DELETE", f"/channels/{caller_id[0]}").addCallback(answers.append)

    caller_id: list[str] = []
    r.client.events.on_stasis_start(started)
    r.client.events.on_every(lambda e: started(e) if e["type"] == "StasisStart"
                             and e["args"] == ["gtx-dial"] else None)
    r.client.events.on_every(lambda e: left(e) if e["type"] == "ChannelLeftBridge"
                             and e["channel"]["id"] == "agent-leg" else None)
    record = await r.run(r.server.stasis_call(CallSpec(context="gtx", extension="menu",
                                                       priority=2)))
    assert [a.status for a in answers] == [200, 204, 204, 204]
    assert answers[0].body["bridge_type"] == "mixing"
    bridge_events = [(e["type"], e.get("channel", {}).get("id"), e["bridge"]["channels"])
                     for e in r.client.received if "bridge" in e]
    caller = record.channel_id
    assert bridge_events == [
        ("ChannelEnteredBridge", "agent-leg", ["agent-leg"]),
        ("ChannelEnteredBridge", caller, ["agent-leg", caller]),
        ("ChannelLeftBridge", "agent-leg", [caller]),
        ("ChannelLeftBridge", caller, []),
        ("BridgeDestroyed", None, []),
    ]
    assert record.hangup_source == "ari"
    assert r.server.bridges.bridges == {}
    await r.close()


@pytest_twisted.ensureDeferred
async def test_fail_next_by_path_and_times(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.server.fail_next(("GET", r"/channels"), 503, {"message": "busy"}, times=2)
    answers = [await r.client.call("GET", "/channels") for _ in range(3)]
    assert [(a.status, a.body) for a in answers] == [
        (503, {"message": "busy"}), (503, {"message": "busy"}), (200, [])]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_dropped_websocket_loses_events_and_stasis_fails_after(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    first = r.server.stasis_call(caller="wait 5; hangup")
    await r.run(r.client.call("GET", "/channels"))
    assert r.client.types() == ["ChannelVarset", "StasisStart"]
    r.server.drop_websockets()
    assert not r.server.app_connected("gtx")
    record = await r.run(first)
    assert r.client.closed
    assert r.client.types() == ["ChannelVarset", "StasisStart"]  # the rest was lost
    assert record.hangup_source == "caller"
    second = await r.run(r.server.stasis_call())
    assert second.stasis_status == "FAILED"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_unreachable_then_back_on_the_same_port(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    port = r.server.port
    await r.server.refuse_connections(True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await r.client.call("GET", "/channels")
    assert not r.server.app_connected("gtx")
    await r.server.refuse_connections(False)
    assert r.server.port == port
    again = RawARI(r.server)
    await again.connect()
    reply = await again.call("GET", "/channels")
    assert reply.status == 200
    await again.close()
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_second_websocket_replaces_the_application(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    newer = RawARI(r.server)
    await newer.connect()
    d = r.server.stasis_call(caller="wait 1; hangup")
    await r.run(d, links=[r.client, newer])
    assert r.client.types() == ["ApplicationReplaced"]
    replaced = r.client.received[0]
    assert set(replaced) == {"type", "timestamp", "application", "asterisk_id"}
    assert replaced["application"] == "gtx"
    assert "StasisStart" in newer.types()
    # As on Asterisk the replaced WebSocket stays open; nothing more comes on it.
    assert not r.client.closed
    await newer.close()
    await r.close()


@pytest_twisted.ensureDeferred
async def test_hangup_from_the_test_with_a_cause(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    ids: list[str] = []
    r.client.events.on_stasis_start(lambda e: ids.append(e["channel"]["id"]))
    d = r.server.stasis_call()
    await r.run(r.client.call("GET", "/channels"))
    r.server.hangup(ids[0], cause=34)
    record = await r.run(d)
    assert (record.hangup_cause, record.hangup_source) == (34, "caller")
    assert r.client.received[-1]["cause_txt"] == "Circuit/channel congestion"
    await r.close()
