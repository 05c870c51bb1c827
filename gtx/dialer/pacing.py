"""Pacing: how many calls a campaign starts now. Pure functions and small values, no I/O.

Per mode, with ``free`` agents in the campaign's queue and ``waiting`` calls of the campaign not
answered yet (queued, dialing, ringing) on this node:

- **preview**: never dials by itself (an agent asks for a contact, then dials it).
- **progressive**: ``free - waiting`` — one call per free agent.
- **power**: ``floor(free * ratio) - waiting`` — a fixed ratio of calls per free agent.
- **predictive**: as power, with the ratio of :class:`PredictiveRatio`.
- **broadcast**: no agents; as many as ``max_concurrent`` allows.

Every mode is then bounded by ``max_concurrent - in_flight`` (in_flight: the campaign's calls
not completed on this node) and by the calls-per-second budget of :class:`CallRate`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from gtx.dialer.model import CampaignMode, Outcome


def calls_wanted(
    mode: CampaignMode,
    *,
    free_agents: int,
    ratio: float,
    waiting: int,
    in_flight: int,
    max_concurrent: int,
) -> int:
    """How many calls to start now (before the calls-per-second budget); never negative."""
    room = max_concurrent - in_flight
    if mode is CampaignMode.PREVIEW:
        wanted = 0
    elif mode is CampaignMode.BROADCAST:
        wanted = room
    elif mode is CampaignMode.PROGRESSIVE:
        wanted = free_agents - waiting
    else:  # power, predictive
        wanted = math.floor(max(free_agents, 0) * max(ratio, 1.0) + 1e-9) - waiting
    return max(0, min(wanted, room))


@dataclass
class CallRate:
    """At most ``max_cps`` calls started per second.

    A sliding window: at most ``n = max(1, floor(max_cps))`` starts in any ``n / max_cps``
    seconds. With a whole ``max_cps`` that is exactly "at most max_cps in any second"; with
    0.5 it is one call every 2 s; the long-run rate never exceeds ``max_cps``.
    """

    max_cps: float
    _starts: deque[float] = field(default_factory=deque)

    @property
    def burst(self) -> int:
        return max(1, math.floor(self.max_cps))

    @property
    def span(self) -> float:
        return self.burst / self.max_cps

    def available(self, now: float) -> int:
        """How many calls may start at ``now``."""
        while self._starts and self._starts[0] <= now - self.span + 1e-6:  # clock rounding
            self._starts.popleft()
        return max(0, self.burst - len(self._starts))

    def started(self, now: float) -> None:
        """Count a call started at ``now``."""
        self._starts.append(now)

    def reopens_in(self, now: float) -> float:
        """Seconds until another call may start (0 when one may start now)."""
        if self.available(now) > 0:
            return 0.0
        return max(0.0, self._starts[0] + self.span - now)


#: Outcomes of calls answered by a person: the ones that need an agent.
LIVE = frozenset({Outcome.ANSWERED, Outcome.ABANDONED})


@dataclass
class AnswerWindow:
    """The outcomes of the campaign's recent calls (the last ``seconds``), for the measured
    answer rate (live answers / calls), and the campaign's live answers and abandoned calls in
    total, for its abandon rate."""

    seconds: float = 600.0
    live_total: int = 0
    abandoned_total: int = 0
    _ended: deque[tuple[float, Outcome]] = field(default_factory=deque)

    def record(self, at: float, outcome: Outcome) -> None:
        if outcome is Outcome.CANCELED:  # hung up by us: says nothing about the lines
            return
        self._ended.append((at, outcome))
        if outcome in LIVE:
            self.live_total += 1
        if outcome is Outcome.ABANDONED:
            self.abandoned_total += 1

    def counts(self, now: float) -> tuple[int, int]:
        """(calls, live answers) ended in the window."""
        while self._ended and self._ended[0][0] < now - self.seconds:
            self._ended.popleft()
        return len(self._ended), sum(1 for _, o in self._ended if o in LIVE)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned_total / self.live_total if self.live_total else 0.0


@dataclass(frozen=True)
class PredictiveRatio:
    """The predictive ratio of calls per free agent.

    With ``p`` the answer rate measured over the recent window (live answers / calls ended)
    and ``a`` the campaign's abandon rate (abandoned / live answers, the rate the target is
    about)::

        base     = min(max_ratio, 1 / p)     # the calls that yield one live answer per agent
        headroom = clamp(1 - a / (margin * abandon_target), 0, 1)
        ratio    = 1 + (base - 1) * headroom

    So it dials at the full ``1/p`` while nothing is abandoned, backs off as the abandon rate
    nears ``margin`` of the target, and falls to 1 (progressive, which abandons nothing) once
    it is reached: the rate then only goes down, until there is headroom again. Until
    ``min_calls`` calls have ended in the window the ratio is 1: no guess before there is
    something measured.
    """

    abandon_target: float
    max_ratio: float = 4.0
    min_calls: int = 20
    margin: float = 0.8

    def ratio(self, calls: int, live: int, abandon_rate: float) -> float:
        if calls < self.min_calls or live == 0:
            return 1.0
        base = min(self.max_ratio, calls / live)
        target = max(self.abandon_target * self.margin, 1e-6)
        headroom = min(1.0, max(0.0, 1.0 - abandon_rate / target))
        return 1.0 + (base - 1.0) * headroom
