"""The store on a ``twisted.enterprise.adbapi`` connection pool: each method is one
transaction, run in a thread of the pool, never on the reactor thread.

The transactions themselves are the functions of :mod:`gtx.store.campaigns`,
:mod:`gtx.store.calls`, :mod:`gtx.store.outbox`, :mod:`gtx.store.lists` and
:mod:`gtx.store.recordings`; this class runs
them and turns the driver's errors into the store's (see :mod:`gtx.store.api`):

    driver error                                    store error
    OperationalError, InterfaceError,               StoreUnavailable (nothing was changed;
      adbapi.ConnectionLost                           the next call connects again)
    IntegrityError (a unique key, a foreign key)    ConflictError
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar, cast

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

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
    Outcome,
)
from gtx.recorder.events import RecordingEvent, RecordingEventKind
from gtx.recorder.model import Recording
from gtx.recorder.service import RecordingFilter
from gtx.store import calls, campaigns, lists, migrations, outbox, recordings
from gtx.store.api import (
    AddContactsResult,
    ConflictError,
    ContactOutcome,
    OutboxEvent,
    RecordingChange,
    RecordingOutboxEvent,
    StoreError,
    StoreUnavailable,
)
from gtx.store.sql import Cursor, Dialect, Sql

P = ParamSpec("P")
T = TypeVar("T")


class SqlStore:
    """A :class:`gtx.store.api.Store` on a connection pool of one of the :class:`Dialect`\\ s.

    ``name`` names the database in errors (a URL without its password)."""

    def __init__(
        self, pool: adbapi.ConnectionPool, dialect: Dialect, clock: IReactorTime, name: str
    ) -> None:
        self.dialect = dialect
        self.name = name
        self._pool = pool
        self._clock = clock
        self._closed = False
        # Bumped when the database was lost. Each pool thread keeps its own connection: one
        # that last worked before the loss is tested before use, so the call after a
        # StoreUnavailable reconnects whichever thread runs it.
        self._generation = 0
        self._thread_generation: dict[int, int] = {}

    # -- running transactions ---------------------------------------------------------------

    def _write(
        self, fn: Callable[Concatenate[Sql, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return self._run(self.dialect.begin_write, fn, *args, **kwargs)

    def _read(
        self, fn: Callable[Concatenate[Sql, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return self._run(self.dialect.begin_read, fn, *args, **kwargs)

    def _run(
        self,
        begin: str | None,
        fn: Callable[Concatenate[Sql, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred[T]:
        def transaction(cursor: Any) -> T:
            cursor = self._fresh(cursor)
            if begin is not None:
                cursor.execute(begin)
            return fn(Sql(cast(Cursor, cursor), self.dialect), *args, **kwargs)

        if self._closed:
            return fail(StoreUnavailable(f"{self.name}: the store is closed"))
        d = cast("Deferred[T]", self._pool.runInteraction(transaction))
        d.addErrback(self._translate)
        return d

    def _fresh(self, cursor: Any) -> Any:
        """In a pool thread: the cursor, on a connection that is known to work when the
        database was lost since this thread last used it."""
        thread = threading.get_ident()
        seen = self._thread_generation.get(thread)
        self._thread_generation[thread] = self._generation
        if seen is None or seen == self._generation or not self._pool.reconnect:
            return cursor
        dbapi = self._pool.dbapi
        try:
            cursor.execute(self._pool.good_sql)
            cursor.fetchall()
        except (dbapi.OperationalError, dbapi.InterfaceError):
            cursor.reconnect()  # adbapi.Transaction: a new connection for this thread
            cursor.reopen()
        return cursor

    def _translate(self, failure: Failure) -> NoReturn:
        error = failure.value
        dbapi = self._pool.dbapi
        if isinstance(error, StoreError):
            failure.raiseException()
        if isinstance(error, dbapi.OperationalError | dbapi.InterfaceError
                      | adbapi.ConnectionLost):
            self._generation += 1
            detail = str(error).strip() or type(error).__name__
            raise StoreUnavailable(f"{self.name}: {detail}") from error
        if isinstance(error, dbapi.IntegrityError):
            raise ConflictError(str(error).strip()) from error
        failure.raiseException()

    # -- schema ----------------------------------------------------------------------------

    def upgrade(self) -> Deferred[int]:
        """Apply the pending migrations, one transaction each; fire with the version."""
        return Deferred.fromCoroutine(self._upgrade())

    async def _upgrade(self) -> int:
        version = await self._write(migrations.ensure_version_table)
        for step in migrations.STEPS:
            if step.version > version:
                await self._write(migrations.apply_step, step, self._clock.seconds())
        return await self._read(migrations.current_version)

    def close(self) -> Deferred[None]:
        """Close the pool's connections (waits for the transaction running, if any)."""
        if not self._closed:
            self._closed = True
            self._pool.close()
        return succeed(None)

    # -- campaigns -------------------------------------------------------------------------

    def create_campaign(self, spec: CampaignSpec, now: float) -> Deferred[Campaign]:
        return self._write(campaigns.create_campaign, spec, now)

    def get_campaign(self, campaign_id: int) -> Deferred[Campaign]:
        return self._read(campaigns.get_campaign, campaign_id)

    def list_campaigns(self) -> Deferred[list[Campaign]]:
        return self._read(campaigns.list_campaigns)

    def update_campaign(
        self, campaign_id: int, spec: CampaignSpec, now: float
    ) -> Deferred[Campaign]:
        return self._write(campaigns.update_campaign, campaign_id, spec, now)

    def delete_campaign(self, campaign_id: int) -> Deferred[None]:
        return self._write(campaigns.delete_campaign, campaign_id)

    def set_campaign_state(
        self,
        campaign_id: int,
        state: CampaignState,
        now: float,
        allowed_from: frozenset[CampaignState],
    ) -> Deferred[Campaign]:
        return self._write(campaigns.set_campaign_state, campaign_id, state, now, allowed_from)

    # -- contacts --------------------------------------------------------------------------

    def add_contacts(
        self, campaign_id: int, contacts: Sequence[ContactInput], now: float
    ) -> Deferred[AddContactsResult]:
        return self._write(campaigns.add_contacts, campaign_id, list(contacts), now)

    def claim_contacts(
        self, campaign_id: int, node: str, limit: int, now: float, lease_seconds: float
    ) -> Deferred[list[Contact]]:
        return self._write(
            campaigns.claim_contacts, campaign_id, node, limit, now, lease_seconds
        )

    def renew_leases(self, node: str, now: float, lease_seconds: float) -> Deferred[int]:
        return self._write(campaigns.renew_leases, node, now, lease_seconds)

    def expire_leases(self, now: float) -> Deferred[list[Call]]:
        return self._write(campaigns.expire_leases, now)

    def release_contact(
        self, contact_id: int, node: str, next_attempt_at: float | None = None
    ) -> Deferred[None]:
        """Also takes the time the contact is due again (outside its calling window)."""
        return self._write(campaigns.release_contact, contact_id, node, next_attempt_at)

    def get_contact(self, contact_id: int) -> Deferred[Contact]:
        return self._read(campaigns.get_contact, contact_id)

    def contact_counters(self, campaign_id: int) -> Deferred[dict[str, int]]:
        return self._read(campaigns.contact_counters, campaign_id)

    def mark_dnc_contacts(self, numbers: Sequence[str]) -> Deferred[int]:
        return self._write(campaigns.mark_dnc_contacts, list(numbers))

    def cancel_pending_contacts(self, campaign_id: int) -> Deferred[int]:
        return self._write(campaigns.cancel_pending_contacts, campaign_id)

    # -- calls -----------------------------------------------------------------------------

    def create_call(self, call: Call) -> Deferred[None]:
        return self._write(calls.create_call, call)

    def get_call(self, call_id: str) -> Deferred[Call]:
        return self._read(calls.get_call, call_id)

    def update_call(
        self,
        call_id: str,
        state: CallState,
        at: float,
        *,
        asterisk: str | None = None,
        channel: str | None = None,
    ) -> Deferred[Call]:
        return self._write(calls.update_call, call_id, state, at, asterisk, channel)

    def set_call_recording(self, call_id: str, recording_id: str) -> Deferred[Call]:
        return self._write(calls.set_call_recording, call_id, recording_id)

    def finish_call(
        self,
        call_id: str,
        outcome: Outcome,
        at: float,
        cause: str | None,
        contact: ContactOutcome | None,
    ) -> Deferred[Call]:
        return self._write(calls.finish_call, call_id, outcome, at, cause, contact)

    def open_calls(self, node: str | None = None) -> Deferred[list[Call]]:
        return self._read(calls.open_calls, node)

    def campaign_calls(
        self, campaign_id: int, after_call_id: str | None, limit: int
    ) -> Deferred[list[Call]]:
        return self._read(calls.campaign_calls, campaign_id, after_call_id, limit)

    def answer_stats(self, campaign_id: int, since: float) -> Deferred[Mapping[str, int]]:
        return self._read(calls.answer_stats, campaign_id, since)

    # -- do not call -----------------------------------------------------------------------

    def dnc_add(self, numbers: Sequence[str], now: float) -> Deferred[int]:
        return self._write(lists.dnc_add, list(numbers), now)

    def dnc_remove(self, numbers: Sequence[str]) -> Deferred[int]:
        return self._write(lists.dnc_remove, list(numbers))

    def dnc_check(self, numbers: Sequence[str]) -> Deferred[set[str]]:
        return self._read(lists.dnc_check, list(numbers))

    # -- call-back outbox ------------------------------------------------------------------

    def enqueue_event(
        self, event: CallEvent, callback: Callback, now: float
    ) -> Deferred[CallEvent]:
        return self._write(outbox.enqueue_event, event, callback, now)

    def due_events(self, now: float, limit: int) -> Deferred[list[OutboxEvent]]:
        return self._read(outbox.due_events, now, limit)

    def event_delivered(self, event_id: int) -> Deferred[None]:
        return self._write(outbox.event_delivered, event_id)

    def event_failed(self, event_id: int, next_due: float) -> Deferred[None]:
        return self._write(outbox.event_failed, event_id, next_due)

    # -- recordings --------------------------------------------------------------------------

    def create_recording(self, recording: Recording) -> Deferred[None]:
        return self._write(recordings.create_recording, recording)

    def get_recording(self, recording_id: str) -> Deferred[Recording]:
        return self._read(recordings.get_recording, recording_id)

    def update_recording(self, recording_id: str, change: RecordingChange) -> Deferred[
        Recording
    ]:
        return self._write(recordings.update_recording, recording_id, change)

    def list_recordings(
        self, query: RecordingFilter
    ) -> Deferred[tuple[list[Recording], str | None]]:
        return self._read(recordings.list_recordings, query)

    def open_recordings(self, node: str | None = None) -> Deferred[list[Recording]]:
        return self._read(recordings.open_recordings, node)

    def expired_recordings(self, before: float, limit: int) -> Deferred[list[Recording]]:
        return self._read(recordings.expired_recordings, before, limit)

    def enqueue_recording_event(
        self, recording_id: str, event: RecordingEventKind, at: float, cause: str | None = None
    ) -> Deferred[RecordingEvent | None]:
        return self._write(recordings.enqueue_recording_event, recording_id, event, at, cause)

    def due_recording_events(self, now: float, limit: int) -> Deferred[
        list[RecordingOutboxEvent]
    ]:
        return self._read(recordings.due_recording_events, now, limit)

    def recording_event_delivered(self, event_id: int) -> Deferred[None]:
        return self._write(recordings.recording_event_delivered, event_id)

    def recording_event_failed(self, event_id: int, next_due: float) -> Deferred[None]:
        return self._write(recordings.recording_event_failed, event_id, next_due)

    # -- audit -----------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> Deferred[None]:
        return self._write(lists.audit, entry)

    def audit_log(self, since: float, limit: int) -> Deferred[list[AuditEntry]]:
        return self._read(lists.audit_log, since, limit)
