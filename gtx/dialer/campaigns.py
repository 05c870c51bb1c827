"""The campaign runner: one per running campaign on each node, pacing its calls.

Every ``[dialer] tick`` seconds a :class:`CampaignRunner` decides how many calls to start
(:mod:`gtx.dialer.pacing`), claims that many contacts from the store (leased to this node, so
no other node dials them meanwhile), screens them — a number on the do-not-call list becomes
DNC, a contact outside its calling window is given back with its next window opening as
``next_attempt_at`` — and hands the rest to the dialer to call. A campaign with no contact left
pending or dialing is completed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.config import DialerSettings
from gtx.dialer.agents import AgentSource
from gtx.dialer.calls import CallRecord
from gtx.dialer.model import (
    CallRequest,
    Campaign,
    CampaignMode,
    CampaignSpec,
    CampaignState,
    Contact,
    OnAnswer,
    Outcome,
)
from gtx.dialer.pacing import AnswerWindow, CallRate, PredictiveRatio, calls_wanted
from gtx.dialer.windows import UnknownTimeZone, next_opening, zone
from gtx.store.api import ConflictError, Store

#: Seconds between two checks whether a campaign with nothing to dial is complete.
COMPLETION_CHECK = 5.0
#: When a campaign's windows never open (no days), look again after this many seconds.
NO_WINDOW_DELAY = 7 * 86400.0


class CampaignCalls(Protocol):
    """What a runner needs from the dialer (:class:`gtx.dialer.engine.Dialer`)."""

    def in_flight(self, campaign_id: int) -> list[CallRecord]:
        """The campaign's calls of this node that are not completed."""

    def can_dial(self, spec: CampaignSpec) -> bool:
        """True when the campaign's Asterisk server is connected."""

    async def dial_contact(self, campaign: Campaign, contact: Contact) -> str:
        """Call a claimed contact; return the call_id."""


async def release(store: Store, contact_id: int, node: str, until: float | None) -> None:
    """Give a claimed contact back, due again at ``until`` (None: at once)."""
    await store.release_contact(contact_id, node, until)


def contact_request(spec: CampaignSpec, campaign: Campaign, contact: Contact) -> CallRequest:
    """The call to a contact. Its ``vars`` (GTX_VARS, the IVR session's vars) are the
    contact's, plus ``campaign_id``, ``campaign``, ``contact_id`` and ``number``."""
    on_answer = spec.on_answer
    if on_answer is None and spec.queue is not None and spec.mode is not CampaignMode.BROADCAST:
        on_answer = OnAnswer(queue=spec.queue)
    variables: dict[str, object] = dict(contact.vars)
    variables.update(campaign_id=campaign.id, campaign=spec.name, contact_id=contact.id,
                     number=contact.number)
    return CallRequest(
        destination=contact.number,
        channel=spec.channel,
        caller_id=spec.caller_id,
        timeout=spec.timeout,
        vars=variables,
        on_answer=on_answer,
        callback=spec.callback,
        amd=spec.amd,
        asterisk=spec.asterisk,
    )


class CampaignRunner:
    """Paces one running campaign on this node (see the module docstring)."""

    def __init__(
        self,
        campaign: Campaign,
        *,
        clock: IReactorTime,
        store: Store,
        node: str,
        settings: DialerSettings,
        agents: AgentSource | None,
        calls: CampaignCalls,
        on_completed: Callable[[int], None],
        log: Logger,
    ) -> None:
        self.campaign = campaign
        self.clock = clock
        self.store = store
        self.node = node
        self.settings = settings
        self.agents = agents
        self.calls = calls
        self.on_completed = on_completed
        self.log = log
        self.rate = CallRate(campaign.spec.max_cps)
        self.answers = AnswerWindow()
        self._loop: LoopingCall | None = None
        self._wake: IDelayedCall | None = None
        self._busy = False
        self._next_completion_check = 0.0
        self._seeded = False

    @property
    def id(self) -> int:
        return self.campaign.id

    def update(self, campaign: Campaign) -> None:
        """A newer version of the campaign (its spec may have changed)."""
        if campaign.spec.max_cps != self.campaign.spec.max_cps:
            self.rate = CallRate(campaign.spec.max_cps)
        self.campaign = campaign

    def start(self) -> None:
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.settings.tick, now=True).addErrback(self._loop_failed)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        self._wake = None

    def _wake_when_rate_allows(self, now: float) -> None:
        """Pace again the moment the rate window lets another call start, rather than at the
        next tick: with ticks of 0.25 s, waiting for them would lose up to a quarter of every
        second of ``max_cps``."""
        delay = self.rate.reopens_in(now)
        if delay <= 0 or (self._wake is not None and self._wake.active()):
            return
        self._wake = self.clock.callLater(delay, self._woken)

    def _woken(self) -> None:
        self._wake = None
        if self.running:
            self.tick()

    @property
    def running(self) -> bool:
        return self._loop is not None

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("[campaign {id}] pacing loop stopped", failure, id=self.id)

    # -- what the status reports ----------------------------------------------------------

    def free_agents(self) -> int:
        spec = self.campaign.spec
        if self.agents is None or spec.queue is None or spec.mode is CampaignMode.BROADCAST:
            return 0
        return max(0, self.agents.free_agents(spec.queue))

    def current_ratio(self, now: float) -> float:
        """Calls per free agent now (1 in progressive and preview, 0 in broadcast)."""
        spec = self.campaign.spec
        if spec.mode is CampaignMode.BROADCAST:
            return 0.0
        if spec.mode is CampaignMode.POWER:
            return max(1.0, spec.ratio)
        if spec.mode is CampaignMode.PREDICTIVE:
            calls, live = self.answers.counts(now)
            return PredictiveRatio(spec.abandon_target).ratio(calls, live,
                                                              self.answers.abandon_rate)
        return 1.0

    def call_ended(self, at: float, outcome: Outcome) -> None:
        self.answers.record(at, outcome)

    # -- pacing ---------------------------------------------------------------------------

    def tick(self) -> Deferred[None]:
        """One pacing decision (the loop calls it every tick)."""
        return Deferred.fromCoroutine(self._tick())

    async def _tick(self) -> None:
        if self._busy:  # the store is slower than the tick: skip, never pile up
            return
        self._busy = True
        try:
            await self._pace()
        except Exception:
            self.log.failure("[campaign {id}] pacing failed", id=self.id)
        finally:
            self._busy = False

    async def _pace(self) -> None:
        spec = self.campaign.spec
        now = self.clock.seconds()
        flights = self.calls.in_flight(self.id)
        if not self._seeded and spec.mode is CampaignMode.PREDICTIVE:
            # The campaign's abandon rate so far (before a restart, or on other nodes).
            counters = await self.store.contact_counters(self.id)
            self.answers.live_total += counters.get(Outcome.ANSWERED, 0) + counters.get(
                Outcome.ABANDONED, 0)
            self.answers.abandoned_total += counters.get(Outcome.ABANDONED, 0)
        self._seeded = True
        if spec.mode is CampaignMode.PREVIEW:
            if not flights:
                await self._check_completed(now)
            return
        if not self.calls.can_dial(spec):
            return
        wanted = calls_wanted(
            spec.mode,
            free_agents=self.free_agents(),
            ratio=self.current_ratio(now),
            waiting=sum(1 for r in flights if r.waiting),
            in_flight=len(flights),
            max_concurrent=spec.max_concurrent,
        )
        allowed = self.rate.available(now)
        if allowed <= 0 < wanted:
            self._wake_when_rate_allows(now)
        wanted = min(wanted, allowed)
        if wanted <= 0:
            return
        claimed = await self.store.claim_contacts(self.id, self.node, wanted, now,
                                                  self.settings.lease_seconds)
        if not claimed:
            if not flights:
                await self._check_completed(now)
            return
        for contact in await self.screen(claimed, now):
            if not self.running:  # paused or stopped while the claim ran
                await release(self.store, contact.id, self.node, None)
                continue
            # The rate counts when the Originate goes out, which is what the carrier sees: a
            # burst whose store writes took long must not spill past its second.
            sent_at = self.clock.seconds()
            if self.rate.available(sent_at) <= 0:
                await release(self.store, contact.id, self.node, None)
                self._wake_when_rate_allows(sent_at)
                continue
            self.rate.started(sent_at)
            await self.calls.dial_contact(self.campaign, contact)
        if self.rate.available(self.clock.seconds()) <= 0:
            self._wake_when_rate_allows(self.clock.seconds())

    async def screen(self, contacts: Sequence[Contact], now: float) -> list[Contact]:
        """The claimed contacts that may be dialled now; the others are given back (a DNC'd
        number becomes DNC, a contact outside its window is due at the next opening)."""
        if not contacts:
            return []
        blocked = await self.store.dnc_check([c.number for c in contacts])
        spec = self.campaign.spec
        ready: list[Contact] = []
        for contact in contacts:
            if contact.number in blocked:
                await release(self.store, contact.id, self.node, None)
                continue
            try:
                tz = zone(contact.timezone or spec.timezone)
            except UnknownTimeZone:
                tz = zone(spec.timezone)
            opening = next_opening(spec.windows, tz, now)
            if opening == now:
                ready.append(contact)
            else:
                until = opening if opening is not None else now + NO_WINDOW_DELAY
                await release(self.store, contact.id, self.node, until)
        if blocked:
            await self.store.mark_dnc_contacts(sorted(blocked))
        return ready

    async def _check_completed(self, now: float) -> None:
        if now < self._next_completion_check:
            return
        self._next_completion_check = now + COMPLETION_CHECK
        counters = await self.store.contact_counters(self.id)
        if counters.get("pending", 0) or counters.get("dialing", 0):
            return
        try:
            self.campaign = await self.store.set_campaign_state(
                self.id, CampaignState.COMPLETED, now, frozenset({CampaignState.RUNNING}))
        except ConflictError:
            return  # paused or stopped meanwhile
        self.log.info("[campaign {id}] completed", id=self.id)
        self.on_completed(self.id)
