"""The Dialer API through the whole stack: a gtx node (authenticated XML-RPC API, dialer, SQLite
store, AMI link, FastAGI server, IVR engine) against the emulated Asterisk (AMI and FastAGI over
TCP on loopback), with call-back events received by an in-process XML-RPC service."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import deferLater

from gtx.config import parse_config
from gtx.tap import GtxNode
from gtx.testing import (
    AnySoundCatalogue,
    DialDestination,
    EmulatedAMIServer,
    EmulatedAsterisk,
)
from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.errors import Fault
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
    ami: EmulatedAMIServer
    service_url: str  # the in-process web service: survey.start and crm.event

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


async def listen(factory: Any) -> Any:
    return await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)




@asynccontextmanager
async def stack(destinations: dict[str, DialDestination],
                steps: dict[str, Step] | None = None,
                members: dict[str, list[str]] | None = None) -> AsyncIterator[Stack]:
    """The node and its surroundings; ``steps`` adds or replaces methods of the survey app's
    web service (by default ``survey.start`` plays hello-world and ends); ``members`` logs
    agents into queues of the emulated Asterisk before the node connects."""
    survey = SurveyService()
    await survey.listen(reactor, steps)
    ivr_requests, events, service_url = survey.ivr_requests, survey.events, survey.url

    asterisk = EmulatedAsterisk(reactor, time_scale=0.01, sounds=AnySoundCatalogue(),
                                destinations=destinations)
    # The AMI server needs the node's FastAGI port and the node needs the AMI port: listen
    # on the AMI side first, point it at the node once the node listens.
    ami = EmulatedAMIServer(asterisk, users={"gtx": "gtxsecret"}, reactor=reactor)
    recordings = tempfile.mkdtemp(prefix="gtx-recordings-")
    for queue, agents in (members or {}).items():
        for agent in agents:
            ami.set_queue_member(queue, agent)
    ami_port = await listen(ami)
    config = parse_config(
        "[gtx]\nnode = e2e\nshutdown_timeout = 2\n[store]\nurl = sqlite://\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
        f"[asterisk:pbx1]\nami = tcp:127.0.0.1:{ami_port.getHost().port}\n"
        "ami_user = gtx\nami_secret = gtxsecret\n"
        "[dialer]\nchannel = PJSIP/{number}@trunk\ntick = 0.05\n"
        f"[user:crm]\nrole = dialer\ntoken = {TOKEN}\n"
        "[user:viewer]\nrole = readonly\ntoken = look\n"
        "[user:tapes]\nrole = recorder\ntoken = tapes\n"
        f"[recorder]\ndir = {recordings}\n"
        f"[ivr:survey]\nurl = {service_url}\nmethod = survey.start\n"
    )
    node = GtxNode(config, reactor)
    agi = await listen(node.fastagi)
    http = await listen(node.site)
    node.http_listening_on(http.getHost().port)
    ami.fastagi = ("127.0.0.1", agi.getHost().port)  # type: ignore[assignment]
    await node.start()
    client = XMLRPCClient(reactor)
    api = f"http://127.0.0.1:{http.getHost().port}/RPC2"
    built = Stack(node, api, client, ivr_requests, events, ami, service_url)
    try:
        await built.until(lambda: node.ami["pbx1"].connected)
        yield built
    finally:
        await client.close()
        await node.drain()
        for port in (agi, http, ami_port):
            await port.stopListening()
        await survey.close()
        ami.disconnect_all()
        shutil.rmtree(recordings, ignore_errors=True)


@pytest_twisted.ensureDeferred
async def test_single_call_answered_enters_the_ivr_app_and_reports_events() -> None:
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
    assert request["step"] == 1
    assert request["vars"]["customer"] == "C-42"
    assert status["state"] == "completed"
    assert status["outcome"] == "answered"
    states = [e["state"] for e in s.events]
    assert states[0] == "queued"
    assert states[-1] == "completed"
    assert "answered" in states
    assert [e["seq"] for e in s.events] == list(range(1, len(s.events) + 1))
    assert all(e["call_id"] == call_id for e in s.events)


@pytest_twisted.ensureDeferred
async def test_busy_number_ends_busy() -> None:
    async with stack({"PJSIP/5552000@trunk": DialDestination.busy()}) as s:
        result = await s.rpc("dialer.call", "5552000", {"on_answer": {"app": "survey"}})
        call_id = result["call_id"]

        async def done() -> dict[str, Any]:
            return await s.rpc("dialer.call_status", call_id)

        final: dict[str, Any] = {}

        async def poll() -> None:
            for _ in range(500):
                final.update(await done())
                if final.get("state") == "completed":
                    return
                await deferLater(reactor, 0.01, lambda: None)

        await poll()
    assert final["outcome"] == "busy"
    assert s.ivr_requests == []


@pytest_twisted.ensureDeferred
async def test_broadcast_campaign_runs_to_completion_through_the_api() -> None:
    numbers = [f"55530{n:02d}" for n in range(6)]
    # The called party stays on long enough (60 call seconds, 0.6 s here) for its IVR session
    # to reach the web service even on a loaded machine; the session then ends the call.
    destinations = {f"PJSIP/{n}@trunk": DialDestination.answer(after=1, talk=60)
                    for n in numbers[:4]}
    destinations[f"PJSIP/{numbers[4]}@trunk"] = DialDestination.busy()
    destinations[f"PJSIP/{numbers[5]}@trunk"] = DialDestination.no_answer()
    async with stack(destinations) as s:
        campaign = await s.rpc("dialer.campaign.create", {
            "name": "reminders", "mode": "broadcast", "on_answer": {"app": "survey"},
            "max_concurrent": 3, "max_cps": 10, "timeout": 5, "max_attempts": 1,
            "windows": [{"days": "mon-sun", "start": "00:00", "end": "23:59"}],
        })
        campaign_id = campaign["campaign_id"]
        added = await s.rpc("dialer.campaign.add_contacts", campaign_id,
                            [{"number": n, "vars": {"n": i}} for i, n in enumerate(numbers)]
                            + [{"number": "not a number"}, {"number": numbers[0]}])
        assert added["added"] == 6
        assert added["duplicate"] == [7]
        assert [r["index"] for r in added["rejected"]] == [6]
        await s.rpc("dialer.campaign.start", campaign_id)
        status: dict[str, Any] = {}
        for _ in range(1500):
            status = await s.rpc("dialer.campaign.status", campaign_id, token="look")
            if status["state"] == "completed":
                break
            await deferLater(reactor, 0.01, lambda: None)
        results = await s.rpc("dialer.campaign.results", campaign_id, {"limit": 100})
        with_readonly_write = None
        try:
            await s.rpc("dialer.campaign.pause", campaign_id, token="look")
        except Fault as fault:
            with_readonly_write = fault.code
    assert status["state"] == "completed"
    counters = status["counters"]
    assert counters["answered"] == 4
    assert counters["busy"] == 1
    assert counters["no_answer"] == 1
    assert len(s.ivr_requests) == 4
    assert sorted(r["vars"]["n"] for r in s.ivr_requests) == [0, 1, 2, 3]
    assert len(results["calls"]) == 6
    assert with_readonly_write == 403


@pytest_twisted.ensureDeferred
async def test_api_refuses_unknown_callers() -> None:
    async with stack({}) as s:
        try:
            await s.rpc("dialer.call", "5551000", {}, token="wrong")
        except Fault as fault:
            code = fault.code
        entries = await s.node.store.audit_log(0, 10)
    assert code == 401
    assert entries == []  # bad credentials are logged, not audited


@pytest_twisted.ensureDeferred
async def test_writes_are_audited() -> None:
    async with stack({"PJSIP/5559000@trunk": DialDestination.busy()}) as s:
        await s.rpc("dialer.dnc.add", ["5559000"])
        listed = await s.rpc("dialer.dnc.check", ["5559000", "5559001"])
        entries = await s.node.store.audit_log(0, 10)
    assert listed["listed"] == ["5559000"]
    assert [(e.user, e.method) for e in entries] == [("crm", "dialer.dnc.add")]
    assert entries[0].peer == "127.0.0.1"



@pytest_twisted.ensureDeferred
async def test_ivr_callback_action_has_the_number_called_back_into_the_app() -> None:
    """"Press 1 to be called back": the survey app, reached by a first call, asks for a call
    back in one second; the dialer calls that number then, and the called-back person enters
    the survey app with the vars the action gave."""

    def start(request: dict[str, Any]) -> object:
        if request["vars"].get("reason") == "billing":  # the call back
            return {"actions": [{"action": "play", "files": ["hello-world"]}]}
        return {"actions": [{"action": "callback", "name": "later", "number": "5557000",
                             "delay": 1, "vars": {"reason": "billing", "case": 42}}],
                "next": "survey.booked"}

    steps: dict[str, Step] = {"survey.start": start, "survey.booked": lambda request: {}}
    destinations = {"PJSIP/5551000@trunk": DialDestination.answer(after=1, talk=60),
                    "PJSIP/5557000@trunk": DialDestination.answer(after=1, talk=60)}
    async with stack(destinations, steps) as s:
        first = await s.rpc("dialer.call", "5551000", {"on_answer": {"app": "survey"},
                                                        "vars": {"customer": "C-42"}})
        await s.until(lambda: any(r["step"] == 2 for r in s.ivr_requests))
        booked = next(r for r in s.ivr_requests if r["step"] == 2)["result"]["later"]
        assert booked["status"] == "ok", booked
        queued = await s.rpc("dialer.call_status", booked["call_id"])
        await s.until(lambda: len([r for r in s.ivr_requests if r["step"] == 1]) == 2)
        called_back = await s.rpc("dialer.call_status", booked["call_id"])
        first_status = await s.rpc("dialer.call_status", first["call_id"])
    assert booked["number"] == "5557000"
    assert queued["state"] == "queued"  # stored at once, dialled only when due
    assert queued["number"] == "5557000"
    assert called_back["state"] in ("answered", "completed")
    assert called_back["dialing"] >= booked["at"]  # both UTC ISO 8601 with milliseconds
    first_request, booked_request, back_request = s.ivr_requests
    assert first_request["vars"] == {"customer": "C-42"}
    assert booked_request["session"] == first_request["session"]
    assert back_request["step"] == 1
    assert back_request["app"] == "survey"
    assert back_request["vars"] == {"reason": "billing", "case": 42}
    assert back_request["session"] != first_request["session"]
    assert first_status["number"] == "5551000"


@pytest_twisted.ensureDeferred
async def test_progressive_campaign_paces_on_the_queues_free_agents() -> None:
    numbers = [f"55540{n:02d}" for n in range(5)]
    destinations = {f"PJSIP/{n}@trunk": DialDestination.answer(after=1, talk=5)
                    for n in numbers}
    async with stack(destinations, members={"sales": ["agent1", "agent2"]}) as s:
        agents = s.node.dialer.agents
        await s.until(lambda: agents is not None and agents.free_agents("sales") == 2)
        campaign = await s.rpc("dialer.campaign.create", {
            "name": "sales calls", "mode": "progressive", "queue": "sales",
            "max_concurrent": 10, "max_cps": 10, "timeout": 5, "max_attempts": 1,
            "windows": [{"days": "mon-sun", "start": "00:00", "end": "23:59"}],
        })
        campaign_id = campaign["campaign_id"]
        await s.rpc("dialer.campaign.add_contacts", campaign_id,
                    [{"number": n} for n in numbers])
        await s.rpc("dialer.campaign.start", campaign_id)
        most_at_once = 0
        status: dict[str, Any] = {}
        for _ in range(2000):
            status = await s.rpc("dialer.campaign.status", campaign_id)
            most_at_once = max(most_at_once, status["counters"].get("dialing", 0))
            if status["state"] == "completed":
                break
            await deferLater(reactor, 0.01, lambda: None)
        originates = [a for a in s.ami.actions if a.get("Action") == "Originate"]
    assert status["state"] == "completed"
    assert status["counters"]["answered"] == 5
    assert most_at_once <= 2  # one call per free agent
    assert len(originates) == 5
    assert all("GTX_DIALER_QUEUE=sales" in a.get_all("Variable") for a in originates)


@pytest_twisted.ensureDeferred
async def test_campaign_survives_the_ami_link_dropping() -> None:
    numbers = [f"55550{n:02d}" for n in range(8)]
    destinations = {f"PJSIP/{n}@trunk": DialDestination.answer(after=1, talk=3)
                    for n in numbers}
    async with stack(destinations) as s:
        campaign = await s.rpc("dialer.campaign.create", {
            "name": "link drop", "mode": "broadcast", "on_answer": {"app": "survey"},
            "max_concurrent": 2, "max_cps": 4, "timeout": 5, "max_attempts": 3,
            "retry": {"failed": {"attempts": 3, "delay": 1}},
            "windows": [{"days": "mon-sun", "start": "00:00", "end": "23:59"}],
        })
        campaign_id = campaign["campaign_id"]
        await s.rpc("dialer.campaign.add_contacts", campaign_id,
                    [{"number": n} for n in numbers])
        await s.rpc("dialer.campaign.start", campaign_id)
        originated = lambda: [a for a in s.ami.actions if a.get("Action") == "Originate"]  # noqa: E731
        await s.until(lambda: len(originated()) >= 3)
        s.ami.disconnect_all()  # the AMI link drops in the middle of the campaign
        await s.until(lambda: not s.node.ami["pbx1"].connected)
        await s.until(lambda: s.node.ami["pbx1"].connected)  # reconnects with back-off
        status: dict[str, Any] = {}
        for _ in range(3000):
            status = await s.rpc("dialer.campaign.status", campaign_id)
            if status["state"] == "completed":
                break
            await deferLater(reactor, 0.01, lambda: None)
        results = await s.rpc("dialer.campaign.results", campaign_id, {"limit": 100})
    assert status["state"] == "completed"
    # Every contact reached an end, and none was ever being dialled twice at once.
    assert status["counters"]["done"] == 8
    by_number: dict[str, list[dict[str, Any]]] = {}
    for call in results["calls"]:
        by_number.setdefault(call["number"], []).append(call)
    assert sorted(by_number) == numbers
    for calls in by_number.values():
        assert [c for c in calls if c["state"] != "completed"] == []
        answered = [c for c in calls if c.get("outcome") == "answered"]
        assert len(answered) <= 1


@pytest_twisted.ensureDeferred
async def test_recording_a_dialer_call_through_the_recorder_api() -> None:
    destinations = {"PJSIP/5556000@trunk": DialDestination.answer(after=1, talk=600)}
    # The IVR keeps the call up for 300 call seconds (3 s here) while the recording runs.
    steps = {"survey.start": lambda request: {"actions": [{"action": "wait", "seconds": 300}]}}
    async with stack(destinations, steps) as s:
        call_id = (await s.rpc("dialer.call", "5556000", {"on_answer": {"app": "survey"}}))[
            "call_id"]

        async def state() -> str:
            return str((await s.rpc("dialer.call_status", call_id))["state"])

        for _ in range(500):
            if await state() == "answered":
                break
            await deferLater(reactor, 0.01, lambda: None)
        started = await s.rpc("recorder.start", {"call_id": call_id},
                              {"metadata": {"ticket": "T-1"}}, token="tapes")
        rid = started["recording_id"]
        with_dialer_role = None
        try:
            await s.rpc("recorder.get", rid)  # the dialer role may not touch recordings
        except Fault as fault:
            with_dialer_role = fault.code
        await deferLater(reactor, 0.2, lambda: None)  # 20 s of call time pass
        await s.rpc("recorder.pause", rid, token="tapes")
        await s.rpc("recorder.resume", rid, token="tapes")
        await s.rpc("recorder.stop", rid, token="tapes")
        recording: dict[str, Any] = {}
        for _ in range(500):
            recording = await s.rpc("recorder.get", rid, token="tapes")
            if recording["state"] in ("ready", "failed"):
                break
            await deferLater(reactor, 0.01, lambda: None)
        url = await s.rpc("recorder.url", rid, token="tapes")
        body = await http_get(url, {"Range": "bytes=0-43"})
        stopped_twice = None
        try:
            await s.rpc("recorder.stop", rid, token="tapes")
        except Fault as fault:
            stopped_twice = fault.code
    assert with_dialer_role == 403
    assert recording["state"] == "ready"
    assert recording["metadata"] == {"ticket": "T-1"}
    assert recording["size"] > 44
    assert recording["duration"] > 0
    assert recording["started_by"] == "tapes"
    (path,) = recording["files"]
    assert path.endswith(f"{rid}.wav")
    assert body[0].startswith(b"HTTP/1.1 206 ")
    assert body[1][:4] == b"RIFF"
    assert len(body[1]) == 44
    assert stopped_twice == 409


async def http_get(url: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """A raw GET: (status line, body)."""
    from urllib.parse import urlsplit

    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
    from twisted.internet.protocol import Protocol

    class Client(Protocol):
        def __init__(self) -> None:
            self.data = b""
            self.done: Deferred[bytes] = Deferred()

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: object = None) -> None:
            self.done.callback(self.data)

    parts = urlsplit(url)
    client = await connectProtocol(
        TCP4ClientEndpoint(reactor, parts.hostname or "127.0.0.1", parts.port or 80), Client())
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    assert client.transport is not None
    client.transport.write("\r\n".join(lines).encode())
    raw = await client.done
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


@pytest_twisted.ensureDeferred
async def test_ivr_records_only_after_consent() -> None:
    destinations = {"PJSIP/5557000@trunk": DialDestination.answer(after=1, talk=600)}
    steps = {
        # Step 1: ask for consent; step 2: record the rest of the call, then stop.
        "survey.start": lambda request: {
            "actions": [{"action": "play", "files": ["hello-world"]}], "next": "survey.consent"},
        "survey.consent": lambda request: {
            "actions": [{"action": "record_start", "name": "tape"},
                        {"action": "wait", "seconds": 20},
                        {"action": "record_stop"}],
            "next": "survey.done"},
        "survey.done": lambda request: {"actions": [], "vars": {"seen": request["result"]}},
    }
    async with stack(destinations, steps) as s:
        await s.rpc("dialer.call", "5557000", {"on_answer": {"app": "survey"}})
        await s.until(lambda: len(s.ivr_requests) == 3)
        done = s.ivr_requests[2]
        rid = done["result"]["tape"]["recording_id"]
        recording: dict[str, Any] = {}
        for _ in range(500):
            recording = await s.rpc("recorder.get", rid, token="tapes")
            if recording["state"] in ("ready", "failed"):
                break
            await deferLater(reactor, 0.01, lambda: None)
    assert done["result"]["actions"][0]["status"] == "ok"
    assert done["result"]["actions"][2]["status"] == "ok"
    assert recording["state"] == "ready"
    assert recording["started_by"] == f"ivr:{done['session']}"
    assert recording["size"] > 44
    assert 15 <= recording["duration"] <= 30  # the 20 s between record_start and record_stop
