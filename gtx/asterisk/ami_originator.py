"""Placing and following calls through AMI: :class:`gtx.origination.Originator` on one server.

Every call is originated with ``Async: true`` and ``ChannelId: <call_id>``, so the dialled
channel's ``Uniqueid`` *is* the call's id from the first event on (the ``;2`` half of a Local
channel gets ``<call_id>-2``). What happens to it is read from the event stream:

- the immediate answer: ``Response: Error`` (e.g. "Extension does not exist.") refuses the call
  (:class:`OriginateRefused`; no update follows);
- ``Newstate`` of the channel: ChannelState 5 (Ringing) → RINGING, 6 (Up) → ANSWERED;
- ``OriginateResponse`` (matched by ActionID — on a failure its Uniqueid is ``<unknown>``):
  Reason 4 → ANSWERED; any other reason ends the attempt (:mod:`gtx.asterisk.ami_outcomes`);
- ``Hangup`` of the channel: after an answer, ENDED with the call's verdict (``machine`` from
  the dialplan's ``UserEvent: GtxAmd``, ``abandoned`` from ``GtxAbandoned``, ``canceled``
  after :meth:`AMIOriginator.hangup`, else ``answered``); before an answer, its cause refines
  the OriginateResponse, which is given ``response_grace`` seconds to come.

Every placed call ends in exactly one ENDED update. Nothing waits forever: an attempt with no
answer and no outcome after its ring timeout plus ``margin`` is hung up and ended ``failed``.
After every (re)login the calls followed are resynchronised with ``CoreShowChannels``: those
still up are kept (an answer missed while the link was down is reported), the others are
ENDED (cause "ended while the AMI link was down"; ``answered`` or its verdict if it had been
answered, ``canceled`` if it was being hung up, else ``failed``).

An Originate whose answer was lost (the link dropped, or no answer in time) is treated as
placed, never as refused: Asterisk may have dialled it, and reporting it refused could make the
dialer dial the contact twice. The resynchronisation or the bound then ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import (
    AMIActionError,
    AMIFormatError,
    AMIMessage,
    AMINotConnected,
    variable_header,
)
from gtx.asterisk.ami_outcomes import ENDED_WHILE_DOWN, hangup_cause_text, unanswered_outcome
from gtx.asterisk.ami_sweep import Comparer, ami_channel_sweep
from gtx.asterisk.call_outcomes import ANSWER_EVENTS, answered_end, dialplan_verdict, gone_outcome
from gtx.origination import (
    OriginateError,
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    OriginatorUnavailable,
    Progress,
    UpdateSink,
)

#: ChannelState values of Newstate / CoreShowChannel.
RINGING_STATE = "5"
UP_STATE = "6"


@dataclass
class _Call:
    """What is known of one call being followed."""

    call_id: str
    sink: UpdateSink
    action_id: str | None = None  # while its OriginateResponse is still to come
    channel: str | None = None
    ringing: bool = False
    answered: bool = False
    canceled: bool = False
    verdict: str | None = None  # machine, abandoned
    verdict_cause: str | None = None
    hangup: tuple[str, str] | None = None  # (Cause, Cause-txt) of a Hangup before answer
    bound: IDelayedCall | None = None
    bound_seconds: float = 0.0
    grace: IDelayedCall | None = None
    ended: bool = False


class AMIOriginator:
    """The :class:`gtx.origination.Originator` of one Asterisk server, over its AMIClient."""

    def __init__(
        self,
        client: AMIClient,
        clock: IReactorTime,
        *,
        margin: float = 30.0,
        response_grace: float = 5.0,
        log: Logger | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.margin = margin
        self.response_grace = response_grace
        self.log = log or Logger(namespace="gtx.ami")
        self._calls: dict[str, _Call] = {}
        self._by_action: dict[str, str] = {}
        self._sweep = ami_channel_sweep(client, "calls", self._prepare_sweep, self.log)
        for event, handler in (
            ("Newchannel", self._on_state),
            ("Newstate", self._on_state),
            ("OriginateResponse", self._on_originate_response),
            ("Hangup", self._on_hangup),
            ("UserEvent", self._on_user_event),
        ):
            client.subscribe(event, handler)
        client.on_login(self.resynchronise)

    # -- Originator -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The server's name in gtx.ini."""
        return self.client.server

    @property
    def connected(self) -> bool:
        """True while the AMI link is up and logged in."""
        return self.client.connected

    @property
    def calls(self) -> frozenset[str]:
        """The ids of the calls being followed."""
        return frozenset(self._calls)

    def originate(self, request: OriginateRequest, on_update: UpdateSink) -> Deferred[None]:
        """Originate ``request`` (see :class:`gtx.origination.Originator`)."""
        if not self.client.connected:
            return fail(OriginatorUnavailable(f"the AMI link to {self.name} is down"))
        if request.call_id in self._calls:
            return fail(OriginateError(f"call {request.call_id} is already placed"))
        try:
            fields = originate_fields(request)
        except AMIFormatError as e:
            return fail(OriginateRefused(f"cannot originate {request.call_id}: {e}"))
        call = _Call(request.call_id, on_update, action_id=self.client.next_action_id())
        assert call.action_id is not None
        self._calls[call.call_id] = call
        self._by_action[call.action_id] = call.call_id
        call.bound_seconds = request.timeout + self.margin
        call.bound = self.clock.callLater(call.bound_seconds, self._bound_expired, call)
        sent = self.client.send_action("Originate", fields, action_id=call.action_id)
        result: Deferred[None] = Deferred()

        def queued(_: AMIMessage) -> None:
            result.callback(None)

        def not_queued(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, AMIActionError | AMINotConnected):
                self._forget(call)
                refused = isinstance(error, AMIActionError)
                kind = OriginateRefused if refused else OriginatorUnavailable
                result.errback(kind(f"{self.name}: {error}"))
                return
            # Lost or unanswered: Asterisk may have queued it. Followed as placed.
            self.log.warn("AMI {server}: no answer to the Originate of {call}: {error}; "
                          "following it as placed", server=self.name, call=call.call_id,
                          error=failure.getErrorMessage())
            result.callback(None)

        sent.addCallbacks(queued, not_queued)
        return result

    def hangup(self, call_id: str) -> Deferred[None]:
        """Hang up a placed call; its ENDED update then says ``canceled``."""
        call = self._calls.get(call_id)
        if call is not None:
            call.canceled = True
        return self._send_hangup(call_id)

    def track(self, call_id: str, on_update: UpdateSink) -> None:
        """Follow a call placed earlier; checked against the server at once when connected,
        else at the next login."""
        if call_id in self._calls:
            self._calls[call_id].sink = on_update
            return
        self._calls[call_id] = _Call(call_id, on_update)
        if self.client.connected:
            self.resynchronise()

    # -- resynchronisation ------------------------------------------------------------------

    def resynchronise(self) -> None:
        """Compare the calls followed with the channels on the server (``CoreShowChannels``).
        Runs after every login; calls placed after it started are left alone."""
        self._sweep.run()

    def _prepare_sweep(self) -> Comparer | None:
        if not self._calls:
            return None
        checked = set(self._calls)

        def compare(channels: list[AMIMessage]) -> None:
            up = {event.get("Uniqueid"): event for event in channels}
            for call_id in checked:
                call = self._calls.get(call_id)
                if call is None:
                    continue
                if call_id in up:
                    self._still_up(call, up[call_id])
                else:
                    self._gone(call)

        return compare

    def _still_up(self, call: _Call, channel: AMIMessage) -> None:
        call.channel = channel.get("Channel") or call.channel
        if call.canceled:
            self._send_hangup(call.call_id)  # asked while the link was down
        state = channel.get("ChannelState")
        if state == UP_STATE:
            self._answered(call)
        elif state == RINGING_STATE:
            self._ringing(call)
        if not call.answered and (call.bound is None or not call.bound.active()):
            # Its bound ran out while the link was down, or it was never bounded (tracked).
            call.bound = self.clock.callLater(self.margin, self._bound_expired, call)

    def _gone(self, call: _Call) -> None:
        outcome = gone_outcome(canceled=call.canceled, answered=call.answered,
                               verdict=call.verdict)
        self._end(call, outcome, ENDED_WHILE_DOWN)

    # -- events -----------------------------------------------------------------------------

    def _on_state(self, event: AMIMessage) -> None:
        call = self._calls.get(event.get("Uniqueid"))
        if call is None:
            return
        first_sight = call.channel is None
        call.channel = event.get("Channel") or call.channel
        if call.canceled and first_sight:
            self._send_hangup(call.call_id)  # canceled before its channel existed
        state = event.get("ChannelState")
        if state == RINGING_STATE:
            self._ringing(call)
        elif state == UP_STATE:
            self._answered(call)

    def _on_originate_response(self, event: AMIMessage) -> None:
        call_id = self._by_action.pop(event.get("ActionID"), None) or event.get("Uniqueid")
        call = self._calls.get(call_id)
        if call is None:
            return
        call.action_id = None
        if event.get("Response") == "Success" and event.get("Reason") == "4":
            if event.get("Channel"):
                call.channel = event.get("Channel")
            self._answered(call)
            return
        cause, cause_txt = call.hangup if call.hangup is not None else (None, "")
        outcome, detail = unanswered_outcome(event.get("Reason"), cause, cause_txt)
        self._end(call, "canceled" if call.canceled else outcome, detail)

    def _on_hangup(self, event: AMIMessage) -> None:
        call = self._calls.get(event.get("Uniqueid"))
        if call is None:
            return
        cause, cause_txt = event.get("Cause"), event.get("Cause-txt")
        if call.answered:
            self._end(call, *answered_end(
                canceled=call.canceled, verdict=call.verdict, verdict_cause=call.verdict_cause,
                hangup=f"hangup {hangup_cause_text(cause, cause_txt)}"))
        elif call.action_id is None:
            # No OriginateResponse to wait for (it came, or the call was only tracked).
            outcome, detail = unanswered_outcome(None, cause, cause_txt)
            self._end(call, "canceled" if call.canceled else outcome, detail)
        else:
            call.hangup = (cause, cause_txt)
            if call.grace is None:
                call.grace = self.clock.callLater(self.response_grace, self._no_response, call)

    def _on_user_event(self, event: AMIMessage) -> None:
        call = self._calls.get(event.get("CallId") or event.get("Uniqueid"))
        if call is None:
            return
        kind = event.get("UserEvent")
        if kind not in ANSWER_EVENTS:
            return
        self._answered(call)
        verdict = dialplan_verdict(kind, event.get("Status"), event.get("Cause"))
        if verdict is not None:
            call.verdict, call.verdict_cause = verdict

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

    def _no_response(self, call: _Call) -> None:
        call.grace = None
        cause, cause_txt = call.hangup if call.hangup is not None else (None, "")
        outcome, detail = unanswered_outcome(None, cause, cause_txt)
        self._end(call, "canceled" if call.canceled else outcome, detail)

    def _bound_expired(self, call: _Call) -> None:
        call.bound = None
        if call.ended or call.answered:
            return
        if not self.client.connected:
            return  # the resynchronisation after the next login decides
        self.log.warn("AMI {server}: no outcome for call {call} in {seconds:g} s: hanging up",
                      server=self.name, call=call.call_id, seconds=call.bound_seconds)
        self._send_hangup(call.call_id)
        self._end(call, "canceled" if call.canceled else "failed",
                  f"no outcome from Asterisk within {call.bound_seconds:g} s")

    def _end(self, call: _Call, outcome: str, cause: str | None) -> None:
        if call.ended:
            return
        call.ended = True
        self._forget(call)
        self._emit(call, Progress.ENDED, outcome, cause)

    def _forget(self, call: _Call) -> None:
        self._cancel(call.bound)
        self._cancel(call.grace)
        call.bound = call.grace = None
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
        if call.action_id is not None:
            self._by_action.pop(call.action_id, None)

    def _emit(
        self, call: _Call, progress: Progress, outcome: str | None = None, cause: str | None = None
    ) -> None:
        update = OriginateUpdate(call.call_id, progress, outcome, cause, call.channel)
        try:
            call.sink(update)
        except Exception:
            self.log.failure("AMI {server}: the update sink of call {call} failed",
                             server=self.name, call=call.call_id)

    def _send_hangup(self, call_id: str) -> Deferred[None]:
        if not self.client.connected:
            return fail(OriginatorUnavailable(f"the AMI link to {self.name} is down"))
        sent = self.client.send_action("Hangup", [("Channel", call_id)])

        def done(result: AMIMessage | Failure) -> Deferred[None]:
            if isinstance(result, Failure):
                error = result.value
                if isinstance(error, AMINotConnected):
                    return fail(OriginatorUnavailable(str(error)))
                # "No such channel": already gone, its Hangup event or the resync ends it.
                self.log.info("AMI {server}: Hangup of {call}: {error}", server=self.name,
                              call=call_id, error=result.getErrorMessage())
            return succeed(None)

        return sent.addBoth(done)

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        if timer is not None and timer.active():
            timer.cancel()


def originate_fields(request: OriginateRequest) -> list[tuple[str, str]]:
    """The headers of the Originate action for ``request`` (ActionID aside).

    ``GTX_CALL_ID`` is always among the variables (the dialplan reports with it)."""
    variables = {"GTX_CALL_ID": request.call_id, **request.variables}
    fields = [
        ("Channel", request.dial_string),
        ("Context", request.context),
        ("Exten", request.extension),
        ("Priority", str(request.priority)),
        ("Timeout", str(int(request.timeout * 1000))),
    ]
    if request.caller_id:
        fields.append(("CallerID", request.caller_id))
    fields.extend(variable_header(name, value) for name, value in variables.items())
    fields += [
        ("Async", "true"),
        ("ChannelId", request.call_id),
        ("OtherChannelId", f"{request.call_id}-2"),
    ]
    return fields
