"""Fixtures of the IVR engine tests: a clock, the fakes and an engine wired to them."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock

from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from tests.ivr.fakes import FakeChannel, FakeRecorder, FakeScheduler, FakeWebService, drive

URL = "http://ws.example/RPC2"


def make_app(name: str = "menu", **changes: Any) -> IvrApp:
    settings: dict[str, Any] = {
        "url": URL, "method": f"{name}.start", "hangup_method": f"{name}.hangup",
        "record_dir": "/var/spool/asterisk/recording",
        "exec_allowed": frozenset({"Playback", "SayAlpha"}),
    }
    settings.update(changes)
    return IvrApp(name=name, **settings)


class Harness:
    """An engine wired to a FakeWebService and a Clock; runs sessions on FakeChannels."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.ws = FakeWebService(self.clock)
        self.metrics = Metrics()
        self.apps: dict[str, IvrApp] = {"menu": make_app(), "sales": make_app("sales")}
        self.url_app_defaults: IvrApp | None = make_app("ivr", url="", method="")
        self.callbacks: FakeScheduler | None = FakeScheduler()
        self.recorder: FakeRecorder | None = FakeRecorder()
        self._engine: IvrEngine | None = None
        self._ids = iter(f"s{n}" for n in range(1, 1000))

    @property
    def engine(self) -> IvrEngine:
        if self._engine is None:
            self._engine = IvrEngine(
                clock=self.clock, webservice=self.ws, apps=self.apps,
                url_app_defaults=self.url_app_defaults, node="gtx1", metrics=self.metrics,
                new_session_id=lambda: next(self._ids), callbacks=self.callbacks,
                recorder=self.recorder,
            )
        return self._engine

    def answer(self, method: str, *answers: Any) -> None:
        self.ws.answers[method] = list(answers)

    def channel(self, **kwargs: Any) -> FakeChannel:
        return FakeChannel(self.clock, **kwargs)

    def run(self, channel: FakeChannel) -> SessionOutcome:
        outcome = drive(self.clock, self.engine.run(channel))
        assert isinstance(outcome, SessionOutcome)
        return outcome

    def one_step(self, *actions: dict[str, Any], **channel_kwargs: Any) -> tuple[
        SessionOutcome, FakeChannel, dict[str, Any]
    ]:
        """Run a session whose first step answers ``actions`` then ``next: step2``, which
        ends; returns the outcome, the channel and step 2's ``result``."""
        self.answer("menu.start", {"actions": list(actions), "next": "step2"})
        self.answer("step2", {})
        channel = self.channel(**channel_kwargs)
        outcome = self.run(channel)
        last = self.ws.calls[-1].request
        return outcome, channel, last["result"]

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
def ivr() -> Harness:
    return Harness()
