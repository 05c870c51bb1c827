"""Placing and following calls through ARI: :class:`gtx.origination.Originator` on one server.

Every call is originated with ``channels.originate`` into the Stasis application of the link
(``app``, ``appArgs=gtx-dialer``) with ``channelId=<call_id>``, so the dialled channel's id
*is* the call's id (the ``;2`` half of a Local channel gets ``<call_id>-2``). The channel's
events are watched (``channel:<call_id>``) before the request is sent. What happens to it:

- the answer to the request: 4xx/5xx (or a request the link will not send) refuses the call
  (:class:`OriginateRefused`; no update follows); the link down sends nothing
  (:class:`OriginatorUnavailable`);
- ``Dial`` events whose ``peer`` is the call: ``dialstatus`` RINGING → RINGING, ANSWER →
  ANSWERED, BUSY / NOANSWER / CONGESTION / CHANUNAVAIL … → ENDED (busy, no_answer,
  congestion, failed: :mod:`gtx.asterisk.call_outcomes`); ``ChannelStateChange`` Ringing / Up
  says the same when no Dial does;
- ``StasisStart`` with ``gtx-dialer``: the call was answered and waits in Stasis. The app
  subscribes to the channel (so its events keep coming once it has left Stasis) and sends it
  on in the dialplan at the request's location, ``gtx-dialer,answered,1`` by default — the
  same ``[gtx-dialer]`` context as over AMI (AMD, then the hand-off to an IVR app, a location
  or a queue of agents);
- ``ChannelUserevent`` ``GtxAmd`` / ``GtxAbandoned`` (the dialplan's ``UserEvent()``): the
  call's verdict (machine, abandoned);
- ``ChannelDestroyed``: ENDED with the call's verdict (``canceled`` after :meth:`hangup`, else
  ``machine``, ``abandoned`` or ``answered``); before any answer, its Q.850 cause says how
  (cause 0 after ringing is the originate's timeout: no_answer).

Every placed call ends in exactly one ENDED update, after which its channel is not watched any
more. Nothing waits forever: an attempt with no outcome after its ring timeout plus ``margin``
is hung up and ended ``failed``. After every (re)connection the calls followed are compared
with ``channels.list``: those still up are kept (an answer or a ``StasisStart`` missed while
the link was down is acted on), the others are ENDED ("ended while the ARI link was down").
A request left unanswered (:class:`~gtx.asterisk.ari_api.AriTimeout`) is followed as placed,
never refused: Asterisk may have dialled it, and the dialer must not dial the contact twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import (
    DIALER_CALL,
    AriError,
    AriLink,
    AriNotFound,
    AriTimeout,
    AriUnavailable,
)
from gtx.asterisk.ari_dialer_calls import originate_params, user_event, waits_in_stasis
from gtx.asterisk.ari_events import Event, channel_key, stasis_args
from gtx.asterisk.ari_sweep import ChannelJSON, Comparer, ari_channel_sweep
from gtx.asterisk.call_outcomes import (
    ANSWER_EVENTS,
    answered_end,
    dial_status_outcome,
    dialplan_verdict,
    gone_outcome,
    hangup_cause_text,
    outcome_for_cause,
)
from gtx.origination import (
    ANSWERED_CONTEXT,
    ANSWERED_EXTENSION,
    OriginateError,
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    OriginatorUnavailable,
    Progress,
    UpdateSink,
)

#: The cause given to calls found gone by a resynchronisation.
ENDED_WHILE_DOWN = "ended while the ARI link was down"


@dataclass
class _Call:
    """What is known of one call being followed."""

    call_id: str
    sink: UpdateSink
    context: str = ANSWERED_CONTEXT
    extension: str = ANSWERED_EXTENSION
    priority: int = 1
    channel: str | None = None
    ringing: bool = False
    answered: bool = False
    canceled: bool = False
    handed: bool = False  # sent on in the dialplan (or being sent)
    verdict: str | None = None  # machine, abandoned, failed
    verdict_cause: str | None = None
    bound: IDelayedCall | None = None
    bound_seconds: float = 0.0
    unwatch: Callable[[], None] | None = None
    ended: bool = False


class ARIOriginator:
    """The :class:`gtx.origination.Originator` of one Asterisk server, over its ARI link (see
    the module docstring)."""

    def __init__(self, link: AriLink, clock: IReactorTime, *, margin: float = 30.0,
                 log: Logger | None = None) -> None:
        self.link = link
        self.clock = clock
        self.margin = margin
        self.log = log or Logger(namespace="gtx.ari")
        self._calls: dict[str, _Call] = {}
        self._sweep = ari_channel_sweep(link, "calls", self._prepare_sweep, self.log)
        link.on_ready(self.resynchronise)

    # -- Originator -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The server's name in gtx.ini."""
        return self.link.name

    @property
    def connected(self) -> bool:
        """True while the ARI link is up."""
        return self.link.connected

    @property
    def calls(self) -> frozenset[str]:
        """The ids of the calls being followed."""
        return frozenset(self._calls)

    def originate(self, request: OriginateRequest, on_update: UpdateSink) -> Deferred[None]:
        """Originate ``request`` (see :class:`gtx.origination.Originator`)."""
        if not self.link.connected:
            return fail(OriginatorUnavailable(f"the ARI link to {self.name} is down"))
        if request.call_id in self._calls:
            return fail(OriginateError(f"call {request.call_id} is already placed"))
        try:
            params = originate_params(request, self.link.app)
        except ValueError as e:
            return fail(OriginateRefused(f"cannot originate {request.call_id}: {e}"))
        call = self._follow(request.call_id, on_update)
        call.context, call.extension, call.priority = (
            request.context, request.extension, request.priority)
        call.bound_seconds = request.timeout + self.margin
        call.bound = self.clock.callLater(call.bound_seconds, self._bound_expired, call)
        result: Deferred[None] = Deferred()

        def queued(channel: object) -> None:
            if isinstance(channel, Mapping) and isinstance(channel.get("name"), str):
                call.channel = call.channel or channel["name"]
            if call.canceled and not call.ended:
                self._send_hangup(call.call_id)  # canceled while the request was on its way
            result.callback(None)

        def not_queued(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, AriError) and not isinstance(error, AriTimeout):
                # Refused (4xx/5xx, or a request the link would not send), or not sent.
                self._forget(call)
                kind = OriginatorUnavailable if isinstance(error, AriUnavailable) else (
                    OriginateRefused)
                result.errback(kind(f"{self.name}: {error}"))
                return
            # Lost or unanswered: Asterisk may have dialled it. Followed as placed.
            self.log.warn("ARI {server}: no answer to the originate of {call}: {error}; "
                          "following it as placed", server=self.name, call=call.call_id,
                          error=failure.getErrorMessage())
            result.callback(None)

        self.link.call("channels", "originate", **params).addCallbacks(queued, not_queued)
        return result

    def hangup(self, call_id: str) -> Deferred[None]:
        """Hang up a placed call; its ENDED update then says ``canceled``."""
        call = self._calls.get(call_id)
        if call is not None:
            call.canceled = True
        return self._send_hangup(call_id)

    def track(self, call_id: str, on_update: UpdateSink) -> None:
        """Follow a call placed earlier; checked against the server at once when connected,
        else at the next connection."""
        if call_id in self._calls:
            self._calls[call_id].sink = on_update
            return
        self._follow(call_id, on_update)
        if self.link.connected:
            self.resynchronise()

    # -- resynchronisation ------------------------------------------------------------------

    def resynchronise(self) -> None:
        """Compare the calls followed with the channels on the server (``channels.list``).
        Runs after every connection; calls placed after it started are left alone."""
        self._sweep.run()

    def _prepare_sweep(self) -> Comparer | None:
        if not self._calls:
            return None
        checked = set(self._calls)

        def compare(channels: list[ChannelJSON]) -> None:
            up = {channel.get("id"): channel for channel in channels}
            for call_id in checked:
                call = self._calls.get(call_id)
                if call is None:
                    continue
                if call_id in up:
                    self._still_up(call, up[call_id])
                else:
                    self._end(call, gone_outcome(canceled=call.canceled, answered=call.answered,
                                                 verdict=call.verdict), ENDED_WHILE_DOWN)

        return compare

    def _still_up(self, call: _Call, channel: ChannelJSON) -> None:
        call.channel = channel.get("name") or call.channel
        if call.canceled:
            self._send_hangup(call.call_id)  # asked while the link was down
        self._on_state(call, channel.get("state"))
        if waits_in_stasis(channel, self.link.app):
            call.handed = False  # its StasisStart was lost with the link
            self._answered(call)
            self._hand_to_dialplan(call)
        elif call.answered:
            # In the dialplan: make sure the app still hears its user events.
            self._subscribe(call).addErrback(lambda _: None)
        if not call.answered and (call.bound is None or not call.bound.active()):
            # Its bound ran out while the link was down, or it was never bounded (tracked).
            call.bound = self.clock.callLater(self.margin, self._bound_expired, call)

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, call: _Call, event: Event) -> None:
        kind = event.get("type")
        channel = event.get("channel")
        about_call = isinstance(channel, Mapping) and channel.get("id") == call.call_id
        if kind == "Dial":
            peer = event.get("peer")
            if isinstance(peer, Mapping) and peer.get("id") == call.call_id:
                call.channel = peer.get("name") or call.channel
                self._on_dial(call, str(event.get("dialstatus") or ""))
        elif not about_call:
            return
        elif kind == "ChannelStateChange":
            assert isinstance(channel, Mapping)
            self._on_state(call, channel.get("state"))
        elif kind == "StasisStart" and stasis_args(event)[:1] == [DIALER_CALL]:
            self._answered(call)
            self._hand_to_dialplan(call)
        elif kind == "ChannelUserevent":
            self._on_user_event(call, event)
        elif kind == "ChannelDestroyed":
            self._on_destroyed(call, event)

    def _on_state(self, call: _Call, state: object) -> None:
        if state == "Ringing":
            self._ringing(call)
        elif state == "Up":
            self._answered(call)

    def _on_dial(self, call: _Call, status: str) -> None:
        if status == "RINGING":
            self._ringing(call)
        elif status == "ANSWER":
            self._answered(call)
        elif not call.answered:
            outcome = dial_status_outcome(status)
            if outcome is not None:
                self._end(call, "canceled" if call.canceled else outcome, f"dial {status}")

    def _on_user_event(self, call: _Call, event: Event) -> None:
        kind, fields = user_event(event)
        if kind not in ANSWER_EVENTS or fields.get("CallId", call.call_id) != call.call_id:
            return
        self._answered(call)
        verdict = dialplan_verdict(kind, fields.get("Status"), fields.get("Cause"))
        if verdict is not None:
            call.verdict, call.verdict_cause = verdict

    def _on_destroyed(self, call: _Call, event: Event) -> None:
        cause, cause_txt = str(event.get("cause", "")), str(event.get("cause_txt") or "")
        hangup = f"hangup {hangup_cause_text(cause, cause_txt)}"
        if call.answered:
            self._end(call, *answered_end(canceled=call.canceled, verdict=call.verdict,
                                          verdict_cause=call.verdict_cause, hangup=hangup))
        elif call.canceled:
            self._end(call, "canceled", hangup)
        else:
            # Cause 0 after ringing: the originate's timeout (ast_dial sends no NOANSWER).
            timed_out = call.ringing and cause.strip() == "0"
            self._end(call, outcome_for_cause(cause) or (
                "no_answer" if timed_out else "failed"), hangup)

    # -- steps of a call --------------------------------------------------------------------

    def _ringing(self, call: _Call) -> None:
        if not call.ringing and not call.answered and not call.ended:
            call.ringing = True
            self._emit(call, Progress.RINGING)

    def _answered(self, call: _Call) -> None:
        if call.answered or call.ended:
            return
        call.answered = True
        self._cancel(call.bound)
        call.bound = None
        self._emit(call, Progress.ANSWERED)

    def _hand_to_dialplan(self, call: _Call) -> None:
        """Subscribe the app to the answered channel, then send it on in the dialplan."""
        if call.handed or call.ended:
            return
        call.handed = True
        subscribed = self._subscribe(call)
        subscribed.addErrback(lambda f: self.log.warn(
            "ARI {server}: cannot subscribe to call {call}: {error}; its AMD verdict may be "
            "missed", server=self.name, call=call.call_id, error=f.getErrorMessage()))
        subscribed.addCallback(lambda _: self.link.call(
            "channels", "continueInDialplan", channelId=call.call_id, context=call.context,
            extension=call.extension, priority=call.priority))

        def not_sent_on(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, AriNotFound) or call.ended:
                return  # gone meanwhile: its ChannelDestroyed ends it
            if isinstance(error, AriUnavailable):
                call.handed = False  # the resynchronisation after the reconnection retries
                return
            where = f"{call.context},{call.extension},{call.priority}"
            self.log.error("ARI {server}: call {call} cannot go on in the dialplan at {where}: "
                           "{error}; hanging it up", server=self.name, call=call.call_id,
                           where=where, error=failure.getErrorMessage())
            call.verdict = "failed"
            call.verdict_cause = f"could not go on in the dialplan at {where}: {error}"
            self._send_hangup(call.call_id)

        subscribed.addErrback(not_sent_on)

    def _bound_expired(self, call: _Call) -> None:
        call.bound = None
        if call.ended or call.answered:
            return
        if not self.link.connected:
            return  # the resynchronisation after the next connection decides
        self.log.warn("ARI {server}: no outcome for call {call} in {seconds:g} s: hanging up",
                      server=self.name, call=call.call_id, seconds=call.bound_seconds)
        self._send_hangup(call.call_id)
        self._end(call, "canceled" if call.canceled else "failed",
                  f"no outcome from Asterisk within {call.bound_seconds:g} s")

    def _follow(self, call_id: str, sink: UpdateSink) -> _Call:
        call = _Call(call_id, sink)
        self._calls[call_id] = call
        call.unwatch = self.link.events.watch(channel_key(call_id),
                                              lambda event: self._on_event(call, event))
        return call

    def _end(self, call: _Call, outcome: str, cause: str | None) -> None:
        if call.ended:
            return
        call.ended = True
        self._forget(call)
        self._emit(call, Progress.ENDED, outcome, cause)

    def _forget(self, call: _Call) -> None:
        self._cancel(call.bound)
        call.bound = None
        if call.unwatch is not None:
            call.unwatch()
            call.unwatch = None
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]

    def _emit(self, call: _Call, progress: Progress, outcome: str | None = None,
              cause: str | None = None) -> None:
        update = OriginateUpdate(call.call_id, progress, outcome, cause, call.channel)
        try:
            call.sink(update)
        except Exception:
            self.log.failure("ARI {server}: the update sink of call {call} failed",
                             server=self.name, call=call.call_id)

    # -- requests ---------------------------------------------------------------------------

    def _subscribe(self, call: _Call) -> Deferred[Any]:
        return self.link.call("applications", "subscribe", applicationName=self.link.app,
                              eventSource=channel_key(call.call_id))

    def _send_hangup(self, call_id: str) -> Deferred[None]:
        if not self.link.connected:
            return fail(OriginatorUnavailable(f"the ARI link to {self.name} is down"))

        def done(result: object) -> Deferred[None]:
            if isinstance(result, Failure):
                error = result.value
                if isinstance(error, AriUnavailable):
                    return fail(OriginatorUnavailable(str(error)))
                if not isinstance(error, AriNotFound):  # 404: already gone
                    self.log.info("ARI {server}: hangup of {call}: {error}", server=self.name,
                                  call=call_id, error=result.getErrorMessage())
            return succeed(None)

        return self.link.call("channels", "hangup", channelId=call_id).addBoth(done)

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        if timer is not None and timer.active():
            timer.cancel()

