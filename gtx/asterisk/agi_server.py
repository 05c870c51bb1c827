"""The FastAGI server: one session per connection, call logic injected from outside.

:class:`FastAGIFactory` reads each connection's environment, builds a
:class:`~gtx.asterisk.agi_channel.FastAGIChannel`, runs ``session_main(channel)`` and closes the
connection when it finishes, which is how an AGI returns the channel to the dialplan. A failing
``session_main`` is logged with its traceback and never takes the server down.

For a graceful shutdown, :meth:`FastAGIFactory.stop_accepting` closes new connections at once
(Asterisk sees ``AGISTATUS=FAILURE`` and the dialplan fails over to another node) and
:meth:`FastAGIFactory.drain` waits for the running sessions, then drops what is left.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_commands import AGICommands
from gtx.asterisk.agi_parse import AGIProtocolError, parse_environment
from gtx.asterisk.agi_protocol import FastAGILimits, FastAGIProtocol
from gtx.channel import ChannelGone

log = Logger()

#: What a session returns: a Deferred or a coroutine (its value is ignored).
SessionMain = Callable[[FastAGIChannel], "Deferred[Any] | Coroutine[Any, Any, Any] | None"]


class FastAGIFactory(Factory):
    """Builds one :class:`FastAGIProtocol` per Asterisk connection and runs a session on it.

    ``asterisk_name_for`` maps the peer's host to the configured name of that Asterisk server
    (``CallInfo.asterisk``); without it the host itself is used.
    """

    def __init__(
        self,
        session_main: SessionMain,
        *,
        clock: IReactorTime,
        asterisk_name_for: Callable[[str], str] | None = None,
        limits: FastAGILimits | None = None,
    ) -> None:
        self.session_main = session_main
        self.clock = clock
        self.asterisk_name_for = asterisk_name_for
        self.limits = limits or FastAGILimits()
        self.accepting = True
        self._connections: dict[FastAGIProtocol, str] = {}  # → peer host
        self._sessions: dict[FastAGIProtocol, Deferred[None]] = {}
        self._idle_waiters: list[Deferred[None]] = []

    @property
    def active_connections(self) -> int:
        """Connections open right now (with or without a running session)."""
        return len(self._connections)

    @property
    def active_sessions(self) -> int:
        """Sessions whose ``session_main`` has not finished yet."""
        return len(self._sessions)

    def buildProtocol(self, addr: IAddress) -> FastAGIProtocol | None:  # type: ignore[override]
        # (Factory.buildProtocol is declared to return a Protocol; None refuses the connection.)
        if not self.accepting:
            log.info("FastAGI: refusing a connection while shutting down")
            return None
        protocol = FastAGIProtocol(
            self.clock, self.limits, self._environment_received, self._connection_closed
        )
        protocol.factory = self
        self._connections[protocol] = str(getattr(addr, "host", ""))
        return protocol

    def stop_accepting(self) -> None:
        """Close every new connection at once from now on."""
        self.accepting = False

    def drain(self, timeout: float) -> Deferred[None]:
        """Fire when every connection has ended, or after ``timeout`` seconds — then the
        remaining connections are dropped (their sessions see ChannelGone)."""
        if not self._connections:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._idle_waiters.append(waiter)
        timer = self.clock.callLater(timeout, self._drain_timed_out, waiter)

        def cancel_timer(result: None) -> None:
            if timer.active():
                timer.cancel()

        return waiter.addCallback(cancel_timer)

    def _drain_timed_out(self, waiter: Deferred[None]) -> None:
        if waiter.called:
            return
        log.warn(
            "FastAGI: dropping {count} connection(s) still open after the drain timeout",
            count=len(self._connections),
        )
        for protocol in list(self._connections):
            protocol.drop(ChannelGone("gtx is shutting down"))
        self._connections.clear()
        self._fire_idle()

    # --- per connection -------------------------------------------------------------------

    def _environment_received(self, protocol: FastAGIProtocol, lines: list[str]) -> None:
        host = self._connections.get(protocol, "")
        asterisk = self.asterisk_name_for(host) if self.asterisk_name_for else host
        try:
            info = parse_environment(lines, asterisk=asterisk)
        except AGIProtocolError as error:
            log.warn("FastAGI from {host}: {error}; dropping it", host=host, error=error)
            protocol.drop(error)
            return
        channel = FastAGIChannel(info, AGICommands(protocol))
        log.debug(
            "FastAGI: session for {channel} ({script})", channel=info.channel, script=info.script
        )
        session = maybeDeferred(self._start_session, channel)
        done = session.addErrback(self._session_failed, info.channel).addCallback(lambda _: None)
        if not done.called:
            self._sessions[protocol] = done
        done.addBoth(self._session_ended, protocol)

    def _start_session(self, channel: FastAGIChannel) -> Deferred[Any]:
        result = self.session_main(channel)
        if inspect.iscoroutine(result):
            return Deferred.fromCoroutine(result)
        if isinstance(result, Deferred):
            return result
        return succeed(result)

    def _session_failed(self, failure: Failure, channel: str) -> None:
        if failure.check(ChannelGone):
            log.info("FastAGI: {channel}: {error}", channel=channel, error=failure.value)
            return
        log.failure("FastAGI: the session of {channel} failed", failure, channel=channel)

    def _session_ended(self, result: object, protocol: FastAGIProtocol) -> None:
        self._sessions.pop(protocol, None)
        protocol.finish()

    def _connection_closed(self, protocol: FastAGIProtocol) -> None:
        self._connections.pop(protocol, None)
        if not self._connections:
            self._fire_idle()

    def _fire_idle(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(None)
