"""The transactions on campaigns and their contacts (claims and leases included).

Each function is the whole of one transaction: it takes the :class:`~gtx.store.sql.Sql` of
that transaction and is run in a thread of the connection pool by :class:`gtx.store.base.SqlStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtx.dialer.model import (
    Call,
    Campaign,
    CampaignSpec,
    CampaignState,
    Contact,
    ContactInput,
    ContactState,
    Outcome,
)
from gtx.store import codec
from gtx.store.api import AddContactsResult, ConflictError, NotFoundError
from gtx.store.calls import call_from_row
from gtx.store.sql import Sql, chunks


def campaign_from_row(row: tuple[Any, ...]) -> Campaign:
    id_, spec, state, created, updated = row
    return Campaign(
        id=int(id_),
        spec=codec.decode_spec(spec),
        state=CampaignState(state),
        created=float(created),
        updated=float(updated),
    )


def contact_from_row(row: tuple[Any, ...]) -> Contact:
    (id_, campaign_id, number, timezone, vars_, priority, state, attempts, next_attempt_at,
     last_outcome, lease_owner, lease_until) = row
    return Contact(
        id=int(id_),
        campaign_id=int(campaign_id),
        number=number,
        timezone=timezone,
        vars=codec.decode_vars(vars_),
        priority=int(priority),
        state=ContactState(state),
        attempts=int(attempts),
        next_attempt_at=None if next_attempt_at is None else float(next_attempt_at),
        last_outcome=None if last_outcome is None else Outcome(last_outcome),
        lease_owner=lease_owner,
        lease_until=None if lease_until is None else float(lease_until),
    )


# -- campaigns ---------------------------------------------------------------------------


def get_campaign(sql: Sql, campaign_id: int, *, lock: bool = False) -> Campaign:
    if lock:
        row = sql.one("SELECT {campaign} FROM campaigns WHERE id = ?{for_update}", campaign_id)
    else:
        row = sql.one("SELECT {campaign} FROM campaigns WHERE id = ?", campaign_id)
    if row is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return campaign_from_row(row)


def create_campaign(sql: Sql, spec: CampaignSpec, now: float) -> Campaign:
    row = sql.one(
        "INSERT INTO campaigns (spec, state, priority, created, updated) VALUES (?, ?, ?, ?, ?)"
        " RETURNING {campaign}",
        codec.encode_spec(spec), CampaignState.DRAFT.value, spec.priority, now, now,
    )
    assert row is not None  # RETURNING of an INSERT gives its row
    return campaign_from_row(row)


def list_campaigns(sql: Sql) -> list[Campaign]:
    return [campaign_from_row(r)
            for r in sql.all("SELECT {campaign} FROM campaigns ORDER BY id")]


def update_campaign(sql: Sql, campaign_id: int, spec: CampaignSpec, now: float) -> Campaign:
    row = sql.one(
        "UPDATE campaigns SET spec = ?, priority = ?, updated = ? WHERE id = ?"
        " RETURNING {campaign}",
        codec.encode_spec(spec), spec.priority, now, campaign_id,
    )
    if row is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return campaign_from_row(row)


def delete_campaign(sql: Sql, campaign_id: int) -> None:
    campaign = get_campaign(sql, campaign_id, lock=True)
    if campaign.state is CampaignState.RUNNING:
        raise ConflictError(f"campaign {campaign_id} is running: stop it first")
    sql.run("DELETE FROM contacts WHERE campaign_id = ?", campaign_id)
    sql.run("DELETE FROM campaigns WHERE id = ?", campaign_id)


def set_campaign_state(
    sql: Sql,
    campaign_id: int,
    state: CampaignState,
    now: float,
    allowed_from: frozenset[CampaignState],
) -> Campaign:
    campaign = get_campaign(sql, campaign_id, lock=True)
    if campaign.state not in allowed_from:
        raise ConflictError(
            f"campaign {campaign_id} is {campaign.state.value}: cannot become {state.value}"
        )
    sql.run("UPDATE campaigns SET state = ?, updated = ? WHERE id = ?",
            state.value, now, campaign_id)
    return get_campaign(sql, campaign_id)


# -- contacts ------------------------------------------------------------------------------


def add_contacts(
    sql: Sql, campaign_id: int, contacts: Sequence[ContactInput], now: float
) -> AddContactsResult:
    """Every index lands in exactly one of ``added`` (pending), ``duplicates`` and ``dnc``
    (added, in state DNC)."""
    get_campaign(sql, campaign_id, lock=True)  # exists; and adds to one campaign queue up
    numbers = sorted({c.number for c in contacts})
    existing: set[str] = set()
    blocked: set[str] = set()
    for part in chunks(numbers):
        existing.update(r[0] for r in sql.all(
            "SELECT number FROM contacts WHERE campaign_id = ? AND number IN ({listed})",
            campaign_id, listed=part))
        blocked.update(r[0] for r in sql.all(
            "SELECT number FROM dnc WHERE number IN ({listed})", listed=part))
    added: list[int] = []
    duplicates: list[int] = []
    dnc: list[int] = []
    rows: list[tuple[object, ...]] = []
    for index, contact in enumerate(contacts):
        if contact.number in existing:
            duplicates.append(index)
            continue
        existing.add(contact.number)  # a number repeated in the input is a duplicate too
        state = ContactState.DNC if contact.number in blocked else ContactState.PENDING
        (dnc if state is ContactState.DNC else added).append(index)
        rows.append((campaign_id, contact.number, contact.timezone,
                     codec.encode_vars(contact.vars), contact.priority, state.value, now))
    if rows:
        sql.many(
            "INSERT INTO contacts (campaign_id, number, timezone, vars, priority, state, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return AddContactsResult(added=added, duplicates=duplicates, dnc=dnc)


def get_contact(sql: Sql, contact_id: int) -> Contact:
    row = sql.one("SELECT {contact} FROM contacts WHERE id = ?", contact_id)
    if row is None:
        raise NotFoundError(f"no contact {contact_id}")
    return contact_from_row(row)


def claim_contacts(
    sql: Sql, campaign_id: int, node: str, limit: int, now: float, lease_seconds: float
) -> list[Contact]:
    if limit <= 0:
        return []
    # The inner SELECT locks the rows it picks and skips those another node's claim holds;
    # the outer state test re-checks each row once locked (another claim may just have
    # committed it), so a contact is handed to one node only.
    rows = sql.all(
        "UPDATE contacts SET state = 'dialing', lease_owner = ?, lease_until = ?"
        " WHERE state = 'pending' AND id IN ("
        "SELECT id FROM contacts WHERE campaign_id = ? AND state = 'pending'"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        " ORDER BY priority DESC, id LIMIT ?{skip_locked})"
        " RETURNING {contact}",
        node, now + lease_seconds, campaign_id, now, limit,
    )
    contacts = [contact_from_row(r) for r in rows]
    contacts.sort(key=lambda c: (-c.priority, c.id))  # RETURNING keeps no order
    return contacts


def renew_leases(sql: Sql, node: str, now: float, lease_seconds: float) -> int:
    return sql.run(
        "UPDATE contacts SET lease_until = ? WHERE state = 'dialing' AND lease_owner = ?",
        now + lease_seconds, node,
    )


def expire_leases(sql: Sql, now: float) -> list[Call]:
    """Contacts whose lease ran out become pending again; the call their node had in flight
    is closed as failed/lease_expired, and counts as an attempt of the contact."""
    expired = [r[0] for r in sql.all(
        "SELECT id FROM contacts WHERE state = 'dialing' AND lease_until < ?"
        " ORDER BY id{skip_locked}",
        now,
    )]
    closed: list[Call] = []
    for part in chunks(expired):
        sql.run(
            "UPDATE contacts SET state = 'pending', lease_owner = NULL, lease_until = NULL"
            " WHERE id IN ({listed})",
            listed=part,
        )
        rows = sql.all(
            "UPDATE calls SET state = 'completed', outcome = 'failed', cause = 'lease_expired',"
            " ended_at = ? WHERE state <> 'completed' AND contact_id IN ({listed})"
            " RETURNING {call}",
            now, listed=part,
        )
        calls = [call_from_row(r) for r in rows]
        for call in calls:
            sql.run(
                "UPDATE contacts SET attempts = attempts + 1, last_outcome = 'failed'"
                " WHERE id = ?",
                call.contact_id,
            )
        closed.extend(calls)
    closed.sort(key=lambda c: (c.created, c.call_id))
    return closed


def release_contact(
    sql: Sql, contact_id: int, node: str, next_attempt_at: float | None
) -> None:
    """Pending again, no attempt counted; due at ``next_attempt_at`` when given (a contact
    outside its calling window), else when it was due."""
    changed = sql.run(
        "UPDATE contacts SET state = 'pending', lease_owner = NULL, lease_until = NULL,"
        " next_attempt_at = COALESCE(?, next_attempt_at)"
        " WHERE id = ? AND state = 'dialing' AND lease_owner = ?",
        next_attempt_at, contact_id, node,
    )
    if not changed:
        contact = get_contact(sql, contact_id)
        raise ConflictError(
            f"contact {contact_id} is {contact.state.value}"
            f" (lease of {contact.lease_owner}), not claimed by {node}"
        )


def contact_counters(sql: Sql, campaign_id: int) -> dict[str, int]:
    """Contacts by state and the campaign's finished calls by outcome. ``canceled`` is the
    outcome (calls hung up); contacts a stop canceled are ``contacts_canceled``."""
    counters = {state.value: 0 for state in ContactState}
    del counters[ContactState.CANCELED.value]
    counters["contacts_canceled"] = 0
    for state, count in sql.all(
        "SELECT state, COUNT(*) FROM contacts WHERE campaign_id = ? GROUP BY state", campaign_id
    ):
        key = "contacts_canceled" if state == ContactState.CANCELED.value else state
        counters[key] = int(count)
    counters.update({outcome.value: 0 for outcome in Outcome})
    for outcome, count in sql.all(
        "SELECT outcome, COUNT(*) FROM calls WHERE campaign_id = ? AND state = 'completed'"
        " GROUP BY outcome",
        campaign_id,
    ):
        counters[outcome] = int(count)
    return counters


def mark_dnc_contacts(sql: Sql, numbers: Sequence[str]) -> int:
    marked = 0
    for part in chunks(sorted(set(numbers))):
        marked += sql.run(
            "UPDATE contacts SET state = 'dnc' WHERE state = 'pending' AND number IN ({listed})",
            listed=part,
        )
    return marked


def cancel_pending_contacts(sql: Sql, campaign_id: int) -> int:
    get_campaign(sql, campaign_id)
    return sql.run(
        "UPDATE contacts SET state = 'canceled' WHERE campaign_id = ? AND state = 'pending'",
        campaign_id,
    )
