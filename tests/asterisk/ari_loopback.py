"""A small ARI server for the link's tests (aiohttp, 127.0.0.1, port 0), and a harness
around the link under test (:class:`Link`).

It serves what a real Asterisk serves to a connecting client: ``resources.json`` and the
Swagger listings of ``gtx/testing/ari_api_docs`` with ``basePath`` pointing at itself (Asterisk
rewrites it from the Host header), the event WebSocket of ``/ari/events`` (checking
``api_key=user:password`` and ``app``), and REST answers set by the test. Every request is
recorded; control handles push events, drop the WebSocket, refuse it, or hold requests
unanswered.

Every wait of the harness is bounded (:data:`WAIT`): a broken link fails a test, never hangs it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.logger import Logger, formatEvent

import gtx.testing
from gtx.asterisk.ari_link import ARIClient

DOCS = Path(gtx.testing.__file__).parent / "ari_api_docs"
#: Bound on every wait of these tests on real sockets (they take milliseconds).
WAIT = 10.0
CHANNEL = {"id": "gtx-ari-1", "name": "Local/wait@gtx-test-00000001;1", "state": "Up"}
STASIS_START = {"type": "StasisStart", "args": ["ivr", "http://x/RPC2"], "channel": CHANNEL,
                "application": "gtx"}


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


# -- the link under test ----------------------------------------------------------------------


class Link:
    """An ARIClient plus what a test watches: on_ready firings, retry delays asked for, logs."""

    def __init__(self, url: str, *, password: str = "gtxsecret", clock: Any = reactor,
                 delays: Callable[[int], float] | None = None, **kwargs: Any) -> None:
        self.attempts: list[int] = []
        self.logs: list[dict[str, Any]] = []
        self.ready_count = 0
        self._ready_waiters: list[Deferred[None]] = []
        self._attempt_waiters: list[tuple[int, Deferred[None]]] = []
        self._delays = delays or (lambda n: 3600.0)
        self.client = ARIClient(
            name="pbx1", url=url, user="gtx", password=password, clock=clock,
            retry_policy=self._policy, log=Logger(namespace="test", observer=self.logs.append),
            **kwargs)
        self.client.on_ready(self._ready)

    def _policy(self, failures: int) -> float:
        self.attempts.append(failures)
        for waiter in [w for n, w in self._attempt_waiters if len(self.attempts) >= n]:
            self._attempt_waiters = [(n, w) for n, w in self._attempt_waiters if w is not waiter]
            reactor.callLater(0, waiter.callback, None)  # once the retry is scheduled
        return self._delays(failures)

    def _ready(self) -> None:
        self.ready_count += 1
        waiters, self._ready_waiters = self._ready_waiters, []
        for waiter in waiters:  # after the other on_ready handlers
            reactor.callLater(0, waiter.callback, None)

    def ready(self) -> Deferred[None]:
        """Fires at the next on_ready (fails after WAIT seconds: a broken link fails the test,
        never hangs it)."""
        d: Deferred[None] = Deferred()
        self._ready_waiters.append(d)
        return d.addTimeout(WAIT, reactor)

    def failures(self, count: int) -> Deferred[None]:
        """Fires once the retry policy has been asked ``count`` times in all."""
        d: Deferred[None] = Deferred()
        if len(self.attempts) >= count:
            d.callback(None)
        else:
            self._attempt_waiters.append((count, d))
        return d.addTimeout(WAIT, reactor)

    async def start(self) -> None:
        ready = self.ready()
        self.client.startService()
        try:
            await ready
        except BaseException:
            await self.client.stopService()
            raise

    def messages(self, level: str) -> list[str]:
        """The texts logged by the link at ``level`` (``warn``, ``error`` …)."""
        return [formatEvent(e) for e in self.logs if e["log_level"].name == level]


def next_event(client: ARIClient) -> Deferred[dict[str, Any]]:
    """Fires with the next event once its dispatch is over (every handler has had it)."""
    d: Deferred[dict[str, Any]] = Deferred()
    stop = client.events.on_every(lambda e: (stop(), reactor.callLater(0, d.callback, dict(e))))
    return d.addTimeout(WAIT, reactor)


async def failure_of(d: Deferred[Any]) -> BaseException:
    try:
        await d
    except BaseException as e:
        return e
    raise AssertionError("the call succeeded")


async def closed(ari: FakeARI, count: int) -> None:
    """Wait (a bounded number of loop turns, no sleep) until the server has seen ``count``
    WebSockets closed: it finishes its side of a close just after the client."""
    for _ in range(100):
        if ari.closed_sockets >= count:
            break
        await aio(asyncio.sleep(0))
    assert ari.closed_sockets == count


def link_timers(client: ARIClient) -> list[Any]:
    return [c for c in reactor.getDelayedCalls()
            if getattr(c.func, "__self__", None) is client]
