"""A DialerService in memory, recording what the API asked of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from gtx.dialer.model import (
    Call,
    CallRequest,
    CallState,
    Campaign,
    CampaignSpec,
    CampaignState,
    Contact,
    ContactInput,
    ContactState,
    Outcome,
)
from gtx.dialer.service import AddContactsReport, CampaignStatus
from gtx.errors import Conflict, NotFound

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


@dataclass
class FakeDialerService:
    """Enough of a dialer for the API: campaigns, contacts (by number), calls and a DNC list."""

    campaigns: dict[int, Campaign] = field(default_factory=dict)
    contacts: dict[int, list[ContactInput]] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    dnc: set[str] = field(default_factory=set)
    requests: list[CallRequest] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)  # sizes of add_contacts calls
    counters: dict[int, dict[str, int]] = field(default_factory=dict)
    log: list[tuple[str, object]] = field(default_factory=list)

    def _campaign(self, campaign_id: int) -> Campaign:
        if campaign_id not in self.campaigns:
            raise NotFound(f"no campaign {campaign_id}")
        return self.campaigns[campaign_id]

    def _move(self, campaign_id: int, allowed: set[CampaignState],
              to: CampaignState) -> Campaign:
        campaign = self._campaign(campaign_id)
        if campaign.state not in allowed:
            raise Conflict(f"campaign {campaign_id} is {campaign.state.value}")
        self.campaigns[campaign_id] = replace(campaign, state=to)
        return self.campaigns[campaign_id]

    async def call(self, request: CallRequest) -> str:
        self.requests.append(request)
        call_id = f"call-{len(self.requests)}"
        self.calls[call_id] = Call(call_id=call_id, request=request, state=CallState.QUEUED,
                                   created=T0, node="gtx1")
        return call_id

    async def call_status(self, call_id: str) -> Call:
        if call_id not in self.calls:
            raise NotFound(f"no call {call_id!r}")
        return self.calls[call_id]

    async def hangup(self, call_id: str) -> None:
        call = await self.call_status(call_id)
        self.calls[call_id] = replace(call, state=CallState.COMPLETED,
                                      outcome=Outcome.CANCELED, ended_at=T0 + 1)

    async def create_campaign(self, spec: CampaignSpec) -> Campaign:
        campaign_id = len(self.campaigns) + 1
        self.campaigns[campaign_id] = Campaign(campaign_id, spec, CampaignState.DRAFT, T0, T0)
        self.contacts[campaign_id] = []
        return self.campaigns[campaign_id]

    async def update_campaign(self, campaign_id: int, spec: CampaignSpec) -> Campaign:
        campaign = self._campaign(campaign_id)
        self.campaigns[campaign_id] = replace(campaign, spec=spec, updated=T0 + 5)
        return self.campaigns[campaign_id]

    async def delete_campaign(self, campaign_id: int) -> None:
        if self._campaign(campaign_id).state is CampaignState.RUNNING:
            raise Conflict(f"campaign {campaign_id} is running: stop it first")
        del self.campaigns[campaign_id]

    async def list_campaigns(self) -> list[Campaign]:
        return list(self.campaigns.values())

    async def campaign_status(self, campaign_id: int) -> CampaignStatus:
        campaign = self._campaign(campaign_id)
        counters = self.counters.get(
            campaign_id, {"pending": len(self.contacts.get(campaign_id, []))})
        return CampaignStatus(campaign, counters, abandon_rate=0.01, dial_ratio=1.5,
                              agents_free=2)

    async def add_contacts(self, campaign_id: int,
                           contacts: Sequence[ContactInput]) -> AddContactsReport:
        self._campaign(campaign_id)
        self.batches.append(len(contacts))
        known = {c.number for c in self.contacts[campaign_id]}
        added, duplicate, dnc = 0, [], []
        for index, contact in enumerate(contacts):
            if contact.number in known:
                duplicate.append(index)
                continue
            known.add(contact.number)
            self.contacts[campaign_id].append(contact)
            if contact.number in self.dnc:
                dnc.append(index)
            else:
                added += 1
        return AddContactsReport(added=added, duplicate=duplicate, rejected=[], dnc=dnc)

    async def start(self, campaign_id: int) -> Campaign:
        return self._move(campaign_id, {CampaignState.DRAFT}, CampaignState.RUNNING)

    async def pause(self, campaign_id: int) -> Campaign:
        return self._move(campaign_id, {CampaignState.RUNNING}, CampaignState.PAUSED)

    async def resume(self, campaign_id: int) -> Campaign:
        return self._move(campaign_id, {CampaignState.PAUSED}, CampaignState.RUNNING)

    async def stop(self, campaign_id: int) -> Campaign:
        return self._move(campaign_id, {CampaignState.RUNNING, CampaignState.PAUSED,
                                        CampaignState.DRAFT}, CampaignState.STOPPED)

    async def results(self, campaign_id: int, after: str | None,
                      limit: int) -> tuple[list[Call], str | None]:
        self._campaign(campaign_id)
        mine = sorted((c for c in self.calls.values() if c.campaign_id == campaign_id),
                      key=lambda c: c.call_id)
        start = 0 if after is None else int(after)
        page = mine[start:start + limit]
        following = str(start + limit) if start + limit < len(mine) else None
        return page, following

    async def preview_next(self, campaign_id: int, agent: str) -> Contact | None:
        self.log.append(("preview_next", (campaign_id, agent)))
        queued = self.contacts.get(campaign_id, [])
        if not queued:
            return None
        first = queued[0]
        return Contact(id=7, campaign_id=campaign_id, number=first.number,
                       timezone=first.timezone, vars=first.vars, priority=first.priority,
                       state=ContactState.DIALING, attempts=0, next_attempt_at=None,
                       last_outcome=None, lease_owner="gtx1", lease_until=T0 + 60)

    async def preview_dial(self, campaign_id: int, contact_id: int, agent: str) -> str:
        self.log.append(("preview_dial", (campaign_id, contact_id, agent)))
        return "call-preview"

    async def preview_skip(self, campaign_id: int, contact_id: int, agent: str) -> None:
        self.log.append(("preview_skip", (campaign_id, contact_id, agent)))

    async def dnc_add(self, numbers: Sequence[str]) -> int:
        new = set(numbers) - self.dnc
        self.dnc |= new
        return len(new)

    async def dnc_remove(self, numbers: Sequence[str]) -> int:
        gone = set(numbers) & self.dnc
        self.dnc -= gone
        return len(gone)

    async def dnc_check(self, numbers: Sequence[str]) -> list[str]:
        return [n for n in numbers if n in self.dnc]
