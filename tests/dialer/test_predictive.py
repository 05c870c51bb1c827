"""Predictive dialling against a simulated population: the abandon rate stays under target.

Ten agents take calls from the queue; each contact answers with a probability of 30 % after
2-10 s of ringing (else it is busy or rings out). An answered call takes a free agent for
30-120 s, or is abandoned after 2 s when none is free.
"""

from __future__ import annotations

import random

import pytest

from gtx.dialer.model import CampaignMode, Outcome
from tests.dialer import fakes
from tests.dialer.harness import World, run

AGENTS = 10
TARGET = 0.05


class CallCenter:
    """The agents of the queue and the population of contacts."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.random = random.Random(seed)
        self.busy_agents = 0
        world.agents.free["sales"] = AGENTS
        world.originator.script_for = self.script

    def script(self, number: str) -> fakes.Script:
        roll = self.random.random()
        ring = self.random.uniform(2, 10)
        if roll < 0.3:
            return fakes.Script([(0.1, fakes.Progress.RINGING, None, None),
                                 (ring, fakes.Progress.ANSWERED, None, None)],
                                on_answer=self.answered)
        if roll < 0.5:
            return fakes.busy(after=ring / 2)
        return fakes.no_answer()

    def answered(self, call_id: str) -> list[fakes.Step]:
        if self.busy_agents >= AGENTS:
            return [(2.0, fakes.Progress.ENDED, "abandoned", "no agent")]
        self.busy_agents += 1
        self.world.agents.free["sales"] = AGENTS - self.busy_agents
        talk = self.random.uniform(30, 120)
        self.world.clock.callLater(talk, self.hang_up)
        return [(talk, fakes.Progress.ENDED, "answered", "16")]

    def hang_up(self) -> None:
        self.busy_agents -= 1
        self.world.agents.free["sales"] = AGENTS - self.busy_agents


def simulate(mode: CampaignMode, seed: int, minutes: int = 30) -> tuple[dict[str, int], float]:
    world = World()
    CallCenter(world, seed)
    node = world.node()
    cid = world.campaign(node.dialer, [str(5_000_000 + i) for i in range(1200)], mode=mode,
                         queue="sales", on_answer=None, abandon_target=TARGET,
                         max_concurrent=100, max_cps=10, max_attempts=1, timeout=20)
    run(node.dialer.start(cid))
    highest_ratio = 1.0
    for _ in range(minutes * 60):
        world.advance(1.0)
        highest_ratio = max(highest_ratio, node.dialer.runners[cid].current_ratio(
            world.clock.seconds()))
    counters = dict(run(node.dialer.campaign_status(cid)).counters)
    return counters, highest_ratio


@pytest.mark.parametrize("seed", [1, 2])
def test_abandon_rate_stays_under_target_and_beats_progressive(seed: int) -> None:
    predictive, highest = simulate(CampaignMode.PREDICTIVE, seed)
    progressive, _ = simulate(CampaignMode.PROGRESSIVE, seed)
    live = predictive[Outcome.ANSWERED] + predictive[Outcome.ABANDONED]
    assert live > 120
    assert predictive[Outcome.ABANDONED] / live < TARGET
    assert progressive[Outcome.ABANDONED] == 0
    assert highest > 2.0  # it did dial ahead of the agents
    # The point of predictive: at least as many people reached by the same agents.
    assert predictive[Outcome.ANSWERED] >= progressive[Outcome.ANSWERED]
