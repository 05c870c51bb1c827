"""A dialer on fakes, driven by a Clock: what most dialer tests start from."""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gtx.config import DialerSettings
from gtx.dialer.agents import FixedAgents
from gtx.dialer.engine import Dialer
from gtx.dialer.model import (
    Callback,
    CallRequest,
    CampaignMode,
    CampaignSpec,
    ContactInput,
    OnAnswer,
)
from tests.dialer.fakes import FakeOriginator, FakeReceiver, FakeStore

T = TypeVar("T")

#: Monday 6 January 2025, 10:00 UTC: inside the default calling window.
MONDAY_10H = datetime(2025, 1, 6, 10, 0, tzinfo=UTC).timestamp()
SETTINGS = DialerSettings(channel="PJSIP/{number}@trunk", lease_seconds=60.0, tick=0.25,
                          callback_timeout=5.0, callback_retry_max=60.0)
HOOK = Callback("http://crm.example/rpc", "dialer.event")


def run(work: Coroutine[Any, Any, T] | Deferred[T]) -> T:
    """Run a coroutine that only waits on fired Deferreds (the fakes), or take the result of a
    fired Deferred; return its result."""
    results: list[object] = []
    d = work if isinstance(work, Deferred) else Deferred.fromCoroutine(work)
    d.addBoth(results.append)
    assert results, "the coroutine waited on something that has not happened"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]  # type: ignore[return-value]


class Node:
    """One gtx node's dialer on a shared clock and store."""

    def __init__(self, clock: Clock, store: FakeStore, originator: FakeOriginator,
                 receiver: FakeReceiver, agents: FixedAgents, name: str = "gtx1",
                 settings: DialerSettings = SETTINGS,
                 ids: itertools.count[int] | None = None, recorder: Any = None) -> None:
        self.clock, self.store, self.originator = clock, store, originator
        self.receiver, self.agents = receiver, agents
        ids = ids if ids is not None else itertools.count(1)
        self.dialer = Dialer(clock=clock, store=store, originators={originator.name: originator},
                             node=name, settings=settings, callback_client=receiver,
                             agents=agents, new_call_id=lambda: f"c{next(ids)}",
                             recorder=recorder)
        self.dialer.startService()
        run(self._ready())

    async def _ready(self) -> None:
        await self.dialer.ready


class World:
    """A clock at Monday 10:00 UTC, a store, a scripted Asterisk, a receiver, agents."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(MONDAY_10H)
        self.store = FakeStore()
        self.originator = FakeOriginator(self.clock)
        self.receiver = FakeReceiver()
        self.agents = FixedAgents({"sales": 0})
        self.ids = itertools.count(1)  # call ids unique across the nodes and their restarts

    def node(self, name: str = "gtx1", settings: DialerSettings = SETTINGS,
             recorder: Any = None) -> Node:
        return Node(self.clock, self.store, self.originator, self.receiver, self.agents, name,
                    settings, self.ids, recorder)

    def advance(self, seconds: float, step: float = 0.25) -> None:
        """Move time on in small steps, as a real reactor would."""
        end = self.clock.seconds() + seconds
        while self.clock.seconds() + step <= end + 1e-9:
            self.clock.advance(step)
        if end > self.clock.seconds():
            self.clock.advance(end - self.clock.seconds())

    def campaign(self, dialer: Dialer, numbers: list[str], **spec: Any) -> int:
        spec.setdefault("name", "test")
        spec.setdefault("mode", CampaignMode.BROADCAST)
        spec.setdefault("channel", "PJSIP/{number}@trunk")
        if spec["mode"] is CampaignMode.BROADCAST:
            spec.setdefault("on_answer", OnAnswer(app="survey"))
        campaign = run(dialer.create_campaign(CampaignSpec(**spec)))
        run(dialer.add_contacts(campaign.id, [ContactInput(n) for n in numbers]))
        return campaign.id


def request(number: str, **options: Any) -> CallRequest:
    options.setdefault("channel", "PJSIP/{number}@trunk")
    return CallRequest(destination=number, **options)
