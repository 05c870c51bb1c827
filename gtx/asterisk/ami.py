"""The AMI link to one Asterisk server: connected, logged in, kept up.

:class:`AMIClient` is a Twisted service. Started, it connects to the server's AMI endpoint
(``[asterisk:NAME] ami``, a Twisted client endpoint string such as ``tcp:127.0.0.1:5038``),
waits for the banner, logs in, and from then on:

- dispatches events by name to the handlers registered with :meth:`AMIClient.subscribe`;
- sends actions (:meth:`AMIClient.send_action`, :meth:`AMIClient.send_list_action`) with
  ActionIDs from an injectable generator, each answer bounded by a timeout;
- pings Asterisk every ``ping_interval`` seconds, and drops a link that does not answer;
- when the link drops, or a connection or login fails, tries again after a capped exponential
  back-off with jitter (:func:`twisted.application.internet.backoffPolicy`) on the injected
  clock, and calls the ``on_login`` handlers after every successful login — that is where its
  users resynchronise what they were following (see :mod:`gtx.asterisk.ami_originator`).

A refused login is logged as an error naming the user and the server, and retried with the
same back-off (never in a tight loop): ``last_error`` keeps it for health reports.

Why the connection is not panoramisk's ``Manager`` (the product's choice for AMI), measured on
panoramisk 1.4: after a reconnect it sends again every action that had no answer when the link
dropped (``awaiting_actions``) — an Originate would dial twice; it reconnects after a fixed
``reconnect_timeout`` on the loop's own clock, with no back-off, no jitter and no way to inject
time; a refused login only sets ``authenticated = False`` and the next connection follows two
seconds later; ActionIDs come from a class-level generator; and with ``Async: true`` an
Originate refused at once never completes its future (PITFALLS.md). Nor is it Twisted's
``ClientService``: a connection rejected by ``prepareConnection`` (a failed login) is not
closed, and when the peer then closes it the service raises ``NoTransition`` (Twisted 26.10).
So the framing (:mod:`gtx.asterisk.ami_protocol`) and this small reconnect loop are ours; they
follow panoramisk's shape (messages as ordered headers, answers matched by ActionID, an
injectable id generator).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ami_message import (
    ActionIdGenerator,
    AMIActionError,
    AMILoginRefused,
    AMIMessage,
    AMINotConnected,
    sequential_action_ids,
)
from gtx.asterisk.ami_protocol import AMIList, AMIProtocol

#: Receives one event.
EventHandler = Callable[[AMIMessage], None]
#: Gives the delay (seconds) before connection attempt N (1, 2, …) after N failures.
RetryPolicy = Callable[[int], float]


def default_retry_policy(jitter: Callable[[], float] = random.random) -> RetryPolicy:
    """1 s, 2 s, 4 s … capped at 30 s, plus up to a second of jitter."""
    return backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=jitter)


class _AMIFactory(Factory):
    """Builds each connection's AMIProtocol."""

    def __init__(self, build: Callable[[], AMIProtocol]) -> None:
        self._build = build

    def buildProtocol(self, addr: IAddress | None) -> AMIProtocol:
        protocol = self._build()
        protocol.factory = self
        return protocol


class AMIClient(Service):
    """One logged-in AMI connection to the server named ``server``, kept up while running."""

    def __init__(
        self,
        server: str,
        endpoint: IStreamClientEndpoint,
        username: str,
        secret: str,
        *,
        clock: IReactorTime,
        action_ids: ActionIdGenerator | None = None,
        action_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        ping_interval: float = 20.0,
        log: Logger | None = None,
    ) -> None:
        self.server = server
        self.setName(f"ami:{server}")
        self._endpoint = endpoint
        self._username = username
        self._secret = secret
        self.clock = clock
        # Several gtx nodes may share one Asterisk, and OriginateResponse events reach every
        # AMI session: the default ids carry a random part so no node takes another's.
        self._next_id = action_ids or sequential_action_ids(
            f"gtx-{server}-{secrets.token_hex(4)}"
        )
        self.action_timeout = action_timeout
        self._retry_policy = retry_policy or default_retry_policy()
        self._ping_interval = ping_interval
        self.log = log or Logger(namespace="gtx.ami")
        self._factory = _AMIFactory(
            lambda: AMIProtocol(clock, self._dispatch, self._lost, banner_timeout=action_timeout)
        )
        self._handlers: dict[str, list[EventHandler]] = {}
        self._login_handlers: list[Callable[[], None]] = []
        self._disconnect_handlers: list[Callable[[], None]] = []
        self._protocol: AMIProtocol | None = None
        self._connecting: Deferred[Any] | None = None
        self._retry: IDelayedCall | None = None
        self._ping_timer: IDelayedCall | None = None
        self._stopped_waiters: list[Deferred[None]] = []
        self._failures = 0
        self._connected = False
        #: Why the last connection or login failed ("" once logged in).
        self.last_error = ""

    # -- state and registration -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the link is up and logged in."""
        return self._connected

    def subscribe(self, event: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` with every event named ``event`` (case-insensitive; ``*`` for all).
        Returns a function that unsubscribes it."""
        handlers = self._handlers.setdefault(event.lower(), [])
        handlers.append(handler)
        return lambda: handlers.remove(handler) if handler in handlers else None

    def on_login(self, handler: Callable[[], None]) -> None:
        """Call ``handler`` after every successful login (the first and each reconnect)."""
        self._login_handlers.append(handler)

    def on_disconnect(self, handler: Callable[[], None]) -> None:
        """Call ``handler`` whenever a logged-in link is lost."""
        self._disconnect_handlers.append(handler)

    # -- actions ----------------------------------------------------------------------------

    def next_action_id(self) -> str:
        """A fresh ActionID from the injected generator."""
        return self._next_id()

    def send_action(
        self,
        action: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,
        action_id: str | None = None,
    ) -> Deferred[AMIMessage]:
        """Send ``action`` with ``fields`` (repeat a name to repeat a header); fires with the
        response. Fails with AMINotConnected (nothing sent), AMIActionError (``Response:
        Error``), AMITimeout or AMIConnectionLost (the action may have run), AMIFormatError.
        ``action_id`` defaults to the next id of the generator."""
        if not self._connected or self._protocol is None:
            return fail(AMINotConnected(f"{action}: the AMI link to {self.server} is down"))
        return self._protocol.send_action(
            action, action_id or self._next_id(), fields, timeout=timeout or self.action_timeout
        )

    def send_list_action(
        self, action: str, fields: Iterable[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> Deferred[AMIList]:
        """Send a list action; fires with its response and events once the list is complete."""
        if not self._connected or self._protocol is None:
            return fail(AMINotConnected(f"{action}: the AMI link to {self.server} is down"))
        return self._protocol.send_list_action(
            action, self._next_id(), fields, timeout=timeout or self.action_timeout
        )

    # -- service life -----------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._connect()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._connecting is not None:
            self._connecting.cancel()
        done: Deferred[None] = Deferred()
        if self._protocol is None:
            done.callback(None)
            return done
        self._stopped_waiters.append(done)
        protocol = self._protocol
        protocol.close()
        # A peer that never acknowledges the close is cut off: stopping is bounded too.
        timer = self.clock.callLater(self.action_timeout, protocol.abort, "closing timed out")

        def closed(result: None) -> None:
            if timer.active():
                timer.cancel()
            return result

        done.addBoth(closed)
        return done

    def _connect(self) -> None:
        self._retry = None
        connecting = self._endpoint.connect(self._factory)
        self._connecting = connecting
        connecting.addCallbacks(self._transport_up, self._connect_failed)

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        if not self.running:
            return
        self._failed(f"cannot connect: {failure.getErrorMessage()}")

    def _failed(self, why: str) -> None:
        self.last_error = why
        self._failures += 1
        delay = self._retry_policy(self._failures)
        self.log.warn("AMI {server}: {why}; trying again in {delay:.1f} s",
                      server=self.server, why=why, delay=delay)
        self._retry = self.clock.callLater(delay, self._connect)

    def _transport_up(self, protocol: AMIProtocol) -> None:
        self._connecting = None
        if not self.running:
            protocol.close()
            return
        self._protocol = protocol
        banner = protocol.when_banner()
        banner.addCallback(lambda _: protocol.send_action(
            "Login", self._next_id(), [("Username", self._username), ("Secret", self._secret)],
            timeout=self.action_timeout))
        banner.addCallbacks(lambda _: self._logged_in(protocol),
                            lambda failure: self._login_failed(protocol, failure))

    def _login_failed(self, protocol: AMIProtocol, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, AMIActionError):
            refused = AMILoginRefused("Login", error.response)
            self.log.error(
                "AMI {server}: login refused for user {user!r} ({message}): check ami_user and "
                "ami_secret in [asterisk:{server}] of gtx.ini and the user in manager.conf",
                server=self.server, user=self._username, message=refused.message)
            self.last_error = f"login refused for user {self._username!r}: {refused.message}"
        else:
            self.last_error = f"login failed: {failure.getErrorMessage()}"
        protocol.close()  # _lost then schedules the next attempt

    def _logged_in(self, protocol: AMIProtocol) -> None:
        if protocol is not self._protocol or protocol.closed:
            return
        self._connected = True
        self._failures = 0
        self.last_error = ""
        self.log.info("AMI {server}: logged in as {user!r} ({banner})", server=self.server,
                      user=self._username, banner=protocol.banner)
        self._schedule_ping()
        for handler in list(self._login_handlers):
            self._call(handler)

    def _lost(self, protocol: AMIProtocol, reason: Failure) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        if self._ping_timer is not None and self._ping_timer.active():
            self._ping_timer.cancel()
        self._ping_timer = None
        was_connected, self._connected = self._connected, False
        if was_connected:
            for handler in list(self._disconnect_handlers):
                self._call(handler)
        waiters, self._stopped_waiters = self._stopped_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        if not self.running:
            return
        if was_connected:
            self._failed(f"link lost ({reason.getErrorMessage()})")
        else:
            self._failed(self.last_error or f"connection closed before login "
                         f"({reason.getErrorMessage()})")

    # -- keep-alive -------------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        self._ping_timer = self.clock.callLater(self._ping_interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        protocol = self._protocol
        if protocol is None:
            return
        d = protocol.send_action("Ping", self._next_id(), timeout=self.action_timeout)

        def answered(_: AMIMessage) -> None:
            if protocol is self._protocol:
                self._schedule_ping()

        def unanswered(failure: Failure) -> None:
            if protocol is self._protocol:
                protocol.abort(f"no answer to Ping: {failure.getErrorMessage()}")

        d.addCallbacks(answered, unanswered)

    # -- events -----------------------------------------------------------------------------

    def _dispatch(self, message: AMIMessage) -> None:
        name = (message.event or "").lower()
        for handler in [*self._handlers.get(name, ()), *self._handlers.get("*", ())]:
            self._call(handler, message)

    def _call(self, handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            self.log.failure("AMI {server}: a handler failed", server=self.server)
