"""One IVR session run over either backend, FastAGI or ARI, with the same inputs and a
:class:`CallResult` of the same shape.

What both share (per test): one ``task.Clock``; the scripted web service
(:class:`tests.ivr.fakes.FakeWebService`); an :class:`~gtx.ivr.engine.IvrEngine` with the apps
``menu`` and ``sales``, a :class:`FakeScheduler` (``callback``) and a :class:`FakeRecorder`
(``record_start`` …); an :class:`~gtx.testing.pbx.EmulatedAsterisk` on that clock (sounds, dial
destinations, queues).

- FastAGI: the engine behind a :class:`~gtx.asterisk.agi_server.FastAGIFactory`; the emulated
  call runs ``AGI(agi://…/menu,ARGS)`` in memory (:func:`gtx.testing.connect_in_memory`), and
  the Clock moves to its next delayed call until the call and the session are over.
- ARI: an :class:`~gtx.testing.EmulatedARIServer` over the same emulated Asterisk, the real
  :class:`~gtx.asterisk.ari_link.ARIClient` connected to it over loopback, a
  :class:`~gtx.asterisk.ari_stasis.StasisRunner`; the call runs ``Stasis(gtx,menu,ARGS)``,
  driven by :func:`gtx.testing.run_until`. After every call nothing may be left watched on the
  link, and every request gtx made must be declared by ARI's listings.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import Clock

from gtx.asterisk.agi_server import FastAGIFactory
from gtx.asterisk.ari_link import ARIClient
from gtx.asterisk.ari_stasis import StasisRunner
from gtx.channel import Channel
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from gtx.testing import (
    ARICallRecord,
    CallRecord,
    CallSpec,
    DialDestination,
    EmulatedARIServer,
    EmulatedAsterisk,
    QueueBehaviour,
    ScriptedCaller,
    check_against_listings,
    connect_in_memory,
    run_until,
)
from tests.ivr.fakes import FakeRecorder, FakeScheduler, FakeWebService

URL = "http://ws.example/RPC2"
BACKENDS = ("fastagi", "ari")
#: The call every test places unless it says otherwise: Alice calls extension 100, whose
#: dialplan answers and hands the call to gtx at priority 2.
CALL: Mapping[str, Any] = {
    "channel": "PJSIP/alice-00000001", "uniqueid": "1795304604.1", "caller_number": "5551234",
    "caller_name": "Alice", "dnid": "100", "context": "gtx", "extension": "100",
    "priority": 2,
}


def make_app(name: str, record_dir: str, **changes: Any) -> IvrApp:
    """An app of the suite: its web service at URL, methods ``NAME.start``/``NAME.hangup``."""
    settings: dict[str, Any] = {
        "url": URL, "method": f"{name}.start", "hangup_method": f"{name}.hangup",
        "record_dir": record_dir,
        "exec_allowed": frozenset({"Playback", "SendDTMF", "NoSuchApp"}),
    }
    settings.update(changes)
    return IvrApp(name=name, **settings)


@dataclass
class CallResult:
    """What one call did, the same on both backends.

    ``heard`` is what the caller heard, as sound files in order (``say`` included, spelt as
    Asterisk says it: ``digits/4`` …); ``location`` is where the dialplan goes on once gtx lets
    the call go, ``(context, extension, priority)`` of the next priority to run (None when the
    call was hung up); ``hung_up_by`` is ``"caller"``, ``"gtx"`` or None; ``dialled`` the dial
    targets rung; ``applications`` the dialplan applications run for ``exec``, ``queue`` and
    ``conference`` as ``(name in lower case, data)``.
    """

    backend: str
    requests: list[dict[str, Any]]
    methods: list[str]
    heard: list[str]
    variables: dict[str, str]
    dtmf_sent: str
    location: tuple[str, str, int] | None
    hung_up_by: str | None
    dialled: list[str]
    applications: list[tuple[str, str]]
    outcomes: list[SessionOutcome]
    record: CallRecord | ARICallRecord
    answered: bool  # gtx answered the channel
    hangup_cause: int | None  # the cause the channel ended with (None: it did not hang up)
    at: list[float]  # when each request was made, in seconds from the start of the call
    started: float  # when the call started on the Clock

    @property
    def outcome(self) -> SessionOutcome:
        """The outcome of the (only) session of the call."""
        (outcome,) = self.outcomes
        return outcome

    @property
    def last(self) -> dict[str, Any]:
        """The last web-service request."""
        return self.requests[-1]

    def result(self, step: int) -> dict[str, Any]:
        """``result`` of the request of ``step`` (the outcome of step ``step - 1``)."""
        found = [r for r in self.requests if r["step"] == step]
        assert found, f"no request for step {step}: {self.methods}"
        return found[-1]["result"]  # type: ignore[no-any-return]

    def action(self, step: int, index: int = 0) -> dict[str, Any]:
        """Step ``step``'s ``index``-th action entry, as the next request reports it."""
        return self.result(step + 1)["actions"][index]  # type: ignore[no-any-return]


class TimedWebService(FakeWebService):
    """The scripted web service, noting on the Clock when each request came."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.times: list[float] = []

    def call(self, url: str, method: str, params: Any, *, timeout: float,
             secret: str | None = None) -> Deferred[object]:
        self.times.append(self.clock.seconds())
        return super().call(url, method, params, timeout=timeout, secret=secret)


@dataclass
class Shared:
    """What both backends share in one test (see the module docstring)."""

    clock: Clock
    asterisk: EmulatedAsterisk
    ws: TimedWebService
    record_dir: Path
    apps: dict[str, IvrApp] = field(default_factory=dict)
    callbacks: FakeScheduler = field(default_factory=FakeScheduler)
    recorder: FakeRecorder = field(default_factory=FakeRecorder)
    outcomes: list[SessionOutcome] = field(default_factory=list)
    running: list[Deferred[None]] = field(default_factory=list)
    node: str = "gtx1"
    _engine: IvrEngine | None = None
    _ids: Any = field(default_factory=lambda: (f"s{n}" for n in itertools.count(1)))

    @property
    def engine(self) -> IvrEngine:
        """The engine, built on first use (so a test may change the apps before)."""
        if self._engine is None:
            self._engine = IvrEngine(
                clock=self.clock, webservice=self.ws, apps=self.apps,
                url_app_defaults=make_app("ivr", str(self.record_dir), url="", method=""),
                node=self.node, metrics=Metrics(), new_session_id=lambda: next(self._ids),
                callbacks=self.callbacks, recorder=self.recorder)
        return self._engine

    def run_session(self, channel: Channel) -> Deferred[SessionOutcome]:
        """``engine.run``, keeping every outcome and knowing which sessions still run."""
        ended: Deferred[None] = Deferred()
        self.running.append(ended)

        def keep(outcome: SessionOutcome) -> SessionOutcome:
            self.outcomes.append(outcome)
            ended.callback(None)
            return outcome

        return self.engine.run(channel).addCallback(keep)

    def idle(self) -> Deferred[Any]:
        """Fires once every session started so far has ended."""
        return DeferredList([d for d in self.running if not d.called])


class RunnerEngine:
    """The engine as the StasisRunner sees it, keeping outcomes through :class:`Shared`."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    @property
    def accepting(self) -> bool:
        return self.shared.engine.accepting

    def run(self, channel: Channel) -> Deferred[SessionOutcome]:
        return self.shared.run_session(channel)


class Backend:
    """One backend under test: :meth:`call` places a call and returns its :class:`CallResult`.

    Tests set the scene through ``ws`` (:meth:`answer`), ``asterisk`` (sounds, destinations,
    queues) and ``apps`` before the first call.
    """

    name = ""

    def __init__(self, tmp_path: Path, shared: Shared | None = None) -> None:
        if shared is None:
            clock = Clock()
            record_dir = tmp_path / "recordings"
            record_dir.mkdir(parents=True, exist_ok=True)
            shared = Shared(clock=clock, asterisk=EmulatedAsterisk(clock),
                            ws=TimedWebService(clock), record_dir=record_dir)
            shared.apps.update(menu=make_app("menu", str(record_dir)),
                               sales=make_app("sales", str(record_dir)))
        self.shared = shared

    # -- the scene --------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.shared.clock

    @property
    def asterisk(self) -> EmulatedAsterisk:
        return self.shared.asterisk

    @property
    def ws(self) -> TimedWebService:
        return self.shared.ws

    @property
    def apps(self) -> dict[str, IvrApp]:
        return self.shared.apps

    @property
    def recorder(self) -> FakeRecorder:
        return self.shared.recorder

    @property
    def callbacks(self) -> FakeScheduler:
        return self.shared.callbacks

    @property
    def record_dir(self) -> Path:
        return self.shared.record_dir

    def answer(self, method: str, *answers: Any) -> None:
        """The web service answers ``method`` with these, in order (the last one repeats)."""
        self.ws.answers[method] = list(answers)

    def steps(self, *steps: Mapping[str, Any]) -> None:
        """A session of ``len(steps)`` steps: ``menu.start``, then ``step2``, ``step3`` …; each
        step's answer gets the ``next`` of the following one (the last keeps its own)."""
        methods = ["menu.start"] + [f"step{n}" for n in range(2, len(steps) + 1)]
        for n, (method, step) in enumerate(zip(methods, steps, strict=True)):
            answer = dict(step)
            if n + 1 < len(methods):
                answer.setdefault("next", methods[n + 1])
            self.answer(method, answer)
        self.ws.answers.setdefault("menu.hangup", [{}])

    def destination(self, target: str, behaviour: DialDestination) -> None:
        self.asterisk.destinations[target] = behaviour

    def queue(self, name: str, behaviour: QueueBehaviour) -> None:
        self.asterisk.queues[name] = behaviour

    # -- calls ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bring the backend up (before the first call)."""

    async def stop(self) -> None:
        """Take it down, checking nothing leaked."""

    async def call(self, caller: str | None = None, *, app: str = "menu",
                   args: tuple[str, ...] = (), **spec: Any) -> CallResult:
        """A call entering gtx for ``app`` with ``args``; the caller acts as ``caller`` (a
        caller script, see :mod:`gtx.testing.caller`) says. Returns once the call is over in
        the emulated Asterisk and every session has ended."""
        raise NotImplementedError

    def _result(self, record: CallRecord | ARICallRecord, outcomes: list[SessionOutcome],
                requests_before: int, started: float, **normalised: Any) -> CallResult:
        calls = self.ws.calls[requests_before:]
        return CallResult(
            backend=self.name, requests=[c.request for c in calls],
            methods=[c.method for c in calls], heard=list(record.played),
            variables=dict(record.variables), dtmf_sent=record.dtmf_sent,
            outcomes=outcomes, record=record,
            at=[t - started for t in self.ws.times[requests_before:]], started=started,
            **normalised)


class FastAGIBackend(Backend):
    """The FastAGI backend (see the module docstring)."""

    name = "fastagi"

    def __init__(self, tmp_path: Path, shared: Shared | None = None) -> None:
        super().__init__(tmp_path, shared)
        self.factory = FastAGIFactory(self.shared.run_session, clock=self.clock,
                                      asterisk_name_for=lambda host: "pbx1")

    async def call(self, caller: str | None = None, *, app: str = "menu",
                   args: tuple[str, ...] = (), **spec: Any) -> CallResult:
        call_spec = CallSpec(**{**CALL, "request": f"agi://127.0.0.1:4573/{app}",
                                "args": args, **spec})
        before, outcomes_before = len(self.ws.calls), len(self.shared.outcomes)
        started = self.clock.seconds()
        script = ScriptedCaller.parse(caller) if caller else None
        d = connect_in_memory(self.factory, call_spec, script, asterisk=self.asterisk)
        record = self._drive(d)
        self._drive(self.shared.idle())
        commands = record.commands
        hung_up_by = None
        if record.hung_up:
            by_gtx = any(c.split()[:1] == ["HANGUP"] or c.startswith("EXEC Hangup")
                         for c in commands)
            hung_up_by = "gtx" if by_gtx else "caller"
        cause = record.variables.get("HANGUPCAUSE")
        return self._result(
            record, self.shared.outcomes[outcomes_before:], before, started,
            location=None if record.hung_up else record.continues_at,
            hung_up_by=hung_up_by, answered="ANSWER" in commands,
            hangup_cause=int(cause) if record.hung_up and cause else None,
            dialled=[t for dial in record.dials for t in dial["targets"]],  # type: ignore[attr-defined]
            applications=[_exec_of(c) for c in commands if c.startswith("EXEC ")
                          and _exec_of(c)[0] not in OWN_APPLICATIONS])

    def _drive(self, d: Deferred[Any]) -> Any:
        """Move the Clock to its next delayed call until ``d`` fires (all in memory)."""
        outcome: list[Any] = []
        d.addBoth(outcome.append)
        for _ in range(100_000):
            if outcome:
                break
            calls = self.clock.getDelayedCalls()
            assert calls, "the call is stuck: nothing left to happen on the Clock"
            due = min(c.getTime() for c in calls)
            self.clock.advance(max(due - self.clock.seconds(), 0.0))
        else:
            raise AssertionError("the call never ended")
        if hasattr(outcome[0], "raiseException"):
            outcome[0].raiseException()
        return outcome[0]


#: Applications the FastAGI adapter EXECs for actions ARI runs natively (dial, wait, moh, dtmf,
#: hangup with a cause): not among :attr:`CallResult.applications`.
OWN_APPLICATIONS = frozenset({"dial", "wait", "musiconhold", "senddtmf", "hangup"})


def _exec_of(command: str) -> tuple[str, str]:
    """``EXEC Queue "sales,,,,30"`` → ("queue", "sales,,,,30")."""
    _, app, *rest = command.split(" ", 2)
    data = rest[0] if rest else ""
    if len(data) >= 2 and data[0] == data[-1] == '"':
        data = data[1:-1]
    return app.lower(), data


class ARIBackend(Backend):
    """The ARI backend (see the module docstring)."""

    name = "ari"

    def __init__(self, tmp_path: Path, shared: Shared | None = None) -> None:
        super().__init__(tmp_path, shared)
        self.server = EmulatedARIServer(self.asterisk, recording_dir=self.record_dir)
        self.link: ARIClient | None = None
        self.runner: StasisRunner | None = None
        self._uniqueids = (f"1795304604.{n}" for n in itertools.count(1))

    async def start(self) -> None:
        from twisted.internet import reactor  # the asyncio one, installed once pytest started

        await self.server.start()
        self.link = ARIClient(name="pbx1", url=self.server.url, user="gtx",
                              password="gtxsecret", clock=self.clock,
                              retry_policy=lambda attempt: 0.0)
        counter = itertools.count(1)
        self.runner = StasisRunner(self.link, RunnerEngine(self.shared), self.clock,
                                   recording_dir=str(self.record_dir),
                                   ids=lambda kind: f"gtx-{kind}-{next(counter)}")
        self.runner.start()
        ready: Deferred[None] = Deferred()
        stop_waiting: Callable[[], None] = self.link.on_ready(
            lambda: None if ready.called else ready.callback(None))
        self.link.startService()
        try:
            await ready.addTimeout(10, reactor)
        finally:
            stop_waiting()

    async def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.link is not None:
            await self.link.stopService()
        await self.server.stop()
        problems = check_against_listings(self.server.requests)
        assert problems == [], problems

    def run(self, d: Deferred[Any]) -> Deferred[Any]:
        """Drive the loopback system and the Clock until ``d`` fires."""
        from twisted.internet import reactor

        assert self.link is not None, "the ARI backend is not started"
        return run_until(d, clock=self.clock, reactor=reactor, server=self.server,
                         links=[self.link])

    async def call(self, caller: str | None = None, *, app: str = "menu",
                   args: tuple[str, ...] = (), **spec: Any) -> CallResult:
        assert self.link is not None
        assert self.runner is not None
        call_spec = CallSpec(**{**CALL, **spec})
        if "uniqueid" not in spec:  # ARI channel ids must be unique in the server
            call_spec = CallSpec(**{**CALL, **spec, "uniqueid": next(self._uniqueids)})
        before, outcomes_before = len(self.ws.calls), len(self.shared.outcomes)
        requests_before = len(self.server.requests)
        started = self.clock.seconds()
        record: ARICallRecord = await self.run(
            self.server.stasis_call(call_spec, caller, args=(app, *args)))
        await self.run(self.shared.idle())
        # Nothing of the call may stay watched on the link, nor driven by the runner.
        assert self.link.events.watched == 0, "the call left watchers on the ARI link"
        assert self.runner.active == 0
        requests = self.server.requests[requests_before:]
        hung_up_by = {"caller": "caller", "ari": "gtx"}.get(record.hangup_source)
        location = record.continued_at if record.hangup_source == "dialplan" else None
        return self._result(
            record, self.shared.outcomes[outcomes_before:], before, started,
            location=location, hung_up_by=hung_up_by,
            answered=any(r.operation == "channels.answer" for r in requests),
            hangup_cause=record.hangup_cause if location is None else None,
            dialled=[str(r.params.get("endpoint")) for r in requests
                     if r.operation == "channels.originate"
                     and r.params.get("appArgs") == "gtx-dial"],
            applications=[(app_name.lower(), data) for app_name, data, _ in record.exec_runs])


def backend_for(name: str, tmp_path: Path, shared: Shared | None = None) -> Backend:
    """A new backend of that name (sharing the clock, web service, engine and emulated
    Asterisk of ``shared``, when given)."""
    backends: dict[str, type[Backend]] = {"fastagi": FastAGIBackend, "ari": ARIBackend}
    return backends[name](tmp_path, shared)
