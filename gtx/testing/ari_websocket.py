"""The event WebSockets of the emulated ARI server (``/ari/events?app=NAME[,NAME…]``).

Each WebSocket registers its applications; a later WebSocket for the same application takes
it over and the earlier one hears ``ApplicationReplaced``, as on Asterisk (res/stasis/app.c
``app_update``), and stays open, hearing nothing more. Events go out in the
order they were sent, each with ``asterisk_id`` and ``application`` appended; the server counts
those written (``events_sent``). An event for an application with no WebSocket is lost, and so
are those queued on a WebSocket that closes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from gtx.testing.ari_model import JSON, ari_timestamp

if TYPE_CHECKING:
    from gtx.testing.ari_server import EmulatedARIServer


class _EventSocket:
    """One WebSocket: its applications and an ordered writer."""

    def __init__(self, server: EmulatedARIServer, ws: web.WebSocketResponse,
                 apps: list[str]) -> None:
        self.server = server
        self.ws = ws
        self.apps = apps
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.ensure_future(self._write())

    def send(self, message: JSON) -> None:
        self.queue.put_nowait(json.dumps(message, separators=(",", ":")))

    async def _write(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the socket went away under us: the rest is lost, as on Asterisk
            self.server.events_sent += 1

    def close(self) -> None:
        self.queue.put_nowait(None)


class EventSockets:
    """The WebSockets of one server and the applications they registered."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        self._sockets: list[_EventSocket] = []
        self._apps: dict[str, _EventSocket] = {}
        self._closing: set[asyncio.Future[bool]] = set()

    def connected(self, app: str) -> bool:
        """Whether a WebSocket has registered ``app``."""
        return app in self._apps

    @property
    def apps(self) -> list[str]:
        """The registered applications."""
        return sorted(self._apps)

    @property
    def open(self) -> int:
        """How many WebSockets are open (a replaced one stays open until its client closes
        it)."""
        return len(self._sockets)

    def send(self, message: JSON, apps: Iterable[str]) -> int:
        """Queue ``message`` for each application's WebSocket; how many it went to."""
        sent = 0
        for app in sorted(set(apps)):
            socket = self._apps.get(app)
            if socket is not None:
                socket.send({**message, "asterisk_id": self.server.asterisk_id,
                             "application": app})
                sent += 1
        return sent

    def drop(self) -> None:
        """Close every WebSocket now: their applications are gone."""
        sockets, self._sockets = self._sockets, []
        self._apps.clear()
        for socket in sockets:
            socket.close()
            closing = asyncio.ensure_future(socket.ws.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def serve(self, request: web.Request, apps: list[str]) -> web.StreamResponse:
        """Upgrade ``request`` and register ``apps`` until the WebSocket closes."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        socket = _EventSocket(self.server, ws, apps)
        self._sockets.append(socket)
        for app in apps:
            previous = self._apps.get(app)
            if previous is not None and previous is not socket:
                previous.send({"type": "ApplicationReplaced",
                               "timestamp": ari_timestamp(self.server.epoch()),
                               "asterisk_id": self.server.asterisk_id, "application": app})
                previous.apps.remove(app)
            self._apps[app] = socket
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break  # events only go one way: what the client sends is ignored
        finally:
            self._forget(socket)
        return ws

    def _forget(self, socket: _EventSocket) -> None:
        socket.close()
        if socket in self._sockets:
            self._sockets.remove(socket)
        for app in socket.apps:
            if self._apps.get(app) is socket:
                del self._apps[app]
