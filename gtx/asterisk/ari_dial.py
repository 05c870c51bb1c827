"""``dial`` on an ARI channel: Dial() rebuilt from originate, bridges and events.

One leg is originated per target (``channels.originate`` with ``app`` = gtx's application,
``appArgs=gtx-dial``, a gtx ``channelId``, the caller id — the caller's own unless ``caller_id``
is given, as Dial's ``f()`` —, ``timeout`` (``-1`` without one: an originate without
``timeout`` gives up after 30 s, where Dial() rings on), ``originator`` = the caller, and the
hand-off ``variables`` of :meth:`ARIChannel.handoff_variables`). Meanwhile the caller hears ringing
(``channels.ring``), or music on hold with option ``m``.

The first leg to enter Stasis has answered: the other legs are hung up, the caller is answered
if need be, and both go into a mixing bridge until either leaves (or ``time_limit`` seconds
pass: the leg is then hung up, like Dial's ``L()``); the bridge is destroyed and the leg hung
up, and the session goes on with the caller.

DIALSTATUS: ``ANSWER``; ``CANCEL`` when the caller hangs up first; ``NOANSWER`` when
``timeout`` passes; otherwise, once every leg has failed, the most telling of their statuses
(BUSY, then CONGESTION, then CHANUNAVAIL, then NOANSWER, as Dial counts them), each leg's
status being that of its last ``Dial`` event or else its ``ChannelDestroyed`` cause: 17 BUSY;
16, 18, 19, 21 NOANSWER; 34, 38, 41, 42, 44, 47 CONGESTION; 0 NOANSWER when the leg was
ringing or the timeout has passed (Asterisk's originate gives up with cause 0 and no ``Dial``
NOANSWER); any other CHANUNAVAIL. A leg that
cannot even be originated (an HTTP error) is CHANUNAVAIL. ``answered_seconds`` and
``dialed_seconds`` (ANSWEREDTIME, DIALEDTIME) are measured on the clock.

Dial options: ``m`` (music on hold instead of ringing) is honoured; every other option only
makes sense inside Dial() and is ignored — ``g`` (the session always goes on after the call),
``b(…)`` (the pre-dial handler of a PJSIP hand-off: its headers go in the originate variables
instead), ``r``, ``c``, ``h``/``H``/``t``/``T``/``k``/``K``/``w``/``W``/``x``/``X`` (DTMF
features of the bridge), ``i``/``I`` (forwarding and connected line updates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import Deferred

from gtx.asterisk.ari_api import DIAL_LEG, AriHTTPError
from gtx.asterisk.ari_events import Event, channel_key
from gtx.asterisk.ari_waits import ChannelWait
from gtx.channel import ChannelGone, ChannelHangup, CommandFailed, DialResult

if TYPE_CHECKING:
    from gtx.asterisk.ari_channel import ARIChannel

#: A dial string: TECH/resource, without separators Dial() would split on.
_DIAL_TARGET: Final = re.compile(r"^[A-Za-z0-9_-]+/[^\s&,|()\"\\]+$")
_DIAL_OPTIONS: Final = re.compile(r"^[A-Za-z0-9()^:#*._@-]*$")
_CALLER_ID: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")
#: Extra seconds beyond ``timeout`` before gtx gives up on legs Asterisk did not end itself.
RING_GRACE: Final = 2.0
_FINAL: Final = frozenset({"BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL", "CANCEL"})
_RANK: Final = ("BUSY", "CONGESTION", "CHANUNAVAIL", "NOANSWER")
_CONGESTION_CAUSES: Final = frozenset({34, 38, 41, 42, 44, 47})
_NO_ANSWER_CAUSES: Final = frozenset({16, 18, 19, 21})


def status_from_cause(cause: object, *, rang: bool = False) -> str:
    """The DIALSTATUS of a leg destroyed with Q.850 ``cause`` before it answered; ``rang``:
    it was ringing, or the dial's timeout has passed (cause 0 is then a timeout)."""
    code = cause if isinstance(cause, int) else -1
    if code == 17:
        return "BUSY"
    if code in _NO_ANSWER_CAUSES or (code == 0 and rang):
        return "NOANSWER"
    if code in _CONGESTION_CAUSES:
        return "CONGESTION"
    return "CHANUNAVAIL"


def combined_status(statuses: Sequence[str]) -> str:
    """The DIALSTATUS once every leg has failed (see the module docstring)."""
    for status in _RANK:
        if status in statuses:
            return status
    return "CHANUNAVAIL"


@dataclass
class _Leg:
    id: str
    target: str
    status: str = ""
    gone: bool = False
    left: bool = False  # hung up, left Stasis or the bridge: the call with it is over
    ending: bool = False  # its hang-up was requested (by whoever): no need to ask again
    dropped: bool = False  # gtx asked Asterisk to hang it up
    ringing: bool = False  # Asterisk said it rings (Dial RINGING, ChannelStateChange)


def _ignore(_: str) -> None:
    """Digits pressed while dialling are not read."""


class _Dial:
    """One run of ``dial`` (see the module docstring)."""

    def __init__(self, channel: ARIChannel, targets: Sequence[str], timeout: int | None,
                 options: str, caller_id: str | None, time_limit: int | None) -> None:
        self.channel = channel
        self.targets = list(targets)
        self.timeout = timeout
        self.options = options
        self.caller_id = caller_id
        self.time_limit = time_limit
        self.legs: dict[str, _Leg] = {}
        self.winner: _Leg | None = None
        self.bridge: str | None = None
        self._unwatch: list[Callable[[], None]] = []
        self._ring: ChannelWait[tuple[str, _Leg | None]] | None = None
        self._talk: ChannelWait[str] | None = None
        self._started = channel.clock.seconds()

    def validate(self) -> None:
        if not self.targets or not all(_DIAL_TARGET.match(t) for t in self.targets):
            raise CommandFailed("dial", f"invalid targets {self.targets!r}")
        if not _DIAL_OPTIONS.match(self.options):
            raise CommandFailed("dial", f"invalid options {self.options!r}")
        if self.caller_id is not None and not _CALLER_ID.match(self.caller_id):
            raise CommandFailed("dial", f"invalid caller_id {self.caller_id!r}")
        if self.time_limit is not None and int(self.time_limit) <= 0:
            raise CommandFailed("dial", f"time_limit must be positive, got {self.time_limit}")
        if self.timeout is not None and int(self.timeout) <= 0:
            raise CommandFailed("dial", f"timeout must be positive, got {self.timeout}")

    async def run(self) -> DialResult:
        channel = self.channel
        self.validate()
        channel.require_live("dial")
        channel.waits.drop_digits()
        await channel.stop_music()
        clock, limits = channel.clock, channel.limits
        started = self._started = clock.seconds()
        bound = self.timeout + RING_GRACE if self.timeout else limits.application_timeout
        ring: ChannelWait[tuple[str, _Leg | None]] = channel.waits.new(
            bound, lambda: ("timeout", None), on_digit=_ignore)
        ring.on_hangup = lambda _: ring.succeed(("cancel", None))
        self._ring = ring
        await self._indicate(on=True)
        for target in self.targets:
            if not ring.done:
                await self._originate(target)
        self._settle()
        how, winner = await ring.deferred
        if winner is None:
            await self._indicate(on=False)
            status = {"timeout": "NOANSWER", "cancel": "CANCEL"}.get(how) or combined_status(
                [leg.status for leg in self.legs.values()])
            return DialResult(status=status, answered_seconds=0,
                              dialed_seconds=round(clock.seconds() - started))
        self.winner = winner
        answered = clock.seconds()
        await self._hang_up_legs(but=winner)
        await self._indicate(on=False)
        await self._connect(winner)
        ended = clock.seconds()
        return DialResult(status="ANSWER", answered_seconds=round(ended - answered),
                          dialed_seconds=round(ended - started))

    async def _originate(self, target: str) -> None:
        channel = self.channel
        leg = _Leg(channel.ids("dial"), target)
        self.legs[leg.id] = leg
        self._unwatch.append(
            channel.link.events.watch(channel_key(leg.id), partial(self._leg_event, leg)))
        params: dict[str, Any] = {
            "endpoint": target, "app": channel.link.app, "appArgs": DIAL_LEG,
            "channelId": leg.id, "originator": channel.id,
        }
        caller_id = self.caller_id if self.caller_id is not None else self._callers_id()
        if caller_id:
            params["callerId"] = caller_id
        params["timeout"] = int(self.timeout) if self.timeout else -1  # no timeout: ring on
        variables = channel.handoff_variables(target)
        if variables:
            params["variables"] = variables
        try:
            await channel.call("channels", "originate", **params)
        except ChannelGone:
            leg.gone = True  # never made, as far as anyone can tell
            raise
        except AriHTTPError as e:
            channel.log.info("ARI dial: {target} cannot be called: {error}", target=target,
                             error=e)
            leg.status, leg.gone, leg.left = "CHANUNAVAIL", True, True

    def _callers_id(self) -> str:
        info = self.channel.info
        if info.caller_name and info.caller_number:
            return f'"{info.caller_name}" <{info.caller_number}>'
        return info.caller_number or info.caller_name

    def _leg_event(self, leg: _Leg, event: Event) -> None:
        kind = event.get("type")
        if kind == "Dial":
            status = str(event.get("dialstatus", ""))
            if (event.get("peer") or {}).get("id") == leg.id:
                leg.ringing = leg.ringing or status == "RINGING"
                if status in _FINAL:
                    leg.status = status
            return
        if (event.get("channel") or {}).get("id") != leg.id:
            return
        if kind == "ChannelStateChange":
            leg.ringing = leg.ringing or event["channel"].get("state") == "Ringing"
            return
        if kind == "StasisStart":
            if self._ring is not None and not self._ring.done:
                self._ring.succeed(("answered", leg))
            elif leg is not self.winner:
                self._hang_up(leg)  # answered too late: it lost the race
        elif kind in ("ChannelHangupRequest", "StasisEnd", "ChannelLeftBridge",
                      "ChannelDestroyed"):
            leg.left = True
            leg.ending = leg.ending or kind in ("ChannelHangupRequest", "ChannelDestroyed")
            if kind == "ChannelDestroyed":
                leg.gone = True
                leg.status = leg.status or status_from_cause(
                    event.get("cause"), rang=leg.ringing or self._timeout_passed())
            if leg is self.winner and self._talk is not None:
                self._talk.succeed("callee")
            self._settle()

    def _timeout_passed(self) -> bool:
        return bool(self.timeout) and \
            self.channel.clock.seconds() - self._started >= int(self.timeout or 0)

    def _settle(self) -> None:
        """Every leg failed before one answered: the ring wait is over."""
        ring = self._ring
        if ring is not None and not ring.done and all(leg.gone for leg in self.legs.values()):
            ring.succeed(("failed", None))

    async def _connect(self, winner: _Leg) -> None:
        """Bridge the caller with ``winner`` until either leaves (or the time limit)."""
        channel = self.channel
        limit = self.time_limit or channel.limits.application_timeout
        talk: ChannelWait[str] = channel.waits.new(limit, lambda: "limit", on_digit=_ignore)
        talk.on_hangup = lambda _: talk.succeed("caller")
        self._talk = talk
        if winner.left:
            talk.succeed("callee")
        if channel.hung_up:
            talk.succeed("caller")
        try:
            if not talk.done:
                await self._bridge(winner)
        except AriHTTPError as e:
            talk.cancel()
            if not (channel.hung_up or winner.left):
                raise CommandFailed("dial", f"cannot connect the call: {e}") from e
            return
        except ChannelGone:
            talk.cancel()
            raise
        except ChannelHangup:
            talk.cancel()  # the caller hung up as the callee answered
            return
        await talk.deferred

    async def _bridge(self, winner: _Leg) -> None:
        channel = self.channel
        if channel.state != "Up":
            await channel.command("channels", "answer", channelId=channel.id)
            channel.state = "Up"
        bridge = channel.ids("bridge")
        await channel.call("bridges", "create", type="mixing", bridgeId=bridge)
        self.bridge = bridge
        await channel.call("bridges", "addChannel", bridgeId=bridge,
                           channel=f"{channel.id},{winner.id}")

    async def _indicate(self, *, on: bool) -> None:
        """Ringing (or music with ``m``) for the caller while the legs ring."""
        channel = self.channel
        if channel.hung_up:
            return
        if "m" in self.options:
            operation = "startMoh" if on else "stopMoh"
        else:
            operation = "ring" if on else "ringStop"
        try:
            await channel.call("channels", operation, channelId=channel.id)
        except AriHTTPError as e:
            channel.log.debug("ARI dial: {operation}: {error}", operation=operation, error=e)

    async def _hang_up_legs(self, but: _Leg | None = None) -> None:
        for leg in self.legs.values():
            if leg is not but and not leg.gone:
                await self._hang_up_now(leg)

    def _hang_up(self, leg: _Leg) -> None:
        Deferred.fromCoroutine(self._hang_up_now(leg))

    async def _hang_up_now(self, leg: _Leg) -> None:
        if leg.dropped or leg.ending:
            return
        leg.dropped = True
        try:
            await self.channel.call("channels", "hangup", channelId=leg.id)
        except (AriHTTPError, ChannelGone) as e:
            self.channel.log.debug("ARI dial: hanging up {leg}: {error}", leg=leg.id, error=e)

    async def close(self) -> None:
        """Leave nothing behind: the waits, the bridge, the legs still up, the watchers."""
        for wait in (self._ring, self._talk):
            if wait is not None:
                wait.cancel()
        try:
            if self.bridge is not None:
                bridge, self.bridge = self.bridge, None
                try:
                    await self.channel.call("bridges", "destroy", bridgeId=bridge)
                except (AriHTTPError, ChannelGone) as e:
                    self.channel.log.debug("ARI dial: destroying {bridge}: {error}",
                                           bridge=bridge, error=e)
            for leg in self.legs.values():
                if not leg.gone:
                    await self._hang_up_now(leg)
        finally:
            unwatch, self._unwatch = self._unwatch, []
            for stop in unwatch:
                stop()


async def dial(channel: ARIChannel, targets: Sequence[str], timeout: int | None, options: str,
               caller_id: str | None, time_limit: int | None) -> DialResult:
    """Dial ``targets`` together for the caller of ``channel`` (see the module docstring)."""
    attempt = _Dial(channel, targets, timeout, options, caller_id, time_limit)
    try:
        return await attempt.run()
    finally:
        await attempt.close()
