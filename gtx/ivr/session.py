"""One IVR session: start or resume, the step loop, and how a session ends.

A session ends in one of these statuses (``SessionOutcome.status``; the first five are also
written to ``GTX_STATUS``):

- ``DONE``   the service ended it (no ``next``, a ``hangup`` or ``transfer`` action);
- ``ERROR``  the service failed or broke the contract (``GTX_ERROR`` says why); the caller hears
  the app's fallback prompts;
- ``HANGUP`` the caller hung up; the app's ``hangup_method`` is called once;
- ``HANDOFF`` a ``transfer`` with ``handoff`` left the call to a dialplan location with the
  state of the next step on the channel: the next session started on it continues there;
- ``LOST``   the connection to Asterisk was lost: nothing can be written, the dialplan sees
  ``GTX_STATUS=RUNNING`` and resumes the session on another node;
- ``REFUSED`` the engine is shutting down and did not touch the channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.channel import Channel, ChannelError, ChannelGone, ChannelHangup
from gtx.ivr.actions import RunContext, ValidationContext
from gtx.ivr.actions.calls import DialplanHandOff
from gtx.ivr.app import DEFAULT_FALLBACK, CallbackScheduler, IvrApp, SessionRecorder, WebService
from gtx.ivr.errors import (
    InternalError,
    InvalidResponse,
    SessionError,
    TooManySteps,
    UnknownApp,
    WebServiceFault,
    WebServiceTimeout,
    WebServiceUnreachable,
)
from gtx.ivr.handoff import hand_off, handed_over_state
from gtx.ivr.response import parse_response
from gtx.ivr.state import (
    DONE,
    ERROR,
    HANDOFF,
    HANGUP,
    MAX_VALUE_BYTES,
    READY,
    RUNNING,
    ChannelState,
    SessionState,
    StateError,
    Target,
    encode,
    load,
    parse_struct,
    start_values,
    weight,
)
from gtx.ivr.step import RESULT_HANGUP, RESULT_RESUMED, build_request, run_actions
from gtx.metrics import Metrics
from gtx.xmlrpc.errors import (
    CallTimeout,
    CodecError,
    ConnectFailed,
    Fault,
    HTTPStatusError,
    XMLRPCError,
)

#: The app name of ``agi://HOST/ivr?url=…&method=…`` requests.
URL_APP: Final = "ivr"
#: Extra seconds gtx waits beyond an app's timeout before giving up on a web-service client
#: that failed to enforce the timeout itself: the engine never waits without a bound.
TIMEOUT_GUARD: Final = 1.0
LOST: Final = "LOST"
REFUSED: Final = "REFUSED"


@dataclass(frozen=True)
class SessionOutcome:
    """How a session ended."""

    status: str  # DONE, ERROR, HANGUP, HANDOFF, LOST or REFUSED
    session: str = ""
    app: str = ""
    steps: int = 0  # web-service steps run (the final hang-up call is not a step)
    error: str | None = None  # "<kind>: <message>" when status is ERROR


@dataclass(frozen=True)
class EngineSettings:
    """What every session of an engine shares."""

    clock: IReactorTime
    webservice: WebService
    apps: Mapping[str, IvrApp]
    url_app_defaults: IvrApp | None
    node: str
    metrics: Metrics
    new_session_id: Callable[[], str]
    log: Logger = field(default_factory=lambda: Logger(namespace="gtx.ivr"))
    callbacks: CallbackScheduler | None = None  # the `callback` action's dialer, if any
    recorder: SessionRecorder | None = None  # the `record_*` actions' recorder, if any


def url_app(defaults: IvrApp, query: Mapping[str, str], fallback: Target | None = None) -> IvrApp:
    """The app of an ``ivr?url=…&method=…`` request, from the ``[ivr]`` defaults."""
    url = query.get("url") or (fallback.url if fallback else "")
    method = query.get("method") or (fallback.method if fallback else "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not method:
        raise UnknownApp("ivr?url=…&method=… needs an http(s) url and a method, got "
                         f"url={url[:200]!r} method={method[:100]!r}")
    return replace(defaults, name=URL_APP, url=url, method=method,
                   hangup_method=query.get("hangup_method") or defaults.hangup_method)


class Session:
    """Drives one channel through the steps of one IVR session."""

    def __init__(self, settings: EngineSettings, channel: Channel) -> None:
        self.settings = settings
        self.channel = channel
        self.store = ChannelState(channel)
        self.log = settings.log
        self.id = "-"
        self.app: IvrApp | None = None
        self.state: SessionState | None = None
        self.steps = 0
        self.last_result: dict[str, object] = {}

    def _info(self, fmt: str, **kwargs: object) -> None:
        self.log.info("[{session}] " + fmt, session=self.id, **kwargs)

    async def run(self) -> SessionOutcome:
        """Run the session to its end; never raises."""
        try:
            state = await self._start()
            return await self._steps(state)
        except ChannelGone as e:
            self.log.warn("[{session}] connection to Asterisk lost: {why}; the session stays "
                          "RUNNING on the channel for failover", session=self.id, why=str(e))
            return self._outcome(LOST)
        except ChannelHangup:
            return await self._hung_up(self.last_result)
        except SessionError as e:
            return await self._fail(e)
        except Exception:
            self.log.failure("[{session}] internal error", Failure(), session=self.id)
            return await self._fail(InternalError("unexpected error in gtx (see its log)"))

    # -- start ---------------------------------------------------------------------------

    def _resolve(self, name: str, fallback: Target | None = None) -> IvrApp:
        settings = self.settings
        if name in settings.apps:
            return settings.apps[name]
        if name == URL_APP and settings.url_app_defaults is not None:
            return url_app(settings.url_app_defaults, self.channel.info.query, fallback)
        configured = ", ".join(sorted(settings.apps)) or "none"
        raise UnknownApp(f"no app named {name!r} is configured (configured: {configured})")

    def _url_for(self, name: str) -> str | None:
        if name in self.settings.apps:
            return self.settings.apps[name].url
        return self.channel.info.query.get("url") if name == URL_APP else None

    async def _start(self) -> SessionState:
        info = self.channel.info
        status = await self.store.status()
        values = None
        if status in (RUNNING, HANDOFF):
            values = await self.store.read()
        elif status is None:
            values = await handed_over_state(self.channel, self.store)
        if values is not None:
            return await self._continue(status, values)
        self.app = self._resolve(info.script)
        state = SessionState(
            session=self.settings.new_session_id(),
            app=self.app.name,
            step=1,
            next=Target(self.app.url, self.app.method),
        )
        if status == READY:
            # A session prepared on the channel (by the dialer): it starts with those vars.
            prepared = await self.channel.get_variable("GTX_VARS")
            try:
                state.vars = parse_struct("GTX_VARS", prepared)
            except StateError as e:
                raise InternalError(f"cannot start the prepared session: {e}") from None
            self.store.assume("GTX_VARS", prepared or "{}")
        self.id = state.session
        self._info("session started: app {app}, channel {channel}, caller {caller}",
                   app=state.app, channel=info.channel, caller=info.caller_number)
        if status is None:
            # A channel that never had a gtx session holds no GTX_* variable, and an unset
            # variable reads as its start value when the session is resumed: only the id, the
            # app and the status need writing before step 1.
            for name, value in start_values(state).items():
                self.store.assume(name, value)
        await self.store.write("GTX_ERROR", "")
        await self.store.save(state)
        return state

    async def _continue(self, status: str | None, values: dict[str, str | None]) -> SessionState:
        """Pick up the session whose state ``values`` the channel holds: a failover (RUNNING)
        re-runs the step that was running; a hand-off (HANDOFF) or a hand-over from another
        server (no status) runs the next one."""
        info = self.channel.info
        if values.get("GTX_NEXT") is None and (values.get("GTX_STEP") or "1").strip() == "1":
            # A session that ended before its first step completed: start values.
            app = self._resolve((values.get("GTX_APP") or "").strip() or info.script)
            values = {**values, "GTX_NEXT": Target(app.url, app.method).to_json()}
        try:
            state = load(values, default_app=info.script, url_for=self._url_for)
        except StateError as e:
            raise InternalError(f"cannot resume the session on the channel: {e}") from None
        state.resumed = status == RUNNING
        self.id = state.session
        self.app = self._resolve(state.app, state.next)
        if status in (RUNNING, HANDOFF):  # read from the channel's own variables
            for name, value in values.items():
                if value is not None:
                    self.store.assume(name, value)
        if status == RUNNING:
            self.store.assume("GTX_STATUS", RUNNING)
        self._info("session {how} at step {step}: app {app}, channel {channel}",
                   how="resumed" if state.resumed else "handed over", step=state.step,
                   app=state.app, channel=info.channel)
        await self.store.save(state)
        return state

    # -- steps ---------------------------------------------------------------------------

    async def _steps(self, state: SessionState) -> SessionOutcome:
        self.state = state
        settings = self.settings
        result = dict(state.result)
        if state.resumed:
            result["status"] = RESULT_RESUMED
        while True:
            app = self._current_app()
            self.last_result = result
            if self.channel.hung_up:
                return await self._hung_up(result)
            if state.step > app.max_steps:
                raise TooManySteps(f"step {state.step} is over the limit of {app.max_steps} "
                                   f"steps of app {app.name!r}")
            request = build_request(self.channel.info, state, node=settings.node, result=result)
            self._info("step {step} -> {method} at {url}", step=state.step,
                       method=state.next.method, url=state.next.url)
            answer = await self._call(app, state.next, request, retries=app.retries)
            ctx = ValidationContext(step=state.step, app=app, url=state.next.url,
                                    apps=settings.apps)
            response = parse_response(answer, ctx)
            settings.metrics.steps.labels(app=app.name).inc()
            self.steps += 1
            merged = {**state.vars, **response.vars}
            size = weight(encode(merged))
            if size > MAX_VALUE_BYTES:
                raise InvalidResponse(
                    f"step {state.step}: vars: the session variables take {size} bytes on the "
                    f"channel (as JSON, quotes counted twice), over the limit of "
                    f"{MAX_VALUE_BYTES}"
                )
            state.vars = merged
            outcome = await run_actions(
                response.actions, self.channel,
                RunContext(state.session, state.step, app, settings.clock, settings.callbacks,
                           settings.recorder),
            )
            result = outcome.result()
            self.last_result = result
            state.result, state.step, state.resumed = result, state.step + 1, False
            if outcome.hung_up:
                return await self._hung_up(result)
            handed_off = isinstance(outcome.end, DialplanHandOff)
            if outcome.end is not None and not handed_off:
                return await self._done(outcome.end.hangup, outcome.end.cause)
            target = outcome.goto or response.next
            if target is None:
                return await self._done(response.end == "hangup")
            if target.app is not None:
                self.app = settings.apps[target.app]
                state.app = target.app
            state.next = target
            if handed_off:
                # The call goes on at the transfer's location with the next step's state.
                await self.store.save(state, status=HANDOFF)
                self._info("session handed to the dialplan at step {step}", step=state.step)
                return self._outcome(HANDOFF)
            if outcome.handoff is not None and await hand_off(
                self.channel, self.store, state, outcome.handoff, outcome.actions[-1]
            ):
                self._info("session handed over to {destination}",
                           destination=outcome.handoff.destination)
                return await self._done(hangup=True)
            await self.store.save(state)

    def _current_app(self) -> IvrApp:
        if self.app is None:  # pragma: no cover - _start always sets it
            raise InternalError("no app")
        return self.app

    async def _call(self, app: IvrApp, target: Target, request: dict[str, object],
                    retries: int) -> object:
        """Call the web service; retry only when the connection failed."""
        clock = self.settings.clock
        where = f"{target.method} at {target.url}"
        attempt = 0
        while True:
            started = clock.seconds()
            try:
                answer = await self._bounded(
                    self.settings.webservice.call(
                        target.url, target.method, [request], timeout=app.timeout,
                        secret=app.secret,
                    ),
                    app.timeout, target,
                )
            except ConnectFailed as e:
                if attempt < retries:
                    attempt += 1
                    self._info("{where}: {why}; retry {attempt} of {retries} in {delay:g} s",
                               where=where, why=str(e), attempt=attempt, retries=retries,
                               delay=app.retry_delay)
                    await deferLater(clock, app.retry_delay)
                    continue
                why = str(e).removeprefix(f"{where}: ")  # the client names the call too
                raise WebServiceUnreachable(
                    f"{where}: {why} ({attempt + 1} attempt{'s' if attempt else ''})"
                ) from None
            except CallTimeout:
                raise WebServiceTimeout(f"{where}: no answer within {app.timeout:g} s") from None
            except (Fault, HTTPStatusError) as e:
                self._observe(app, started)
                raise WebServiceFault(f"{where}: {e}") from None
            except CodecError as e:
                raise InvalidResponse(f"step {request['step']}: the answer of {where} is not "
                                      f"acceptable XML-RPC: {e}") from None
            except XMLRPCError as e:
                raise WebServiceUnreachable(f"{where}: {e}") from None
            self._observe(app, started)
            return answer

    def _observe(self, app: IvrApp, started: float) -> None:
        elapsed = max(0.0, self.settings.clock.seconds() - started)
        self.settings.metrics.webservice_latency.labels(app=app.name).observe(elapsed)

    def _bounded(self, d: Deferred[object], timeout: float, target: Target) -> Deferred[object]:
        def timed_out(result: object, seconds: float) -> object:
            return Failure(CallTimeout(target.url, target.method, timeout))

        return d.addTimeout(timeout + TIMEOUT_GUARD, self.settings.clock,
                            onTimeoutCancel=timed_out)

    # -- endings ---------------------------------------------------------------------------

    def _outcome(self, status: str, error: str | None = None) -> SessionOutcome:
        app = self.app.name if self.app is not None else self.channel.info.script
        self._info("session ended: {status} after {steps} steps{error}", status=status,
                   steps=self.steps, error=f" ({error})" if error else "")
        self.settings.metrics.sessions.labels(app=app, status=status).inc()
        return SessionOutcome(status=status, session="" if self.id == "-" else self.id,
                              app=app, steps=self.steps, error=error)

    async def _done(self, hangup: bool, cause: int | None = None) -> SessionOutcome:
        await self.store.finish(DONE)
        if hangup:
            with contextlib.suppress(ChannelError):  # already gone: nothing left to do
                await self.channel.hangup(cause)
        return self._outcome(DONE)

    async def _hung_up(self, result: dict[str, object]) -> SessionOutcome:
        self._info("caller hung up")
        try:
            await self.store.finish(HANGUP)
        except ChannelError as e:
            self.log.warn("[{session}] cannot write GTX_STATUS=HANGUP: {why}", session=self.id,
                          why=str(e))
        app, state = self.app, self.state
        if app is not None and state is not None and app.hangup_method:
            request = build_request(self.channel.info, state, node=self.settings.node,
                                    result={**result, "status": RESULT_HANGUP})
            target = Target(app.url, app.hangup_method)
            try:
                await self._call(app, target, request, retries=0)
            except SessionError as e:
                self.settings.metrics.errors.labels(kind=e.kind).inc()
                self.log.warn("[{session}] hang-up call failed: {why}", session=self.id,
                              why=e.channel_value)
            except Exception:
                self.log.failure("[{session}] hang-up call failed", Failure(), session=self.id)
        return self._outcome(HANGUP)

    async def _fail(self, error: SessionError) -> SessionOutcome:
        value = error.channel_value
        self.settings.metrics.errors.labels(kind=error.kind).inc()
        self.log.error("[{session}] {error}", session=self.id, error=value)
        app = self.app or self.settings.url_app_defaults
        fallback = app.fallback if app is not None else DEFAULT_FALLBACK
        on_error = app.on_error if app is not None else "hangup"
        try:
            # Written first: a node that dies during the fallback must not resume the session.
            await self.store.finish(ERROR, value)
            if not self.channel.hung_up:
                for file in fallback:
                    await self.channel.stream(file, "")
                if on_error == "hangup":
                    await self.channel.hangup()
        except ChannelError as e:
            self.log.info("[{session}] after the error: {why}", session=self.id, why=str(e))
        return self._outcome(ERROR, value)
