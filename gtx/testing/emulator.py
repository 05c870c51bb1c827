"""Run emulated calls against a FastAGI server, over TCP or in memory.

Over TCP, exactly like Asterisk::

    asterisk = EmulatedAsterisk(reactor)
    record = await connect_emulated_call(
        "tcp:127.0.0.1:4573", CallSpec(request="agi://127.0.0.1:4573/menu"),
        ScriptedCaller.parse("wait 3; press 1"), asterisk=asterisk, reactor=reactor)
    assert record.variables["GTX_STATUS"] == "DONE"

In memory, with a server-side ``Factory`` and a ``Clock`` (no socket)::

    clock = Clock()
    d = connect_emulated_call(my_fastagi_factory, CallSpec(), clock=clock)
    clock.advance(30)          # media and caller scripts run on the clock
    record = successResultOf(d)
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import clientFromString
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
    ITransport,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from gtx.testing.agi_emulator import AGIEmulatorProtocol, CallRecord, failed_call_record
from gtx.testing.caller import ScriptedCaller
from gtx.testing.pbx import CallSpec, EmulatedAsterisk

_log = Logger()
_ports = itertools.count(40000)


class EmulatedCallFactory(Factory):
    """Builds the one :class:`AGIEmulatorProtocol` of a call (for ``endpoint.connect``)."""

    def __init__(
        self, asterisk: EmulatedAsterisk, spec: CallSpec, caller: ScriptedCaller | None
    ) -> None:
        self.protocol_instance = AGIEmulatorProtocol(asterisk, spec, caller)

    def buildProtocol(self, addr: object) -> AGIEmulatorProtocol:
        self.protocol_instance.factory = self
        return self.protocol_instance


def connect_emulated_call(
    target: str | IStreamClientEndpoint | IProtocolFactory,
    spec: CallSpec | None = None,
    caller: ScriptedCaller | str | None = None,
    clock: IReactorTime | None = None,
    *,
    asterisk: EmulatedAsterisk | None = None,
    reactor: object | None = None,
) -> Deferred[CallRecord]:
    """Place an emulated call that runs ``AGI()`` against a FastAGI server.

    ``target`` is a client endpoint string (``"tcp:127.0.0.1:4573"``, needs ``reactor``), an
    ``IStreamClientEndpoint``, or a server-side ``IProtocolFactory`` (wired in memory, no
    socket). ``caller`` is a :class:`ScriptedCaller` or a caller script. Time comes from
    ``asterisk.clock`` (or ``clock``, which builds a default :class:`EmulatedAsterisk`).
    Fires with the :class:`CallRecord` when the call returns from AGI(); a connection that
    cannot be made gives a record with ``agi_status == "FAILURE"``.
    """
    if asterisk is None:
        if clock is None:
            raise TypeError("connect_emulated_call needs an asterisk or a clock")
        asterisk = EmulatedAsterisk(clock)
    spec = spec if spec is not None else CallSpec()
    if isinstance(caller, str):
        caller = ScriptedCaller.parse(caller)
    if isinstance(target, str):
        if reactor is None:
            raise TypeError("an endpoint string needs the reactor to connect with")
        target = clientFromString(reactor, target)
    if IStreamClientEndpoint.providedBy(target):
        return _connect_endpoint(target, asterisk, spec, caller)
    if IProtocolFactory.providedBy(target):
        return connect_in_memory(target, spec, caller, asterisk=asterisk)
    raise TypeError(f"cannot connect an emulated call to {target!r}")


def _connect_endpoint(
    endpoint: IStreamClientEndpoint,
    asterisk: EmulatedAsterisk,
    spec: CallSpec,
    caller: ScriptedCaller | None,
) -> Deferred[CallRecord]:
    factory = EmulatedCallFactory(asterisk, spec, caller)
    connecting = endpoint.connect(factory)

    def connected(_: object) -> Deferred[CallRecord]:
        return factory.protocol_instance.finished

    def refused(failure: Failure) -> CallRecord:
        _log.info("FastAGI connection failed: {error}", error=failure.getErrorMessage())
        return failed_call_record(asterisk, spec)

    return connecting.addCallbacks(connected, refused)


def connect_in_memory(
    factory: IProtocolFactory,
    spec: CallSpec | None = None,
    caller: ScriptedCaller | None = None,
    *,
    asterisk: EmulatedAsterisk,
) -> Deferred[CallRecord]:
    """Wire an emulated call to a protocol built by ``factory``, through an in-memory pipe.

    Bytes are delivered synchronously (queued while a delivery is under way, so neither side
    is re-entered), so only media and caller timing need the clock to move.
    """
    spec = spec if spec is not None else CallSpec()
    port = next(_ports)
    server_address = IPv4Address("TCP", spec.host, spec.port)
    client_address = IPv4Address("TCP", "127.0.0.1", port)
    server = factory.buildProtocol(client_address)
    if server is None:
        return succeed(failed_call_record(asterisk, spec))
    client = AGIEmulatorProtocol(asterisk, spec, caller)
    pipe = MemoryPipe(client, server, client_address, server_address)
    server.makeConnection(pipe.server_transport)
    client.makeConnection(pipe.client_transport)
    return client.finished


@implementer(ITransport)
class MemoryTransport:
    """One end of a :class:`MemoryPipe`."""

    def __init__(self, pipe: MemoryPipe, peer: IProtocol, host: IPv4Address, remote: IPv4Address):
        self._pipe = pipe
        self._peer = peer
        self._host = host
        self._remote = remote
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        self._pipe.deliver(self._peer, data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.disconnecting = True
        self._pipe.close()

    def abortConnection(self) -> None:
        self.loseConnection()

    def getPeer(self) -> IPv4Address:
        return self._remote

    def getHost(self) -> IPv4Address:
        return self._host

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Nothing to tune in memory."""

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Nothing to tune in memory."""


class MemoryPipe:
    """Two protocols connected in memory; bytes arrive in order, synchronously, without
    re-entering a protocol that is still handling earlier bytes."""

    def __init__(
        self,
        client: IProtocol,
        server: IProtocol,
        client_address: IPv4Address,
        server_address: IPv4Address,
    ) -> None:
        self._client = client
        self._server = server
        self.client_transport = MemoryTransport(self, server, client_address, server_address)
        self.server_transport = MemoryTransport(self, client, server_address, client_address)
        self._queue: deque[tuple[IProtocol, bytes]] = deque()
        self._delivering = False
        self._closing = False
        self._closed = False

    def deliver(self, to: IProtocol, data: bytes) -> None:
        """Queue ``data`` for ``to`` and deliver what is queued."""
        if self._closing or self._closed or not data:
            return
        self._queue.append((to, data))
        self._drain()

    def close(self) -> None:
        """Deliver what is queued, then tell both protocols the connection is gone."""
        self._closing = True
        self._drain()

    def _drain(self) -> None:
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._queue:
                to, data = self._queue.popleft()
                try:
                    to.dataReceived(data)
                except Exception:
                    _log.failure("a protocol failed on in-memory data")
                    self._closing = True
            if self._closing and not self._closed:
                self._closed = True
                reason = Failure(ConnectionDone("in-memory connection closed"))
                self._server.connectionLost(reason)
                self._client.connectionLost(reason)
        finally:
            self._delivering = False
