"""A gtx node whose only Asterisk link is ARI, through the whole stack: the IVR over Stasis, the
Dialer API placing calls through ARI, the Recorder API recording them through ARI — against the
emulated ARI server over loopback, with the web service an in-process XML-RPC service."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import deferLater

from gtx.config import parse_config
from gtx.tap import GtxNode
from gtx.testing import AnySoundCatalogue, CallSpec, DialDestination, EmulatedAsterisk
from gtx.testing.ari_server import EmulatedARIServer
from gtx.xmlrpc.client import XMLRPCClient
from tests.survey_service import Step, SurveyService

reactor: Any = global_reactor
TOKEN = "s3cret-token"


@dataclass
class Stack:
    node: GtxNode
    api: str
    client: XMLRPCClient
    ivr_requests: list[dict[str, Any]]
    events: list[dict[str, Any]]
    ari: EmulatedARIServer
    service_url: str
    recordings: Path

    async def rpc(self, method: str, *params: object, token: str = TOKEN) -> Any:
        return await self.client.call(self.api, method, list(params), timeout=5,
                                      headers={"Authorization": f"Bearer {token}"})

    async def until(self, condition: Callable[[], bool], seconds: float = 10) -> None:
        """Poll for a condition instead of sleeping a fixed time."""
        waited = 0.0
        while not condition():
            assert waited < seconds, "condition not reached in time"
            await deferLater(reactor, 0.01, lambda: None)
            waited += 0.01

    async def call_state(self, call_id: str, *states: str) -> dict[str, Any]:
        status: dict[str, Any] = {}
        for _ in range(1000):
            status = await self.rpc("dialer.call_status", call_id)
            if status["state"] in states:
                return status
            await deferLater(reactor, 0.01, lambda: None)
        raise AssertionError(f"call {call_id} never reached {states}: {status}")


async def listen(factory: Any) -> Any:
    return await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)


@asynccontextmanager
async def stack(destinations: dict[str, DialDestination] | None = None,
                steps: dict[str, Step] | None = None) -> AsyncIterator[Stack]:
    survey = SurveyService()
    await survey.listen(reactor, steps)
    ivr_requests, events, service_url = survey.ivr_requests, survey.events, survey.url

    recordings = Path(tempfile.mkdtemp(prefix="gtx-ari-e2e-"))
    asterisk = EmulatedAsterisk(reactor, time_scale=0.01, sounds=AnySoundCatalogue(),
                                destinations=destinations or {})
    ari = EmulatedARIServer(asterisk, recording_dir=recordings)
    await ari.start()
    config = parse_config(
        "[gtx]\nnode = e2e-ari\nshutdown_timeout = 2\n[store]\nurl = sqlite://\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
        f"[asterisk:pbx1]\nari_url = {ari.url}\nari_user = gtx\nari_password = gtxsecret\n"
        f"ari_recording_dir = {recordings}\n"
        "[dialer]\nchannel = PJSIP/{number}@trunk\ntick = 0.05\n"
        f"[user:crm]\nrole = dialer\ntoken = {TOKEN}\n"
        "[user:tapes]\nrole = recorder\ntoken = tapes\n"
        f"[recorder]\ndir = {recordings}\n"
        f"[ivr:survey]\nurl = {service_url}\nmethod = survey.start\n"
    )
    node = GtxNode(config, reactor)
    http = await listen(node.site)
    node.http_listening_on(http.getHost().port)
    await node.start()
    client = XMLRPCClient(reactor)
    api = f"http://127.0.0.1:{http.getHost().port}/RPC2"
    built = Stack(node, api, client, ivr_requests, events, ari, service_url, recordings)
    try:
        await built.until(lambda: node.ari["pbx1"].connected)
        yield built
    finally:
        await client.close()
        await node.drain()
        await http.stopListening()
        await survey.close()
        await ari.stop()
        shutil.rmtree(recordings, ignore_errors=True)


def test_the_node_uses_ari_for_what_has_no_ami() -> None:
    config = parse_config(
        "[gtx]\nnode = n\n[store]\nurl = sqlite://\n"
        "[asterisk:pbx1]\nari_url = http://127.0.0.1:8088/\nari_user = gtx\n"
        "ari_password = gtxsecret\n"
    )
    node = GtxNode(config, reactor)
    assert type(node.originators["pbx1"]).__name__ == "ARIOriginator"
    assert type(node.recording_controls["pbx1"]).__name__ == "ARIRecorder"
    assert node.ami == {}
    assert [runner.link for runner in node.stasis] == [node.ari["pbx1"]]
    assert node.health()["ari"] == {"pbx1": False}
    assert node.ari["pbx1"].max_connections == 20


def test_the_link_opens_at_most_ari_connections() -> None:
    config = parse_config(
        "[gtx]\nnode = n\n[store]\nurl = sqlite://\n"
        "[asterisk:pbx1]\nari_url = http://127.0.0.1:8088/\nari_user = gtx\n"
        "ari_password = gtxsecret\nari_connections = 7\n"
    )
    assert GtxNode(config, reactor).ari["pbx1"].max_connections == 7


@pytest_twisted.ensureDeferred
async def test_a_call_entering_stasis_runs_the_ivr_app() -> None:
    async with stack() as s:
        record = await s.ari.stasis_call(CallSpec(caller_number="5551234"), None,
                                         args=["survey", "first"])
        health = s.node.health()
    (request,) = s.ivr_requests
    assert request["step"] == 1
    assert request["caller"]["number"] == "5551234"
    assert request["args"] == ["first"]
    assert request["asterisk"] == "pbx1"
    assert "hello-world" in record.played
    assert record.stasis_status == "SUCCESS"
    assert health["ari"] == {"pbx1": True}


@pytest_twisted.ensureDeferred
async def test_a_dialer_call_over_ari_reaches_the_ivr_app_over_ari() -> None:
    destinations = {"PJSIP/5551000@trunk": DialDestination.answer(after=1, talk=30)}
    async with stack(destinations) as s:
        result = await s.rpc("dialer.call", "5551000", {
            "on_answer": {"app": "survey"},
            "vars": {"customer": "C-42"},
            "callback": {"url": s.service_url, "method": "crm.event"},
        })
        call_id = result["call_id"]
        await s.until(lambda: bool(s.ivr_requests))
        await s.until(lambda: any(e.get("state") == "completed" for e in s.events))
        status = await s.rpc("dialer.call_status", call_id)
    (request,) = s.ivr_requests
    assert request["vars"]["customer"] == "C-42"
    assert status["outcome"] == "answered"
    states = [e["state"] for e in s.events]
    assert states[0] == "queued"
    assert "answered" in states
    assert states[-1] == "completed"
    originated = [r for r in s.ari.requests if r.operation == "channels.originate"]
    assert [r.params.get("channelId") for r in originated] == [call_id]


@pytest_twisted.ensureDeferred
async def test_a_busy_number_over_ari_ends_busy() -> None:
    async with stack({"PJSIP/5552000@trunk": DialDestination.busy()}) as s:
        call_id = (await s.rpc("dialer.call", "5552000", {"on_answer": {"app": "survey"}}))[
            "call_id"]
        status = await s.call_state(call_id, "completed")
    assert status["outcome"] == "busy"
    assert s.ivr_requests == []


@pytest_twisted.ensureDeferred
async def test_recording_a_dialer_call_through_ari() -> None:
    destinations = {"PJSIP/5556000@trunk": DialDestination.answer(after=1, talk=600)}
    steps = {"survey.start": lambda request: {"actions": [{"action": "wait", "seconds": 300}]}}
    async with stack(destinations, steps) as s:
        call_id = (await s.rpc("dialer.call", "5556000", {"on_answer": {"app": "survey"}}))[
            "call_id"]
        await s.call_state(call_id, "answered")
        rid = (await s.rpc("recorder.start", {"call_id": call_id}, {}, token="tapes"))[
            "recording_id"]
        await deferLater(reactor, 0.2, lambda: None)  # 20 s of call time pass
        await s.rpc("recorder.pause", rid, {"mode": "gap"}, token="tapes")
        await s.rpc("recorder.resume", rid, token="tapes")
        await s.rpc("recorder.stop", rid, token="tapes")
        recording: dict[str, Any] = {}
        for _ in range(500):
            recording = await s.rpc("recorder.get", rid, token="tapes")
            if recording["state"] in ("ready", "failed"):
                break
            await deferLater(reactor, 0.01, lambda: None)
    assert recording["state"] == "ready", recording
    assert recording["size"] > 44
    assert recording["duration"] > 0
    (path,) = recording["files"]
    assert Path(path).parent == s.recordings
    snoops = [r for r in s.ari.requests if r.operation in ("channels.snoopChannel",
                                                           "channels.snoopChannelWithId")]
    assert snoops
    assert f"/channels/{call_id}/snoop" in snoops[0].path


@pytest_twisted.ensureDeferred
async def test_ari_unreachable_at_start_up_the_node_waits_then_serves() -> None:
    asterisk = EmulatedAsterisk(reactor, time_scale=0.01, sounds=AnySoundCatalogue())
    ari = EmulatedARIServer(asterisk)
    await ari.start()
    await ari.refuse_connections(True)
    config = parse_config(
        "[gtx]\nnode = e2e-ari\nshutdown_timeout = 2\n[store]\nurl = sqlite://\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
        f"[asterisk:pbx1]\nari_url = {ari.url}\nari_user = gtx\nari_password = gtxsecret\n"
        "[ivr:survey]\nurl = http://127.0.0.1:9/RPC2\nmethod = survey.start\n"
    )
    node = GtxNode(config, reactor)
    await node.start()
    try:
        link = node.ari["pbx1"]
        for _ in range(50):  # a few connection attempts fail meanwhile
            await deferLater(reactor, 0.01, lambda: None)
        down = node.health()["ari"]
        error = link.last_error
        # No node is registered for the app: Stasis() fails at once and the dialplan fails over.
        refused = await ari.stasis_call(CallSpec(), None, args=["survey"])
        await ari.refuse_connections(False)
        waited = 0
        while not link.connected:
            assert waited < 1000, "the link never came back"
            await deferLater(reactor, 0.01, lambda: None)
            waited += 1
        up = node.health()["ari"]
    finally:
        await node.drain()
        await ari.stop()
    assert down == {"pbx1": False}
    assert error
    assert refused.stasis_status == "FAILED"
    assert up == {"pbx1": True}
