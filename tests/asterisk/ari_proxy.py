"""A reverse proxy in front of an ARI server, for tests: it serves the server under a path
prefix on its own port and sends the server a ``Host`` of its own (as a proxy configured with
``proxy_set_header Host asterisk:8088`` does), so the ``basePath`` Asterisk builds from that
header names an address the client cannot reach. HTTP requests and WebSockets are relayed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

#: Request headers the proxy does not relay (hop by hop, or its own).
_NOT_RELAYED = frozenset({"host", "connection", "upgrade", "content-length", "transfer-encoding",
                          "keep-alive", "sec-websocket-key", "sec-websocket-version",
                          "sec-websocket-extensions", "sec-websocket-protocol"})


class PrefixProxy:
    """``http://127.0.0.1:PORT{prefix}/…`` → ``{upstream}/…`` with ``Host: {host}``."""

    def __init__(self, upstream: str, *, prefix: str = "/pbx",
                 host: str = "asterisk.invalid:8088") -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix
        self.host = host
        self.port = 0
        self.relayed: list[str] = []  # the paths relayed, below the prefix
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pumps: set[asyncio.Future[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}/"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        for pump in list(self._pumps):
            pump.cancel()
        if self._session is not None:
            await self._session.close()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        if not raw_path.startswith(self.prefix + "/"):
            return web.Response(status=404, text="not behind this proxy")
        below = raw_path[len(self.prefix):]
        self.relayed.append(below)
        query = request.rel_url.raw_query_string
        target = URL(self.upstream + below + (f"?{query}" if query else ""), encoded=True)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_RELAYED}
        headers["Host"] = self.host
        assert self._session is not None
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._relay_websocket(request, target.with_scheme("ws"), headers)
        body = await request.read()
        async with self._session.request(request.method, target, headers=headers,
                                         data=body or None) as answer:
            data = await answer.read()
            kept = {k: v for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "www-authenticate")}
            return web.Response(status=answer.status, body=data, headers=kept)

    async def _relay_websocket(self, request: web.Request, target: URL,
                               headers: dict[str, str]) -> web.StreamResponse:
        assert self._session is not None
        upstream = await self._session.ws_connect(target, headers=headers)
        downstream = web.WebSocketResponse()
        await downstream.prepare(request)

        async def pump(source: Any, sink: Any) -> None:
            async for message in source:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await sink.send_str(message.data)
            await sink.close()

        both = asyncio.ensure_future(asyncio.gather(pump(upstream, downstream),
                                                    pump(downstream, upstream)))
        self._pumps.add(both)
        try:
            await both
        except asyncio.CancelledError:
            pass
        finally:
            self._pumps.discard(both)
            await upstream.close()
        return downstream
