"""AMI framing: lines in, messages out; actions matched to their answers by ActionID.

One :class:`AMIProtocol` is one TCP connection to Asterisk's manager port. It reads the banner,
splits the stream into messages (an empty line ends each), and routes every message:

- a response goes to the action with its ActionID (``Response: Error`` fails it with
  :class:`AMIActionError`);
- an event carrying the ActionID of a *list* action being collected (``CoreShowChannel`` …
  ``CoreShowChannelsComplete``) joins that list;
- every other event goes to ``on_event`` — including ``OriginateResponse``, whose ActionID
  names an Originate answered long before.

Every wait is bounded by the injected clock: the banner within ``banner_timeout``, each action's
answer within its own timeout (:class:`AMITimeout`). When the link drops, every action still
waiting fails with :class:`AMIConnectionLost`: it may or may not have run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from gtx.asterisk.ami_message import (
    BANNER_PREFIX,
    MAX_HEADERS,
    MAX_LINE_BYTES,
    AMIActionError,
    AMIConnectionLost,
    AMIMessage,
    AMINotConnected,
    AMIProtocolError,
    AMITimeout,
    format_action,
    parse_message,
)

log = Logger(namespace="gtx.ami")


@dataclass(frozen=True)
class AMIList:
    """The answer of a list action: its response and the events that followed, without the
    closing ``…Complete`` event (kept apart as ``complete``)."""

    response: AMIMessage
    events: tuple[AMIMessage, ...]
    complete: AMIMessage | None


@dataclass
class _Pending:
    action: str
    action_id: str
    collect: bool
    deferred: Deferred[Any]  # Deferred[AMIMessage], or Deferred[AMIList] when collecting
    timer: IDelayedCall | None = None
    response: AMIMessage | None = None
    events: list[AMIMessage] = field(default_factory=list)


class AMIProtocol(LineReceiver):
    """One AMI connection. ``on_event`` gets unsolicited events; ``on_lost`` is called once
    when the connection is gone."""

    delimiter = b"\n"  # Asterisk ends lines with \r\n: the \r is stripped per line
    MAX_LENGTH = MAX_LINE_BYTES

    def __init__(
        self,
        clock: IReactorTime,
        on_event: Callable[[AMIMessage], None],
        on_lost: Callable[[AMIProtocol, Failure], None] | None = None,
        banner_timeout: float = 10.0,
    ) -> None:
        self.clock = clock
        self._on_event = on_event
        self._on_lost = on_lost
        self._banner_timeout = banner_timeout
        self.banner: str | None = None
        self._banner_waiters: list[Deferred[str]] = []
        self._banner_timer: IDelayedCall | None = None
        self._lines: list[str] = []
        self._pending: dict[str, _Pending] = {}
        self.closed = False

    # -- connection life --------------------------------------------------------------------

    def connectionMade(self) -> None:
        set_keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if set_keepalive is not None:
            set_keepalive(1)  # a peer that vanishes without closing is noticed by TCP
        self._banner_timer = self.clock.callLater(self._banner_timeout, self._no_banner)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        if self._banner_timer is not None and self._banner_timer.active():
            self._banner_timer.cancel()
        lost = AMIConnectionLost("the AMI connection was lost")
        waiters, self._banner_waiters = self._banner_waiters, []
        for waiter in waiters:
            waiter.errback(lost)
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            self._settle(entry, Failure(AMIConnectionLost(f"{entry.action}: {lost}")))
        if self._on_lost is not None:
            self._on_lost(self, reason if reason is not None else Failure(lost))

    def close(self) -> None:
        """Close the connection (pending actions then fail with AMIConnectionLost)."""
        if not self.closed and self.transport is not None:
            self.transport.loseConnection()

    def abort(self, why: str) -> None:
        """Drop the connection at once, e.g. on a framing error or a dead link."""
        log.warn("AMI connection dropped: {why}", why=why)
        if not self.closed and self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None)
            (abort or self.transport.loseConnection)()

    def when_banner(self) -> Deferred[str]:
        """Fires with the banner line once it has arrived (bounded by ``banner_timeout``)."""
        if self.banner is not None:
            d: Deferred[str] = Deferred()
            d.callback(self.banner)
            return d
        if self.closed:
            d = Deferred()
            d.errback(AMIConnectionLost("the AMI connection was lost"))
            return d
        waiter: Deferred[str] = Deferred()
        self._banner_waiters.append(waiter)
        return waiter

    def _no_banner(self) -> None:
        self._banner_timer = None
        self.abort(f"no AMI banner within {self._banner_timeout:g} s")

    # -- reading ----------------------------------------------------------------------------

    def lineLengthExceeded(self, line: bytes) -> None:
        self.abort(f"a line longer than {self.MAX_LENGTH} bytes")

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").removesuffix("\r")
        if self.banner is None:
            self._read_banner(text)
            return
        if text:
            if len(self._lines) >= MAX_HEADERS:
                self.abort(f"a message of more than {MAX_HEADERS} headers")
                return
            self._lines.append(text)
            return
        if self._lines:
            lines, self._lines = self._lines, []
            self._route(parse_message(lines))

    def _read_banner(self, text: str) -> None:
        if self._banner_timer is not None and self._banner_timer.active():
            self._banner_timer.cancel()
        self._banner_timer = None
        if not text.startswith(BANNER_PREFIX):
            failure = Failure(AMIProtocolError(f"not an AMI server: it said {text[:60]!r}"))
            waiters, self._banner_waiters = self._banner_waiters, []
            for waiter in waiters:
                waiter.errback(failure)
            self.abort(str(failure.value))
            return
        self.banner = text
        waiters, self._banner_waiters = self._banner_waiters, []
        for waiter in waiters:
            waiter.callback(text)

    def _route(self, message: AMIMessage) -> None:
        action_id = message.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if message.event is None:
            if entry is None or entry.response is not None:
                log.debug("AMI answer to no action waiting: {message}", message=message)
                return
            self._answer(entry, message)
        elif entry is not None and entry.collect and entry.response is not None:
            self._collect(entry, message)
        else:
            self._on_event(message)

    def _answer(self, entry: _Pending, response: AMIMessage) -> None:
        if response.response == "Error":
            self._finish(entry, Failure(AMIActionError(entry.action, response)))
        elif entry.collect and response.get("EventList").lower() == "start":
            entry.response = response  # the events follow
        elif entry.collect:
            entry.response = response
            self._finish(entry, AMIList(response, (), None))
        else:
            self._finish(entry, response)

    def _collect(self, entry: _Pending, event: AMIMessage) -> None:
        if event.get("EventList").lower() == "complete" or (event.event or "").endswith(
            "Complete"
        ):
            assert entry.response is not None
            self._finish(entry, AMIList(entry.response, tuple(entry.events), event))
        else:
            entry.events.append(event)

    # -- writing ----------------------------------------------------------------------------

    def send_action(
        self,
        action: str,
        action_id: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        timeout: float,
    ) -> Deferred[AMIMessage]:
        """Send an action; fires with its response (fails with AMIActionError on
        ``Response: Error``, AMITimeout, AMIConnectionLost, or AMIFormatError at once)."""
        d: Deferred[AMIMessage] = Deferred()
        self._send(_Pending(action, action_id, False, d), fields, timeout)
        return d

    def send_list_action(
        self,
        action: str,
        action_id: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        timeout: float,
    ) -> Deferred[AMIList]:
        """Send a list action (``CoreShowChannels``, ``QueueStatus`` …); fires with the whole
        list once its ``…Complete`` event has come, all within ``timeout``."""
        d: Deferred[AMIList] = Deferred()
        self._send(_Pending(action, action_id, True, d), fields, timeout)
        return d

    def _send(self, entry: _Pending, fields: Iterable[tuple[str, str]], timeout: float) -> None:
        action_id = entry.action_id
        if self.closed or self.transport is None:
            entry.deferred.errback(AMINotConnected(f"{entry.action}: the AMI link is down"))
            return
        if action_id in self._pending:
            entry.deferred.errback(ValueError(f"ActionID {action_id!r} is already waiting"))
            return
        try:
            data = format_action(entry.action, action_id, fields)
        except ValueError:
            entry.deferred.errback()
            return
        self._pending[action_id] = entry
        entry.timer = self.clock.callLater(timeout, self._timed_out, action_id, timeout)
        self.transport.write(data)

    def _timed_out(self, action_id: str, timeout: float) -> None:
        entry = self._pending.pop(action_id, None)
        if entry is not None:
            entry.timer = None
            self._settle(entry, Failure(AMITimeout(
                f"{entry.action}: no answer from Asterisk within {timeout:g} s")))

    def _finish(self, entry: _Pending, result: AMIMessage | AMIList | Failure) -> None:
        self._pending.pop(entry.action_id, None)
        self._settle(entry, result)

    @staticmethod
    def _settle(entry: _Pending, result: AMIMessage | AMIList | Failure) -> None:
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
        if isinstance(result, Failure):
            entry.deferred.errback(result)
        else:
            entry.deferred.callback(result)
