"""The campaign side of the Dialer API: campaigns, contacts, preview, do-not-call.

:class:`CampaignService` is the part of :class:`gtx.dialer.engine.Dialer` that answers the
``dialer.campaign.*``, ``dialer.preview.*`` and ``dialer.dnc.*`` methods, and keeps one
:class:`~gtx.dialer.campaigns.CampaignRunner` per running campaign. Store errors become API
errors here: NotFoundError → NotFound, ConflictError → Conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gtx.config import DialerSettings
from gtx.dialer.agents import AgentSource
from gtx.dialer.calls import CallRecord
from gtx.dialer.campaigns import CampaignRunner, release
from gtx.dialer.model import (
    Call,
    Campaign,
    CampaignMode,
    CampaignSpec,
    CampaignState,
    Contact,
    ContactInput,
    Outcome,
)
from gtx.dialer.service import AddContactsReport, CampaignStatus
from gtx.dialer.windows import UnknownTimeZone, zone
from gtx.errors import Conflict, NotFound
from gtx.origination import Originator
from gtx.store.api import ConflictError, NotFoundError, Store

T = TypeVar("T")

#: A contact an agent skipped in preview comes back after this many seconds.
PREVIEW_SKIP_DELAY = 300.0
#: preview_next gives up after this many claimed contacts that may not be dialled now.
PREVIEW_SCREEN_LIMIT = 20

_ALL = frozenset(CampaignState)


class CampaignService:
    """Campaign methods of the dialer (mixed into :class:`gtx.dialer.engine.Dialer`)."""

    clock: IReactorTime
    store: Store
    node: str
    settings: DialerSettings
    agents: AgentSource | None
    log: Logger
    runners: dict[int, CampaignRunner]
    _previews: dict[int, tuple[int, str]]

    # Provided by the Dialer.
    def in_flight(self, campaign_id: int) -> list[CallRecord]:
        raise NotImplementedError

    def _originator(self, name: str | None) -> Originator | None:
        raise NotImplementedError

    def can_dial(self, spec: CampaignSpec) -> bool:
        raise NotImplementedError

    async def dial_contact(self, campaign: Campaign, contact: Contact) -> str:
        raise NotImplementedError

    @staticmethod
    async def stored(d: Deferred[T]) -> T:
        """Await a store call, its errors as API errors."""
        try:
            return await d
        except NotFoundError as e:
            raise NotFound(str(e) or "not found") from e
        except ConflictError as e:
            raise Conflict(str(e) or "conflict") from e

    # -- runners --------------------------------------------------------------------------

    def _runner_for(self, campaign: Campaign) -> CampaignRunner:
        runner = self.runners.get(campaign.id)
        if runner is None:
            runner = CampaignRunner(
                campaign, clock=self.clock, store=self.store, node=self.node,
                settings=self.settings, agents=self.agents, calls=self,
                on_completed=self._campaign_ended, log=self.log)
            self.runners[campaign.id] = runner
            runner.start()
        else:
            runner.update(campaign)
        return runner

    def _campaign_ended(self, campaign_id: int) -> None:
        runner = self.runners.pop(campaign_id, None)
        if runner is not None:
            runner.stop()

    def sync_campaigns(self) -> Deferred[None]:
        """Follow the campaigns' states in the store (the campaign-sync loop calls it)."""
        return Deferred.fromCoroutine(self._sync_campaigns())

    async def _sync_campaigns(self) -> None:
        try:
            campaigns = await self.store.list_campaigns()
        except Exception:
            self.log.failure("[dialer] could not list the campaigns")
            return
        for campaign in campaigns:
            await self.follow(campaign)

    async def follow(self, campaign: Campaign) -> None:
        """Run, or no longer run, ``campaign`` as its state says; a stopped campaign's calls
        on this node are hung up and its previewed contacts given back."""
        if campaign.state is CampaignState.RUNNING:
            self._runner_for(campaign)
            return
        self._campaign_ended(campaign.id)
        if campaign.state is CampaignState.STOPPED:
            for record in self.in_flight(campaign.id):
                await record.hangup(self._originator(record.call.asterisk))
            for contact_id, (campaign_id, _) in list(self._previews.items()):
                if campaign_id == campaign.id:
                    del self._previews[contact_id]
                    await release(self.store, contact_id, self.node, None)

    # -- campaigns ------------------------------------------------------------------------

    async def create_campaign(self, spec: CampaignSpec) -> Campaign:
        return await self.stored(self.store.create_campaign(spec, self.clock.seconds()))

    async def update_campaign(self, campaign_id: int, spec: CampaignSpec) -> Campaign:
        campaign = await self.stored(
            self.store.update_campaign(campaign_id, spec, self.clock.seconds()))
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.update(campaign)
        return campaign

    async def delete_campaign(self, campaign_id: int) -> None:
        await self.stored(self.store.delete_campaign(campaign_id))
        self._campaign_ended(campaign_id)

    async def list_campaigns(self) -> list[Campaign]:
        return await self.stored(self.store.list_campaigns())

    async def _move(self, campaign_id: int, state: CampaignState,
                    allowed: frozenset[CampaignState]) -> Campaign:
        campaign = await self.stored(self.store.set_campaign_state(
            campaign_id, state, self.clock.seconds(), allowed))
        self.log.info("[campaign {id}] {state}", id=campaign_id, state=state)
        await self.follow(campaign)
        return campaign

    async def start(self, campaign_id: int) -> Campaign:
        return await self._move(campaign_id, CampaignState.RUNNING,
                                frozenset({CampaignState.DRAFT}))

    async def pause(self, campaign_id: int) -> Campaign:
        return await self._move(campaign_id, CampaignState.PAUSED,
                                frozenset({CampaignState.RUNNING}))

    async def resume(self, campaign_id: int) -> Campaign:
        return await self._move(campaign_id, CampaignState.RUNNING,
                                frozenset({CampaignState.PAUSED}))

    async def stop(self, campaign_id: int) -> Campaign:
        campaign = await self._move(campaign_id, CampaignState.STOPPED, frozenset({
            CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED}))
        await self.stored(self.store.cancel_pending_contacts(campaign_id))
        return campaign

    async def campaign_status(self, campaign_id: int) -> CampaignStatus:
        campaign = await self.stored(self.store.get_campaign(campaign_id))
        counters: dict[str, int] = await self.stored(self.store.contact_counters(campaign_id))
        answered = counters.get(Outcome.ANSWERED, 0)
        abandoned = counters.get(Outcome.ABANDONED, 0)
        live = answered + abandoned
        runner = self.runners.get(campaign_id)
        if runner is None:
            runner = CampaignRunner(campaign, clock=self.clock, store=self.store,
                                    node=self.node, settings=self.settings, agents=self.agents,
                                    calls=self,
                                    on_completed=self._campaign_ended, log=self.log)
        return CampaignStatus(
            campaign=campaign,
            counters=counters,
            abandon_rate=abandoned / live if live else 0.0,
            dial_ratio=runner.current_ratio(self.clock.seconds()),
            agents_free=runner.free_agents(),
        )

    async def add_contacts(self, campaign_id: int,
                           contacts: Sequence[ContactInput]) -> AddContactsReport:
        await self.stored(self.store.get_campaign(campaign_id))
        rejected: list[tuple[int, str]] = []
        kept: list[int] = []
        for index, contact in enumerate(contacts):
            try:
                if contact.timezone is not None:
                    zone(contact.timezone)
            except UnknownTimeZone as e:
                rejected.append((index, str(e)))
            else:
                kept.append(index)
        result = await self.stored(self.store.add_contacts(
            campaign_id, [contacts[i] for i in kept], self.clock.seconds()))
        return AddContactsReport(
            added=len(result.added),
            duplicate=[kept[i] for i in result.duplicates],
            rejected=rejected,
            dnc=[kept[i] for i in result.dnc],
        )

    async def results(self, campaign_id: int, after: str | None,
                      limit: int) -> tuple[list[Call], str | None]:
        await self.stored(self.store.get_campaign(campaign_id))
        calls = await self.stored(self.store.campaign_calls(campaign_id, after, limit + 1))
        if len(calls) > limit:
            return calls[:limit], calls[limit - 1].call_id
        return calls, None

    # -- preview --------------------------------------------------------------------------

    async def _preview_campaign(self, campaign_id: int) -> Campaign:
        campaign = await self.stored(self.store.get_campaign(campaign_id))
        if campaign.spec.mode is not CampaignMode.PREVIEW:
            raise Conflict(f"campaign {campaign_id} is not a preview campaign")
        if campaign.state is not CampaignState.RUNNING:
            raise Conflict(f"campaign {campaign_id} is {campaign.state}, not running")
        return campaign

    async def preview_next(self, campaign_id: int, agent: str) -> Contact | None:
        runner = self._runner_for(await self._preview_campaign(campaign_id))
        for _ in range(PREVIEW_SCREEN_LIMIT):
            now = self.clock.seconds()
            claimed = await self.store.claim_contacts(campaign_id, self.node, 1, now,
                                                      self.settings.lease_seconds)
            if not claimed:
                return None
            for contact in await runner.screen(claimed, now):
                self._previews[contact.id] = (campaign_id, agent)
                return contact
        return None

    def _previewed(self, campaign_id: int, contact_id: int, agent: str) -> None:
        if self._previews.get(contact_id) != (campaign_id, agent):
            raise Conflict(f"contact {contact_id} is not previewed by {agent!r} "
                           f"in campaign {campaign_id}")
        del self._previews[contact_id]

    async def preview_dial(self, campaign_id: int, contact_id: int, agent: str) -> str:
        campaign = await self._preview_campaign(campaign_id)
        self._previewed(campaign_id, contact_id, agent)
        contact = await self.stored(self.store.get_contact(contact_id))
        return await self.dial_contact(campaign, contact)

    async def preview_skip(self, campaign_id: int, contact_id: int, agent: str) -> None:
        self._previewed(campaign_id, contact_id, agent)
        await release(self.store, contact_id, self.node,
                      self.clock.seconds() + PREVIEW_SKIP_DELAY)

    # -- do not call ----------------------------------------------------------------------

    async def dnc_add(self, numbers: Sequence[str]) -> int:
        added = await self.stored(self.store.dnc_add(numbers, self.clock.seconds()))
        await self.stored(self.store.mark_dnc_contacts(numbers))
        return added

    async def dnc_remove(self, numbers: Sequence[str]) -> int:
        return await self.stored(self.store.dnc_remove(numbers))

    async def dnc_check(self, numbers: Sequence[str]) -> list[str]:
        listed = await self.stored(self.store.dnc_check(numbers))
        return [n for n in numbers if n in listed]
