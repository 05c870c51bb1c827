"""One AMI ``Originate`` as the emulated Asterisk plays it: :class:`PlacedCall`.

The outgoing channel is requested, rings the scripted :class:`~gtx.testing.pbx.DialDestination`
and either fails (``OriginateResponse`` Reason 0 / 1 / 3 / 5 / 8) or is answered (Reason 4),
after which it runs the originate's application or its dialplan extension
(:mod:`gtx.testing.ami_dialplan`).

A ``Local/EXT@CTX`` dial string makes a pair of channels (``…;1`` runs the originate's program,
``…;2`` is the called side) and the event streams follow the reference transcripts
(``ami-originate-outcomes.txt``, ``ami-originate-into-agi.txt``, ``ami-amd-outcomes.txt``)
event for event, including the per-channel order of hang-up events and causes. Any other
technology (``PJSIP/5551234@trunk``) makes one channel named ``PJSIP/trunk-0000000N``; its
stream is the ``;1`` half of the Local one plus ``Newstate`` Ringing while it rings (not taken
from a transcript: no real trunk was recorded), and an unreachable destination creates no
channel at all (Reason 0 only), as ``ast_request`` failing does.

Failed originates report ``Channel`` = the dial string and ``Uniqueid: <unknown>`` even when a
``ChannelId`` was given (manager.c has no channel then): correlate them by ``ActionID``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall

from gtx.testing.ami_events import (
    CAUSE_BUSY,
    CAUSE_CONGESTION,
    CAUSE_NO_ANSWER,
    CAUSE_NORMAL,
    CAUSE_UNKNOWN,
    REASON_ANSWERED,
    REASON_BUSY,
    REASON_CONGESTION,
    REASON_FAILURE,
    REASON_NO_ANSWER,
    STATE_BUSY,
    STATE_RING,
    STATE_RINGING,
    STATE_UP,
    UNKNOWN,
    AMIChannel,
    AMIMessage,
    channel_event,
    device_state_event,
    event,
    hangup_event,
    newexten_event,
    var_set_event,
)
from gtx.testing.ami_originate import OriginateParams, dial_end, local_bridge, originate_response
from gtx.testing.pbx import DialDestination, EmulatedAsterisk

#: Reason of an originate whose channel was hung up while it rang (AST_CONTROL_HANGUP).
REASON_HANGUP = 1


class CallHost(Protocol):
    """What a placed call needs from the emulated server (:class:`EmulatedAMIServer`)."""

    asterisk: EmulatedAsterisk

    def emit(self, message: AMIMessage, call: PlacedCall | None = None) -> None:
        """Send an event to every logged-in session."""

    def channel_created(self, channel: AMIChannel, call: PlacedCall) -> None:
        """A channel exists (CoreShowChannels lists it, Hangup/Getvar find it)."""

    def channel_gone(self, channel: AMIChannel) -> None:
        """A channel hung up."""

    def start_program(self, call: PlacedCall) -> None:
        """Run the answered call's application or dialplan extension."""


class ChannelHungUp(Exception):
    """The channel a program runs on hung up (ends a dialplan routine)."""


@dataclass
class PlacedCall:
    """One originated call (see the module docstring). ``on_outcome`` (sync originates) hears
    True on answer, False on failure, once."""

    host: CallHost
    params: OriginateParams
    destination: DialDestination
    on_outcome: Callable[[bool], None] | None = None
    outer: AMIChannel | None = None  # the originated channel (…;1)
    inner: AMIChannel | None = None  # the called side of a Local pair (…;2)
    answered: bool = False
    ended: bool = False
    reason: int | None = None
    on_hangup: list[Callable[[], None]] = field(default_factory=list)
    _timers: list[IDelayedCall] = field(default_factory=list)

    # -- time ----------------------------------------------------------------------------------

    def later(self, seconds: float, action: Callable[[], None]) -> IDelayedCall:
        """Run ``action`` after ``seconds`` call seconds (scaled like the FastAGI calls)."""
        asterisk = self.host.asterisk
        delayed = asterisk.clock.callLater(max(seconds, 0.0) * asterisk.time_scale, action)
        self._timers.append(delayed)
        return delayed

    def _cancel_timers(self) -> None:
        for delayed in self._timers:
            if delayed.active():
                delayed.cancel()
        self._timers.clear()

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Request the channel(s) and start ringing."""
        p, dest = self.params, self.destination
        if dest.outcome == "CHANUNAVAIL" and not p.is_local:
            self._respond_failure(REASON_FAILURE)
            self._finish()
            return
        self._create_channels()
        outer = self.outer
        assert outer is not None
        self._emit(newexten_event(outer, "AppDial2", "(Outgoing Line)"))
        if dest.outcome == "CHANUNAVAIL":  # Local/x@ctx with no such extension
            inner = self.inner
            assert inner is not None
            self._hangup_channel(inner, CAUSE_UNKNOWN)
            self._respond_failure(REASON_FAILURE)
            self._hangup_channel(outer, CAUSE_UNKNOWN)
            self._emit(device_state_event(self._device, "INVALID"))
            self._emit(device_state_event(self._device, "INVALID"))
            self._finish()
            return
        for ch in self._channels:
            self._apply_variables(ch)
        if self.inner is not None:
            self._emit(local_bridge(outer, self.inner, p))
        self._emit(event("DialBegin", "call,all", outer.snapshot("Dest"), [
            ("DialString", p.resource)]))
        rings = dest.outcome == "NOANSWER" or dest.ring_seconds > 0
        if self.inner is None and rings:
            self._set_state(outer, STATE_RINGING)
        if dest.outcome == "NOANSWER" or dest.ring_seconds >= p.timeout:
            self.later(p.timeout, self._no_answer)
        elif dest.outcome == "ANSWER":
            self.later(dest.ring_seconds, self._answer)
        else:
            self.later(dest.ring_seconds, self._refuse)

    def _create_channels(self) -> None:
        p, asterisk = self.params, self.host.asterisk
        number = asterisk.new_channel_number()
        outer_id = p.channel_id or asterisk.new_uniqueid()
        now = asterisk.clock.seconds()
        if p.is_local:
            exten, _, context = p.resource.split("/", 1)[0].partition("@")
            context = context or "default"
            inner_id = p.other_channel_id or asterisk.new_uniqueid()
            base = f"{p.local_device}-{number}"
            self.outer = AMIChannel(f"{base};1", outer_id, outer_id, context, exten, created=now)
            self.inner = AMIChannel(
                f"{base};2", inner_id, outer_id, context, exten, state=STATE_RING, created=now
            )
        else:
            tech, _, resource = p.dial_string.partition("/")
            endpoint = resource.split("@", 1)[1] if "@" in resource else resource.split("/")[0]
            name = f"{tech}/{endpoint}-{number}"
            self.outer = AMIChannel(name, outer_id, outer_id, "default", "s", created=now)
        for ch in self._channels:
            self.host.channel_created(ch, self)
            self._emit(channel_event("Newchannel", ch))

    def _apply_variables(self, ch: AMIChannel) -> None:
        p = self.params
        for name, value in p.variables:
            ch.variables[name] = value
            self._emit(var_set_event(ch, name, value))
        if p.caller_num is not None or p.caller_name is not None:
            ch.caller_num = p.caller_num or UNKNOWN
            ch.caller_name = p.caller_name or UNKNOWN
            if ch is self.inner:  # the connected line of …;1 has already crossed the pair
                ch.connected_num, ch.connected_name = ch.caller_num, ch.caller_name
            self._emit(channel_event(
                "NewCallerid", ch, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
            ch.connected_num, ch.connected_name = ch.caller_num, ch.caller_name
            self._emit(channel_event("NewConnectedLine", ch))

    # -- outcomes ------------------------------------------------------------------------------

    def _answer(self) -> None:
        outer, inner = self.outer, self.inner
        assert outer is not None
        self.answered = True
        if inner is not None:
            self._set_state(inner, STATE_UP)
            inner.priority = 2  # the called side's Answer() was priority 1: it goes on
            self._emit(device_state_event(self._device, "INUSE"))
        self._set_state(outer, STATE_UP)
        self._emit(dial_end(outer, "ANSWER"))
        if inner is not None:
            self._emit(device_state_event(self._device, "INUSE"))
        self._respond(True, REASON_ANSWERED)
        talk = self.destination.talk_seconds
        if talk is not None:
            self.later(talk, self.called_party_hangs_up)
        self.host.start_program(self)

    def _refuse(self) -> None:
        busy = self.destination.outcome == "BUSY"
        outer, inner = self.outer, self.inner
        assert outer is not None
        status, reason = ("BUSY", REASON_BUSY) if busy else ("CONGESTION", REASON_CONGESTION)
        cause = CAUSE_BUSY if busy else CAUSE_CONGESTION
        if inner is None:
            self._emit(dial_end(outer, status))
            self._respond_failure(reason)
            self._hangup_channel(outer, cause)
            self._finish()
            return
        if busy:
            self._set_state(inner, STATE_BUSY)
            self._emit(device_state_event(self._device, "INUSE"))
        self._emit(dial_end(outer, status))
        self._emit(channel_event("HangupRequest", inner, ("Cause", "0")))
        self._emit(channel_event("SoftHangupRequest", inner, ("Cause", "16")))
        self._respond_failure(reason)
        self._hangup_channel(outer, CAUSE_UNKNOWN)
        self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._hangup_channel(inner, cause)
        self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    def _no_answer(self) -> None:
        outer, inner = self.outer, self.inner
        assert outer is not None
        if inner is not None:
            self._emit(channel_event("HangupRequest", inner, ("Cause", str(CAUSE_NO_ANSWER))))
        self._respond_failure(REASON_NO_ANSWER)
        if inner is not None:
            self._emit(channel_event("SoftHangupRequest", inner, ("Cause", "16")))
        self._hangup_channel(outer, CAUSE_NO_ANSWER)
        if inner is not None:
            self._hangup_channel(inner, CAUSE_NO_ANSWER)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
            self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    # -- ends of an answered call --------------------------------------------------------------

    def called_party_hangs_up(self) -> None:
        """The called side hangs up (its talk time is over)."""
        outer, inner = self.outer, self.inner
        if self.ended or outer is None:
            return
        if inner is None:
            self._emit(channel_event("HangupRequest", outer, ("Cause", str(CAUSE_NORMAL))))
            self._hangup_channel(outer, CAUSE_NORMAL)
        else:
            self._emit(channel_event("SoftHangupRequest", inner, ("Cause", "16")))
            self._emit(channel_event("HangupRequest", outer, ("Cause", "0")))
            self._hangup_channel(inner, CAUSE_UNKNOWN)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
            self._hangup_channel(outer, CAUSE_UNKNOWN)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    def program_ends(self) -> None:
        """The originated channel's application (or dialplan) ran to its end."""
        outer, inner = self.outer, self.inner
        if self.ended or outer is None:
            return
        if inner is None:
            self._hangup_channel(outer, CAUSE_NORMAL)
        else:
            self._emit(channel_event("HangupRequest", inner, ("Cause", "0")))
            self._emit(channel_event("SoftHangupRequest", inner, ("Cause", "16")))
            self._hangup_channel(inner, CAUSE_UNKNOWN)
            self._hangup_channel(outer, CAUSE_UNKNOWN)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
            self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    def dialplan_hangup(self, cause: int = CAUSE_NORMAL) -> None:
        """``Hangup()`` run on the originated channel."""
        outer, inner = self.outer, self.inner
        if self.ended or outer is None:
            return
        self._emit(channel_event("SoftHangupRequest", outer, ("Cause", str(cause))))
        if inner is not None:
            self._emit(channel_event("HangupRequest", inner, ("Cause", str(cause))))
        self._hangup_channel(outer, cause)
        if inner is not None:
            self._emit(channel_event("SoftHangupRequest", inner, ("Cause", "16")))
            self._hangup_channel(inner, cause)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
            self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    def manager_hangup(self, channel: AMIChannel, cause: int = CAUSE_UNKNOWN) -> None:
        """The AMI ``Hangup`` action on one of this call's channels."""
        if self.ended:
            return
        if not self.answered:
            # Hung up while ringing: the dial ends with AST_CONTROL_HANGUP.
            self._respond_failure(REASON_HANGUP)
            for ch in self._channels:
                self._hangup_channel(ch, cause)
            self._finish()
            return
        other = self.inner if channel is self.outer else self.outer
        if other is not None:
            self._emit(channel_event("HangupRequest", other, ("Cause", str(cause))))
        self._hangup_channel(channel, cause)
        if other is not None:
            self._emit(device_state_event(self._device, "NOT_INUSE"))
            self._emit(channel_event("SoftHangupRequest", other, ("Cause", "16")))
            self._hangup_channel(other, cause)
            self._emit(device_state_event(self._device, "NOT_INUSE"))
        self._finish()

    # -- helpers -------------------------------------------------------------------------------

    @property
    def _channels(self) -> list[AMIChannel]:
        return [ch for ch in (self.outer, self.inner) if ch is not None]

    @property
    def _device(self) -> str:
        p = self.params
        if p.is_local:
            return p.local_device
        tech, _, resource = p.dial_string.partition("/")
        return f"{tech}/{resource.split('@', 1)[-1]}"

    def _emit(self, message: AMIMessage) -> None:
        self.host.emit(message, self)

    def _set_state(self, ch: AMIChannel, state: int) -> None:
        ch.state = state
        self._emit(channel_event("Newstate", ch))

    def _hangup_channel(self, ch: AMIChannel, cause: int) -> None:
        if ch.hung_up:
            return
        ch.hung_up = True
        self._emit(hangup_event(ch, cause))
        self.host.channel_gone(ch)

    def _respond(self, success: bool, reason: int) -> None:
        self.reason = reason
        p, outer = self.params, self.outer
        if p.is_async:
            self._emit(originate_response(p, outer if success else None, reason))
        if self.on_outcome is not None:
            outcome, self.on_outcome = self.on_outcome, None
            outcome(success)

    def _respond_failure(self, reason: int) -> None:
        self._respond(False, reason)

    def _finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._cancel_timers()
        listeners, self.on_hangup = self.on_hangup, []
        for listener in listeners:
            listener()
