"""The life of a channel on the emulated ARI server: created, in and out of Stasis, hung up.

:class:`ARICalls` makes channels, runs the caller scripts on them, moves them into and out of
Stasis applications and hangs them up with the event sequences of the reference transcript
(``ari-session.txt``):

- entering Stasis: ``ChannelVarset STASISSTATUS=""``, ``StasisStart`` with the arguments; with
  no WebSocket connected for the application Stasis() fails at once (``STASISSTATUS=FAILED``,
  nothing is sent: there is no one to send it to), as on Asterisk;
- leaving Stasis (continue, move, kick): what plays or records on the channel ends, it leaves
  its bridge, ``StasisEnd``, ``ChannelVarset STASISSTATUS=SUCCESS``;
- a hang-up (the caller, ``DELETE /channels/{id}``, the dialplan): ``ChannelHangupRequest``
  (``cause`` and ``soft: true`` with the soft hang-up flag 32 for ``DELETE``), what was playing
  or recording ends (``PlaybackFinished``, ``RecordingFinished``), the channel leaves its
  bridge, ``StasisEnd``, ``ChannelVarset STASISSTATUS=SUCCESS``, ``ChannelDestroyed`` with the
  cause and its text; the other half of a Local pair follows (``ChannelHangupRequest`` with the
  cause, then a soft one with 16, then its own ``ChannelDestroyed``); snoop channels on it go.

Which applications hear a channel's events: the one it is in (until it is destroyed, if it
hangs up there) and those subscribed to it (originate with ``app``, which also subscribes the
other half of a Local pair, and ``applications.subscribe``).

Caller scripts (:class:`~gtx.testing.caller.ScriptedCaller`) run on the channel's timeline from
its creation. A key pressed while the channel is in Stasis is sent as ``ChannelDtmfReceived``
(never consumed by a playback: the application decides); outside Stasis (a dialplan excursion)
it goes to whatever the emulated application listens with. ``hangup during OP``/``press … during
OP`` name REST operations on the channel by nickname (``hangup during play``, ``press 1#
during record``); ``hangup at command N`` counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from twisted.python.failure import Failure

from gtx.testing.ami_calls import ChannelHungUp
from gtx.testing.ari_model import (
    ARIChannel,
    ari_timestamp,
    blob_event,
    cause_text,
    event,
    record_of,
)
from gtx.testing.caller import ScriptedCaller, command_matches
from gtx.testing.emulated_channel import STATE_RINGING, STATE_UP, EmulatedChannel
from gtx.testing.expressions import write_variable
from gtx.testing.pbx import CallSpec

if TYPE_CHECKING:
    from gtx.testing.ari_server import EmulatedARIServer

#: ``duration_ms`` of the caller's keys in ``ChannelDtmfReceived``.
DTMF_DURATION_MS = 100
#: How long after an operation starts a ``press … during OP`` key comes (call seconds).
PRESS_DELAY = 0.1


class ARICalls:
    """Channel life cycle of one :class:`~gtx.testing.ari_server.EmulatedARIServer`."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        self._callers: dict[str, tuple[ScriptedCaller, list[tuple[str, str]]]] = {}

    # -- making channels -------------------------------------------------------------------------

    def new_channel(self, channel_id: str, name: str, *, state: str,
                    location: tuple[str, str, int], caller: tuple[str, str] = ("", ""),
                    language: str = "en", accountcode: str = "") -> ARIChannel:
        """A new channel, registered with the server (no event: nobody follows it yet)."""
        asterisk = self.server.asterisk
        context, exten, priority = location
        media = EmulatedChannel(
            timeline=asterisk.timeline(), name=name, uniqueid=channel_id,
            caller_number=caller[1] or None, caller_name=caller[0] or None, dnid=None,
            rdnis=None, context=context, extension=exten, priority=priority, language=language,
            accountcode=accountcode, state=STATE_UP if state == "Up" else STATE_RINGING)
        return self._register(media, state, caller)

    def inbound(self, spec: CallSpec) -> ARIChannel:
        """The channel of a call described by ``spec`` (as the FastAGI emulator names it)."""
        asterisk = self.server.asterisk
        media = asterisk.new_channel(spec, asterisk.timeline())
        caller = (spec.caller_name or "", spec.caller_number or "")
        channel = self._register(media, "Up" if spec.answered else "Ring", caller)
        channel.spec = spec
        channel.talks = spec.caller_talks
        return channel

    def _register(self, media: EmulatedChannel, state: str,
                  caller: tuple[str, str]) -> ARIChannel:
        channel = ARIChannel(id=media.uniqueid, media=media, state=state,
                             epoch0=self.server.epoch(), caller=caller, connected=caller)
        media.on_hangup = lambda: self._media_hung_up(channel)
        self.server.channels[channel.id] = channel
        return channel

    def exists(self, channel_id: str) -> bool:
        """Whether a live channel has this id (ids are unique while channels live)."""
        return channel_id in self.server.channels

    # -- caller scripts --------------------------------------------------------------------------

    def run_script(self, channel: ARIChannel, caller: ScriptedCaller) -> None:
        """Put the caller's script on the channel's timeline."""
        self._callers[channel.id] = (caller, list(caller.presses_during))
        for step in caller.events:
            if step.kind == "hangup":
                channel.later(step.at, channel.media.caller_hangs_up)
            else:
                channel.later(step.at, _presser(self.caller_presses, channel, step.digit))

    def caller_presses(self, channel: ARIChannel, digit: str) -> None:
        """A key from the caller (see the module docstring)."""
        if channel.gone or channel.hanging_up:
            return
        if channel.stasis_app is None:
            channel.media.caller_presses(digit)  # an emulated application may listen
            return
        channel.media.note("caller", f"caller presses {digit}")
        channel.media.digits_consumed.append(digit)
        self.emit(channel, event("ChannelDtmfReceived", self.ts(channel), ("digit", digit),
                                 ("duration_ms", DTMF_DURATION_MS),
                                 ("channel", channel.to_json())))
        self.server.recordings.dtmf(channel, digit)

    def command(self, channel: ARIChannel, nickname: str) -> Callable[[], None]:
        """A REST operation on ``channel`` starts: schedules ``press … during`` keys; returns
        what to do once it is answered (a ``hangup during``/``at command`` hang-up)."""
        channel.commands += 1
        scripted = self._callers.get(channel.id)
        if scripted is None:
            return _nothing
        caller, during = scripted
        name = nickname.upper()
        for index, (wanted, digits) in enumerate(during):
            if command_matches(name, wanted):
                del during[index]
                for n, digit in enumerate(digits):
                    channel.later(PRESS_DELAY + n * caller.digit_gap,
                                  _presser(self.caller_presses, channel, digit))
                break
        if caller.hangs_up_on(channel.commands, name):
            return channel.media.caller_hangs_up
        return _nothing

    # -- events ----------------------------------------------------------------------------------

    def ts(self, channel: ARIChannel) -> str:
        """An event timestamp on the channel's timeline."""
        return ari_timestamp(channel.epoch())

    def listeners(self, channel: ARIChannel) -> set[str]:
        """The applications that hear about ``channel`` now."""
        apps = set(channel.subscribers)
        if channel.stasis_app is not None:
            apps.add(channel.stasis_app)
        return apps

    def emit(self, channel: ARIChannel, message: dict[str, object],
             apps: Iterable[str] | None = None) -> None:
        """Send an event about ``channel`` to its listeners (or to ``apps``); the channel's
        record keeps the events that went to an application."""
        if self.server.send_event(message, self.listeners(channel) if apps is None else apps):
            channel.events.append(message)

    def set_variable(self, channel: ARIChannel, name: str, value: str,
                     apps: Iterable[str] | None = None) -> None:
        """Set a variable (or a writable function) and report ``ChannelVarset``."""
        write_variable(channel.media, name, value)
        if name == "STASISSTATUS" and value:
            channel.stasis_statuses.append(value)
        self.emit(channel, blob_event("ChannelVarset", self.ts(channel),
                                      [("variable", name), ("value", value)],
                                      ("channel", channel.to_json())), apps)

    def dialplan_app(self, channel: ARIChannel, app: str, data: str) -> None:
        """The channel runs a dialplan application: ``ChannelDialplan``."""
        channel.app_name, channel.app_data = app, data
        self.emit(channel, event("ChannelDialplan", self.ts(channel), ("dialplan_app", app),
                                 ("dialplan_app_data", data), ("channel", channel.to_json())))

    def set_state(self, channel: ARIChannel, state: str) -> None:
        """``ChannelStateChange``."""
        channel.set_state(state)
        self.emit(channel, event("ChannelStateChange", self.ts(channel),
                                 ("channel", channel.to_json())))

    # -- Stasis ----------------------------------------------------------------------------------

    def enter_stasis(self, channel: ARIChannel, app: str, args: list[str]) -> bool:
        """``Stasis(app,args…)`` on the channel; False when the application is not connected
        (``STASISSTATUS=FAILED`` at once)."""
        channel.app_name, channel.app_data = "Stasis", ",".join([app, *args])
        channel.media.note("media", f"Stasis({channel.app_data})")
        if not self.server.app_connected(app):
            self.set_variable(channel, "STASISSTATUS", "FAILED")
            return False
        self.set_variable(channel, "STASISSTATUS", "", apps=self.listeners(channel) | {app})
        channel.stasis_app, channel.stasis_args = app, list(args)
        self.emit(channel, event("StasisStart", self.ts(channel), ("args", list(args)),
                                 ("channel", channel.to_json())))
        return True

    def leave_stasis(self, channel: ARIChannel) -> None:
        """The channel leaves its application (continue, kick): ``StasisEnd``; Stasis()
        returns with ``STASISSTATUS=SUCCESS``."""
        if channel.stasis_app is None:
            return
        app = channel.stasis_app
        self.server.media.stop_all(channel, "done")
        self.server.recordings.channel_gone(channel)
        self.server.bridges.leave(channel)
        self.emit(channel, event("StasisEnd", self.ts(channel), ("channel", channel.to_json())))
        channel.stasis_app = None
        self.set_variable(channel, "STASISSTATUS", "SUCCESS", apps=self.listeners(channel) | {app})

    # -- hanging up ------------------------------------------------------------------------------

    def hangup(self, channel: ARIChannel, cause: int = 16, *, request_cause: int | None = None,
               soft: bool = False, source: str = "ari") -> None:
        """Hang ``channel`` up (see the module docstring)."""
        if channel.hanging_up or channel.gone:
            return
        peer = channel.local_peer
        if peer is not None and (peer.hanging_up or peer.gone):
            peer = None
        apps = self.listeners(channel)
        self.request_hangup(channel, cause if request_cause is None else request_cause, soft,
                            apps)
        self.end(channel, cause, source, apps, peer_cause=cause if peer is not None else None)
        if peer is not None:
            peer_apps = self.listeners(peer)
            self.request_hangup(peer, 16, True, peer_apps)
            self.end(peer, cause, source, peer_apps)

    def request_hangup(self, channel: ARIChannel, cause: int, soft: bool,
                       apps: Iterable[str]) -> None:
        """``ChannelHangupRequest`` (the channel starts hanging up)."""
        channel.hanging_up = True
        blob: list[tuple[str, object]] = [("cause", cause)]
        if soft:
            blob.append(("soft", True))
        self.emit(channel, blob_event("ChannelHangupRequest", self.ts(channel), blob,
                                      ("channel", channel.to_json())), apps)

    def end(self, channel: ARIChannel, cause: int, source: str, apps: set[str],
            peer_cause: int | None = None) -> None:
        """The rest of a hang-up once requested: media stops, Stasis ends, the channel is
        destroyed; ``peer_cause`` announces the hang-up to the other half of a Local pair."""
        channel.hanging_up = True
        channel.cause = cause
        channel.hangup_source = channel.hangup_source or source
        if not channel.media.hung_up:
            channel.media.hang_up(cause)
        self.server.media.stop_all(channel, "failed", apps)
        self.server.recordings.channel_gone(channel, apps)
        self.server.bridges.leave(channel, apps)
        if channel.stasis_app is not None:
            self.emit(channel, event("StasisEnd", self.ts(channel),
                                     ("channel", channel.to_json())), apps)
            channel.stasis_app = None
            self.set_variable(channel, "STASISSTATUS", "SUCCESS", apps)
        waiter, channel.stasis_waiter = channel.stasis_waiter, None
        waiters = [waiter, *channel.suspended.values()]
        channel.suspended = {}
        for waiter in waiters:
            if waiter is not None and not waiter.called:
                waiter.errback(Failure(ChannelHungUp(channel.name)))
        peer = channel.local_peer
        if peer_cause is not None and peer is not None:
            self.emit(peer, blob_event("ChannelHangupRequest", self.ts(peer),
                                       [("cause", peer_cause)], ("channel", peer.to_json())))
        self.destroy(channel, cause, apps)

    def destroy(self, channel: ARIChannel, cause: int, apps: Iterable[str]) -> None:
        """``ChannelDestroyed``; the record fires, snoops on the channel go."""
        if channel.gone:
            return
        channel.gone = channel.hanging_up = True
        channel.cause = cause
        if not channel.media.hung_up:
            channel.media.hang_up(cause)
        if channel.home_app is not None:
            channel.app_name, channel.app_data = channel.home_app
        elif channel.local_peer is not None:
            channel.app_name = channel.app_data = ""  # the called half's dialplan is done
        self.emit(channel, event("ChannelDestroyed", self.ts(channel), ("cause", cause),
                                 ("cause_txt", cause_text(cause)),
                                 ("channel", channel.to_json())), apps)
        channel.cancel_timers()
        self.server.channels.pop(channel.id, None)
        self._callers.pop(channel.id, None)
        for snoop in list(channel.snoops):
            self.hangup(snoop, 16, source=channel.hangup_source or "caller")
        listeners, channel.on_destroyed = channel.on_destroyed, []
        for listener in listeners:
            listener()
        record = record_of(channel)
        self.server.records.append(record)
        channel.finished.callback(record)

    def _media_hung_up(self, channel: ARIChannel) -> None:
        # The caller's script (or an emulated application) hung the media channel up.
        if not channel.hanging_up and not channel.gone:
            self.hangup(channel, channel.media.hangup_cause, source="caller")


def _presser(press: Callable[[ARIChannel, str], None], channel: ARIChannel,
             digit: str) -> Callable[[], None]:
    return lambda: press(channel, digit)


def _nothing() -> None:
    """No hang-up after the operation."""
