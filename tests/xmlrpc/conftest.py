"""A real HTTP web service on 127.0.0.1 (port 0) that the client tests talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_twisted
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IAddress, IListeningPort
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.codec import dumps_fault, dumps_response, loads_call

#: How the fake service answers a request: returns the body, or NOT_DONE_YET.
Behaviour = Callable[[Request, str, list[object]], bytes | int]


def echo(request: Request, method: str, params: list[object]) -> bytes:
    return dumps_response({"method": method, "params": params})


@dataclass
class FakeWebService(Resource):
    """Answers with ``behaviour`` and records what it received."""

    behaviour: Behaviour = echo
    received: list[tuple[Request, bytes]] = field(default_factory=list)
    arrived: list[Deferred[None]] = field(default_factory=list)
    isLeaf = True

    def __post_init__(self) -> None:
        Resource.__init__(self)

    def render_POST(self, request: Request) -> bytes | int:
        body = request.content.read()
        self.received.append((request, body))
        for waiter in self.arrived:
            waiter.callback(None)
        self.arrived.clear()
        method, params = loads_call(body)
        return self.behaviour(request, method, params)

    def next_request(self) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        self.arrived.append(waiter)
        return waiter


class CountingSite(Site):
    """Counts the TCP connections accepted and lets a test wait for them all to close."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource)
        self.connections = 0
        self.closed: list[Deferred[None]] = []

    def buildProtocol(self, addr: IAddress) -> Protocol | None:
        channel = super().buildProtocol(addr)
        assert channel is not None
        self.connections += 1
        lost: Deferred[None] = Deferred()
        self.closed.append(lost)
        original = channel.connectionLost

        def connection_lost(reason: Failure) -> None:
            original(reason)
            lost.callback(None)

        channel.connectionLost = connection_lost  # type: ignore[method-assign]
        return channel


@dataclass
class Server:
    service: FakeWebService
    site: CountingSite
    port: IListeningPort

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}/RPC2"

    def answer(self, behaviour: Behaviour) -> None:
        self.service.behaviour = behaviour


def fault(request: Request, method: str, params: list[object]) -> bytes:
    return dumps_fault(404, "no such menu")


def hang(request: Request, method: str, params: list[object]) -> int:
    return NOT_DONE_YET


@pytest_twisted.async_yield_fixture
async def server() -> AsyncIterator[Server]:
    from twisted.internet import reactor

    before = set(reactor.getDelayedCalls())
    service = FakeWebService()
    site = CountingSite(service)
    site.displayTracebacks = False
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
    try:
        yield Server(service, site, port)
    finally:
        await port.stopListening()
        # Every server-side connection is closed by the clients' close() or an abort.
        await DeferredList(site.closed).addTimeout(5, reactor)
    leaked = [
        call
        for call in reactor.getDelayedCalls()
        if call not in before and getattr(call.func, "__module__", "") != "pytest_twisted"
    ]
    assert leaked == [], f"pending delayed calls left behind: {leaked}"


@pytest_twisted.async_yield_fixture
async def make_client(server: Server) -> AsyncIterator[Callable[..., XMLRPCClient]]:
    """Builds clients on the real reactor; closes them all (before the server stops)."""
    from twisted.internet import reactor

    clients: list[XMLRPCClient] = []

    def build(**options: Any) -> XMLRPCClient:
        client = XMLRPCClient(reactor, **options)
        clients.append(client)
        return client

    try:
        yield build
    finally:
        for client in clients:
            await client.close()
