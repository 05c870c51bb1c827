"""A small ARI server for the link's tests (aiohttp, 127.0.0.1, port 0).

It serves what a real Asterisk serves to a connecting client: ``resources.json`` and the
Swagger listings of ``gtx/testing/ari_api_docs`` with ``basePath`` pointing at itself (Asterisk
rewrites it from the Host header), the event WebSocket of ``/ari/events`` (checking
``api_key=user:password`` and ``app``), and REST answers set by the test. Every request is
recorded; control handles push events, drop the WebSocket, refuse it, or hold requests
unanswered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from twisted.internet.defer import Deferred

import gtx.testing

DOCS = Path(gtx.testing.__file__).parent / "ari_api_docs"


def aio(coro: Coroutine[Any, Any, Any]) -> Deferred[Any]:
    """Run an asyncio coroutine on the reactor's loop, as a Deferred."""
    return Deferred.fromFuture(asyncio.ensure_future(coro))


class Request:
    """One REST request as the server read it."""

    def __init__(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path} {self.query} {self.body})"


class FakeARI:
    """The server (see the module docstring)."""

    def __init__(self, user: str = "gtx", password: str = "gtxsecret") -> None:
        self.user = user
        self.password = password
        self.url = ""
        self.port = 0
        #: REST requests (api-docs excluded), in order.
        self.requests: list[Request] = []
        #: (METHOD, path under /ari) → (status, body text) answered to that request.
        self.answers: dict[tuple[str, str], tuple[int, str]] = {}
        #: Paths under /ari whose requests are never answered (until the server stops).
        self.held: set[str] = set()
        #: Paths under /ari whose connection is cut when requested.
        self.cut: set[str] = set()
        self.refuse_websocket = False
        #: Hold resources.json unanswered (a server that accepts but never answers).
        self.hold_api_docs = False
        self.api_docs_requests = 0
        self.refused = 0  # requests answered 401
        self.websocket_queries: list[dict[str, str]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.closed_sockets = 0
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Future[None] | None = None

    async def start(self, port: int = 0) -> None:
        self._release = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get("/ari/api-docs/resources.json", self._resources)
        app.router.add_get("/ari/api-docs/{name}.json", self._listing)
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/"

    async def stop(self) -> None:
        if self._release is not None and not self._release.done():
            self._release.set_result(None)
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- control handles --------------------------------------------------------------------

    async def send(self, event: dict[str, Any] | str) -> None:
        """Send ``event`` (a dict as JSON, a str as is) on every open WebSocket."""
        for ws in list(self.sockets):
            await ws.send_str(event if isinstance(event, str) else json.dumps(event))

    async def drop(self) -> None:
        """Close every open WebSocket, as an Asterisk restart does."""
        for ws in list(self.sockets):
            await ws.close()

    def answer(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer ``METHOD /ari{path}`` with ``status`` and ``body`` (JSON unless a str)."""
        text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
        self.answers[(method, path)] = (status, text)

    # -- handlers ---------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        if request.query.get("api_key") == f"{self.user}:{self.password}":
            return True
        self.refused += 1
        return False

    def _base(self, request: web.Request) -> str:
        return f"http://{request.host}/ari"

    async def _resources(self, request: web.Request) -> web.Response:
        self.api_docs_requests += 1
        if self.hold_api_docs and self._release is not None:
            await self._release
        if not self._authorized(request):
            return _json(401, {"message": "Authentication required"})
        apis = [{"path": f"/api-docs/{p.stem}.{{format}}", "description": p.stem}
                for p in sorted(DOCS.glob("*.json"))]
        return _json(200, {"apiVersion": "2.0.0", "swaggerVersion": "1.1",
                           "basePath": self._base(request), "apis": apis})

    async def _listing(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json(401, {"message": "Authentication required"})
        path = DOCS / f"{request.match_info['name']}.json"
        if not path.is_file():
            return _json(404, {"message": "Not found"})
        listing = json.loads(path.read_text())
        listing["basePath"] = self._base(request)
        return _json(200, listing)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.websocket_queries.append(dict(request.query))
        if not self._authorized(request):
            return _json(401, {"message": "Authentication required"})
        if self.refuse_websocket:
            self.refused += 1
            return _json(401, {"message": "Authentication required"})
        if not request.query.get("app"):
            return _json(400, {"message": "Missing parameter app"})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.sockets.remove(ws)
            self.closed_sockets += 1
        return ws

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _json(401, {"message": "Authentication required"})
        path = "/" + request.match_info["tail"]
        text = await request.text()
        query = {k: v for k, v in request.query.items() if k != "api_key"}
        self.requests.append(Request(request.method, path, query,
                                     json.loads(text) if text else None))
        if path in self.cut:
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if path in self.held and self._release is not None:
            await self._release
        status, body = self.answers.get((request.method, path), (404, ""))
        if not body and status == 404:
            body = json.dumps({"message": "Resource not found"})
        return web.Response(status=status, text=body,
                            content_type="application/json" if body else None)


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
