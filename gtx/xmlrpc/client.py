"""A keep-alive XML-RPC client for Twisted: how gtx calls IVR web services and callbacks.

One :class:`XMLRPCClient` per process keeps persistent HTTP/1.1 connections per host (a call
costs no TCP or TLS handshake once warm), bounds every call by a timeout on an injected clock,
reads answers with a size limit, signs requests when given a secret, and turns every failure into
a :class:`~gtx.xmlrpc.errors.XMLRPCError`::

    client = XMLRPCClient(reactor)
    value = await client.call("https://ivr.example.com/RPC2", "menu.step", [request], timeout=5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError, Deferred, DeferredSemaphore, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IConsumer, IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    RequestTransmissionFailed,
    ResponseDone,
    ResponseNeverReceived,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IBodyProducer, IResponse
from zope.interface import implementer

from gtx import __version__
from gtx.xmlrpc.codec import DEFAULT_MAX_SIZE, dumps_call, loads_response
from gtx.xmlrpc.errors import (
    BodyTooLarge,
    CallTimeout,
    ConnectFailed,
    HTTPStatusError,
    XMLRPCError,
)
from gtx.xmlrpc.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["XMLRPCClient"]


@implementer(IBodyProducer)
class _RequestBody:
    """An XML-RPC request body, written at once (it is already in memory)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        consumer.write(self._data)
        return succeed(None)

    def pauseProducing(self) -> None:
        """Nothing to pause: the body was written in one go."""

    def resumeProducing(self) -> None:
        """Nothing to resume: the body was written in one go."""

    def stopProducing(self) -> None:
        """Nothing to stop: the body was written in one go."""


class _AnswerReader(Protocol):
    """Collects a response body up to ``limit`` bytes; past it, drops the connection."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self.finished: Deferred[bytes] | None = Deferred(lambda _: self._abandon())

    def _abandon(self) -> None:
        # Cancelled (the call timed out): nobody wants the rest, and the connection is mid-answer
        # so it cannot go back to the pool.
        self.finished = None
        self._stop()

    def _stop(self) -> None:
        # The body's transport is the connection as a push producer: stopping it closes it.
        if self.transport is not None:
            cast(IPushProducer, self.transport).stopProducing()

    def refuse(self, size: int) -> None:
        """Fail at once with :class:`BodyTooLarge` (the announced length is already too big)."""
        finished, self.finished = self.finished, None
        self._stop()
        if finished is not None:
            finished.errback(BodyTooLarge(size, self._limit))

    def dataReceived(self, data: bytes) -> None:
        if self.finished is None:
            return
        self._size += len(data)
        if self._size > self._limit:
            self.refuse(self._size)
            return
        self._parts.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        finished, self.finished = self.finished, None
        if finished is None:
            return
        # Without Content-Length, the end of the connection ends the body (HTTP/1.0 servers).
        if reason.check(ResponseDone, PotentialDataLoss):
            finished.callback(b"".join(self._parts))
        else:
            finished.errback(
                ConnectFailed(f"connection lost while reading the answer: {_describe(reason)}")
            )


class _ConnectionPool(HTTPConnectionPool):
    """Twisted's pool, minus one race: it never keeps a connection that is already closing.

    Stopping an answer midway (too large, timed out) closes its connection; when the end of that
    answer was already in the same read, Twisted would still put the connection back in the
    pool, where the next call would pick up a dead connection (or it would outlive close()).
    """

    def _putConnection(self, key: object, connection: Any) -> None:
        transport = connection.transport
        if transport is None or getattr(transport, "disconnecting", False):
            return
        super()._putConnection(key, connection)


def _describe(error: BaseException | Failure) -> str:
    """A readable cause, looking inside Twisted's wrappers (ResponseNeverReceived & co.)."""
    value = error.value if isinstance(error, Failure) else error
    inner = getattr(value, "reasons", None)
    if inner:
        return "; ".join(_describe(reason) for reason in inner)
    text = str(value).strip() or type(value).__name__
    return text if type(value).__name__ in text else f"{type(value).__name__}: {text}"


#: How many times a call is sent again when a kept-alive connection turns out to have been
#: closed by the server before it answered (an HTTP/1.0 server closes after each answer, and
#: the close can reach us only once the next call went out on that connection).
STALE_RETRIES = 3


def _closed_before_answer(error: BaseException) -> bool:
    """The server closed the connection cleanly without a byte of answer: a stale connection.

    A server that has read a request answers it or resets; a clean close with no answer is an
    idle connection being closed, so sending the call again cannot run it twice (short of a
    server process dying at that very moment, and the new attempt then finds it gone)."""
    if not isinstance(error, ResponseNeverReceived | RequestTransmissionFailed):
        return False
    reasons = getattr(error, "reasons", None) or []
    return bool(reasons) and all(reason.check(ConnectionDone) for reason in reasons)


def _was_cancelled(error: BaseException) -> bool:
    reasons = getattr(error, "reasons", None) or []
    return isinstance(error, CancelledError) or any(r.check(CancelledError) for r in reasons)


class XMLRPCClient:
    """Calls XML-RPC methods over persistent HTTP(S) connections; the IVR's ``WebService``.

    ``max_connections_per_host`` bounds the connections open to one host at once (calls beyond
    it wait for a free one, within their timeout) and how many idle ones are kept;
    ``idle_timeout`` closes a connection idle for that many seconds.
    """

    def __init__(
        self,
        reactor: Any,  # an IReactorTCP + IReactorTime (+ SSL for https), as Agent takes
        *,
        clock: IReactorTime | None = None,
        max_connections_per_host: int = 16,
        idle_timeout: float = 60,
        max_response_size: int = DEFAULT_MAX_SIZE,
        user_agent: str = f"gtx/{__version__}",
    ) -> None:
        self._clock: IReactorTime = clock if clock is not None else reactor
        self._pool = _ConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = max_connections_per_host
        self._pool.cachedConnectionTimeout = math.ceil(idle_timeout)  # whole seconds
        self._pool.retryAutomatically = False  # a method call is not idempotent
        self._agent = Agent(reactor, pool=self._pool)
        self._max_connections = max_connections_per_host
        self._slots: dict[tuple[str, str], DeferredSemaphore] = {}
        self._max_response_size = max_response_size
        self._user_agent = user_agent.encode("utf-8")

    def call(
        self,
        url: str,
        method: str,
        params: Sequence[object],
        *,
        timeout: float,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Deferred[object]:
        """Call ``method(*params)`` at ``url``; fire with its value.

        Fails with :class:`CallTimeout` when no complete answer came within ``timeout`` seconds
        (connecting included), :class:`ConnectFailed` when the connection failed or broke,
        :class:`HTTPStatusError` for a status other than 200, :class:`BodyTooLarge` for an
        answer over ``max_response_size``, :class:`CodecError` for an answer that is not
        XML-RPC, :class:`Fault` for a fault. With ``secret``, the request is signed (see
        :mod:`gtx.xmlrpc.signing`).
        """
        call = Deferred.fromCoroutine(self._call(url, method, params, secret, headers))

        def timed_out(result: object, seconds: float) -> Failure:
            return Failure(CallTimeout(url, method, seconds))

        return call.addTimeout(timeout, self._clock, onTimeoutCancel=timed_out)

    async def _call(
        self,
        url: str,
        method: str,
        params: Sequence[object],
        secret: str | None,
        extra_headers: Mapping[str, str] | None,
    ) -> object:
        body = dumps_call(method, params)
        headers = Headers({b"Content-Type": [b"text/xml"], b"User-Agent": [self._user_agent]})
        for name, value in (extra_headers or {}).items():
            headers.setRawHeaders(name, [value])
        if secret is not None:
            timestamp = int(self._clock.seconds())
            headers.setRawHeaders(TIMESTAMP_HEADER, [str(timestamp)])
            headers.setRawHeaders(SIGNATURE_HEADER, [sign(secret, timestamp, body)])
        slot = self._slot(url)
        await slot.acquire()
        try:
            response = await self._request(url, method, headers, body)
            try:
                answer = await self._read(response)
            except XMLRPCError:
                if response.code == 200:
                    raise
                answer = b""  # the status says more than a broken error page would
        finally:
            slot.release()
        if response.code != 200:
            raise HTTPStatusError(response.code, response.phrase.decode("latin-1"))
        return loads_response(answer, max_size=self._max_response_size)

    async def _request(self, url: str, method: str, headers: Headers, body: bytes) -> IResponse:
        attempt = 0
        while True:
            try:
                return await self._agent.request(
                    b"POST", url.encode("ascii"), headers, _RequestBody(body)
                )
            except Exception as error:
                if _was_cancelled(error):
                    raise CancelledError() from error
                attempt += 1
                if attempt <= STALE_RETRIES and _closed_before_answer(error):
                    continue  # a kept-alive connection the server had closed: use a new one
                raise ConnectFailed(f"{method} at {url}: {_describe(error)}") from error

    def _read(self, response: IResponse) -> Deferred[bytes]:
        reader = _AnswerReader(self._max_response_size)
        finished = reader.finished
        assert finished is not None
        response.deliverBody(reader)
        if response.length is not UNKNOWN_LENGTH and response.length > self._max_response_size:
            reader.refuse(response.length)
        return finished

    def _slot(self, url: str) -> DeferredSemaphore:
        """The semaphore bounding the connections to ``url``'s host (scheme and port included)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = DeferredSemaphore(self._max_connections)
        return slot

    def close(self) -> Deferred[None]:
        """Close the idle cached connections; fires when they are closed."""
        closed: Deferred[None] = self._pool.closeCachedConnections()
        return closed
