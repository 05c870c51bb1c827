"""The HTTP sessions of the emulated ARI server, and Asterisk's limit on them.

Asterisk's HTTP server serves at most ``sessionlimit`` connections at once (http.conf, 100 by
default): each one over it is closed as soon as it is accepted, without an answer, and idle
kept-alive connections count as much as busy ones (main/http.c). A client with a large
connection pool meets that as connections cut before the answer. :class:`HttpSessions` counts
the connections of an :class:`~gtx.testing.ari_server.EmulatedARIServer` (open now, the most
at once, refused) and, with a ``limit``, closes those over it the same way; off by default.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


class HttpSessions:
    """The server's HTTP connections (event WebSockets included); ``limit`` None: no limit."""

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"the HTTP session limit must be at least 1, not {limit}")
        self.limit = limit
        #: Connections open now.
        self.open = 0
        #: The most connections open at once.
        self.peak = 0
        #: Connections closed unanswered because the limit was reached.
        self.refused = 0

    def admit(self) -> bool:
        """A connection was accepted: count it (True), or refuse it (False) over the limit."""
        if self.limit is not None and self.open >= self.limit:
            self.refused += 1
            return False
        self.open += 1
        self.peak = max(self.peak, self.open)
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.open -= 1


class _Refused(asyncio.Protocol):
    """A connection over the limit: closed at once, nothing read, nothing answered."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class _CountedServer(web.Server):
    """aiohttp's connection manager (the protocol factory of the listening socket), telling
    :class:`HttpSessions` of each connection."""

    sessions: HttpSessions

    def __call__(self) -> RequestHandler:
        if not self.sessions.admit():
            # Not a RequestHandler, but the loop only needs a protocol.
            return _Refused()  # type: ignore[return-value]
        return super().__call__()

    def connection_lost(self, handler: RequestHandler,
                        exc: BaseException | None = None) -> None:
        if handler in self.connections:
            self.sessions.release()
        super().connection_lost(handler, exc)


class SessionCountingRunner(web.AppRunner):
    """An ``AppRunner`` whose connections :class:`HttpSessions` counts (and limits)."""

    def __init__(self, app: web.Application, sessions: HttpSessions, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self.sessions = sessions

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds its own Server; only these two methods change, so the
        # instance takes the subclass that has them rather than being rebuilt.
        server.__class__ = _CountedServer
        assert isinstance(server, _CountedServer)
        server.sessions = self.sessions
        return server
