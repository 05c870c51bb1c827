"""The whole stack: a gtx node (FastAGI server, IVR engine, XML-RPC client, HTTP endpoints) on
loopback ports, driven by the emulated Asterisk over TCP, against real web services.

These are the few tests that use real sockets; everything else is tested in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.server import Site

from gtx.config import parse_config
from gtx.tap import GtxNode
from gtx.testing import (
    AnySoundCatalogue,
    CallRecord,
    CallSpec,
    EmulatedAsterisk,
    ScriptedCaller,
    connect_emulated_call,
)
from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.server import CallContext, XMLRPCResource

reactor: Any = global_reactor




class Service:
    """An in-process XML-RPC web service whose methods the test writes."""

    def __init__(self) -> None:
        self.rpc = XMLRPCResource()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.port: Any = None

    def method(self, name: str, answer: Callable[[dict[str, Any]], object]) -> None:
        def handler(ctx: CallContext, request: dict[str, Any]) -> object:
            self.requests.append((name, request))
            return answer(request)

        self.rpc.register(name, handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}/RPC2"


@asynccontextmanager
async def web_service() -> AsyncIterator[Service]:
    service = Service()
    site = Site(service.rpc)
    service.port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
    try:
        yield service
    finally:
        await service.port.stopListening()


@asynccontextmanager
async def gtx_node(ini: str) -> AsyncIterator[tuple[GtxNode, int, int]]:
    config = parse_config(
        "[gtx]\nnode = test\nshutdown_timeout = 2\n[store]\nurl = sqlite://\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n" + ini
    )
    node = GtxNode(config, reactor)
    await node.start()
    agi = await serverFromString(reactor, config.fastagi_listen).listen(node.fastagi)
    http = await serverFromString(reactor, config.http_listen).listen(node.site)
    try:
        yield node, agi.getHost().port, http.getHost().port
    finally:
        await node.drain()
        await agi.stopListening()
        await http.stopListening()


def call(
    port: int, app: str, script: str = "", asterisk: EmulatedAsterisk | None = None,
    **spec: Any,
) -> Deferred[CallRecord]:
    emulated = asterisk or EmulatedAsterisk(reactor, time_scale=0, sounds=AnySoundCatalogue())
    return connect_emulated_call(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
        CallSpec(request=f"agi://127.0.0.1:{port}/{app}", **spec),
        ScriptedCaller.parse(script) if script else ScriptedCaller.silent(),
        asterisk=emulated,
    )


@pytest_twisted.ensureDeferred
async def test_menu_caller_picks_sales_and_is_transferred(menu_url: str) -> None:
    ini = f"[ivr:menu]\nurl = {menu_url}\nmethod = menu.start\nhangup_method = menu.hangup\n"
    async with gtx_node(ini) as (_, agi_port, _):
        record = await call(agi_port, "menu", "press 1 during WAIT FOR DIGIT",
                            caller_number="5551234")
    assert record.variables["GTX_STATUS"] == "DONE"
    assert record.agi_status == "SUCCESS"
    assert record.continues_at == ("gtx-examples", "sales", 1)
    assert record.played[0] == "welcome"
    assert record.digits == "1"
    assert not record.hung_up  # a transfer leaves the call to the dialplan


@pytest_twisted.ensureDeferred
async def test_request_fields_reach_the_web_service() -> None:
    async with web_service() as service:
        service.method("app.start", lambda r: {"actions": [{"action": "answer"}],
                                               "vars": {"seen": 1}, "next": "app.two"})
        service.method("app.two", lambda r: {"actions": [], "end": "continue"})
        ini = f"[ivr:app]\nurl = {service.url}\nmethod = app.start\n[asterisk:pbx1]\n" \
              "agi_hosts = 127.0.0.1\n"
        async with gtx_node(ini) as (_, agi_port, _):
            record = await call(agi_port, "app", caller_number="5551234",
                                caller_name="Alice", dnid="100", args=("first arg", "2"))
    (m1, first), (m2, second) = service.requests
    assert (m1, m2) == ("app.start", "app.two")
    assert first["step"] == 1
    assert second["step"] == 2
    assert first["session"] == second["session"] == record.variables["GTX_SESSION"]
    assert first["caller"] == {"number": "5551234", "name": "Alice"}
    assert first["called"] == "100"
    assert first["args"] == ["first arg", "2"]
    assert first["app"] == "app"
    assert first["node"] == "test"
    assert first["asterisk"] == "pbx1"
    assert first["channel"] == record.channel
    assert first["uniqueid"] == record.uniqueid
    assert first["result"] == {}
    assert second["vars"] == {"seen": 1}
    assert second["result"]["actions"] == [{"action": "answer", "status": "ok"}]
    assert record.variables["GTX_STATUS"] == "DONE"
    assert not record.hung_up  # end: continue returns to the dialplan


@pytest_twisted.ensureDeferred
async def test_node_dying_mid_session_is_resumed_by_another_node() -> None:
    """Node A dies while its web service works on step 2: Asterisk sees AGI() return with
    GTX_STATUS still RUNNING; the dialplan runs the AGI on node B, which resumes at step 2."""
    async with web_service() as service:
        nodes: dict[str, GtxNode] = {}
        late_answer: Deferred[object] = Deferred()

        def step_two(request: dict[str, Any]) -> object:
            if len([m for m, _ in service.requests if m == "app.two"]) == 1:
                # Node A crashes: every FastAGI connection it has goes away.
                for protocol in list(nodes["a"].fastagi._connections):
                    protocol.transport.abortConnection()
                return late_answer  # comes when node A's channel is long gone
            return {"actions": [{"action": "play", "files": ["goodbye"]}]}

        service.method("app.start", lambda r: {
            "actions": [{"action": "play", "files": ["hello-world"]}],
            "vars": {"lang": "fr"}, "next": "app.two"})
        service.method("app.two", step_two)
        ini = f"[ivr:app]\nurl = {service.url}\nmethod = app.start\n"
        async with gtx_node(ini) as (node_a, port_a, _), gtx_node(ini) as (_, port_b, _):
            nodes["a"] = node_a
            first = await call(port_a, "app")
            assert first.agi_status == "SUCCESS"  # what a real Asterisk reports
            assert first.variables["GTX_STATUS"] == "RUNNING"
            assert first.variables["GTX_STEP"] == "2"
            late_answer.callback({"actions": [{"action": "play", "files": ["goodbye"]}]})

            # The dialplan's failover: the same channel, AGI() again on node B, with the
            # channel variables node A left.
            state = {k: v for k, v in first.variables.items() if k.startswith("GTX_")}
            second = await call(port_b, "app", variables=state, channel=first.channel,
                                uniqueid=first.uniqueid)
    assert second.variables.get("GTX_ERROR", "") == ""
    assert second.variables["GTX_STATUS"] == "DONE"
    assert second.played == ["goodbye"]  # step 1 was not run again
    resumed = service.requests[-1][1]
    assert resumed["step"] == 2
    assert resumed["resumed"] is True
    assert resumed["result"]["status"] == "resumed"
    assert resumed["vars"] == {"lang": "fr"}
    assert resumed["session"] == first.variables["GTX_SESSION"]


@pytest_twisted.ensureDeferred
async def test_web_service_down_plays_fallback_and_reports_error() -> None:
    ini = "[ivr:app]\nurl = http://127.0.0.1:9/RPC2\nmethod = app.start\nretries = 1\n" \
          "retry_delay = 0.01\nfallback = sorry, goodbye\n"
    async with gtx_node(ini) as (node, agi_port, _):
        record = await call(agi_port, "app")
    assert record.variables["GTX_STATUS"] == "ERROR"
    assert record.variables["GTX_ERROR"].startswith("webservice_unreachable: ")
    assert record.played == ["sorry", "goodbye"]
    assert record.hung_up
    text = node.metrics.render().decode()
    assert 'gtx_errors_total{kind="webservice_unreachable"} 1.0' in text
    assert "gtx_fastagi_connections_total 1.0" in text


@pytest_twisted.ensureDeferred
async def test_caller_hangs_up_and_hangup_method_is_told(menu_server: Any, menu_url: str) -> None:
    ini = f"[ivr:menu]\nurl = {menu_url}\nmethod = menu.start\nhangup_method = menu.hangup\n"
    async with gtx_node(ini) as (_, agi_port, _):
        record = await call(agi_port, "menu", "hangup during WAIT FOR DIGIT")
    assert record.variables["GTX_STATUS"] == "HANGUP"
    assert record.agi_status == "HANGUP"
    (ended,) = menu_server.service.ended_calls
    assert ended["status"] == "hangup"
    assert ended["session"] == record.variables["GTX_SESSION"]
    assert ended["step"] == 2  # the step the caller did not finish: step 1's read


@pytest_twisted.ensureDeferred
async def test_health_metrics_and_xmlrpc_introspection_over_http() -> None:
    async with gtx_node("") as (_, _, http_port):
        client = XMLRPCClient(reactor)
        try:
            methods = await client.call(f"http://127.0.0.1:{http_port}/RPC2",
                                        "system.listMethods", [], timeout=5)
        finally:
            await client.close()
        health = json.loads(await http_get(f"http://127.0.0.1:{http_port}/health"))
        metrics = (await http_get(f"http://127.0.0.1:{http_port}/metrics")).decode()
    assert "system.listMethods" in methods  # type: ignore[operator]
    assert health["status"] == "ok"
    assert health["node"] == "test"
    assert "gtx_ivr_active_sessions" in metrics
    assert "gtx_fastagi_connections_total 0.0" in metrics


@pytest_twisted.ensureDeferred
async def test_shutdown_lets_a_running_session_finish() -> None:
    answered: Deferred[object] = Deferred()
    async with web_service() as service:
        service.method("app.start", lambda r: answered)
        ini = f"[ivr:app]\nurl = {service.url}\nmethod = app.start\n"
        async with gtx_node(ini) as (node, agi_port, _):
            running = call(agi_port, "app")
            while not service.requests:  # wait for the web service to be asked
                await deferLater(0.001)
            draining = node.drain()
            assert node.health()["status"] == "draining"
            refused = await call(agi_port, "app")  # a new call during the drain
            answered.callback({"actions": [{"action": "play", "files": ["goodbye"]}]})
            record = await running
            await draining
    assert record.variables["GTX_STATUS"] == "DONE"
    assert record.played == ["goodbye"]
    # The new call was not taken: the dialplan sees no status and fails it over.
    assert "GTX_STATUS" not in refused.variables or refused.variables["GTX_STATUS"] == ""


class _Body(Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(b"".join(self.chunks))


async def http_get(url: str) -> bytes:
    from twisted.web.client import Agent, HTTPConnectionPool

    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await Agent(reactor, pool=pool).request(b"GET", url.encode())
    body = _Body()
    response.deliverBody(body)
    data = await body.done
    await pool.closeCachedConnections()
    return data


def deferLater(seconds: float) -> Deferred[None]:
    from twisted.internet.task import deferLater as later

    return later(reactor, seconds, lambda: None)


def test_twistd_plugin_is_found() -> None:
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert "gtx" in makers
    assert makers["gtx"].module == "gtx.tap"  # type: ignore[attr-defined]
