"""An in-memory :class:`gtx.store.api.Store` for the dialer's tests.

It follows the store contract's docstrings (leases, one outcome per call, outbox numbering and
ordering, counters) and answers with already-fired Deferreds, so a test driven by a ``Clock``
runs deterministically. Unlike the contract's ``release_contact`` it takes ``next_attempt_at``
(the change the dialer asks of the store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from twisted.internet.defer import Deferred, fail, succeed

from gtx.audit import AuditEntry
from gtx.dialer.model import (
    Call,
    Callback,
    CallEvent,
    CallState,
    Campaign,
    CampaignSpec,
    CampaignState,
    Contact,
    ContactInput,
    ContactState,
    Outcome,
)
from gtx.store.api import (
    AddContactsResult,
    ConflictError,
    ContactOutcome,
    NotFoundError,
    OutboxEvent,
    StoreUnavailable,
)


@dataclass
class _Row:
    id: int
    event: CallEvent
    callback: Callback
    tries: int
    due: float
    delivered: bool = False


class FakeStore:
    """An in-memory :class:`gtx.store.api.Store`. Set ``down`` to make every call fail with
    StoreUnavailable."""

    def __init__(self) -> None:
        self.campaigns: dict[int, Campaign] = {}
        self.contacts: dict[int, Contact] = {}
        self.calls: dict[str, Call] = {}
        self.dnc: set[str] = set()
        self.outbox: list[_Row] = []
        self.seqs: dict[str, int] = {}
        self.audits: list[AuditEntry] = []
        self.down = False
        self._ids = 0

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def _run(self, work: Callable[[], object]) -> Deferred:  # type: ignore[type-arg]
        if self.down:
            return fail(StoreUnavailable("database down"))
        try:
            return succeed(work())
        except Exception as e:
            return fail(e)

    def upgrade(self) -> Deferred[int]:
        return succeed(1)

    def close(self) -> Deferred[None]:
        return succeed(None)

    # -- campaigns ----------------------------------------------------------------------

    def _campaign(self, campaign_id: int) -> Campaign:
        if campaign_id not in self.campaigns:
            raise NotFoundError(f"no campaign {campaign_id}")
        return self.campaigns[campaign_id]

    def create_campaign(self, spec: CampaignSpec, now: float) -> Deferred[Campaign]:
        def work() -> Campaign:
            c = Campaign(self._id(), spec, CampaignState.DRAFT, now, now)
            self.campaigns[c.id] = c
            return c
        return self._run(work)

    def get_campaign(self, campaign_id: int) -> Deferred[Campaign]:
        return self._run(lambda: self._campaign(campaign_id))

    def list_campaigns(self) -> Deferred[list[Campaign]]:
        return self._run(lambda: list(self.campaigns.values()))

    def update_campaign(self, campaign_id: int, spec: CampaignSpec,
                        now: float) -> Deferred[Campaign]:
        def work() -> Campaign:
            c = replace(self._campaign(campaign_id), spec=spec, updated=now)
            self.campaigns[campaign_id] = c
            return c
        return self._run(work)

    def delete_campaign(self, campaign_id: int) -> Deferred[None]:
        def work() -> None:
            if self._campaign(campaign_id).state is CampaignState.RUNNING:
                raise ConflictError("campaign is running")
            del self.campaigns[campaign_id]
            for cid in [k for k, v in self.contacts.items() if v.campaign_id == campaign_id]:
                del self.contacts[cid]
        return self._run(work)

    def set_campaign_state(self, campaign_id: int, state: CampaignState, now: float,
                           allowed_from: frozenset[CampaignState]) -> Deferred[Campaign]:
        def work() -> Campaign:
            c = self._campaign(campaign_id)
            if c.state not in allowed_from:
                raise ConflictError(f"campaign {campaign_id} is {c.state}")
            c = replace(c, state=state, updated=now)
            self.campaigns[campaign_id] = c
            return c
        return self._run(work)

    # -- contacts -----------------------------------------------------------------------

    def add_contacts(self, campaign_id: int, contacts: Sequence[ContactInput],
                     now: float) -> Deferred[AddContactsResult]:
        def work() -> AddContactsResult:
            self._campaign(campaign_id)
            numbers = {c.number for c in self.contacts.values() if c.campaign_id == campaign_id}
            added, duplicates, dnc = [], [], []
            for i, item in enumerate(contacts):
                if item.number in numbers:
                    duplicates.append(i)
                    continue
                numbers.add(item.number)
                state = ContactState.DNC if item.number in self.dnc else ContactState.PENDING
                (dnc if state is ContactState.DNC else added).append(i)
                cid = self._id()
                self.contacts[cid] = Contact(cid, campaign_id, item.number, item.timezone,
                                             dict(item.vars), item.priority, state, 0, None,
                                             None, None, None)
            return AddContactsResult(added + dnc, duplicates, dnc)
        return self._run(work)

    def claim_contacts(self, campaign_id: int, node: str, limit: int, now: float,
                       lease_seconds: float) -> Deferred[list[Contact]]:
        def work() -> list[Contact]:
            due = [c for c in self.contacts.values()
                   if c.campaign_id == campaign_id and c.state is ContactState.PENDING
                   and (c.next_attempt_at is None or c.next_attempt_at <= now)]
            due.sort(key=lambda c: (-c.priority, c.id))
            claimed = []
            for contact in due[:limit]:
                leased = replace(contact, state=ContactState.DIALING, lease_owner=node,
                                 lease_until=now + lease_seconds)
                self.contacts[leased.id] = leased
                claimed.append(leased)
            return claimed
        return self._run(work)

    def renew_leases(self, node: str, now: float, lease_seconds: float) -> Deferred[int]:
        def work() -> int:
            mine = [c for c in self.contacts.values()
                    if c.state is ContactState.DIALING and c.lease_owner == node]
            for c in mine:
                self.contacts[c.id] = replace(c, lease_until=now + lease_seconds)
            return len(mine)
        return self._run(work)

    def expire_leases(self, now: float) -> Deferred[list[Call]]:
        def work() -> list[Call]:
            closed = []
            for c in list(self.contacts.values()):
                if c.state is ContactState.DIALING and c.lease_until is not None \
                        and c.lease_until < now:
                    self.contacts[c.id] = replace(c, state=ContactState.PENDING,
                                                  lease_owner=None, lease_until=None)
                    for call in list(self.calls.values()):
                        if call.contact_id == c.id and call.state is not CallState.COMPLETED:
                            ended = replace(call, state=CallState.COMPLETED,
                                            outcome=Outcome.FAILED, cause="lease_expired",
                                            ended_at=now)
                            self.calls[call.call_id] = ended
                            closed.append(ended)
            return closed
        return self._run(work)

    def release_contact(self, contact_id: int, node: str,
                        next_attempt_at: float | None = None) -> Deferred[None]:
        def work() -> None:
            c = self._contact(contact_id)
            if c.state is not ContactState.DIALING or c.lease_owner != node:
                raise ConflictError(f"contact {contact_id} is not claimed by {node}")
            self.contacts[contact_id] = replace(c, state=ContactState.PENDING, lease_owner=None,
                                                lease_until=None,
                                                next_attempt_at=next_attempt_at)
        return self._run(work)

    def _contact(self, contact_id: int) -> Contact:
        if contact_id not in self.contacts:
            raise NotFoundError(f"no contact {contact_id}")
        return self.contacts[contact_id]

    def get_contact(self, contact_id: int) -> Deferred[Contact]:
        return self._run(lambda: self._contact(contact_id))

    def contact_counters(self, campaign_id: int) -> Deferred[dict[str, int]]:
        def work() -> dict[str, int]:
            counters = {str(s): 0 for s in ContactState} | {str(o): 0 for o in Outcome}
            for c in self.contacts.values():
                if c.campaign_id == campaign_id:
                    counters[str(c.state)] += 1
            for call in self.calls.values():
                if call.campaign_id == campaign_id and call.outcome is not None:
                    counters[str(call.outcome)] += 1
            return counters
        return self._run(work)

    def mark_dnc_contacts(self, numbers: Sequence[str]) -> Deferred[int]:
        def work() -> int:
            marked = [c for c in self.contacts.values()
                      if c.state is ContactState.PENDING and c.number in set(numbers)]
            for c in marked:
                self.contacts[c.id] = replace(c, state=ContactState.DNC)
            return len(marked)
        return self._run(work)

    def cancel_pending_contacts(self, campaign_id: int) -> Deferred[int]:
        def work() -> int:
            pending = [c for c in self.contacts.values()
                       if c.campaign_id == campaign_id and c.state is ContactState.PENDING]
            for c in pending:
                self.contacts[c.id] = replace(c, state=ContactState.CANCELED)
            return len(pending)
        return self._run(work)

    # -- calls --------------------------------------------------------------------------

    def create_call(self, call: Call) -> Deferred[None]:
        def work() -> None:
            if call.call_id in self.calls:
                raise ConflictError(f"call {call.call_id} exists")
            self.calls[call.call_id] = call
            if call.contact_id is not None:  # an attempt counts once placed
                c = self._contact(call.contact_id)
                self.contacts[c.id] = replace(c, attempts=call.attempt)
        return self._run(work)

    def _call(self, call_id: str) -> Call:
        if call_id not in self.calls:
            raise NotFoundError(f"no call {call_id}")
        return self.calls[call_id]

    def get_call(self, call_id: str) -> Deferred[Call]:
        return self._run(lambda: self._call(call_id))

    def update_call(self, call_id: str, state: CallState, at: float, *,
                    asterisk: str | None = None, channel: str | None = None) -> Deferred[Call]:
        def work() -> Call:
            call = self._call(call_id)
            if call.state is CallState.COMPLETED:
                raise ConflictError(f"call {call_id} is completed")
            call = replace(call, state=state, asterisk=asterisk or call.asterisk,
                           channel=channel or call.channel)
            if state is CallState.DIALING:
                call = replace(call, dialing_at=at)
            if state is CallState.ANSWERED:
                call = replace(call, answered_at=at)
            self.calls[call_id] = call
            return call
        return self._run(work)

    def set_call_recording(self, call_id: str, recording_id: str) -> Deferred[Call]:
        def work() -> Call:
            call = replace(self._call(call_id), recording_id=recording_id)
            self.calls[call_id] = call
            return call
        return self._run(work)

    def finish_call(self, call_id: str, outcome: Outcome, at: float, cause: str | None,
                    contact: ContactOutcome | None) -> Deferred[Call]:
        def work() -> Call:
            call = self._call(call_id)
            if call.state is CallState.COMPLETED:
                raise ConflictError(f"call {call_id} already ended {call.outcome}")
            call = replace(call, state=CallState.COMPLETED, outcome=outcome, cause=cause,
                           ended_at=at)
            self.calls[call_id] = call
            if contact is not None and call.contact_id in self.contacts:
                c = self.contacts[call.contact_id]
                self.contacts[c.id] = replace(c, state=contact.state,
                                              next_attempt_at=contact.next_attempt_at,
                                              last_outcome=contact.last_outcome,
                                              lease_owner=None, lease_until=None)
            return call
        return self._run(work)

    def open_calls(self, node: str | None = None) -> Deferred[list[Call]]:
        return self._run(lambda: [c for c in self.calls.values()
                                  if c.state is not CallState.COMPLETED
                                  and (node is None or c.node == node)])

    def campaign_calls(self, campaign_id: int, after_call_id: str | None,
                       limit: int) -> Deferred[list[Call]]:
        def work() -> list[Call]:
            calls = [c for c in self.calls.values() if c.campaign_id == campaign_id]
            if after_call_id is not None:
                ids = [c.call_id for c in calls]
                calls = calls[ids.index(after_call_id) + 1:]
            return calls[:limit]
        return self._run(work)

    def answer_stats(self, campaign_id: int, since: float) -> Deferred[dict[str, int]]:
        def work() -> dict[str, int]:
            calls = [c for c in self.calls.values()
                     if c.campaign_id == campaign_id and c.created >= since]
            return {"placed": len(calls),
                    "answered": sum(c.outcome is Outcome.ANSWERED for c in calls),
                    "abandoned": sum(c.outcome is Outcome.ABANDONED for c in calls)}
        return self._run(work)

    # -- do not call --------------------------------------------------------------------

    def dnc_add(self, numbers: Sequence[str], now: float) -> Deferred[int]:
        def work() -> int:
            new = set(numbers) - self.dnc
            self.dnc |= new
            return len(new)
        return self._run(work)

    def dnc_remove(self, numbers: Sequence[str]) -> Deferred[int]:
        def work() -> int:
            gone = set(numbers) & self.dnc
            self.dnc -= gone
            return len(gone)
        return self._run(work)

    def dnc_check(self, numbers: Sequence[str]) -> Deferred[set[str]]:
        return self._run(lambda: set(numbers) & self.dnc)

    # -- outbox -------------------------------------------------------------------------

    def enqueue_event(self, event: CallEvent, callback: Callback,
                      now: float) -> Deferred[CallEvent]:
        def work() -> CallEvent:
            seq = self.seqs.get(event.call_id, 0) + 1
            self.seqs[event.call_id] = seq
            stored = replace(event, seq=seq)
            self.outbox.append(_Row(self._id(), stored, callback, 0, now))
            return stored
        return self._run(work)

    def due_events(self, now: float, limit: int) -> Deferred[list[OutboxEvent]]:
        def work() -> list[OutboxEvent]:
            oldest: dict[str, _Row] = {}
            for row in self.outbox:
                if not row.delivered and row.event.call_id not in oldest:
                    oldest[row.event.call_id] = row
            due = sorted((r for r in oldest.values() if r.due <= now), key=lambda r: r.id)
            return [OutboxEvent(r.id, r.event, r.callback, r.tries, r.due) for r in due[:limit]]
        return self._run(work)

    def _row(self, event_id: int) -> _Row:
        for row in self.outbox:
            if row.id == event_id:
                return row
        raise NotFoundError(f"no event {event_id}")

    def event_delivered(self, event_id: int) -> Deferred[None]:
        def work() -> None:
            self._row(event_id).delivered = True
        return self._run(work)

    def event_failed(self, event_id: int, next_due: float) -> Deferred[None]:
        def work() -> None:
            row = self._row(event_id)
            row.tries += 1
            row.due = next_due
        return self._run(work)

    # -- audit --------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> Deferred[None]:
        return self._run(lambda: self.audits.append(entry))

    def audit_log(self, since: float, limit: int) -> Deferred[list[AuditEntry]]:
        return self._run(lambda: [a for a in self.audits if a.at >= since][:limit])
