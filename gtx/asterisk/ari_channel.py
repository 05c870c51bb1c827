"""The ARI adapter of :class:`gtx.channel.Channel`: one channel in gtx's Stasis application.

An :class:`ARIChannel` is built from the channel's ``StasisStart`` event and drives the channel
with REST requests over an :class:`~gtx.asterisk.ari_api.AriLink`, waiting for the WebSocket
events that tell how they ended. It behaves like the FastAGI adapter
(:mod:`gtx.asterisk.agi_channel`) as far as ARI allows; media is in :mod:`ari_media`, ``dial``
in :mod:`ari_dial`, ``queue``/``conference``/``exec`` (a dialplan excursion) in
:mod:`ari_excursion`.

The call (``info``) comes from the ``StasisStart`` event, whose Stasis arguments name the app
(:mod:`gtx.asterisk.ari_info`); ``called`` (the dnid) is read by :meth:`ARIChannel.prepare`.

Hang-up: ``ChannelHangupRequest``, ``StasisEnd`` (the channel left the application, e.g. an
AMI Redirect) and ``ChannelDestroyed`` of the channel mark it hung up, and so does a 404
("Channel not found") or 409 ("not in a Stasis application") answer to an operation on it.
Every pending wait then fails with :class:`~gtx.channel.ChannelHangup` (``record`` and ``dial``
return normally instead, as with FastAGI), and so does every later operation that needs a live
channel. A lost link (a REST call answered :class:`~gtx.asterisk.ari_api.AriUnavailable` or
:class:`~gtx.asterisk.ari_api.AriTimeout`, the WebSocket down or reconnected while a wait was
pending) fails with :class:`~gtx.channel.ChannelGone`: the session ends ``LOST`` and the
channel stays in Stasis for the runner to resume (:mod:`gtx.asterisk.ari_stasis`).

Variables after a hang-up (:mod:`gtx.asterisk.ari_variables`): ARI cannot reach a destroyed
channel, so the adapter keeps the values it set, read or saw (``ChannelVarset``); after the
hang-up ``get_variable`` answers from that cache, and ``set_variable`` updates it and still
tries the request while the channel exists, ignoring a 404. Unlike FastAGI, the final
``GTX_STATUS=HANGUP`` therefore cannot be written once the channel is gone (the dialplan never
runs again for it anyway).

DTMF: a digit is handed to the operation that reads digits (a playback with escape digits,
``wait_for_digit``, ``record`` with terminators). A digit that arrives while no operation runs
(e.g. while an interrupted playback is being stopped) is kept for the next operation that reads
digits; any other operation drops the digits kept, as Asterisk drops the DTMF an AGI does not
read.

Music on hold started without ``seconds`` stays on until the next operation that plays
something (a playback, ``say``, ``record``, ``dial``, an excursion, music on hold), which stops
it first; ``wait``, ``wait_for_digit`` and ``send_dtmf`` leave it on.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, tzinfo
from typing import Any, Final, TypeVar
from uuid import uuid4

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gtx.asterisk import ari_dial, ari_excursion, ari_media
from gtx.asterisk.ari_api import (
    EXEC_RETURN,
    AriConflict,
    AriError,
    AriHTTPError,
    AriLink,
    AriNotFound,
    AriTimeout,
    AriUnavailable,
)
from gtx.asterisk.ari_events import Event, channel_key, stasis_args
from gtx.asterisk.ari_info import (
    call_info,
    channel_missing,
    dialplan_location,
    function_unreadable,
)
from gtx.asterisk.ari_variables import ChannelVariables, answer_value
from gtx.asterisk.ari_waits import ARILimits, ChannelWait, ChannelWaits
from gtx.channel import (
    DTMF_DIGITS,
    CallInfo,
    ChannelGone,
    ChannelHangup,
    CommandFailed,
    DialResult,
    PlayResult,
    RecordResult,
)

_T = TypeVar("_T")

#: Asterisk's recording spool: ARI recording names are relative to it.
DEFAULT_RECORDING_DIR: Final = "/var/spool/asterisk/recording"
#: A dialplan name (context, extension, queue, conference, music class, profile).
DIALPLAN_NAME: Final = re.compile(r"^[A-Za-z0-9_+*#.@-]+$")

#: The ``reason`` of ``channels.hangup`` for a Q.850 cause, where Asterisk has no
#: ``reason_code`` (any other cause: ``normal``).
HANGUP_REASONS: Final = {16: "normal", 17: "busy", 34: "congestion", 19: "no_answer",
                         21: "rejected", 1: "unallocated"}
#: Makes the ids gtx gives to what it creates (playbacks, dial legs, bridges): ``ids(kind)``.
IdFactory = Callable[[str], str]


def new_object_id(kind: str) -> str:
    """An id unique across processes and nodes (``gtx-dial-3f2a…``)."""
    return f"gtx-{kind}-{uuid4().hex}"


class ARIChannel:
    """A :class:`gtx.channel.Channel` in gtx's Stasis application (see the module docstring).

    The runner (:class:`gtx.asterisk.ari_stasis.StasisRunner`) builds it from the
    ``StasisStart`` event, calls :meth:`prepare`, runs the session and then :meth:`close`.
    After the session, ``transfer_target`` says where the dialplan should continue.
    """

    def __init__(
        self,
        link: AriLink,
        event: Event,
        clock: IReactorTime,
        *,
        recording_dir: str = DEFAULT_RECORDING_DIR,
        ids: IdFactory = new_object_id,
        limits: ARILimits | None = None,
        say_timezone: tzinfo = UTC,
        log: Logger | None = None,
    ) -> None:
        self._info = call_info(event, link.name)
        self.id = self._info.uniqueid
        self.link = link
        self.clock = clock
        self.recording_dir = posixpath.normpath(recording_dir).rstrip("/") or "/"
        self.ids = ids
        self.limits = limits or ARILimits()
        self.say_timezone = say_timezone
        self.log = log if log is not None else Logger(namespace="gtx.asterisk.ari")
        channel = event["channel"]
        self.state = str(channel.get("state", ""))
        self.waits = ChannelWaits(clock, lambda: link.connected, self.limits.link_check_interval)
        self.transfer_target: tuple[str, str, int] | None = None
        #: True once the channel went on a dialplan excursion (:mod:`ari_excursion`).
        self.made_excursion = stasis_args(event)[:1] == [EXEC_RETURN]
        #: The Stasis() the session began in (None: unknown, or to be read from the channel
        #: when the session began on the return from an excursion).
        self.entry = None if self.made_excursion else dialplan_location(self._info)
        self.hung_up_by_session = False
        self.left_stasis = False
        self._hung_up = False
        self._destroyed = False
        self._moh_on = False
        self._excursion: ChannelWait[None] | None = None
        self.variables = ChannelVariables(self)
        self._closed = False
        self._unwatch = link.events.watch(channel_key(self.id), self._on_event)
        self._unready = link.on_ready(self._link_reconnected)

    # --- state ----------------------------------------------------------------------------

    @property
    def info(self) -> CallInfo:
        """The call as the ``StasisStart`` event described it."""
        return self._info

    @property
    def destroyed(self) -> bool:
        """True once Asterisk reported the channel destroyed."""
        return self._destroyed

    @property
    def hung_up(self) -> bool:
        """True once the channel hung up, was hung up, or left the Stasis application."""
        return self._hung_up

    def prepare(self) -> Deferred[None]:
        """Read what the event does not say (the dnid, as ``info.called``)."""

        async def prepare() -> None:
            try:
                value = await self.call("channels", "getChannelVar", channelId=self.id,
                                        variable="CALLERID(dnid)")
            except AriHTTPError as e:
                if isinstance(e, AriNotFound) or function_unreadable(e):
                    return
                raise CommandFailed("channels.getChannelVar", e.message) from e
            called = answer_value(value)
            if called and called != "unknown":
                self._info = replace(self._info, called=called)

        return self._run(prepare())

    def close(self) -> None:
        """The session is over: stop following the channel (watchers, timers, waits)."""
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        self._unready()
        self.waits.close(ChannelHangup(f"{self._info.channel}: the session is over"))

    def mark_hung_up(self, why: str) -> None:
        """The channel is gone (or out of our application): end every pending wait."""
        if self._hung_up:
            return
        self._hung_up = True
        self._moh_on = False
        self.waits.drop_digits()
        self.log.debug("ARI: {channel} {why}", channel=self._info.channel, why=why)
        self.waits.hung_up(ChannelHangup(f"{self._info.channel}: {why}"))

    def require_live(self, what: str) -> None:
        """Raise ChannelHangup when the channel can no longer be driven."""
        if self._hung_up:
            raise ChannelHangup(f"{what}: the channel {self._info.channel} has hung up")

    def _on_event(self, event: Event) -> None:
        channel = event.get("channel")
        if not isinstance(channel, Mapping) or channel.get("id") != self.id:
            return
        kind = event.get("type")
        if kind == "ChannelDtmfReceived":
            self._digit(str(event.get("digit", "")))
        elif kind == "ChannelVarset" and isinstance(event.get("variable"), str):
            self.variables.saw(event["variable"], str(event.get("value", "")))
        elif kind == "ChannelStateChange":
            self.state = str(channel.get("state", self.state))
        elif kind == "ChannelHangupRequest":
            self.mark_hung_up("hung up")
        elif kind == "ChannelDestroyed":
            self._destroyed = True
            self.mark_hung_up(f"is gone ({event.get('cause_txt', 'hang-up')})")
        elif kind == "StasisEnd" and self._excursion is None:
            self.left_stasis = True
            self.mark_hung_up("left the Stasis application")
        elif kind == "StasisStart" and self._excursion is not None:
            args = stasis_args(event)
            if args and args[0] == EXEC_RETURN:
                self._excursion.succeed(None)

    def _link_reconnected(self) -> None:
        # Events sent while the WebSocket was down are lost: a pending wait may never end.
        if self.waits.pending:
            self.waits.gone(ChannelGone("the ARI link reconnected: events may have been lost"))

    def expect_return(self, wait: ChannelWait[None] | None) -> None:
        """While ``wait`` is set the channel is away in the dialplan (an excursion): its
        ``StasisEnd`` is expected and its ``StasisStart`` with ``gtx-exec`` ends the wait."""
        self._excursion = wait

    def _digit(self, digit: str) -> None:
        if len(digit) == 1 and digit in DTMF_DIGITS:
            self.waits.digit(digit)

    # --- REST -----------------------------------------------------------------------------

    async def call(self, resource: str, operation: str, **params: Any) -> Any:
        """A REST request; a lost link raises ChannelGone, HTTP errors pass through."""
        try:
            return await self.link.call(resource, operation, **params)
        except (AriUnavailable, AriTimeout) as e:
            raise ChannelGone(f"{resource}.{operation}: {e}") from e

    async def command(self, resource: str, operation: str, **params: Any) -> Any:
        """A REST request about this live channel: 404/409 for the channel → ChannelHangup,
        any other HTTP error, or a request the link refuses to send, → CommandFailed."""
        name = f"{resource}.{operation}"
        self.require_live(name)
        try:
            return await self.call(resource, operation, **params)
        except AriHTTPError as e:
            if channel_missing(e):
                self.left_stasis = self.left_stasis or isinstance(e, AriConflict)
                self.mark_hung_up(f"is gone ({name}: {e.message})")
                raise ChannelHangup(f"{name}: the channel {self._info.channel} is gone") from e
            raise CommandFailed(name, f"HTTP {e.status} {e.message}") from e
        except AriError as e:  # a request the link would not send (unknown parameter …)
            raise CommandFailed(name, str(e)) from e

    @staticmethod
    def dialplan_name(value: str, what: str) -> str:
        """``value`` if it is a valid dialplan name (context, queue, class …), else
        CommandFailed."""
        if not DIALPLAN_NAME.match(value):
            raise CommandFailed(what, f"invalid {what}: {value!r}")
        return value

    @staticmethod
    def _run(coroutine: Coroutine[Any, Any, _T]) -> Deferred[_T]:
        return Deferred.fromCoroutine(coroutine)

    # --- call control ---------------------------------------------------------------------

    def answer(self) -> Deferred[None]:
        """Answer the channel."""

        async def answer() -> None:
            self.waits.drop_digits()
            await self.command("channels", "answer", channelId=self.id)
            self.state = "Up"

        return self._run(answer())

    def hangup(self, cause: int | None = None) -> Deferred[None]:
        """Hang the channel up with a Q.850 ``cause``: ``reason_code`` where this Asterisk has
        it (recent versions), else the nearest ``reason`` (:data:`HANGUP_REASONS`)."""

        async def hangup() -> None:
            params: dict[str, Any] = {"channelId": self.id}
            if cause is not None and self.link.supports("channels", "hangup", "reason_code"):
                params["reason_code"] = str(int(cause))
            elif cause is not None:
                params["reason"] = HANGUP_REASONS.get(int(cause), "normal")
            await self.command("channels", "hangup", **params)
            self.hung_up_by_session = True
            self.mark_hung_up("hung up by the session")

        return self._run(hangup())

    def transfer(self, context: str, extension: str, priority: int) -> Deferred[None]:
        """Remember where the dialplan continues once the session lets the channel go."""

        async def transfer() -> None:
            self.dialplan_name(context, "context")
            self.dialplan_name(extension, "extension")
            if int(priority) < 1:
                raise CommandFailed("transfer", f"a priority is 1 or more, got {priority!r}")
            self.require_live("transfer")
            self.transfer_target = (context, extension, int(priority))

        return self._run(transfer())

    # --- media (ari_media) ----------------------------------------------------------------

    def stream(self, file: str, escape_digits: str = "") -> Deferred[PlayResult]:
        """Play ``sound:FILE``; a digit in ``escape_digits`` stops it and is returned."""
        return self._run(ari_media.stream(self, file, escape_digits))

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        """Wait up to ``timeout`` seconds for one digit."""
        return self._run(ari_media.wait_for_digit(self, timeout))

    def say(self, kind: str, value: str, escape_digits: str = "") -> Deferred[str | None]:
        """Say ``value`` (see :mod:`gtx.asterisk.ari_media` for how each kind is played)."""
        return self._run(ari_media.say(self, kind, value, escape_digits))

    def record(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        max_seconds: float | None,
        silence_seconds: int | None,
        beep: bool,
    ) -> Deferred[RecordResult]:
        """Record to ``path`` (inside ``recording_dir``) in format ``fmt``."""
        return self._run(ari_media.record(
            self, path, fmt, escape_digits, max_seconds, silence_seconds, beep))

    def music_on_hold(self, moh_class: str | None, seconds: float | None) -> Deferred[None]:
        """Music on hold for ``seconds`` (None: until the next operation that plays)."""
        return self._run(ari_media.music_on_hold(self, moh_class, seconds))

    def wait(self, seconds: float) -> Deferred[None]:
        """Wait ``seconds`` (ends early, with ChannelHangup, when the caller hangs up)."""
        return self._run(ari_media.wait(self, seconds))

    def send_dtmf(self, digits: str) -> Deferred[None]:
        """Send DTMF digits to the caller (``w``: half a second's pause)."""

        async def send_dtmf() -> None:
            if not digits or any(char not in DTMF_DIGITS + "w" for char in digits):
                raise CommandFailed("send_dtmf", f"not DTMF digits: {digits!r}")
            self.waits.drop_digits()
            await self.command("channels", "sendDTMF", channelId=self.id, dtmf=digits)

        return self._run(send_dtmf())

    @property
    def music_playing(self) -> bool:
        """True while music on hold started without ``seconds`` plays."""
        return self._moh_on

    async def stop_music(self) -> None:
        """Stop the music on hold left on, if any."""
        if self._moh_on:
            self._moh_on = False
            await self.command("channels", "stopMoh", channelId=self.id)

    def music_started(self) -> None:
        """Music on hold is on (left on until :meth:`stop_music`)."""
        self._moh_on = True

    # --- connecting the caller elsewhere (ari_dial, ari_excursion) ------------------------

    def dial(
        self,
        targets: Sequence[str],
        timeout: int | None,
        options: str,
        caller_id: str | None,
        time_limit: int | None,
    ) -> Deferred[DialResult]:
        """Originate one leg per target, bridge the first that answers (:mod:`ari_dial`)."""
        return self._run(ari_dial.dial(self, targets, timeout, options, caller_id, time_limit))

    def queue(self, name: str, timeout: int | None, options: str) -> Deferred[str]:
        """Queue() in the dialplan; returns QUEUESTATUS ("" when not set)."""
        return self._run(ari_excursion.queue(self, name, timeout, options))

    def conference(self, name: str, options: Mapping[str, str]) -> Deferred[None]:
        """ConfBridge() in the dialplan until the caller leaves it."""
        return self._run(ari_excursion.conference(self, name, options))

    def exec(self, application: str, args: Sequence[str]) -> Deferred[int]:
        """Run a dialplan application (0 when it succeeded, -1 when it failed)."""
        return self._run(ari_excursion.execute(self, application, args))

    # --- variables (they work after a hang-up, from the cache) ----------------------------

    def get_variable(self, name: str) -> Deferred[str | None]:
        """A channel variable, or None when it is not set."""
        return self._run(self.variables.read(name))

    def get_full_variable(self, expression: str) -> Deferred[str | None]:
        """Evaluate a ``${…}`` expression (see :meth:`ChannelVariables.evaluate`)."""
        return self._run(self.variables.evaluate(expression))

    def set_variable(self, name: str, value: str) -> Deferred[None]:
        """Set a channel variable (an empty value unsets it)."""
        return self._run(self.variables.write(name, value))

    def set_variables(self, values: Mapping[str, str]) -> Deferred[None]:
        """Set several variables: one ``setChannelVars`` where this Asterisk has it."""
        return self._run(self.variables.write_many(values))

    def handoff_variables(self, target: str) -> dict[str, str]:
        """What the session set for a hand-off, as originate ``variables`` for ``target``."""
        return self.variables.handoff_variables(target)

    def verbose(self, message: str, level: int = 1) -> Deferred[None]:
        """Log the message (ARI has no verbose log of its own)."""
        self.log.info("ARI {channel}: {message}", channel=self._info.channel, message=message)
        return succeed(None)
