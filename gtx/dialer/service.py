"""What the Dialer API's XML-RPC methods call: the dialer as a service.

:mod:`gtx.dialer.api` (the XML-RPC handlers) validates the arguments into the values of
:mod:`gtx.dialer.model` and calls a :class:`DialerService`; :class:`gtx.dialer.engine.Dialer`
implements it. Errors are :mod:`gtx.errors` ``ApiError`` subclasses (``NotFound``,
``Conflict``, ``InvalidArgument``), which become faults with stable codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gtx.dialer.model import Call, CallRequest, Campaign, CampaignSpec, Contact, ContactInput


@dataclass(frozen=True)
class CampaignStatus:
    """``dialer.campaign.status``: the state and the counters."""

    campaign: Campaign
    counters: Mapping[str, int]  # by outcome, plus pending, dialing, dnc, done
    abandon_rate: float  # abandoned / answered, over the campaign's live answers
    dial_ratio: float  # the current calls-per-free-agent (power, predictive)
    agents_free: int  # from the queue (0 in broadcast)


@dataclass(frozen=True)
class AddContactsReport:
    """``dialer.campaign.add_contacts``: per input index."""

    added: int
    duplicate: Sequence[int]
    rejected: Sequence[tuple[int, str]]  # index and the reason (bad number, bad time zone …)
    dnc: Sequence[int]


class DialerService(Protocol):
    """The operations of the Dialer API (see docs/dialer-api.md)."""

    async def call(self, request: CallRequest) -> str:
        """Place a single call; return its call_id (the call is queued, then dialled)."""

    async def call_status(self, call_id: str) -> Call: ...

    async def hangup(self, call_id: str) -> None: ...

    async def create_campaign(self, spec: CampaignSpec) -> Campaign: ...

    async def update_campaign(self, campaign_id: int, spec: CampaignSpec) -> Campaign: ...

    async def delete_campaign(self, campaign_id: int) -> None: ...

    async def list_campaigns(self) -> list[Campaign]: ...

    async def campaign_status(self, campaign_id: int) -> CampaignStatus: ...

    async def add_contacts(
        self, campaign_id: int, contacts: Sequence[ContactInput]
    ) -> AddContactsReport: ...

    async def start(self, campaign_id: int) -> Campaign: ...

    async def pause(self, campaign_id: int) -> Campaign: ...

    async def resume(self, campaign_id: int) -> Campaign: ...

    async def stop(self, campaign_id: int) -> Campaign: ...

    async def results(
        self, campaign_id: int, after: str | None, limit: int
    ) -> tuple[list[Call], str | None]:
        """A page of the campaign's calls and the cursor of the next page (None at the end)."""

    async def preview_next(self, campaign_id: int, agent: str) -> Contact | None:
        """Preview mode: claim the next contact for ``agent`` (None when there is none)."""

    async def preview_dial(self, campaign_id: int, contact_id: int, agent: str) -> str:
        """Dial a previewed contact; return the call_id."""

    async def preview_skip(self, campaign_id: int, contact_id: int, agent: str) -> None: ...

    async def dnc_add(self, numbers: Sequence[str]) -> int: ...

    async def dnc_remove(self, numbers: Sequence[str]) -> int: ...

    async def dnc_check(self, numbers: Sequence[str]) -> list[str]:
        """The numbers of ``numbers`` that are on the list."""
