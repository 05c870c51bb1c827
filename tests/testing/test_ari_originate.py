"""Emulated ARI: originating calls (answer, busy, no answer, unknown endpoints, variables that
cross to another server), channels.create + dial, hang-up while ringing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, succeed

from gtx.testing import DialDestination, check_against_listings
from gtx.testing.emulated_channel import EmulatedChannel
from tests.testing.ari_harness import Rig, rig

TRUNK = "PJSIP/{}@trunk"


async def _setup(tmp_path: Path, **destinations: DialDestination) -> Rig:
    return await rig(tmp_path, destinations={TRUNK.format(n): d
                                             for n, d in destinations.items()})


def _finished(r: Rig, channel_id: str) -> Deferred[Any]:
    """Fires with the record of ``channel_id`` once it is gone."""
    return r.server.channels[channel_id].finished


def _of(r: Rig, channel_id: str) -> list[dict[str, Any]]:
    return [e for e in r.client.received
            if e.get("channel", e.get("peer", {})).get("id") == channel_id]


@pytest_twisted.ensureDeferred
async def test_answered_call_enters_stasis_with_its_arguments_then_the_far_end_hangs_up(
        tmp_path: Path) -> None:
    r = await _setup(tmp_path, **{"5551234": DialDestination.answer(after=3, talk=20)})
    reply = await r.run(r.client.call("POST", "/channels", {
        "endpoint": TRUNK.format("5551234"), "app": "gtx", "appArgs": "gtx-dial,leg-1",
        "callerId": '"Shop" <5550000>', "channelId": "c1", "timeout": 30}))
    assert reply.status == 200
    assert (reply.body["id"], reply.body["name"], reply.body["state"]) == (
        "c1", "PJSIP/trunk-00000000", "Down")
    assert reply.body["caller"] == {"name": "Shop", "number": "5550000"}
    assert reply.body["dialplan"]["app_name"] == "AppDial2"
    record = await r.run(_finished(r, "c1"))
    events = _of(r, "c1")
    assert [e["type"] for e in events] == [
        "Dial", "ChannelStateChange", "ChannelStateChange", "Dial", "ChannelVarset",
        "StasisStart", "ChannelHangupRequest", "StasisEnd", "ChannelVarset",
        "ChannelDestroyed"]
    assert [e.get("dialstatus") for e in events if e["type"] == "Dial"] == ["", "ANSWER"]
    assert events[0]["dialstring"] == "5551234@trunk"
    assert [e["channel"]["state"] for e in events if e["type"] == "ChannelStateChange"] == [
        "Ringing", "Up"]
    assert events[5]["args"] == ["gtx-dial", "leg-1"]
    assert events[5]["timestamp"] == "2026-11-21T23:43:27.000+0000"  # 3 s of ringing
    assert events[-1]["timestamp"] == "2026-11-21T23:43:47.000+0000"  # then 20 s of talk
    assert record.hangup_source == "caller"
    assert check_against_listings(r.server.requests) == []
    await r.close()


@pytest.mark.parametrize(("destination", "status", "cause", "seconds"), [
    (DialDestination.busy(after=2), "BUSY", 17, 2),
    (DialDestination.congestion(after=1), "CONGESTION", 34, 1),
])
@pytest_twisted.ensureDeferred
async def test_calls_that_fail(tmp_path: Path, destination: DialDestination, status: str,
                               cause: int, seconds: float) -> None:
    r = await _setup(tmp_path, **{"5551234": destination})
    await r.run(r.client.call("POST", "/channels/c1", {
        "endpoint": TRUNK.format("5551234"), "app": "gtx", "timeout": 5}))
    record = await r.run(_finished(r, "c1"))
    events = _of(r, "c1")
    assert [(e["type"], e.get("dialstatus")) for e in events] == [
        ("Dial", ""), ("ChannelStateChange", None), ("Dial", status),
        ("ChannelDestroyed", None)]
    assert (events[-1]["cause"], events[-1]["cause_txt"]) == (
        cause, {17: "User busy", 34: "Circuit/channel congestion",
                19: "User alerting, no answer"}[cause])
    assert record.duration == seconds
    assert record.stasis_statuses == []
    await r.close()


@pytest.mark.parametrize(("timeout", "seconds"), [(5, 5), (None, 30), (0, 30), (-3, 30)])
@pytest_twisted.ensureDeferred
async def test_the_originate_timeout_hangs_up_with_cause_0_and_no_dial_status(
        tmp_path: Path, timeout: int | None, seconds: float) -> None:
    """ast_dial's timeout (30 s unless a positive one is given): the channel is hung up with
    cause 0 and no Dial NOANSWER comes (resource_channels.c, dial.c)."""
    r = await _setup(tmp_path, **{"5551234": DialDestination.no_answer()})
    params: dict[str, object] = {"endpoint": TRUNK.format("5551234"), "app": "gtx"}
    if timeout is not None:
        params["timeout"] = timeout
    await r.run(r.client.call("POST", "/channels/c1", params))
    record = await r.run(_finished(r, "c1"))
    events = _of(r, "c1")
    assert [(e["type"], e.get("dialstatus")) for e in events] == [
        ("Dial", ""), ("ChannelStateChange", None), ("ChannelDestroyed", None)]
    assert events[1]["channel"]["state"] == "Ringing"
    assert (events[-1]["cause"], events[-1]["cause_txt"]) == (0, "Unknown")
    assert record.duration == seconds
    await r.close()


@pytest_twisted.ensureDeferred
async def test_without_a_timeout_the_originate_rings_on(tmp_path: Path) -> None:
    r = await _setup(tmp_path, **{"5551234": DialDestination.no_answer()})
    await r.run(r.client.call("POST", "/channels/c1", {
        "endpoint": TRUNK.format("5551234"), "app": "gtx", "timeout": -1}))
    r.clock.advance(3600)
    assert r.server.channels["c1"].state == "Ringing"
    await r.run(r.client.call("DELETE", "/channels/c1"))
    await r.close()


@pytest_twisted.ensureDeferred
async def test_unknown_endpoint_and_bad_requests(tmp_path: Path) -> None:
    r = await _setup(tmp_path)
    call = r.client.call
    unknown = await r.run(call("POST", "/channels", {"endpoint": "PJSIP/nobody@nowhere",
                                                     "app": "gtx"}))
    assert (unknown.status, unknown.body) == (500, {"error": "Allocation failed"})
    no_app = await r.run(call("POST", "/channels", {"endpoint": "PJSIP/1@trunk"}))
    assert (no_app.status, no_app.body) == (
        400, {"message": "Application or extension must be specified"})
    bad = await r.run(call("POST", "/channels", {"endpoint": "nonsense", "app": "gtx"}))
    assert (bad.status, bad.body) == (400, {"message": "Invalid endpoint specified"})
    variables = await r.run(call("POST", "/channels", {"endpoint": "PJSIP/1@trunk",
                                                       "app": "gtx"},
                                 body={"variables": {"A": 1}}))
    assert variables.status == 400
    await r.close()


@pytest_twisted.ensureDeferred
async def test_taken_channel_id_is_a_conflict(tmp_path: Path) -> None:
    r = await _setup(tmp_path, **{"1": DialDestination.no_answer()})
    params = {"endpoint": TRUNK.format("1"), "app": "gtx", "channelId": "same"}
    first = await r.run(r.client.call("POST", "/channels", params))
    second = await r.run(r.client.call("POST", "/channels", params))
    assert (first.status, second.status) == (200, 409)
    assert second.body == {"message": "Channel with given unique ID already exists"}
    await r.close()


@pytest_twisted.ensureDeferred
async def test_variables_are_set_and_iaxvars_cross_to_another_server(tmp_path: Path) -> None:
    crossed: list[Mapping[str, str]] = []

    def remote(target: str, values: Mapping[str, str], calling: EmulatedChannel
               ) -> Deferred[object]:
        crossed.append(dict(values))
        return succeed(None)  # the remote call ends at once: the far end hangs up

    r = await rig(tmp_path, destinations={"IAX2/serverb/ivr": DialDestination.server(remote)})
    reply = await r.run(r.client.call(
        "POST", "/channels", {"endpoint": "IAX2/serverb/ivr", "app": "gtx", "channelId": "h1"},
        body={"variables": {"IAXVAR(GTX_SESSION)": "s-9", "GTX_CALL_ID": "42"}}))
    assert reply.status == 200
    record = await r.run(_finished(r, "h1"))
    assert crossed == [{"IAXVAR(GTX_SESSION)": "s-9"}]
    assert record.variables["GTX_CALL_ID"] == "42"
    assert record.hangup_source == "caller"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_create_then_dial(tmp_path: Path) -> None:
    r = await _setup(tmp_path, **{"7": DialDestination.answer(after=1, talk=None)})
    created = await r.run(r.client.call("POST", "/channels/create", {
        "endpoint": TRUNK.format("7"), "app": "gtx", "appArgs": "gtx-dial", "channelId": "d1"}))
    assert (created.status, created.body["state"]) == (200, "Down")
    assert r.client.types() == ["ChannelVarset", "StasisStart"]
    early = await r.run(r.client.call("POST", "/channels/d1/play", {"media": "sound:beep"}))
    assert (early.status, early.body) == (412, {"message": "Channel in invalid state"})
    dialled = await r.run(r.client.call("POST", "/channels/d1/dial", {"timeout": 10}))
    assert dialled.status == 204
    again = await r.run(r.client.call("POST", "/channels/d1/dial"))
    assert (again.status, again.body) == (409, {"message": "Channel is not in the 'Down' state"})
    await r.run(r.client.call("GET", "/channels/d1"))
    r.clock.advance(1)
    state = await r.run(r.client.call("GET", "/channels/d1"))
    assert state.body["state"] == "Up"
    assert [e.get("dialstatus") for e in r.client.received if e["type"] == "Dial"] == [
        "", "ANSWER"]
    await r.run(r.client.call("DELETE", "/channels/d1"))
    await r.close()


@pytest_twisted.ensureDeferred
async def test_hang_up_while_ringing(tmp_path: Path) -> None:
    r = await _setup(tmp_path, **{"8": DialDestination.answer(after=10)})
    await r.run(r.client.call("POST", "/channels", {"endpoint": TRUNK.format("8"),
                                                    "app": "gtx", "channelId": "r1"}))
    finished = _finished(r, "r1")
    gone = await r.run(r.client.call("DELETE", "/channels/r1"))
    assert gone.status == 204
    record = await r.run(finished)
    assert [e["type"] for e in _of(r, "r1")][-2:] == ["ChannelHangupRequest",
                                                      "ChannelDestroyed"]
    assert "StasisStart" not in record.event_types
    assert r.clock.getDelayedCalls() == []
    await r.close()
