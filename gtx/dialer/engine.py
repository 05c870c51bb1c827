"""The dialer: single calls and campaigns, placed through the originators, kept in the store.

:class:`Dialer` implements :class:`gtx.dialer.service.DialerService` (what the XML-RPC API
calls). Around the per-call state machine (:mod:`gtx.dialer.calls`) and the campaign runners
(:mod:`gtx.dialer.campaigns`) it runs three loops on the injected clock:

- the **pump** (every ``[dialer] tick``): Originates that found their Asterisk link down are
  tried again once it is back, until ``queue_deadline`` (then the call fails with cause
  ``asterisk_unavailable``);
- the **leases** (every ``lease_seconds / 4``): renew this node's leases, expire those of dead
  nodes (their open calls are closed as failed/lease_expired by the store and their
  call-backs told);
- the **campaign sync** (every ``campaign_poll`` s): a runner for each running campaign, none
  for the others — so a campaign started, paused or stopped through another node is followed.

A single call may be **scheduled** (``not_before``, or ``delay`` which the dialer turns into
``not_before``): it is stored at once in state ``queued`` and sent when due (a timer per call).

The dialer is a Twisted service (``start``/``stop`` are the campaign methods of the API).
Restart: :meth:`Dialer.startService` first resynchronises — every open call of this node that
was sent (``dialing`` is recorded before the Originate goes out) is tracked again on its
originator, so its outcome is still recorded; every ``queued`` call, never sent, is scheduled
again (sent when due, at once if overdue) — then running campaigns resume; :attr:`Dialer.ready`
fires when that is done. :meth:`Dialer.stopService` only stops
the loops: calls in flight are not hung up; they finish on Asterisk, and the next start (or
their expired leases, taken over by another node) settles them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.config import DialerSettings
from gtx.dialer.agents import AgentSource
from gtx.dialer.callbacks import CallbackClient, CallbackDelivery
from gtx.dialer.calls import ABANDON_SECONDS, CallRecord, originate_request
from gtx.dialer.campaign_service import CampaignService
from gtx.dialer.campaigns import CampaignRunner, contact_request
from gtx.dialer.model import (
    Call,
    CallRequest,
    CallState,
    Campaign,
    CampaignMode,
    CampaignSpec,
    Contact,
    Outcome,
)
from gtx.dialer.recording import CallRecordings
from gtx.dialer.retry import next_step
from gtx.dialer.validate_call import scheduled
from gtx.errors import Conflict, InvalidArgument
from gtx.origination import OriginateRequest, Originator
from gtx.recorder.service import RecorderService
from gtx.store.api import ConflictError, ContactOutcome, NotFoundError, Store


class Dialer(CampaignService, Service):
    """The dialer of one gtx node (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        store: Store,
        originators: Mapping[str, Originator],
        node: str,
        settings: DialerSettings,
        callback_client: CallbackClient,
        agents: AgentSource | None = None,
        log: Logger | None = None,
        new_call_id: Callable[[], str] | None = None,
        queue_deadline: float = 120.0,
        campaign_poll: float = 5.0,
        callback_interval: float = 1.0,
        recorder: RecorderService | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.originators = dict(originators)
        self.node = node
        self.settings = settings
        self.agents = agents
        self.log = log if log is not None else Logger(namespace="gtx.dialer")
        self.new_call_id = new_call_id if new_call_id is not None else lambda: uuid.uuid4().hex
        self.queue_deadline = queue_deadline
        self.campaign_poll = campaign_poll
        self.delivery = CallbackDelivery(
            clock=clock, store=store, client=callback_client,
            timeout=settings.callback_timeout, retry_max=settings.callback_retry_max,
            interval=callback_interval, log=self.log,
        )
        # The campaign option `record`: without a recorder, campaigns are not recorded.
        self.recordings = (None if recorder is None
                           else CallRecordings(recorder, self._campaign_spec, self.log))
        self._calls: dict[str, CallRecord] = {}
        self._unsent: dict[str, tuple[Originator, OriginateRequest, float]] = {}
        self._timers: dict[str, IDelayedCall] = {}  # scheduled calls not due yet
        self.runners: dict[int, CampaignRunner] = {}
        self._previews: dict[int, tuple[int, str]] = {}  # contact_id -> (campaign_id, agent)
        self._loops: list[LoopingCall] = []
        self.ready: Deferred[None] = Deferred()

    # -- life cycle -----------------------------------------------------------------------

    def startService(self) -> None:
        """Resynchronise with the store and the originators, then start the loops;
        :attr:`ready` fires once done."""
        super().startService()
        Deferred.fromCoroutine(self._start()).chainDeferred(self.ready)

    async def _start(self) -> None:
        for call in await self.store.open_calls(self.node):
            if call.state is CallState.QUEUED:
                await self._requeue(call)
            else:
                self._resume(call)
        self._every(self.settings.tick, self._pump)
        self._every(self.settings.lease_seconds / 4, self._leases)
        self._every(self.campaign_poll, self.sync_campaigns)
        self.delivery.start()
        self.log.info("[dialer] node {node} started: {calls} open call(s) resynchronised",
                      node=self.node, calls=len(self._calls))

    def stopService(self) -> Deferred[None]:
        """Stop the loops and runners; calls in flight are left to finish (module docstring)."""
        super().stopService()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        for runner in self.runners.values():
            runner.stop()
        self.runners.clear()
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()  # still queued in the store: the next start schedules them again
        self.delivery.stop()
        return succeed(None)

    def _every(self, seconds: float, work: Callable[[], Deferred[None]]) -> None:
        loop = LoopingCall(work)
        loop.clock = self.clock
        self._loops.append(loop)

        def failed(failure: Failure) -> None:
            self.log.failure("[dialer] a loop stopped", failure)

        loop.start(seconds, now=True).addErrback(failed)

    async def _requeue(self, call: Call) -> None:
        """A call stored ``queued`` was never sent: send it when due (at once if overdue)."""
        originator = self._originator(call.asterisk)
        record = self._record(call)
        if originator is None:
            record.finish(Outcome.FAILED, "asterisk_unknown")
            return
        abandon = None
        if call.campaign_id is not None:
            try:
                campaign = await self.store.get_campaign(call.campaign_id)
            except NotFoundError:
                record.finish(Outcome.CANCELED, "campaign_deleted")
                return
            abandon = self._abandon_seconds(campaign)
        orig = originate_request(call.call_id, call.request, abandon_seconds=abandon,
                                 safe_harbor=self.settings.safe_harbor)
        due = call.request.not_before if call.request.not_before is not None else call.created
        self._when_due(record, originator, orig, max(due, self.clock.seconds()))

    def _resume(self, call: Call) -> None:
        originator = self._originator(call.asterisk)
        record = self._record(call)
        record.originated = True  # it may have been sent: follow it, never send it twice
        if originator is None:
            record.finish(Outcome.FAILED, "asterisk_unknown")
        else:
            originator.track(call.call_id, record.on_update)

    # -- single calls ---------------------------------------------------------------------

    def _originator(self, name: str | None) -> Originator | None:
        if name is None:
            return next(iter(self.originators.values()), None)
        return self.originators.get(name)

    def _record(self, call: Call) -> CallRecord:
        record = CallRecord(call, clock=self.clock, store=self.store, events=self.delivery,
                            contact_step=self._contact_step, on_done=self._call_done,
                            log=self.log, start_recording=(
                                None if self.recordings is None or call.campaign_id is None
                                else self.recordings.start))
        self._calls[call.call_id] = record
        return record

    async def _campaign_spec(self, campaign_id: int) -> CampaignSpec | None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            return runner.campaign.spec
        try:
            return (await self.store.get_campaign(campaign_id)).spec
        except NotFoundError:
            return None

    async def call(self, request: CallRequest) -> str:
        """Queue a single call and send it, or schedule it (``not_before`` / ``delay``:
        refused when in the past or more than 30 days ahead); return its call_id (see
        DialerService)."""
        originator = self._originator(request.asterisk)
        if originator is None:
            raise InvalidArgument("options.asterisk", f"no Asterisk server {request.asterisk!r}")
        return await self._place(scheduled(request, self.clock.seconds()), originator)

    @staticmethod
    def _abandon_seconds(campaign: Campaign | None) -> int | None:
        if campaign is not None and campaign.spec.mode in (CampaignMode.POWER,
                                                            CampaignMode.PREDICTIVE):
            return ABANDON_SECONDS
        return None

    async def _place(self, request: CallRequest, originator: Originator, *,
                     campaign: Campaign | None = None, contact: Contact | None = None) -> str:
        call = Call(
            call_id=self.new_call_id(), request=request, state=CallState.QUEUED,
            created=self.clock.seconds(), node=self.node,
            campaign_id=campaign.id if campaign else None,
            contact_id=contact.id if contact else None,
            attempt=contact.attempts + 1 if contact else 1, asterisk=originator.name,
        )
        await self.store.create_call(call)
        record = self._record(call)
        record.queued()
        orig = originate_request(call.call_id, request,
                                 abandon_seconds=self._abandon_seconds(campaign),
                                 safe_harbor=self.settings.safe_harbor)
        due = request.not_before
        if due is not None and due > call.created:
            self._when_due(record, originator, orig, due)
        else:
            await self._send(record, originator, orig, call.created)
        return call.call_id

    def _when_due(self, record: CallRecord, originator: Originator, orig: OriginateRequest,
                  due: float) -> None:
        """Send the call at ``due`` (a timer: the call stays queued until then)."""
        def fire() -> None:
            self._timers.pop(record.call_id, None)
            d = Deferred.fromCoroutine(self._send(record, originator, orig, due))
            d.addErrback(lambda f: self.log.failure("[{call_id}] could not send the call", f,
                                                    call_id=record.call_id))

        delay = max(0.0, due - self.clock.seconds())
        if delay > 0:
            self.log.info("[{call_id}] scheduled: dialled in {delay:g} s",
                          call_id=record.call_id, delay=delay)
        self._timers[record.call_id] = self.clock.callLater(delay, fire)

    async def _send(self, record: CallRecord, originator: Originator, orig: OriginateRequest,
                    since: float) -> None:
        """Send the Originate; a link that is down leaves it to the pump until ``since`` +
        ``queue_deadline``."""
        if not await record.originate(originator, orig):
            self.log.info("[{call_id}] Asterisk {name} unavailable: the call stays queued",
                          call_id=record.call_id, name=originator.name)
            self._unsent[record.call_id] = (originator, orig, since + self.queue_deadline)

    async def call_status(self, call_id: str) -> Call:
        return await self.stored(self.store.get_call(call_id))

    async def hangup(self, call_id: str) -> None:
        record = self._calls.get(call_id)
        if record is not None:
            await record.hangup(self._originator(record.call.asterisk))
            return
        call = await self.stored(self.store.get_call(call_id))
        if call.state is CallState.COMPLETED:
            raise Conflict(f"call {call_id} is already completed ({call.outcome})")
        if call.state is CallState.QUEUED:
            # Another node's call not sent yet (e.g. scheduled): close it in the store; that
            # node finds it completed when it records `dialing`, and never sends it.
            await self._cancel_queued(call)
            return
        originator = self._originator(call.asterisk)  # placed by another node
        if originator is not None:
            await originator.hangup(call_id)

    async def _cancel_queued(self, call: Call) -> None:
        now = self.clock.seconds()
        try:
            closed = await self.store.finish_call(call.call_id, Outcome.CANCELED, now, "hangup",
                                                  None)
        except ConflictError:
            raise Conflict(f"call {call.call_id} is already completed") from None
        await self.delivery.publish(closed, CallState.COMPLETED, now, Outcome.CANCELED, "hangup")

    def _call_done(self, record: CallRecord, outcome: Outcome) -> None:
        self._calls.pop(record.call_id, None)
        self._unsent.pop(record.call_id, None)
        timer = self._timers.pop(record.call_id, None)
        if timer is not None and timer.active():
            timer.cancel()
        runner = self.runners.get(record.call.campaign_id or -1)
        if runner is not None:
            runner.call_ended(self.clock.seconds(), outcome)

    async def _contact_step(self, call: Call, outcome: Outcome,
                            at: float) -> ContactOutcome | None:
        if call.campaign_id is None or call.contact_id is None:
            return None
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            campaign = runner.campaign
        else:
            try:
                campaign = await self.store.get_campaign(call.campaign_id)
            except NotFoundError:  # deleted meanwhile: its contacts are gone too
                return None
        return next_step(campaign.spec, call.attempt, outcome, at)

    # -- loops ----------------------------------------------------------------------------

    def _pump(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._send_unsent())

    async def _send_unsent(self) -> None:
        now = self.clock.seconds()
        for call_id, (originator, request, deadline) in list(self._unsent.items()):
            record = self._calls.get(call_id)
            if record is None or record.done:
                self._unsent.pop(call_id, None)
            elif now >= deadline:
                self._unsent.pop(call_id, None)
                record.finish(Outcome.FAILED, "asterisk_unavailable")
            elif originator.connected and await record.originate(originator, request):
                self._unsent.pop(call_id, None)

    def _leases(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._renew_and_expire())

    async def _renew_and_expire(self) -> None:
        now = self.clock.seconds()
        try:
            await self.store.renew_leases(self.node, now, self.settings.lease_seconds)
            closed = await self.store.expire_leases(now)
        except Exception:
            self.log.failure("[dialer] could not renew or expire leases")
            return
        for call in closed:
            self.log.warn("[{call_id}] lease of node {node} ran out: failed/lease_expired",
                          call_id=call.call_id, node=call.node)
            record = self._calls.pop(call.call_id, None)
            if record is not None:  # ours (this node stalled): its outcome is settled
                record.outcome = Outcome.FAILED
            await self.delivery.publish(call, CallState.COMPLETED, now, Outcome.FAILED,
                                        call.cause or "lease_expired")

    # -- what runners need (gtx.dialer.campaigns.CampaignCalls) ---------------------------

    def in_flight(self, campaign_id: int) -> list[CallRecord]:
        return [r for r in self._calls.values()
                if r.call.campaign_id == campaign_id and not r.done]

    def can_dial(self, spec: CampaignSpec) -> bool:
        originator = self._originator(spec.asterisk)
        return originator is not None and originator.connected

    async def dial_contact(self, campaign: Campaign, contact: Contact) -> str:
        originator = self._originator(campaign.spec.asterisk)
        if originator is None:
            raise InvalidArgument("spec.asterisk", f"no Asterisk server {campaign.spec.asterisk!r}")
        request = contact_request(campaign.spec, campaign, contact)
        return await self._place(request, originator, campaign=campaign, contact=contact)
