"""The emulated ARI server: calls into Stasis, playbacks, DTMF, variables, hang-ups, continue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from gtx.testing import CallSpec, NothingLeftToHappen, check_against_listings
from gtx.testing.ari_http import api_docs
from tests.testing.ari_harness import Rig, rig


def _answer_and_play(r: Rig, media: str = "sound:hello-world") -> list[Any]:
    """An application: answers every call entering Stasis and plays ``media``."""
    replies: list[Any] = []

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]["id"]
        d = r.client.call("POST", f"/channels/{channel}/answer")
        d.addCallback(replies.append)
        d = r.client.call("POST", f"/channels/{channel}/play",
                          {"media": media, "playbackId": f"pb-{channel}"})
        d.addCallback(replies.append)

    r.client.events.on_stasis_start(started)
    return replies


@pytest_twisted.ensureDeferred
async def test_a_call_enters_stasis_hears_a_prompt_presses_and_hangs_up(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    replies = _answer_and_play(r)
    spec = CallSpec(channel="PJSIP/alice-00000001", uniqueid="1795304604.1",
                    caller_number="5551234", caller_name="Alice", context="gtx",
                    extension="menu", priority=2)
    record = await r.run(r.server.stasis_call(spec, "wait 2; press 1; wait 1; hangup",
                                              args=["menu", "vip"]))
    assert [reply.status for reply in replies] == [204, 201]
    assert replies[1].body == {"id": "pb-1795304604.1", "media_uri": "sound:hello-world",
                               "target_uri": "channel:1795304604.1", "language": "en",
                               "state": "queued"}
    assert r.client.types() == [
        "ChannelVarset", "StasisStart", "PlaybackStarted", "PlaybackFinished",
        "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd", "ChannelVarset",
        "ChannelDestroyed"]
    start = r.client.received[1]
    assert start["args"] == ["menu", "vip"]
    assert start["channel"]["dialplan"] == {"context": "gtx", "exten": "menu", "priority": 2,
                                            "app_name": "Stasis", "app_data": "gtx,menu,vip"}
    assert start["channel"]["caller"] == {"name": "Alice", "number": "5551234"}
    assert list(start) == ["type", "timestamp", "args", "channel", "asterisk_id",
                           "application"]
    dtmf = r.client.received[4]
    assert (dtmf["digit"], dtmf["duration_ms"]) == ("1", 100)
    finished = r.client.received[3]
    assert finished["playback"]["state"] == "done"
    # hello-world is 11234 samples: 1.404 s after the start of the call.
    assert finished["timestamp"] == "2026-11-21T23:43:25.404+0000"
    destroyed = r.client.received[-1]
    assert (destroyed["cause"], destroyed["cause_txt"]) == (16, "Normal Clearing")
    assert record.played == ["hello-world"]
    assert record.digits == "1"
    assert record.hangup_source == "caller"
    assert record.hung_up
    assert record.continued_at is None
    assert record.stasis_status == "SUCCESS"
    assert record.duration == pytest.approx(3.25)
    assert r.server.channels == {}
    assert r.clock.getDelayedCalls() == []  # nothing of the call is left on the Clock
    assert check_against_listings(r.server.requests) == []
    await r.close()


@pytest_twisted.ensureDeferred
async def test_variables_set_get_functions_and_unset(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    got: dict[str, Any] = {}

    def started(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"
        c = r.client.call
        c("POST", f"{base}/variable", {"variable": "GTX_STATE", "value": "a=1"}).addCallback(
            lambda reply: got.setdefault("set", reply))
        for name in ("GTX_STATE", "CALLERID(dnid)", "IAXVAR(GTX_SESSION)", "NOPE",
                     "NOSUCHFUNC(x)", "PJSIP_HEADER(read,X-GTX-App)",
                     "PJSIP_HEADER(read,X-GTX-Session)"):
            c("GET", f"{base}/variable", {"variable": name}).addCallback(
                lambda reply, name=name: got.setdefault(name, reply))
        c("POST", f"{base}/continue").addCallback(lambda reply: got.setdefault("cont", reply))

    r.client.events.on_stasis_start(started)
    spec = CallSpec(dnid="5550100", inherited={"IAXVAR(GTX_SESSION)": "s-1",
                                               "PJSIP_HEADER(X-GTX-App)": "menu"},
                    context="gtx", extension="menu", priority=2)
    record = await r.run(r.server.stasis_call(spec, args=["menu"]))
    assert got["set"].status == 204
    assert (got["GTX_STATE"].status, got["GTX_STATE"].body) == (200, {"value": "a=1"})
    assert got["CALLERID(dnid)"].body == {"value": "5550100"}
    assert got["IAXVAR(GTX_SESSION)"].body == {"value": "s-1"}
    assert (got["NOPE"].status, got["NOPE"].body) == (
        404, {"message": "Provided variable was not found"})
    assert got["NOSUCHFUNC(x)"].status == 500
    assert got["PJSIP_HEADER(read,X-GTX-App)"].body == {"value": "menu"}
    # A header the call does not carry: the function fails to read (func_pjsip_header.c).
    absent = got["PJSIP_HEADER(read,X-GTX-Session)"]
    assert (absent.status, absent.body) == (500, {"message": "Unable to read provided function"})
    assert got["cont"].status == 204
    varset = [e for e in r.client.received if e["type"] == "ChannelVarset"]
    assert [(e["variable"], e["value"]) for e in varset] == [
        ("STASISSTATUS", ""), ("GTX_STATE", "a=1"), ("STASISSTATUS", "SUCCESS")]
    assert list(varset[1])[:4] == ["variable", "value", "type", "timestamp"]
    assert record.variables["GTX_STATE"] == "a=1"
    assert record.continued_at == ("gtx", "menu", 3)
    assert record.hangup_source == "dialplan"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_errors_not_found_not_in_stasis_and_bad_requests(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    c = r.client.call
    missing = await c("POST", "/channels/no-such/answer")
    assert (missing.status, missing.body) == (404, {"message": "Channel not found"})
    unknown_param = await c("POST", "/channels/x/answer", {"bogus": "1"})
    assert unknown_param.status == 400
    no_media = await c("POST", "/channels/x/play")
    assert (no_media.status, no_media.body) == (
        400, {"message": "Required parameter 'media' not provided."})
    no_path = await c("GET", "/nothing/here")
    assert no_path.status == 404
    wrong_method = await c("PUT", "/channels")
    assert (wrong_method.status, wrong_method.body) == (405, {"message": "Invalid method"})
    unauthorized = await c("GET", "/channels", auth=False)
    assert (unauthorized.status, unauthorized.body) == (
        401, {"message": "Authentication required"})
    listing = await c("GET", "/channels")
    assert (listing.status, listing.body) == (200, [])
    problems = check_against_listings(r.server.requests)
    assert problems == [
        "POST /channels/x/answer: channels.answer declares no parameter 'bogus'",
        "POST /channels/x/play: channels.play needs 'media'",
        "GET /nothing/here: Resource not found",
        "PUT /channels: Invalid method",
    ]
    await r.close(conforming=False)


@pytest_twisted.ensureDeferred
async def test_not_in_stasis_after_continue_and_409(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.server.dialplan.ends_here = lambda channel: None  # type: ignore[method-assign]
    ids: list[str] = []
    r.client.events.on_stasis_start(lambda e: ids.append(e["channel"]["id"]))
    d = r.server.stasis_call(CallSpec(context="gtx", extension="menu", priority=2))
    await r.run(r.client.call("GET", "/channels"))
    (channel_id,) = ids
    await r.client.call("POST", f"/channels/{channel_id}/continue")
    reply = await r.client.call("POST", f"/channels/{channel_id}/answer")
    assert (reply.status, reply.body) == (409, {"message": "Channel not in Stasis application"})
    r.server.hangup(channel_id)
    record = await d
    assert record.continued_at == ("gtx", "menu", 3)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_no_application_connected_stasis_fails_at_once(tmp_path: Path) -> None:
    r = await rig(tmp_path, connect=False)
    record = await r.run(r.server.stasis_call(CallSpec(context="gtx", extension="menu",
                                                       priority=2)))
    assert record.stasis_status == "FAILED"
    assert record.continued_at == ("gtx", "menu", 3)
    assert record.events == []  # nobody to tell
    await r.close()


@pytest_twisted.ensureDeferred
async def test_hangup_by_ari_during_playback(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.server.asterisk.sounds.add("long", seconds=10)
    _answer_and_play(r, "sound:long")

    def dtmf(event: dict[str, Any]) -> None:
        r.client.call("DELETE", f"/channels/{event['channel']['id']}", {"reason": "busy"})

    r.client.events.on_every(lambda e: dtmf(e) if e["type"] == "ChannelDtmfReceived" else None)
    record = await r.run(r.server.stasis_call(caller="5@3"))
    types = r.client.types()
    assert types[types.index("ChannelDtmfReceived"):] == [
        "ChannelDtmfReceived", "ChannelHangupRequest", "PlaybackFinished", "StasisEnd",
        "ChannelVarset", "ChannelDestroyed"]
    request = r.client.received[types.index("ChannelHangupRequest")]
    assert (request["cause"], request["soft"]) == (32, True)
    assert list(request)[:3] == ["cause", "soft", "type"]
    assert r.client.received[types.index("PlaybackFinished")]["playback"]["state"] == "failed"
    assert r.client.received[-1]["cause"] == 17
    assert record.hangup_source == "ari"
    assert record.hangup_cause == 17
    await r.close()


@pytest_twisted.ensureDeferred
async def test_run_until_reports_nothing_left_to_happen(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    never: Any = r.server.stasis_call()  # nobody answers or hangs up, the caller waits
    with pytest.raises(NothingLeftToHappen):
        await r.run(never, stall_turns=5)
    await r.close()


def test_listings_are_based_on_the_host_header_as_asterisk_does() -> None:
    """``http://`` + Host + ``/ari`` — even for a request that came over TLS — and no basePath
    at all without a Host header (ast_ari_get_docs)."""
    docs = json.loads(api_docs("/api-docs/channels.json", "pbx.example:8089").text or "")
    assert docs["basePath"] == "http://pbx.example:8089/ari"
    listing = json.loads(api_docs("/api-docs/resources.json", None).text or "")
    assert "basePath" not in listing
    assert listing["apis"]
