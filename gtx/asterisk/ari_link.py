"""The ARI link to one Asterisk server: connected, subscribed, kept up.

:class:`ARIClient` is the :class:`~gtx.asterisk.ari_api.AriLink` of one ``[asterisk:NAME]``
section of gtx.ini (``ari_url``, ``ari_user``, ``ari_password``, ``ari_app``). It is a Twisted
service. Started, it connects: it fetches Asterisk's api-docs with aioari (the Swagger listings
say which REST operations exist and where), opens the event WebSocket of the Stasis application,
calls the ``on_ready`` handlers, and from then on hands every event to :attr:`ARIClient.events`.
When the WebSocket closes, or a connection fails, it tries again after a capped exponential
back-off with jitter on the injected clock, as :class:`gtx.asterisk.ami.AMIClient` does; refused
credentials (HTTP 401) are logged as an error naming the user and the server and retried the
same way, never in a tight loop. ``connected`` and ``last_error`` are what health reports show.

One WebSocket per Stasis application: when another connection registers the same application,
Asterisk hands it the application and tells this one ``ApplicationReplaced`` (res/stasis/app.c).
The link then counts as down (sessions waiting on it end ``LOST``), logs an error, closes the
WebSocket and tries again only after the back-off's longest delay — two nodes misconfigured
with one ``ari_app`` would otherwise steal it from each other every second. Each gtx node needs
its own ``ari_app``.

aioari runs on the asyncio loop that the Twisted reactor shares (``twistd -r asyncio``): each
connection and each REST call is an asyncio task wrapped in a Deferred, and every wait is bounded
on the injected clock (``connect_timeout``, ``call_timeout``), which cancels the task.

The listings are loaded under ``ari_url`` (:mod:`gtx.asterisk.ari_docs`): Asterisk names its
REST base ``http://`` + the request's ``Host``, which an ``https://`` ari_url or a proxy would
get wrong.

Why not aioari's own loop (``client.run()``) and models: ``run()`` hides when the WebSocket is
subscribed (the moment to resynchronise), and its ``ws_connect`` puts ``api_key=user:password``
in the URL without encoding it, so a password with ``&`` or ``%`` is refused. The link reads the
WebSocket itself and builds that URL properly
(:class:`~gtx.asterisk.ari_operations.AriHttpClient`). REST answers are handed
out as the decoded JSON the AriLink contract promises, so aioari's model objects are skipped and
operations are run straight from the Swagger listing (:mod:`gtx.asterisk.ari_operations`), which
also lets unknown operations and parameters fail with a clear
:class:`~gtx.asterisk.ari_api.AriError` before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import aiohttp
from aioari import Client as _AioariClient
from aiohttp import web_exceptions
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from yarl import URL

from gtx.asterisk.ari_api import AriError, AriTimeout, AriUnavailable, http_error
from gtx.asterisk.ari_docs import load_listings, rest_base
from gtx.asterisk.ari_events import EventRouter
from gtx.asterisk.ari_operations import (
    AriHttpClient,
    arguments,
    find_operation,
    http_status,
    send,
)

#: Gives the delay (seconds) before connection attempt N (1, 2, …) after N failures.
RetryPolicy = Callable[[int], float]
#: Builds the aioari client from the base URL and the HTTP client (aioari.Client by default).
ClientFactory = Callable[[str, Any], Any]
#: The attempt number whose delay the retry policy gives after the application was taken over:
#: its longest (Twisted's backoffPolicy caps the exponent at 100).
TAKEN_OVER_ATTEMPT = 100

_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def default_retry_policy(jitter: Callable[[], float] = random.random) -> RetryPolicy:
    """1 s, 2 s, 4 s … capped at 30 s, plus up to a second of jitter."""
    return backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=jitter)


class _Attempt:
    """One connection: its task, its connect timer, and how far it got."""

    def __init__(self) -> None:
        self.task: asyncio.Task[str] | None = None
        self.timer: IDelayedCall | None = None
        self.timed_out = False
        self.ready = False
        self.taken_over = False  # another connection registered the application


class ARIClient(Service):
    """The ARI link to the Asterisk server named ``name`` (see the module docstring)."""

    name: str  # the server's name in gtx.ini, always set (a Service's name may be None)

    def __init__(
        self,
        *,
        name: str,
        url: str,
        user: str,
        password: str,
        app: str = "gtx",
        clock: IReactorTime,
        retry_policy: RetryPolicy | None = None,
        call_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        heartbeat: float = 20.0,
        max_connections: int = 20,
        log: Logger | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"[asterisk:{name}] ari_url must be an http:// or https:// URL "
                             f"such as http://127.0.0.1:8088/, not {url!r}")
        if not app or "," in app:
            raise ValueError(f"[asterisk:{name}] ari_app {app!r} is not a Stasis application "
                             f"name")
        self.name = name
        # Asterisk may be served under a prefix (http.conf): keep the URL a directory.
        self.url = url if url.endswith("/") else url + "/"
        self._host = parts.hostname
        self._user = user
        self._password = password
        self._app = app
        self.clock = clock
        self._retry_policy = retry_policy or default_retry_policy()
        self.call_timeout = call_timeout
        self.connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        if not 1 <= max_connections <= 90:
            raise ValueError(f"[asterisk:{name}] ari_connections must be 1 to 90 (Asterisk "
                             f"serves 100 HTTP sessions by default), not {max_connections}")
        #: REST connections open at most (plus the event WebSocket): ``ari_connections``.
        self.max_connections = max_connections
        self.log = log or Logger(namespace="gtx.ari")
        self._client_factory: ClientFactory = client_factory or _AioariClient
        self._events = EventRouter()
        self._ready_handlers: list[Callable[[], object]] = []
        self._attempt: _Attempt | None = None
        self._client: Any = None
        self._retry: IDelayedCall | None = None
        self._failures = 0
        self._connected = False
        self._closed_waiters: list[Deferred[None]] = []
        self._idle_waiters: list[Deferred[None]] = []
        #: REST calls sent and not answered yet.
        self.in_flight = 0
        #: Why the last connection failed or ended ("" while connected).
        self.last_error = ""

    # -- the AriLink interface --------------------------------------------------------------

    @property
    def app(self) -> str:
        """The Stasis application whose events this link receives."""
        return self._app

    @property
    def connected(self) -> bool:
        """True while the WebSocket is up and REST calls can be made."""
        return self._connected

    @property
    def events(self) -> EventRouter:
        """Where the WebSocket events go."""
        return self._events

    def on_ready(self, handler: Callable[[], object]) -> Callable[[], None]:
        """Call ``handler`` after every successful (re)connection; returns an unsubscriber."""
        self._ready_handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._ready_handlers:
                self._ready_handlers.remove(handler)

        return unsubscribe

    def supports(self, resource: str, operation: str, parameter: str | None = None) -> bool:
        """True when the connected Asterisk's listings have ``resource.operation`` (and, with
        ``parameter``, when it declares that parameter)."""
        if not self._connected or self._client is None:
            return False
        try:
            op = find_operation(self._client, resource, operation)
        except AriError:
            return False
        return parameter is None or any(
            p.get("name") == parameter for p in op.json.get("parameters", []))

    def call(self, resource: str, operation: str, **params: Any) -> Deferred[Any]:
        """Run the REST operation ``resource.operation`` (Swagger names) with ``params``.

        Query values: ``bool`` is sent as ``true``/``false``, numbers as text, lists joined by
        commas. ``variables`` (originate, create, …) is a mapping of channel variables, sent as
        the JSON body ``{"variables": {NAME: "value"}}`` Asterisk expects (a mapping already
        wrapped that way is accepted as is). Fires with the decoded JSON answer (None for an
        empty one); fails with AriUnavailable (link down: nothing sent), AriTimeout (no answer
        within ``call_timeout``, or the connection dropped before the answer: the effect is
        unknown), an AriHTTPError subclass (Asterisk answered 4xx/5xx), or AriError (no such
        operation or parameter: a programming error, nothing sent).
        """
        what = f"{resource}.{operation}"
        client = self._client
        if not self._connected or client is None:
            return fail(AriUnavailable(f"{what}: the ARI link to {self.name} is down"))
        try:
            op = find_operation(client, resource, operation)
            args = arguments(what, op.json, params)
        except AriError:
            return fail()
        task = asyncio.get_event_loop().create_task(send(op, args))
        self.in_flight += 1
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            task.cancel()

        timer = self.clock.callLater(self.call_timeout, expire)

        def finished(result: object) -> object:
            if timer.active():
                timer.cancel()
            self._call_done()
            if isinstance(result, Failure):
                return self._call_failure(what, result, timed_out)
            return result

        return Deferred.fromFuture(task).addBoth(finished)

    # -- REST calls -------------------------------------------------------------------------

    def _call_done(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def _call_failure(self, what: str, failure: Failure, timed_out: bool) -> Failure:
        error = failure.value
        if timed_out and isinstance(error, asyncio.CancelledError):
            return Failure(AriTimeout(
                f"{what}: no answer from {self.name} within {self.call_timeout:g} s"))
        if isinstance(error, web_exceptions.HTTPException):
            status, message = http_status(error)
            return Failure(http_error(what, status, message))
        if isinstance(error, aiohttp.ClientConnectorError):
            return Failure(AriUnavailable(f"{what}: cannot reach {self.name}: "
                                          f"{self._redact(str(error))}"))
        if isinstance(error, aiohttp.ClientError):
            return Failure(AriTimeout(f"{what}: the connection to {self.name} was lost before "
                                      f"the answer ({type(error).__name__})"))
        if isinstance(error, ValueError):  # a 2xx answer that is not JSON
            return Failure(AriError(f"{what}: {self.name} answered something that is not "
                                    f"JSON: {error}"))
        return failure

    # -- service life -----------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._connect()

    def stopService(self) -> Deferred[None]:
        """Refuse new calls, let the ones in flight finish (each is bounded), then close the
        WebSocket and the HTTP session."""
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        self._connected = False
        if self.in_flight == 0:
            return self._close()
        idle: Deferred[None] = Deferred()
        self._idle_waiters.append(idle)
        return idle.addCallback(lambda _: self._close())

    def _close(self) -> Deferred[None]:
        attempt = self._attempt
        if attempt is None or attempt.task is None or attempt.task.done():
            return succeed(None)
        closed: Deferred[None] = Deferred()
        self._closed_waiters.append(closed)
        attempt.task.cancel()  # the task's own clean-up closes the WebSocket and the session
        return closed

    def _connect(self) -> None:
        self._retry = None
        attempt = _Attempt()
        self._attempt = attempt
        attempt.task = asyncio.get_event_loop().create_task(self._connection(attempt))
        attempt.timer = self.clock.callLater(self.connect_timeout, self._expired, attempt)
        Deferred.fromFuture(attempt.task).addBoth(self._ended, attempt)

    def _expired(self, attempt: _Attempt) -> None:
        if attempt.task is not None and not attempt.ready:
            attempt.timed_out = True
            attempt.task.cancel()

    async def _connection(self, attempt: _Attempt) -> str:
        """One connection, from the api-docs to the end of the WebSocket; returns why it
        ended. The HTTP session is closed whatever happens (aiohttp warns otherwise)."""
        http = AriHttpClient(self._host, f"{self._user}:{self._password}",
                             heartbeat=self._heartbeat, close_timeout=self.call_timeout,
                             max_connections=self.max_connections)
        try:
            client = self._client_factory(self.url, http)
            # The listings as loaded under ari_url, not under the basePath Asterisk gives.
            client.swagger.url = await load_listings(http, rest_base(self.url))
            await client.init()
            ws = await client.swagger.events.eventWebsocket(app=self._app)
            self._ready(attempt, client)
            return await self._pump(ws, attempt)
        finally:
            if attempt is self._attempt:
                self._connected = False
                self._client = None
            await http.close()

    def _ready(self, attempt: _Attempt, client: Any) -> None:
        if attempt.timer is not None and attempt.timer.active():
            attempt.timer.cancel()
        attempt.ready = True
        self._client = client
        self._connected = True
        self._failures = 0
        self.last_error = ""
        self.log.info("ARI {server}: connected to {url} as {user!r}, application {app!r}",
                      server=self.name, url=self.url, user=self._user, app=self._app)
        for handler in list(self._ready_handlers):
            try:
                handler()
            except Exception:
                self.log.failure("ARI {server}: an on_ready handler failed", server=self.name)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse, attempt: _Attempt) -> str:
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                event = self._event(message.data)
                if event is not None and event["type"] == "ApplicationReplaced" and \
                        event.get("application", self._app) == self._app:
                    attempt.taken_over = True  # no event comes here any more: give up
                    return (f"Stasis application {self._app!r} taken over by another "
                            f"connection")
            elif message.type in _CLOSED:
                return f"WebSocket closed (code {ws.close_code})"
            elif message.type is aiohttp.WSMsgType.ERROR:
                return f"WebSocket error: {self._redact(str(ws.exception()))}"

    def _event(self, data: str) -> dict[str, Any] | None:
        """Dispatch one WebSocket message; the event, None when it is not one."""
        try:
            event = json.loads(data)
        except ValueError:
            self.log.warn("ARI {server}: an event that is not JSON: {data!r}",
                          server=self.name, data=data[:200])
            return None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.log.warn("ARI {server}: an event without a type: {data!r}",
                          server=self.name, data=data[:200])
            return None
        self._events.dispatch(event)
        return event

    def _ended(self, result: object, attempt: _Attempt) -> None:
        if attempt.timer is not None and attempt.timer.active():
            attempt.timer.cancel()
        waiters, self._closed_waiters = self._closed_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        if attempt is not self._attempt:
            return  # a connection of an earlier start, closed late
        self._attempt = None
        self._connected = False
        self._client = None
        if not self.running:
            return
        if isinstance(result, Failure):
            self._failed(self._why(result, attempt))
        elif attempt.taken_over:
            self._taken_over(str(result))
        else:
            self._failed(f"link lost ({result})")

    def _why(self, failure: Failure, attempt: _Attempt) -> str:
        error = failure.value
        if attempt.timed_out and isinstance(error, asyncio.CancelledError):
            return f"no answer within {self.connect_timeout:g} s"
        status = None
        if isinstance(error, web_exceptions.HTTPException):
            status = http_status(error)[0]
        elif isinstance(error, aiohttp.WSServerHandshakeError):
            status = error.status
        if status == 401:
            self.log.error(
                "ARI {server}: credentials refused for user {user!r} (HTTP 401): check ari_user "
                "and ari_password in [asterisk:{server}] of gtx.ini and the user in ari.conf",
                server=self.name, user=self._user)
            return f"credentials refused for user {self._user!r} (HTTP 401)"
        if status == 404:
            return f"Asterisk answered HTTP 404: is ARI enabled at {self.url}?"
        if status is not None:
            return f"Asterisk answered HTTP {status}"
        if isinstance(error, aiohttp.ClientError | OSError):
            return f"cannot connect: {self._redact(str(error)) or type(error).__name__}"
        self.log.failure("ARI {server}: connection failed", failure, server=self.name)
        return f"connection failed: {type(error).__name__}: {self._redact(str(error))}"

    def _failed(self, why: str) -> None:
        self.last_error = why
        self._failures += 1
        delay = self._retry_policy(self._failures)
        self.log.warn("ARI {server}: {why}; trying again in {delay:.1f} s",
                      server=self.name, why=why, delay=delay)
        self._retry = self.clock.callLater(delay, self._connect)

    def _taken_over(self, why: str) -> None:
        self.last_error = why
        self._failures += 1
        delay = self._retry_policy(max(self._failures, TAKEN_OVER_ATTEMPT))
        self.log.error(
            "ARI {server}: {why}: another gtx node (or ARI client) registered the Stasis "
            "application {app!r}; each gtx node needs its own ari_app in [asterisk:{server}] "
            "of gtx.ini. Trying again in {delay:.1f} s", server=self.name, why=why,
            app=self._app, delay=delay)
        self._retry = self.clock.callLater(delay, self._connect)

    def _redact(self, text: str) -> str:
        """``text`` without the password (aiohttp errors may quote a URL with the api_key)."""
        if not self._password:
            return text
        password = self._password
        as_in_query = URL.build(query={"k": password}).raw_query_string[2:]  # aiohttp's form
        forms = {password, as_in_query, quote(password, safe=""), quote_plus(password, safe="")}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text
