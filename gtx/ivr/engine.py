"""The IVR engine: runs one session per channel handed to it, and shuts down gracefully."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from uuid import uuid4

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.channel import Channel
from gtx.ivr.app import (
    CallbackScheduler,
    IvrApp,
    SessionChannel,
    SessionRecorder,
    WebService,
)
from gtx.ivr.session import REFUSED, EngineSettings, Session, SessionOutcome
from gtx.metrics import Metrics


def _new_session_id() -> str:
    return uuid4().hex


class IvrEngine:
    """Runs IVR sessions: :meth:`run` is called once per channel (per FastAGI connection).

    ``apps`` are the ``[ivr:NAME]`` sections of gtx.ini by name; ``url_app_defaults`` is the
    template for ``ivr?url=…&method=…`` requests (its ``url`` and ``method`` are replaced by the
    query's), or None to refuse them. ``clock`` times every wait. ``callbacks`` places the calls
    of the ``callback`` action (the dialer); without it that action fails. ``recorder`` runs the
    ``record_start``/``record_stop``/``record_pause``/``record_resume`` actions; without it they
    fail.

    The engine is also a :class:`gtx.ivr.app.SessionChannels`: :meth:`channel_of` finds the
    channel of a session running here (sessions on other nodes are not known here).
    """

    def __init__(
        self,
        *,
        clock: IReactorTime,
        webservice: WebService,
        apps: Mapping[str, IvrApp],
        url_app_defaults: IvrApp | None,
        node: str,
        metrics: Metrics,
        new_session_id: Callable[[], str] = _new_session_id,
        log: Logger | None = None,
        callbacks: CallbackScheduler | None = None,
        recorder: SessionRecorder | None = None,
    ) -> None:
        self.clock = clock
        self.metrics = metrics
        self.log = log if log is not None else Logger(namespace="gtx.ivr")
        self.settings = EngineSettings(
            clock=clock,
            webservice=webservice,
            apps=dict(apps),
            url_app_defaults=url_app_defaults,
            node=node,
            metrics=metrics,
            new_session_id=new_session_id,
            log=self.log,
            callbacks=callbacks,
            recorder=recorder,
        )
        self._sessions: set[Session] = set()
        self._active = 0
        self._accepting = True
        self._drains: list[tuple[Deferred[bool], IDelayedCall]] = []

    @property
    def active(self) -> int:
        """Sessions running now."""
        return self._active

    @property
    def accepting(self) -> bool:
        """False once :meth:`stop_accepting` (or :meth:`drain`) was called."""
        return self._accepting

    def run(self, channel: Channel) -> Deferred[SessionOutcome]:
        """Run a session on ``channel`` until it ends; the Deferred never fails.

        Once the engine stops accepting, the channel is not touched at all (no command is
        sent, GTX_STATUS keeps its value) and the outcome is ``REFUSED``: the connection should
        be closed so that the dialplan runs the AGI on another node.
        """
        if not self._accepting:
            app = channel.info.script
            self.log.info("[-] refused a session for app {app} on {channel}: shutting down",
                          app=app, channel=channel.info.channel)
            self.metrics.sessions.labels(app=app, status=REFUSED).inc()
            return succeed(SessionOutcome(status=REFUSED, app=app))
        self._active += 1
        self.metrics.active_sessions.inc()
        session = Session(self.settings, channel)
        self._sessions.add(session)
        d = Deferred.fromCoroutine(session.run())
        d.addErrback(self._last_resort, channel)
        d.addBoth(self._ended, session)
        return d

    def channel_of(self, session: str) -> SessionChannel | None:
        """The channel of the session ``session`` if it runs on this node, else None."""
        for running in self._sessions:
            if running.id == session:
                info = running.channel.info
                return SessionChannel(session=session, channel=info.channel,
                                      uniqueid=info.uniqueid, asterisk=info.asterisk)
        return None

    def _last_resort(self, failure: Failure, channel: Channel) -> SessionOutcome:
        # Session.run catches everything; this only guards against a bug in that guard.
        self.log.failure("[-] session on {channel} failed", failure, channel=channel.info.channel)
        return SessionOutcome(status="ERROR", app=channel.info.script,
                              error="internal: unexpected error in gtx")

    def _ended(self, outcome: SessionOutcome, session: Session) -> SessionOutcome:
        self._sessions.discard(session)
        self._active -= 1
        self.metrics.active_sessions.dec()
        if self._active == 0:
            drains, self._drains = self._drains, []
            for d, timer in drains:
                timer.cancel()
                d.callback(True)
        return outcome

    def stop_accepting(self) -> None:
        """Refuse new sessions from now on (sessions running now go on)."""
        if self._accepting:
            self.log.info("[-] no longer accepting IVR sessions ({active} running)",
                          active=self._active)
        self._accepting = False

    def drain(self, timeout: float) -> Deferred[bool]:
        """Stop accepting, then fire True once no session runs, or False after ``timeout``
        seconds with sessions still running (they are then left to end with the process; their
        state on the channel lets another node resume them)."""
        self.stop_accepting()
        if self._active == 0:
            return succeed(True)
        d: Deferred[bool] = Deferred()

        def expire() -> None:
            self._drains = [(w, t) for w, t in self._drains if w is not d]
            self.log.warn("[-] {active} IVR sessions still running after {timeout:g} s",
                          active=self._active, timeout=timeout)
            d.callback(False)

        self._drains.append((d, self.clock.callLater(timeout, expire)))
        return d
