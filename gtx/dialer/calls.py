"""One call, from queued to its one outcome: what is sent to Asterisk and what is recorded.

A :class:`CallRecord` owns one call of this node. It turns the call's request into an
``OriginateRequest`` (:func:`originate_request`), records every ``OriginateUpdate`` in the
store in the order they came (``update_call``), closes the call exactly once (``finish_call``,
with the contact's next step for a campaign call) and publishes an event per state change.
The store is written in order per call: each write waits for the one before it, and a write
that finds the database unavailable is tried again (back-off up to :data:`STORE_RETRY_MAX`)
so a database restart loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.dialer.callbacks import CallbackDelivery
from gtx.dialer.model import Call, CallRequest, CallState, Outcome
from gtx.origination import (
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    Originator,
    OriginatorUnavailable,
    Progress,
)
from gtx.store.api import ConflictError, ContactOutcome, Store, StoreUnavailable

T = TypeVar("T")

#: The IVR engine starts a session whose GTX_STATUS is READY with GTX_VARS as its vars.
READY = "READY"
#: The longest wait between two tries of a store write while the database is unavailable.
STORE_RETRY_MAX = 30.0
#: Seconds an answered power/predictive call waits for an agent before it is abandoned.
ABANDON_SECONDS = 2


def dial_string(template: str, number: str) -> str:
    """The channel to dial: ``template`` with ``{number}`` replaced (nothing else is read as a
    placeholder: dial strings may hold braces)."""
    return template.replace("{number}", number)


def originate_request(call_id: str, request: CallRequest, *,
                      abandon_seconds: int | None = None,
                      safe_harbor: str | None = None) -> OriginateRequest:
    """The Originate of a call (the channel variables of ``gtx-dialer,answered,1``).

    ``safe_harbor`` is the prompt an abandoned call hears (``[dialer] safe_harbor``): set as
    ``GTX_SAFE_HARBOR`` on calls that go to a queue of agents."""
    variables = {"GTX_CALL_ID": call_id}
    if request.amd:
        variables["GTX_AMD"] = "1"
    target = request.on_answer
    app: str | None = None
    if target is not None:
        if target.app is not None:
            app = target.app
        elif target.url is not None and target.method is not None:
            app = "ivr?" + urlencode({"url": target.url, "method": target.method})
        elif target.context is not None and target.extension is not None:
            variables["GTX_DIALER_GOTO"] = f"{target.context},{target.extension},1"
        elif target.queue is not None:
            variables["GTX_DIALER_QUEUE"] = target.queue
            if safe_harbor:
                variables["GTX_SAFE_HARBOR"] = safe_harbor
    if app is not None:
        variables["GTX_DIALER_APP"] = app
        variables["GTX_STATUS"] = READY
    if app is not None or request.vars:
        variables["GTX_VARS"] = json.dumps(dict(request.vars), separators=(",", ":"),
                                           sort_keys=True, default=str)
    if abandon_seconds is not None:
        variables["GTX_ABANDON_SECONDS"] = str(abandon_seconds)
    return OriginateRequest(
        call_id=call_id,
        dial_string=dial_string(request.channel, request.destination),
        timeout=request.timeout,
        caller_id=request.caller_id,
        variables=variables,
    )


def parse_outcome(value: str | None) -> Outcome:
    """An originator's outcome string as an Outcome (anything unknown is a failure)."""
    try:
        return Outcome(value or "failed")
    except ValueError:
        return Outcome.FAILED


#: Computes the contact's next step when a campaign call ends (None for a single call).
ContactStep = Callable[[Call, Outcome, float], Coroutine[Any, Any, ContactOutcome | None]]


class CallRecord:
    """A call of this node while it is not completed (see the module docstring)."""

    def __init__(
        self,
        call: Call,
        *,
        clock: IReactorTime,
        store: Store,
        events: CallbackDelivery,
        contact_step: ContactStep,
        on_done: Callable[[CallRecord, Outcome], None],
        log: Logger,
        start_recording: Callable[[Call], Awaitable[str | None]] | None = None,
    ) -> None:
        self.call = call
        self.clock = clock
        self.store = store
        self.events = events
        self.contact_step = contact_step
        self.on_done = on_done
        self.log = log
        self.start_recording = start_recording  # the campaign option record, on answer
        self.state = call.state
        self.outcome: Outcome | None = None
        self.originating = False  # an Originate is on its way
        self.hangup_requested = False  # dialer.hangup came while the Originate was on its way
        # A queued call was never sent: `dialing` is recorded before the Originate goes out.
        self.originated = call.state is not CallState.QUEUED
        self._dialing_recorded = self.originated
        self._early: list[OriginateUpdate] = []  # updates that came before the Originate's OK
        self._tail: Deferred[None] = succeed(None)

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def waiting(self) -> bool:
        """Not answered yet (queued, dialing, ringing): still waiting for an agent to be needed."""
        return not self.done and self.state in (CallState.QUEUED, CallState.DIALING,
                                                CallState.RINGING)

    # -- ordered store writes -------------------------------------------------------------

    def _then(self, step: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await step()

        def next_step(_: object) -> Deferred[None]:
            return Deferred.fromCoroutine(run())

        def failed(failure: Failure) -> None:
            self.log.failure("[{call_id}] could not record a change of the call", failure,
                             call_id=self.call_id)

        self._tail.addCallback(next_step).addErrback(failed)

    async def _retrying(self, write: Callable[[], Deferred[T]]) -> T:
        delay = 0.5
        while True:
            try:
                return await write()
            except StoreUnavailable:
                self.log.warn("[{call_id}] database unavailable: trying again in {delay:g} s",
                              call_id=self.call_id, delay=delay)
                await deferLater(self.clock, delay)
                delay = min(delay * 2, STORE_RETRY_MAX)

    async def _publish(self, state: CallState, at: float, outcome: Outcome | None = None,
                       cause: str | None = None) -> None:
        await self._retrying(lambda: Deferred.fromCoroutine(
            self.events.publish(self.call, state, at, outcome, cause)))

    def settled(self) -> Deferred[None]:
        """Fires once every change so far is written."""
        d: Deferred[None] = Deferred()

        async def fire() -> None:
            d.callback(None)

        self._then(fire)
        return d

    def queued(self) -> None:
        """Publish the queued event of a call just created."""
        self._then(lambda: self._publish(CallState.QUEUED, self.call.created))

    # -- origination ----------------------------------------------------------------------

    async def originate(self, originator: Originator, request: OriginateRequest) -> bool:
        """Send the Originate. True when Asterisk took it (or refused it: the call is then
        failed); False when the link is down (nothing was sent: to be tried again).

        ``dialing`` is recorded in the store *before* the Originate is sent, so a stored
        ``queued`` call is one that was never sent (a restart sends it); a node that dies
        between the two leaves a ``dialing`` call Asterisk never heard of, which the next
        resynchronisation reports ended (failed)."""
        if self.done or self.originated or self.originating:
            return True
        if not originator.connected:
            return False  # nothing recorded: the call stays queued
        self.originating = True
        try:
            sent = await self._dial(originator, request)
        finally:
            self.originating = False
        if self.outcome is not None:  # refused, failed, canceled first, or closed elsewhere
            return True
        if not sent:
            return False
        self.originated = True
        early, self._early = self._early, []
        for update in early:
            self.on_update(update)
        if self.hangup_requested and not self.done:
            await originator.hangup(self.call_id)
        return True

    async def _dial(self, originator: Originator, request: OriginateRequest) -> bool:
        """Record ``dialing``, then send the Originate; False when the link is down."""
        try:
            if await self._may_send(originator.name):
                await originator.originate(request, self.on_update)
        except OriginatorUnavailable:
            return False
        except OriginateRefused as e:
            self.finish(Outcome.FAILED, f"refused: {e}")
        except Exception as e:  # an originator bug must not leave the call open
            self.log.failure("[{call_id}] Originate failed", call_id=self.call_id)
            self.finish(Outcome.FAILED, f"originate_error: {e}")
        return True

    async def _may_send(self, asterisk: str) -> bool:
        """Record ``dialing``; False (and the call closed) when it must not go out."""
        if not await self._record_dialing(asterisk):
            await self._closed_elsewhere()
            return False
        if self.hangup_requested:  # dialer.hangup came while `dialing` was being recorded
            self.finish(Outcome.CANCELED, "hangup")
            return False
        return True

    def _record_dialing(self, asterisk: str) -> Deferred[bool]:
        """Record ``dialing`` (in order with the call's other writes); fire True once it is
        stored, False when the call was completed meanwhile (canceled through another node,
        or its lease ran out)."""
        if self._dialing_recorded:
            return succeed(True)
        self.state = CallState.DIALING
        at = self.clock.seconds()
        recorded: Deferred[bool] = Deferred()

        async def write() -> None:
            try:
                self.call = await self._retrying(lambda: self.store.update_call(
                    self.call_id, CallState.DIALING, at, asterisk=asterisk))
            except ConflictError:
                recorded.callback(False)
                return
            except Exception:
                recorded.errback(Failure())
                return
            self._dialing_recorded = True
            recorded.callback(True)
            await self._publish(CallState.DIALING, at)

        self._then(write)
        return recorded

    async def _closed_elsewhere(self) -> None:
        """The stored call was completed by someone else: take its outcome, send nothing."""
        try:
            self.call = await self.store.get_call(self.call_id)
        except Exception:
            self.log.failure("[{call_id}] could not read the call back", call_id=self.call_id)
        outcome = self.call.outcome or Outcome.CANCELED
        self.log.info("[{call_id}] completed elsewhere ({outcome}): not sent",
                      call_id=self.call_id, outcome=outcome)
        self.outcome = outcome
        self.state = CallState.COMPLETED
        self.on_done(self, outcome)

    async def hangup(self, originator: Originator | None) -> None:
        """Hang up: a call not sent yet is canceled here; a placed one through Asterisk (its
        ENDED update then says canceled)."""
        if self.done:
            return
        if self.originating:
            self.hangup_requested = True
        elif not self.originated or originator is None:
            self.finish(Outcome.CANCELED, "hangup")
        else:
            await originator.hangup(self.call_id)

    def on_update(self, update: OriginateUpdate) -> None:
        """The originator's sink: record one update of this call."""
        if self.done:
            return
        if self.originating:
            self._early.append(update)
            return
        if update.progress is Progress.RINGING:
            self._progress(CallState.RINGING, channel=update.channel)
        elif update.progress is Progress.ANSWERED:
            self._progress(CallState.ANSWERED, channel=update.channel)
        else:
            self.finish(parse_outcome(update.outcome), update.cause)

    def _progress(self, state: CallState, *, asterisk: str | None = None,
                  channel: str | None = None) -> None:
        if state is self.state:
            return
        self.state = state
        at = self.clock.seconds()

        async def write() -> None:
            try:
                self.call = await self._retrying(lambda: self.store.update_call(
                    self.call_id, state, at, asterisk=asterisk, channel=channel))
            except ConflictError:
                return  # completed meanwhile (its lease ran out): its outcome stands
            if state is CallState.ANSWERED and self.start_recording is not None:
                await self._record_answered()
            await self._publish(state, at)

        self._then(write)

    async def _record_answered(self) -> None:
        """Start the recording of the answered call (when its campaign asks for it) and link
        it to the call, so that the answered event and the later ones carry its id."""
        assert self.start_recording is not None
        recording_id = await self.start_recording(self.call)
        if recording_id is not None and recording_id != self.call.recording_id:
            self.call = await self._retrying(
                lambda: self.store.set_call_recording(self.call_id, recording_id))

    def finish(self, outcome: Outcome, cause: str | None) -> None:
        """Close the call with its one outcome (a second one is ignored)."""
        if self.done:
            return
        self.outcome = outcome
        self.state = CallState.COMPLETED
        at = self.clock.seconds()

        async def write() -> None:
            contact = await self._retrying(lambda: Deferred.fromCoroutine(
                self.contact_step(self.call, outcome, at)))
            try:
                self.call = await self._retrying(lambda: self.store.finish_call(
                    self.call_id, outcome, at, cause, contact))
            except ConflictError:
                self.log.info("[{call_id}] already completed: {outcome} not recorded",
                              call_id=self.call_id, outcome=outcome)
                return
            await self._publish(CallState.COMPLETED, at, outcome, cause)

        self._then(write)
        self.on_done(self, outcome)
