"""An emulated Asterisk REST Interface: :class:`EmulatedARIServer`.

An aiohttp application serving ARI's REST operations and its event WebSocket on the asyncio
loop the Twisted reactor runs on, over an :class:`~gtx.testing.pbx.EmulatedAsterisk` (sounds,
dial destinations, queues, clock). It answers like the Asterisk of ``ari-session.txt``::

    asterisk = EmulatedAsterisk(clock, destinations={...})
    server = EmulatedARIServer(asterisk, recording_dir=tmp_path)
    await server.start()                      # server.url == "http://127.0.0.1:PORT/"
    record = await run_until(server.stasis_call(CallSpec(...), "wait 3; press 1", args=["menu"]),
                             clock=clock, reactor=reactor, server=server, links=[link])
    await server.stop()

``/ari/api-docs/resources.json`` and the listings let aioari's ``client.init()`` work;
authentication is ``api_key=user:password`` or HTTP Basic (401 ``Authentication required``
otherwise). Every request goes through the listings (:mod:`gtx.testing.ari_listings`) and is
logged in :attr:`requests`.

Test controls (like a mock server's control handles): :meth:`fail_next`,
:meth:`drop_websockets`, :meth:`refuse_connections`, :meth:`kick`, :meth:`hangup`,
:meth:`set_talks`, :attr:`requests`, :attr:`records`, :attr:`events_sent`,
:attr:`requests_in_flight`, :attr:`http_sessions` (the HTTP connections, and with
``session_limit`` Asterisk's ``sessionlimit``: connections over it closed unanswered).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.logger import Logger

from gtx.testing.ari_bridges import HANDLERS as BRIDGE_HANDLERS
from gtx.testing.ari_bridges import ARIBridges
from gtx.testing.ari_calls import ARICalls
from gtx.testing.ari_dialplan import ARIDialplan
from gtx.testing.ari_http import Faults, api_docs, authorized, json_response, read_body, run_on_loop
from gtx.testing.ari_listings import (
    ARIRequest,
    ListingError,
    match,
    parse_params,
    path_segments,
)
from gtx.testing.ari_media import HANDLERS as MEDIA_HANDLERS
from gtx.testing.ari_media import ARIMedia
from gtx.testing.ari_model import (
    ASTERISK_ID,
    JSON,
    ARICallRecord,
    ARIChannel,
    ARIFault,
    Handler,
    RestCall,
    ari_timestamp,
)
from gtx.testing.ari_originate import HANDLERS as ORIGINATE_HANDLERS
from gtx.testing.ari_recording import ARIRecordings
from gtx.testing.ari_recording_rest import HANDLERS as RECORDING_HANDLERS
from gtx.testing.ari_rest import HANDLERS as REST_HANDLERS
from gtx.testing.ari_sessions import HttpSessions, SessionCountingRunner
from gtx.testing.ari_websocket import EventSockets
from gtx.testing.caller import ScriptedCaller
from gtx.testing.pbx import CallSpec, EmulatedAsterisk

_log = Logger()
HANDLERS: dict[str, Handler] = {
    **REST_HANDLERS, **MEDIA_HANDLERS, **RECORDING_HANDLERS, **ORIGINATE_HANDLERS,
    **BRIDGE_HANDLERS,
}


class EmulatedARIServer:
    """The emulated ARI server (see the module docstring).

    ``recording_dir`` is Asterisk's recording spool (ARI recording names are relative to it),
    a new temporary directory when None. ``ivr_via``/``ari_apps`` model how ``[gtx-dialer]``
    hands an answered call to the IVR: ``Stasis(APP)`` tried on each of ``ari_apps`` in turn.
    With ``ivr_via="agi"`` it runs ``AGI()`` against ``fastagi`` instead (a server-side
    factory wired in memory, a client endpoint, or an endpoint string with ``reactor``).
    ``request_log``, when given, gets every request too: a test session can check all the
    requests of all its servers with :func:`~gtx.testing.ari_listings.check_against_listings`.
    ``session_limit`` is http.conf's ``sessionlimit`` (None, the default: no limit).
    """

    def __init__(
        self,
        asterisk: EmulatedAsterisk,
        *,
        user: str = "gtx",
        password: str = "gtxsecret",  # noqa: S107 - the reference ari.conf's test account
        recording_dir: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        asterisk_id: str = ASTERISK_ID,
        ivr_via: str = "ari",
        ari_apps: Sequence[str] = ("gtx",),
        request_log: list[ARIRequest] | None = None,
        fastagi: str | IStreamClientEndpoint | IProtocolFactory | None = None,
        reactor: object | None = None,
        session_limit: int | None = None,
    ) -> None:
        if asterisk.time_scale <= 0:
            raise ValueError("the ARI emulator needs paced time: time_scale must be positive")
        if ivr_via not in ("ari", "agi"):
            raise ValueError(f"ivr_via is ari or agi, not {ivr_via!r}")
        self.asterisk = asterisk
        self.user, self.password = user, password
        if recording_dir is None:
            recording_dir = tempfile.mkdtemp(prefix="gtx-ari-recordings-")
        self.recording_dir = Path(recording_dir)
        self.host, self.port = host, port
        self.asterisk_id = asterisk_id
        self.ivr_via = ivr_via
        self.ari_apps = list(ari_apps)
        self.fastagi = fastagi
        self.reactor = reactor
        #: The HTTP connections: open now, the most at once, refused over ``session_limit``.
        self.http_sessions = HttpSessions(session_limit)
        #: Live channels by id.
        self.channels: dict[str, ARIChannel] = {}
        #: Every request received, in order.
        self.requests: list[ARIRequest] = []
        #: Where every request is logged as well (a test session's log, say).
        self.request_log = request_log
        #: The record of every channel gone, in order.
        self.records: list[ARICallRecord] = []
        #: Events written to WebSockets so far.
        self.events_sent = 0
        #: REST requests being answered now.
        self.requests_in_flight = 0
        self.calls = ARICalls(self)
        self.media = ARIMedia(self)
        self.recordings = ARIRecordings(self)
        self.bridges = ARIBridges(self)
        self.dialplan = ARIDialplan(self)
        self.sockets = EventSockets(self)
        self.faults = Faults()
        self._ids = itertools.count(1)
        self._epoch0 = asterisk.epoch()
        self._clock0 = asterisk.clock.seconds()
        #: ``status.startup_time`` of ``asterisk.getInfo``.
        self.startup_time = ari_timestamp(self._epoch0)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- time and ids --------------------------------------------------------------------------

    def epoch(self) -> float:
        """Seconds since 1970 now, in call time."""
        elapsed = self.asterisk.clock.seconds() - self._clock0
        return self._epoch0 + elapsed / self.asterisk.time_scale

    def new_id(self, prefix: str = "") -> str:
        """An id unique in this server (for objects created without one)."""
        return f"{prefix}{int(self.epoch())}.{next(self._ids)}"

    # -- network -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT/`` once started (aioari's base URL)."""
        return f"http://{self.host}:{self.port}/"

    def start(self) -> Deferred[None]:
        """Listen (port 0: a free one; :attr:`port` says which)."""
        return run_on_loop(self._start())

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = SessionCountingRunner(app, self.http_sessions, handle_signals=False,
                                             access_log=None)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server  # the port actually bound (port 0 asks for a free one)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def stop(self) -> Deferred[None]:
        """Close every connection and stop listening."""
        return run_on_loop(self._stop())

    async def _stop(self) -> None:
        self.drop_websockets()
        if self._runner is not None:
            runner, self._runner, self._site = self._runner, None, None
            await runner.cleanup()

    def refuse_connections(self, refuse: bool = True) -> Deferred[None]:
        """``True``: stop listening and close every connection (ARI unreachable);
        ``False``: listen again on the same port."""
        return run_on_loop(self._refuse(refuse))

    async def _refuse(self, refuse: bool) -> None:
        if self._runner is None:
            raise RuntimeError("the ARI server is not started")
        if refuse and self._site is not None:
            site, self._site = self._site, None
            await site.stop()
            self.drop_websockets()
            for connection in list(self._runner.server.connections if self._runner.server
                                   else []):
                connection.force_close()
        elif not refuse and self._site is None:
            await self._listen()

    # -- WebSockets and events -----------------------------------------------------------------

    def app_connected(self, app: str) -> bool:
        """Whether a WebSocket has registered the application ``app``."""
        return self.sockets.connected(app)

    @property
    def connected_apps(self) -> list[str]:
        """The applications registered now."""
        return self.sockets.apps

    @property
    def websockets_open(self) -> int:
        """The event WebSockets open now."""
        return self.sockets.open

    def send_event(self, message: JSON, apps: Iterable[str]) -> int:
        """Send ``message`` to each application's WebSocket; how many it went to."""
        return self.sockets.send(message, apps)

    def drop_websockets(self) -> None:
        """Close every event WebSocket now (a mid-call drop): their applications are gone."""
        self.sockets.drop()

    # -- REST ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests_in_flight += 1
        try:
            return await self._respond(request)
        finally:
            self.requests_in_flight -= 1

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        if not (raw_path == "/ari" or raw_path.startswith("/ari/")):
            return json_response(404, {"message": "Not found"})
        path = raw_path[len("/ari"):] or "/"
        query = [(k, v) for k, v in request.query.items() if k != "api_key"]
        if not authorized(request, self.user, self.password):
            return json_response(401, {"message": "Authentication required"},
                         {"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'})
        if path.startswith("/api-docs/"):
            self._log(ARIRequest(request.method, path, None, dict(query), 200))
            return api_docs(path, request.headers.get("Host"))
        try:
            op, path_params = match(request.method, path_segments(path))
            body = await read_body(request)
            params = parse_params(op, query, body)
        except ListingError as e:
            self._log(ARIRequest(request.method, path, None, dict(query), e.status))
            return json_response(e.status, {"message": e.message})
        if op.name == "events.eventWebsocket":
            self._log(ARIRequest(request.method, path, op.name, params, 101))
            return await self.sockets.serve(request, list(params["app"]))
        status, reply = self._run(op.name, op.nickname, request.method, path, path_params,
                                  params)
        self._log(ARIRequest(request.method, path, op.name, params, status))
        return json_response(status, reply)

    def _log(self, request: ARIRequest) -> None:
        self.requests.append(request)
        if self.request_log is not None:
            self.request_log.append(request)

    def _run(self, operation: str, nickname: str, method: str, path: str,
             path_params: dict[str, str], params: dict[str, Any]) -> tuple[int, Any]:
        fault = self.faults.take(operation, method, path)
        if fault is not None:
            return fault
        handler = HANDLERS.get(operation)
        if handler is None:
            return 501, {"message": f"{operation} is not emulated"}
        channel = self.channels.get(path_params.get("channelId", ""))
        after = self.calls.command(channel, nickname) if channel is not None else None
        try:
            status, reply = handler(RestCall(self, nickname, path_params, params))
        except ARIFault as e:
            status, reply = e.status, e.body
        except Exception:
            _log.failure("the emulated ARI failed on {operation}", operation=operation)
            status, reply = 500, {"message": "Internal Server Error"}
        if after is not None:
            after()
        return status, reply

    # -- test controls -------------------------------------------------------------------------

    def fail_next(self, target: str | tuple[str, str], status: int = 500,
                  body: Any = None, times: int = 1) -> None:
        """Answer the next ``times`` requests for ``target`` with ``status`` and ``body``
        (default ``{"message": "Internal Server Error"}``, the transcript's 500). ``target`` is
        a nickname (``"record"``, ``"channels.record"``) or ``(METHOD, path regex)`` matched
        against the path below ``/ari`` (``("POST", r"/channels/[^/]+/record")``)."""
        self.faults.add(target, status, body, times)

    def kick(self, channel_id: str, *, hang_up: bool = False) -> None:
        """The channel leaves Stasis unexpectedly (``StasisEnd``); then it goes on in the
        dialplan after Stasis() (its call ends there) or, with ``hang_up``, hangs up."""
        channel = self.channels[channel_id]
        if hang_up:
            self.calls.hangup(channel, 16, source="test")
        else:
            self.dialplan.continue_at(channel, None)

    def set_talks(self, channel_id: str, talks: bool = True) -> None:
        """Say whether the party on the channel speaks from now on (recordings hear it)."""
        self.recordings.set_talks(self.channels[channel_id], talks)

    def hangup(self, channel_id: str, cause: int = 16) -> None:
        """The channel hangs up (as if its party did)."""
        channel = self.channels[channel_id]
        self.calls.hangup(channel, cause, source="caller")

    def stasis_call(
        self,
        spec: CallSpec | None = None,
        caller: ScriptedCaller | str | None = None,
        app: str = "gtx",
        args: Sequence[str] = ("menu",),
    ) -> Deferred[ARICallRecord]:
        """A call whose dialplan runs ``Stasis(app,args…)`` (after ``Answer()`` unless
        ``spec.answered`` is False): ``spec`` names the channel (``spec.priority`` is where
        Stasis() runs), ``caller`` acts on it. Fires with the :class:`ARICallRecord` once the
        channel is gone (it hung up, or left Stasis and its dialplan ended)."""
        spec = spec if spec is not None else CallSpec(extension="stasis", priority=2)
        if isinstance(caller, str):
            caller = ScriptedCaller.parse(caller)
        channel = self.calls.inbound(spec)
        self.calls.run_script(channel, caller or ScriptedCaller.silent())
        self.dialplan.stasis_from_dialplan(channel, app, list(args))
        return channel.finished
