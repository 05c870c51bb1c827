"""Test support for the emulated ARI server: a small raw ARI client (aiohttp REST + the event
WebSocket) with the ``in_flight``/``events`` counters :func:`gtx.testing.run_until` reads, and
a fixture-like helper that starts a server on a Clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gtx.asterisk.ari_events import EventRouter
from gtx.testing import (
    DialDestination,
    EmulatedARIServer,
    EmulatedAsterisk,
    check_against_listings,
    run_until,
)

TRANSCRIPTS = Path(__file__).parent.parent / "fixtures" / "asterisk" / "transcripts"


def on_loop(coroutine: Coroutine[Any, Any, Any]) -> Deferred[Any]:
    """Run an asyncio coroutine as a task of the reactor's loop."""
    return Deferred.fromFuture(asyncio.ensure_future(coroutine))


@dataclass
class Reply:
    """A REST answer."""

    status: int
    body: Any


@dataclass
class RawARI:
    """A raw ARI client: ``call`` sends one REST request, the WebSocket's events go to
    ``events`` (an EventRouter) and to ``received``."""

    server: EmulatedARIServer
    apps: str = "gtx"
    user: str = "gtx"
    password: str = "gtxsecret"
    events: EventRouter = field(default_factory=EventRouter)
    received: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    session: aiohttp.ClientSession | None = None
    reader: asyncio.Future[None] | None = None
    closed: bool = False

    def connect(self) -> Deferred[Any]:
        return on_loop(self._connect())

    async def _connect(self) -> None:
        self.session = aiohttp.ClientSession()
        ws = await self.session.ws_connect(
            f"{self.server.url}ari/events",
            params={"app": self.apps, "api_key": f"{self.user}:{self.password}"})
        self.reader = asyncio.ensure_future(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(message.data)
                self.received.append(data)
                self.events.dispatch(data)
        self.closed = True

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None, auth: bool = True) -> Deferred[Reply]:
        self.in_flight += 1
        d = on_loop(self._call(method, path, params or {}, body, auth))

        def done(result: Any) -> Any:
            self.in_flight -= 1
            return result

        return d.addBoth(done)

    async def _call(self, method: str, path: str, params: dict[str, Any], body: Any,
                    auth: bool) -> Reply:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        query = {k: _text(v) for k, v in params.items()}
        if auth:
            query["api_key"] = f"{self.user}:{self.password}"
        async with self.session.request(method, f"{self.server.url}ari{path}", params=query,
                                        json=body) as response:
            data = await response.read()
            if response.content_type == "application/json":
                return Reply(response.status, json.loads(data))
            return Reply(response.status, data or None)

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]

    def close(self) -> Deferred[Any]:
        return on_loop(self._close())

    async def _close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.reader is not None:
            await asyncio.wait([self.reader], timeout=1)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


@dataclass
class Rig:
    """A Clock, an emulated Asterisk, its ARI server started, and a connected raw client."""

    clock: Clock
    asterisk: EmulatedAsterisk
    server: EmulatedARIServer
    client: RawARI

    def run(self, d: Deferred[Any], **kwargs: Any) -> Deferred[Any]:
        kwargs.setdefault("links", [self.client])
        return run_until(d, clock=self.clock, reactor=reactor, server=self.server, **kwargs)

    async def close(self, *, conforming: bool = True) -> None:
        """Stop; with ``conforming``, check that every request was a declared operation
        with declared parameters (tests of bad requests say ``conforming=False``)."""
        await self.client.close()
        await self.server.stop()
        if conforming:
            assert check_against_listings(self.server.requests) == []


async def rig(tmp_path: Path, *, connect: bool = True, apps: str = "gtx",
              destinations: dict[str, DialDestination] | None = None,
              **server_args: Any) -> Rig:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations=destinations)
    server = EmulatedARIServer(asterisk, recording_dir=tmp_path / "recordings", **server_args)
    await server.start()
    client = RawARI(server, apps=apps)
    if connect:
        await client.connect()
        for _ in range(100):  # the server registers the app once the upgrade is done
            if all(server.app_connected(a) for a in apps.split(",")):
                break
            await on_loop(asyncio.sleep(0))
    return Rig(clock, asterisk, server, client)
