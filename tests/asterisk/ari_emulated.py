"""The whole ARI IVR path for integration tests: an EmulatedARIServer over an EmulatedAsterisk,
the real ARIClient connected to it over loopback, a StasisRunner and a real IvrEngine with a
scripted web service — all on one task.Clock, driven by ``gtx.testing.run_until``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import Clock

from gtx.asterisk.ari_link import ARIClient
from gtx.asterisk.ari_stasis import StasisRunner
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from gtx.testing import (
    ARICallRecord,
    CallSpec,
    DialDestination,
    EmulatedARIServer,
    EmulatedAsterisk,
    QueueBehaviour,
    check_against_listings,
    run_until,
)
from tests.ivr.fakes import FakeWebService

URL = "http://ws.example/RPC2"


class RecordingEngine(IvrEngine):
    """An IvrEngine that keeps the outcome of every session it ran."""

    outcomes: list[SessionOutcome]
    ended: list[Deferred[None]]

    def run(self, channel: Any) -> Deferred[SessionOutcome]:
        ended: Deferred[None] = Deferred()
        self.ended.append(ended)
        d = super().run(channel)
        d.addCallback(self._keep, ended)
        return d

    def _keep(self, outcome: SessionOutcome, ended: Deferred[None]) -> SessionOutcome:
        self.outcomes.append(outcome)
        ended.callback(None)
        return outcome

    def idle(self) -> Deferred[Any]:
        """Fires once every session started so far has ended."""
        return DeferredList([d for d in self.ended if not d.called])


@dataclass
class Stack:
    """Everything of one test (see the module docstring)."""

    clock: Clock
    asterisk: EmulatedAsterisk
    server: EmulatedARIServer
    link: ARIClient
    ws: FakeWebService
    engine: RecordingEngine
    runner: StasisRunner
    apps: dict[str, IvrApp] = field(default_factory=dict)

    def run(self, d: Deferred[Any]) -> Deferred[Any]:
        return run_until(d, clock=self.clock, reactor=reactor, server=self.server,
                         links=[self.link])

    def answer(self, method: str, *answers: Any) -> None:
        self.ws.answers[method] = list(answers)

    async def call(self, caller: str | None = None, *, args: tuple[str, ...] = ("menu",),
                   **spec: Any) -> ARICallRecord:
        """A call entering Stasis(gtx,ARGS…), driven until its channel is gone and every
        session has ended."""
        call_spec = CallSpec(**{"channel": "PJSIP/alice-00000001", "uniqueid": "1795304604.1",
                                "caller_number": "5551234", "caller_name": "Alice",
                                "context": "gtx", "extension": "menu", "priority": 2,
                                **spec})
        record: ARICallRecord = await self.run(
            self.server.stasis_call(call_spec, caller, args=args))
        await self.run(self.engine.idle())
        return record

    def requests(self) -> list[dict[str, Any]]:
        """The web-service requests, in order."""
        return [call.request for call in self.ws.calls]

    def operations(self) -> list[str]:
        """The REST operations gtx sent, in order."""
        return [request.operation for request in self.server.requests
                if request.operation not in (None, "events.eventWebsocket")]

    async def close(self) -> None:
        self.runner.stop()
        await self.link.stopService()
        await self.server.stop()
        assert self.link.events.watched == 0
        assert check_against_listings(self.server.requests) == []


def make_app(name: str, record_dir: str, **changes: Any) -> IvrApp:
    settings: dict[str, Any] = {
        "url": URL, "method": f"{name}.start", "hangup_method": f"{name}.hangup",
        "record_dir": record_dir, "exec_allowed": frozenset({"Playback", "NoSuchApp"}),
    }
    settings.update(changes)
    return IvrApp(name=name, **settings)


async def stack(tmp_path: Path, *, destinations: Mapping[str, DialDestination] | None = None,
                queues: Mapping[str, QueueBehaviour] | None = None,
                max_connections: int = 20, **server_args: Any) -> Stack:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations=destinations, queues=queues)
    server = EmulatedARIServer(asterisk, recording_dir=tmp_path / "recordings", **server_args)
    await server.start()
    record_dir = str(server.recording_dir)
    ws = FakeWebService(clock)
    apps = {"menu": make_app("menu", record_dir), "sales": make_app("sales", record_dir)}
    ids = iter(f"s{n}" for n in range(1, 1000))
    url_apps = make_app("ivr", record_dir, url="", method="")
    engine = RecordingEngine(clock=clock, webservice=ws, apps=apps, url_app_defaults=url_apps,
                             node="gtx1", metrics=Metrics(), new_session_id=lambda: next(ids))
    engine.outcomes, engine.ended = [], []
    # The link's own network bounds (connect, call timeouts, retries) run in real time: on the
    # shared Clock, run_until would move time on while a reconnection is under way (it counts
    # requests in flight, not connection attempts) and time every attempt out at once.
    link = ARIClient(name="pbx1", url=server.url, user="gtx", password="gtxsecret",
                     clock=reactor, retry_policy=lambda attempt: 0.0,
                     max_connections=max_connections)
    counter = iter(range(1, 100_000))
    runner = StasisRunner(link, engine, clock, recording_dir=record_dir,
                          ids=lambda kind: f"gtx-{kind}-{next(counter)}")
    runner.start()
    ready: Deferred[None] = Deferred()
    stop = link.on_ready(lambda: None if ready.called else ready.callback(None))
    link.startService()
    await ready.addTimeout(10, reactor)
    stop()
    return Stack(clock, asterisk, server, link, ws, engine, runner, apps)
