"""The store contract: everything gtx keeps, behind one interface, on SQLite or PostgreSQL.

All SQL lives under :mod:`gtx.store`. Every method runs one transaction in a thread of
``twisted.enterprise.adbapi`` (never on the reactor thread) and returns a Deferred. Both
backends pass the same test suite. Times are epoch seconds (floats), given by the caller (the
dialer's clock), so tests control them.

Multi-node safety: contacts are *claimed* with a lease (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite serves one node). A claimed contact is never claimed again while its lease
runs; a node renews the leases of the contacts it is dialling; a lease that ran out (its node
died) makes the contact eligible again — the attempt that node had in flight is then closed as
``failed`` with cause ``lease_expired``, so a contact is never dialled twice at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred

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
from gtx.recorder.events import RecordingEvent, RecordingEventKind
from gtx.recorder.model import Recording, RecordingState
from gtx.recorder.service import RecordingFilter


class StoreError(Exception):
    """Base class of the store's errors."""


class NotFoundError(StoreError):
    """No such campaign / contact / call."""


class ConflictError(StoreError):
    """The change conflicts with the current state (e.g. a state transition not allowed)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (retry later; nothing was changed)."""


@dataclass(frozen=True)
class AddContactsResult:
    """What ``add_contacts`` did, per input index."""

    added: Sequence[int]  # indexes of the contacts added
    duplicates: Sequence[int]  # indexes whose number the campaign already has (or repeated)
    dnc: Sequence[int]  # indexes added in state DNC (number on the do-not-call list)


@dataclass(frozen=True)
class ContactOutcome:
    """How to update a contact when one of its attempts ends."""

    state: ContactState  # PENDING (a retry is due), DONE
    next_attempt_at: float | None  # when PENDING
    last_outcome: Outcome


@dataclass(frozen=True)
class OutboxEvent:
    """A call event waiting to be delivered to a callback."""

    id: int
    event: CallEvent
    callback: Callback
    tries: int  # deliveries tried so far
    due: float  # when to try next


@dataclass(frozen=True)
class RecordingChange:
    """A change of state of a recording, made only from one of ``allowed_from`` (else
    ConflictError, naming the current state). The other fields are set when not None; with
    ``event``, that event is queued for the recording's callback (if it has one) in the same
    transaction, built from the recording as changed."""

    state: RecordingState
    allowed_from: frozenset[RecordingState]
    at: float
    ended: float | None = None
    duration: float | None = None
    size: int | None = None
    error: str | None = None
    files_reachable: bool | None = None  # whether gtx could read the files (see the recorder)
    event: RecordingEventKind | None = None
    cause: str | None = None  # told in the event (hangup, stopped, max_seconds …)


@dataclass(frozen=True)
class RecordingOutboxEvent:
    """A recording event waiting to be delivered to a callback."""

    id: int
    event: RecordingEvent
    callback: Callback
    tries: int
    due: float


class Store(Protocol):
    """See the module docstring. Errors: the exceptions above."""

    def upgrade(self) -> Deferred[int]:
        """Apply the pending schema migrations; fire with the schema version."""

    def close(self) -> Deferred[None]: ...

    # -- campaigns -----------------------------------------------------------------------

    def create_campaign(self, spec: CampaignSpec, now: float) -> Deferred[Campaign]: ...

    def get_campaign(self, campaign_id: int) -> Deferred[Campaign]:
        """NotFoundError if there is none."""

    def list_campaigns(self) -> Deferred[list[Campaign]]: ...

    def update_campaign(self, campaign_id: int, spec: CampaignSpec, now: float) -> Deferred[
        Campaign
    ]: ...

    def delete_campaign(self, campaign_id: int) -> Deferred[None]:
        """Delete a campaign that is not running, with its contacts (its calls are kept)."""

    def set_campaign_state(
        self,
        campaign_id: int,
        state: CampaignState,
        now: float,
        allowed_from: frozenset[CampaignState],
    ) -> Deferred[Campaign]:
        """Move to ``state`` if the current state is in ``allowed_from``; else ConflictError."""

    # -- contacts ------------------------------------------------------------------------

    def add_contacts(
        self, campaign_id: int, contacts: Sequence[ContactInput], now: float
    ) -> Deferred[AddContactsResult]:
        """Add in one transaction; a number already in the campaign is a duplicate."""

    def claim_contacts(
        self, campaign_id: int, node: str, limit: int, now: float, lease_seconds: float
    ) -> Deferred[list[Contact]]:
        """Claim up to ``limit`` PENDING contacts due at ``now`` (next_attempt_at unset or
        passed), highest priority first then oldest: they become DIALING, leased to ``node``
        until ``now + lease_seconds``. Calling windows are the dialer's business."""

    def renew_leases(self, node: str, now: float, lease_seconds: float) -> Deferred[int]:
        """Extend every lease ``node`` holds; fire with how many."""

    def expire_leases(self, now: float) -> Deferred[list[Call]]:
        """Make contacts whose lease ran out PENDING again; close their open calls as
        ``failed``/``lease_expired`` (returned, so their callbacks can be told)."""

    def release_contact(
        self, contact_id: int, node: str, next_attempt_at: float | None = None
    ) -> Deferred[None]:
        """Give a claimed contact back (PENDING, no attempt counted), due again at
        ``next_attempt_at`` (None: at once). ConflictError if ``node`` does not hold it."""

    def get_contact(self, contact_id: int) -> Deferred[Contact]: ...

    def contact_counters(self, campaign_id: int) -> Deferred[dict[str, int]]:
        """Contacts by state, and finished calls by outcome: keys are ContactState and
        Outcome values (``pending``, ``dialing``, ``done``, ``dnc``, ``answered``, ``busy``…),
        all present (0 when none); canceled contacts are ``contacts_canceled`` (``canceled``
        counts canceled calls)."""

    def mark_dnc_contacts(self, numbers: Sequence[str]) -> Deferred[int]:
        """Move PENDING contacts with these numbers (any campaign) to DNC; fire with how many."""

    def cancel_pending_contacts(self, campaign_id: int) -> Deferred[int]:
        """A stopped campaign: PENDING contacts become CANCELED."""

    # -- calls ---------------------------------------------------------------------------

    def create_call(self, call: Call) -> Deferred[None]: ...

    def get_call(self, call_id: str) -> Deferred[Call]:
        """NotFoundError if there is none."""

    def update_call(
        self,
        call_id: str,
        state: CallState,
        at: float,
        *,
        asterisk: str | None = None,
        channel: str | None = None,
    ) -> Deferred[Call]:
        """Record progress (dialing, ringing, answered); sets the matching timestamp."""

    def set_call_recording(self, call_id: str, recording_id: str) -> Deferred[Call]:
        """Link a call to the recording started on it; fire with the call."""

    def finish_call(
        self,
        call_id: str,
        outcome: Outcome,
        at: float,
        cause: str | None,
        contact: ContactOutcome | None,
    ) -> Deferred[Call]:
        """Close a call with its one outcome, and update its contact, in one transaction: the
        contact's attempts grow by one and its lease is freed. A call already completed is
        left as it is (ConflictError): outcomes never change."""

    def open_calls(self, node: str | None = None) -> Deferred[list[Call]]:
        """Calls not completed (of ``node``, or all): what to resynchronise after a restart."""

    def campaign_calls(
        self, campaign_id: int, after_call_id: str | None, limit: int
    ) -> Deferred[list[Call]]:
        """A campaign's calls in creation order, paged (``dialer.campaign.results``)."""

    def answer_stats(self, campaign_id: int, since: float) -> Deferred[Mapping[str, int]]:
        """Calls ``placed``, ``answered`` (by a person and handed on, including calls still
        up; abandoned ones excluded), ``abandoned`` and ``machine`` since ``since``
        (predictive pacing: live answers are answered + abandoned)."""

    # -- do not call ---------------------------------------------------------------------

    def dnc_add(self, numbers: Sequence[str], now: float) -> Deferred[int]: ...

    def dnc_remove(self, numbers: Sequence[str]) -> Deferred[int]: ...

    def dnc_check(self, numbers: Sequence[str]) -> Deferred[set[str]]:
        """The numbers of ``numbers`` that are on the list."""

    # -- call-back outbox ----------------------------------------------------------------

    def enqueue_event(
        self, event: CallEvent, callback: Callback, now: float
    ) -> Deferred[CallEvent]:
        """Queue an event for delivery. ``event.seq`` is ignored: the store numbers the events
        of each call 1, 2, … in the order they are queued; fires with the stored event."""

    def due_events(self, now: float, limit: int) -> Deferred[list[OutboxEvent]]:
        """Undelivered events due at ``now``, only the oldest undelivered one per call (events
        of one call go out in order)."""

    def event_delivered(self, event_id: int) -> Deferred[None]: ...

    def event_failed(self, event_id: int, next_due: float) -> Deferred[None]: ...

    # -- recordings ------------------------------------------------------------------------

    def create_recording(self, recording: Recording) -> Deferred[None]:
        """Store a new recording (ConflictError if its id is taken); no event is queued."""

    def get_recording(self, recording_id: str) -> Deferred[Recording]:
        """NotFoundError if there is none."""

    def update_recording(self, recording_id: str, change: RecordingChange) -> Deferred[
        Recording
    ]:
        """Apply ``change`` (see :class:`RecordingChange`); fire with the recording changed."""

    def list_recordings(
        self, query: RecordingFilter
    ) -> Deferred[tuple[list[Recording], str | None]]:
        """A page of the recordings ``query`` selects, newest first (by start, then creation),
        and the cursor of the next page (None at the end). ``query.after`` is the last
        recording id of the previous page (NotFoundError if there is no such recording)."""

    def open_recordings(self, node: str | None = None) -> Deferred[list[Recording]]:
        """Recordings (of ``node``, or all) still ``recording``, ``paused`` or ``stopped``:
        what to reconcile after a restart, oldest first."""

    def expired_recordings(self, before: float, limit: int) -> Deferred[list[Recording]]:
        """Up to ``limit`` ``ready`` or ``failed`` recordings started before ``before``,
        oldest first (retention)."""

    def enqueue_recording_event(
        self, recording_id: str, event: RecordingEventKind, at: float, cause: str | None = None
    ) -> Deferred[RecordingEvent | None]:
        """Queue ``event`` of the recording as it is now, numbered after its last one; fires
        with the stored event, or None when the recording has no callback."""

    def due_recording_events(self, now: float, limit: int) -> Deferred[
        list[RecordingOutboxEvent]
    ]:
        """Undelivered recording events due at ``now``, only the oldest undelivered one per
        recording (events of one recording go out in order)."""

    def recording_event_delivered(self, event_id: int) -> Deferred[None]: ...

    def recording_event_failed(self, event_id: int, next_due: float) -> Deferred[None]: ...

    # -- audit ---------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> Deferred[None]: ...

    def audit_log(self, since: float, limit: int) -> Deferred[list[AuditEntry]]: ...
