"""FastAGI framing: lines in, replies matched to the command in flight.

A FastAGI connection carries one call: Asterisk sends the environment block, then answers each
command with one reply, in order. AGI allows one command in flight; further commands wait in a
queue and are written when the previous reply arrives. Every wait is bounded by the injected
clock: the environment must arrive within ``environment_timeout``, and each command's reply
within its own timeout; otherwise the connection is dropped (Asterisk then returns from
``AGI()`` and the dialplan takes over).

The asynchronous ``HANGUP`` notice can arrive at any moment (before the reply of the next
command, or while nothing is in flight): it marks the channel hung up and is never taken for a
reply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from gtx.asterisk.agi_parse import (
    HANGUP_NOTICE,
    MAX_COMMAND_BYTES,
    USAGE_END,
    USAGE_START,
    AGIProtocolError,
    AGIReply,
    parse_reply,
    parse_usage,
)
from gtx.channel import ChannelGone

log = Logger()


@dataclass(frozen=True)
class FastAGILimits:
    """Bounds of a FastAGI connection (seconds, bytes)."""

    #: Longest line accepted from Asterisk; a longer one drops the connection.
    max_line_length: int = 16 * 1024
    #: Most environment lines accepted before the empty line.
    max_environment_lines: int = 512
    #: Time Asterisk has to send the whole environment after connecting.
    environment_timeout: float = 10.0
    #: Reply bound of a command that returns at once (GET VARIABLE, ANSWER, SET …).
    command_timeout: float = 30.0
    #: Extra bound for media of unknown length (a prompt, a beep) on top of a command's own time.
    media_timeout: float = 900.0
    #: Bound of an application that has no bound of its own (Queue, ConfBridge, Dial without a
    #: time limit).
    application_timeout: float = 4 * 3600.0


@dataclass
class _Pending:
    line: str
    timeout: float
    deferred: Deferred[AGIReply]
    timer: IDelayedCall | None = field(default=None)


class FastAGIProtocol(LineReceiver):
    """One FastAGI connection: reads the environment, then sends commands and reads replies.

    ``on_environment`` is called once with the environment lines (without the empty line).
    """

    delimiter = b"\n"

    def __init__(
        self,
        clock: IReactorTime,
        limits: FastAGILimits,
        on_environment: Callable[[FastAGIProtocol, list[str]], None],
        on_closed: Callable[[FastAGIProtocol], None] | None = None,
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.MAX_LENGTH = limits.max_line_length
        self._on_environment = on_environment
        self._on_closed = on_closed
        self._environment: list[str] | None = []  # None once the block is complete
        self._environment_timer: IDelayedCall | None = None
        self._in_flight: _Pending | None = None
        self._queue: deque[_Pending] = deque()
        self._usage: list[str] | None = None  # lines of a 520 usage block being read
        self._hangup_listeners: list[Callable[[], None]] = []
        self.hung_up = False
        self.closed = False

    # --- connection life ------------------------------------------------------------------

    def connectionMade(self) -> None:
        set_keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if set_keepalive is not None:
            # A peer that vanishes without closing (power loss, cut link) is noticed by TCP.
            set_keepalive(1)
        self._environment_timer = self.clock.callLater(
            self.limits.environment_timeout, self._environment_timed_out
        )

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._environment is not None and not self._environment:
            # Nothing was ever said: a health probe or a port scan.
            log.debug("FastAGI connection closed before any environment")
        self._close(ChannelGone("the FastAGI connection was lost"))

    @property
    def environment_complete(self) -> bool:
        """True once the environment block has been read."""
        return self._environment is None

    def finish(self) -> None:
        """End the AGI: close the connection, which returns the channel to the dialplan."""
        if self.transport is not None and not self.closed:
            self.transport.loseConnection()
        self._close(ChannelGone("the FastAGI session has ended"))

    def drop(self, error: ChannelGone) -> None:
        """Abort the connection at once, failing the command in flight with ``error``."""
        if self.transport is not None and not self.closed:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                self.transport.loseConnection()
        self._close(error)

    def _close(self, error: ChannelGone) -> None:
        already = self.closed
        self.closed = True
        if self._environment_timer is not None and self._environment_timer.active():
            self._environment_timer.cancel()
        self._environment_timer = None
        pending = [self._in_flight] if self._in_flight is not None else []
        pending.extend(self._queue)
        self._in_flight = None
        self._queue.clear()
        for item in pending:
            if item.timer is not None and item.timer.active():
                item.timer.cancel()
            item.deferred.errback(Failure(error))
        if not already:
            self.mark_hung_up()
            if self._on_closed is not None:
                self._on_closed(self)

    # --- hang-up state --------------------------------------------------------------------

    def mark_hung_up(self) -> None:
        """Record that the channel is gone (HANGUP notice, 511, a hang-up result, a close)."""
        if self.hung_up:
            return
        self.hung_up = True
        listeners, self._hangup_listeners = self._hangup_listeners, []
        for listener in listeners:
            listener()

    def on_hangup(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` once when the channel is known to be hung up."""
        if self.hung_up:
            listener()
        else:
            self._hangup_listeners.append(listener)

    # --- incoming lines -------------------------------------------------------------------

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        if text.endswith("\r"):
            text = text[:-1]
        if self.closed:
            return
        if self._environment is not None:
            self._environment_line(text)
        elif self._usage is not None:
            self._usage_line(text)
        elif text == HANGUP_NOTICE:
            log.debug("FastAGI: HANGUP notice")
            self.mark_hung_up()
        elif text.startswith(USAGE_START):
            self._usage = [text]
        else:
            self._reply_line(text)

    def lineLengthExceeded(self, line: bytes) -> None:
        log.warn(
            "FastAGI: line longer than {limit} bytes, dropping the connection",
            limit=self.MAX_LENGTH,
        )
        self.drop(AGIProtocolError(f"a line longer than {self.MAX_LENGTH} bytes"))

    def _environment_line(self, text: str) -> None:
        assert self._environment is not None
        if text != "":
            self._environment.append(text)
            if len(self._environment) > self.limits.max_environment_lines:
                log.warn("FastAGI: environment too long, dropping the connection")
                self.drop(AGIProtocolError("the AGI environment is too long"))
            return
        lines, self._environment = self._environment, None
        if self._environment_timer is not None and self._environment_timer.active():
            self._environment_timer.cancel()
        self._environment_timer = None
        self._on_environment(self, lines)

    def _environment_timed_out(self) -> None:
        self._environment_timer = None
        log.warn(
            "FastAGI: no complete environment within {timeout}s, dropping the connection",
            timeout=self.limits.environment_timeout,
        )
        self.drop(ChannelGone("no AGI environment in time"))

    def _usage_line(self, text: str) -> None:
        assert self._usage is not None
        self._usage.append(text)
        if text.endswith(USAGE_END):
            lines, self._usage = self._usage, None
            self._deliver(parse_usage(lines))

    def _reply_line(self, text: str) -> None:
        try:
            reply = parse_reply(text)
        except AGIProtocolError as error:
            log.warn("FastAGI: {error}; dropping the connection", error=error)
            self.drop(error)
            return
        if reply.code == 100:
            return  # provisional ("100 result=0 Trying..."): the real reply follows
        self._deliver(reply)

    def _deliver(self, reply: AGIReply) -> None:
        pending = self._in_flight
        if pending is None:
            log.warn("FastAGI: reply with no command in flight: {reply!r}", reply=reply)
            self.drop(AGIProtocolError(f"unexpected reply {reply!r}"))
            return
        self._in_flight = None
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        if reply.code == 511:
            self.mark_hung_up()
        self._write_next()
        pending.deferred.callback(reply)

    # --- outgoing commands ----------------------------------------------------------------

    def send_command(self, line: str, timeout: float | None = None) -> Deferred[AGIReply]:
        """Send one command line (no line ending); fires with its reply.

        Fails with :class:`ChannelGone` when the connection is or gets closed, or when no reply
        comes within ``timeout`` seconds (default ``limits.command_timeout``) — the connection is
        then dropped, since the AGI conversation can no longer be trusted.
        """
        deferred: Deferred[AGIReply] = Deferred()
        if "\n" in line or "\r" in line or len(line.encode("utf-8")) > MAX_COMMAND_BYTES:
            error = ValueError(f"an AGI command is one line of at most {MAX_COMMAND_BYTES} bytes")
            deferred.errback(Failure(error))
            return deferred
        if self.closed:
            deferred.errback(Failure(ChannelGone("the FastAGI connection is closed")))
            return deferred
        if not self.environment_complete:
            deferred.errback(Failure(ValueError("the AGI environment has not been read yet")))
            return deferred
        bound = self.limits.command_timeout if timeout is None else timeout
        self._queue.append(_Pending(line, bound, deferred))
        if self._in_flight is None:
            self._write_next()
        return deferred

    def _write_next(self) -> None:
        if self._in_flight is not None or not self._queue or self.closed:
            return
        pending = self._queue.popleft()
        self._in_flight = pending
        pending.timer = self.clock.callLater(pending.timeout, self._reply_timed_out, pending)
        log.debug("FastAGI >> {line}", line=pending.line)
        assert self.transport is not None
        self.transport.write(pending.line.encode("utf-8") + b"\n")

    def _reply_timed_out(self, pending: _Pending) -> None:
        pending.timer = None
        log.warn(
            "FastAGI: no reply to {line!r} within {timeout}s, dropping the connection",
            line=pending.line,
            timeout=pending.timeout,
        )
        self.drop(ChannelGone(f"no reply to {pending.line!r} within {pending.timeout:g}s"))
