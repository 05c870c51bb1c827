"""The Stasis runner: one IVR session per channel that enters gtx's Stasis application.

:class:`StasisRunner` takes the ``StasisStart`` events that ask for an IVR session
(:func:`gtx.asterisk.ari_events.is_ivr_start`), builds an
:class:`~gtx.asterisk.ari_channel.ARIChannel` for each and runs ``engine.run(channel)``. A
second ``StasisStart`` for a channel already driven here is ignored.

When the session ends, the channel goes back to the dialplan (``continueInDialplan``): to the
location a ``transfer`` set, else to the priority after ``Stasis()`` — unless the channel hung
up, was hung up by the session, or left the application. After a dialplan excursion
(``exec``, ``queue``, ``conference``) the channel is in the ``Stasis()`` of ``[gtx-ari-exec]``:
it is then continued, by name, at the priority after the ``Stasis()`` the session began in
(:func:`gtx.asterisk.ari_excursion.dialplan_return`; ``GTX_STASIS_RETURN`` on the channel for
a channel found again). A ``REFUSED`` session (the engine is draining) is continued untouched,
so that the dialplan fails over to another node. A ``LOST`` session (the link failed) leaves
the channel in Stasis: the runner finds it again.

Finding channels again (``resync``), after every (re)connection of the link and after a
``LOST`` session while the link is up: ``channels.list``; a channel driven here that is no
longer listed is marked hung up (its session ends with the hang-up handling); a channel in
Stasis for gtx's application that no session here drives is adopted — continued to the
location it was headed for if its continue failed, continued at the next priority if its
``GTX_STATUS`` says its session ended (``DONE``, ``ERROR``, ``HANGUP``), else given a session
(``GTX_STATUS=RUNNING`` resumes at its step). A channel is adopted at most ``max_restarts``
times; after that it is continued in the dialplan, whose failover takes it from there. A
channel coming back from a dialplan excursion (``gtx-exec``) that no session waits for is
adopted the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import EXEC_RETURN, INTERNAL_ARG_PREFIX, AriError, AriLink, AriNotFound
from gtx.asterisk.ari_channel import (
    DEFAULT_RECORDING_DIR,
    ARIChannel,
    IdFactory,
    new_object_id,
)
from gtx.asterisk.ari_events import Event, stasis_args
from gtx.asterisk.ari_excursion import STASIS_RETURN, dialplan_return, parse_location
from gtx.asterisk.ari_info import channel_missing
from gtx.asterisk.ari_variables import answer_value
from gtx.asterisk.ari_waits import ARILimits
from gtx.channel import Channel, ChannelGone, ChannelHangup, CommandFailed

#: Session statuses the runner acts on (gtx.ivr.session's SessionOutcome.status).
REFUSED: Final = "REFUSED"
LOST: Final = "LOST"
#: GTX_STATUS values of a session that has ended: the channel only needs to go on.
ENDED_STATUSES: Final = frozenset({"DONE", "ERROR", "HANGUP"})


class SessionOutcome(Protocol):
    """How a session ended, as far as the runner cares."""

    @property
    def status(self) -> str: ...


class SessionEngine(Protocol):
    """What runs the sessions (:class:`gtx.ivr.engine.IvrEngine`)."""

    @property
    def accepting(self) -> bool: ...

    def run(self, channel: Channel) -> Deferred[Any]:
        """Run a session on ``channel``; fires with its outcome (never fails)."""


class StasisRunner:
    """Runs IVR sessions on the channels of one ARI link (see the module docstring)."""

    def __init__(
        self,
        link: AriLink,
        engine: SessionEngine,
        clock: IReactorTime,
        *,
        recording_dir: str = DEFAULT_RECORDING_DIR,
        log: Logger | None = None,
        ids: IdFactory = new_object_id,
        limits: ARILimits | None = None,
        max_restarts: int = 3,
    ) -> None:
        self.link = link
        self.engine = engine
        self.clock = clock
        self.recording_dir = recording_dir
        self.log = log if log is not None else Logger(namespace="gtx.asterisk.ari")
        self.ids = ids
        self.limits = limits
        self.max_restarts = max_restarts
        self._driven: dict[str, ARIChannel] = {}
        self._restarts: dict[str, int] = {}
        self._headed_for: dict[str, tuple[str, str, int] | None] = {}
        # Channels given back to the dialplan: a listing taken before that must not adopt them.
        self._released: set[str] = set()
        self._stop: list[Callable[[], None]] = []
        self._resyncing = False
        self._again = False
        self._running = False

    @property
    def active(self) -> int:
        """Channels driven by a session right now."""
        return len(self._driven)

    def driving(self, channel_id: str) -> ARIChannel | None:
        """The channel driven here with that id, if any."""
        return self._driven.get(channel_id)

    def start(self) -> None:
        """Take the StasisStart events and resync after every (re)connection."""
        if self._running:
            return
        self._running = True
        self.link.events.on_stasis_start(self._stasis_start)
        self._stop = [
            lambda: self.link.events.on_stasis_start(None),
            self.link.events.on_every(self._maybe_returned),
            self.link.on_ready(self.resync),
        ]
        if self.link.connected:
            self.resync()

    def stop(self) -> None:
        """Take no new channel (sessions running now go on)."""
        self._running = False
        stop, self._stop = self._stop, []
        for undo in stop:
            undo()

    # --- starting sessions ----------------------------------------------------------------

    def _stasis_start(self, event: Event) -> None:
        self._begin(event, "entered Stasis")

    def _maybe_returned(self, event: Event) -> None:
        if event.get("type") != "StasisStart":
            return
        args = stasis_args(event)
        channel_id = _channel_id(event)
        if args[:1] == [EXEC_RETURN] and channel_id and channel_id not in self._driven:
            self._begin(event, "came back from the dialplan with no session waiting for it")

    def _begin(self, event: Event, why: str) -> None:
        channel_id = _channel_id(event)
        if channel_id is None:
            self.log.warn("ARI {server}: StasisStart without a channel id ignored",
                          server=self.link.name)
            return
        if channel_id in self._driven:
            self.log.info("ARI {server}: {channel} is already driven here; StasisStart ignored",
                          server=self.link.name, channel=channel_id)
            return
        try:
            channel = ARIChannel(self.link, event, self.clock, recording_dir=self.recording_dir,
                                 ids=self.ids, limits=self.limits, log=self.log)
        except ValueError as e:
            self.log.warn("ARI {server}: cannot drive a channel: {error}", server=self.link.name,
                          error=e)
            return
        self._driven[channel_id] = channel
        self.log.debug("ARI {server}: {channel} {why}", server=self.link.name,
                       channel=channel.info.channel, why=why)
        d = Deferred.fromCoroutine(self._session(channel))
        d.addErrback(self._failed, channel)

    async def _session(self, channel: ARIChannel) -> None:
        try:
            if self.engine.accepting:
                try:
                    await channel.prepare()
                except CommandFailed as e:  # the session can do without the dnid
                    self.log.warn("ARI {server}: {channel}: {error}", server=self.link.name,
                                  channel=channel.info.channel, error=e)
            outcome = await self.engine.run(channel)
            status = str(getattr(outcome, "status", ""))
        except ChannelGone as e:
            self.log.warn("ARI {server}: {channel}: {error}", server=self.link.name,
                          channel=channel.info.channel, error=e)
            status = LOST
        except Exception:
            # The engine never fails; should it, the channel still goes back to the dialplan.
            self.log.failure("ARI {server}: the session of {channel} failed",
                             server=self.link.name, channel=channel.info.channel)
            status = "ERROR"
        finally:
            channel.close()
            self._driven.pop(channel.id, None)
        await self._after(channel, status)

    def _failed(self, failure: Failure, channel: ARIChannel) -> None:
        self.log.failure("ARI {server}: the session of {channel} failed", failure,
                         server=self.link.name, channel=channel.info.channel)

    async def _after(self, channel: ARIChannel, status: str) -> None:
        """Give the channel back to the dialplan when the session is over."""
        if status == LOST:
            if self.link.connected:
                self.resync()
            return
        if status == REFUSED or not channel.hung_up:
            where = channel.transfer_target if status != REFUSED else None
            await self._continue(channel.id, where or await self._return_of_session(channel))
        else:
            self._released.add(channel.id)
        self._restarts.pop(channel.id, None)

    async def _return_of_session(self, channel: ARIChannel) -> tuple[str, str, int] | None:
        try:
            return await dialplan_return(channel)
        except (ChannelGone, ChannelHangup, CommandFailed) as e:
            self.log.warn("ARI {server}: {channel}: where the session began is unknown: "
                          "{error}", server=self.link.name, channel=channel.info.channel,
                          error=e)
            return None

    async def _return_of(self, channel_id: str, args: list[str]) -> tuple[str, str, int] | None:
        """Where a channel found in Stasis goes on: back from an excursion, the priority after
        the Stasis() its session began in (GTX_STASIS_RETURN); else None, the priority after
        the Stasis() it is in."""
        if args[:1] != [EXEC_RETURN]:
            return None
        try:
            answer = await self.link.call("channels", "getChannelVar", channelId=channel_id,
                                          variable=STASIS_RETURN)
        except AriError as e:
            self.log.warn("ARI {server}: cannot read {variable} of {channel}: {error}",
                          server=self.link.name, variable=STASIS_RETURN, channel=channel_id,
                          error=e)
            return None
        entry = parse_location(answer_value(answer))
        return None if entry is None else (entry[0], entry[1], entry[2] + 1)

    async def _continue(self, channel_id: str, where: tuple[str, str, int] | None) -> None:
        params: dict[str, Any] = {"channelId": channel_id}
        if where is not None:
            params.update(context=where[0], extension=where[1], priority=where[2])
        self._released.add(channel_id)
        try:
            await self.link.call("channels", "continueInDialplan", **params)
        except AriNotFound:
            self.log.info("ARI {server}: {channel} is gone; nothing to continue",
                          server=self.link.name, channel=channel_id)
        except AriError as e:
            self.log.warn("ARI {server}: cannot continue {channel} in the dialplan: {error}",
                          server=self.link.name, channel=channel_id, error=e)
            self._released.discard(channel_id)
            self._headed_for[channel_id] = where  # the next resync tries again
        else:
            self._headed_for.pop(channel_id, None)

    # --- finding channels again -------------------------------------------------------------

    def resync(self) -> None:
        """Reconcile the channels driven here with Asterisk's (see the module docstring)."""
        if self._resyncing:
            self._again = True
            return
        self._resyncing = True
        d = Deferred.fromCoroutine(self._resync())
        d.addErrback(lambda f: self.log.failure("ARI {server}: resync failed", f,
                                                server=self.link.name))

    async def _resync(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    listed = await self.link.call("channels", "list")
                except AriError as e:
                    self.log.warn("ARI {server}: cannot list the channels: {error}",
                                  server=self.link.name, error=e)
                    return
                await self._reconcile(listed if isinstance(listed, list) else [])
                if not self._again:
                    return
        finally:
            self._resyncing = False

    async def _reconcile(self, listed: list[Any]) -> None:
        present = {ch["id"]: ch for ch in listed
                   if isinstance(ch, Mapping) and isinstance(ch.get("id"), str)}
        for channel_id, channel in list(self._driven.items()):
            if channel_id not in present:
                channel.mark_hung_up("is gone (not listed once the ARI link came back)")
        for gone in set(self._restarts) - set(present):
            del self._restarts[gone]
        for gone in set(self._headed_for) - set(present):
            del self._headed_for[gone]
        self._released &= set(present)
        for channel_id, channel_json in present.items():
            args = self._stasis_args_of(channel_json)
            if args is None or channel_id in self._driven or channel_id in self._released:
                continue
            if args[:1] != [EXEC_RETURN] and args and args[0].startswith(INTERNAL_ARG_PREFIX):
                continue  # a dial leg, a dialer call, a snoop channel: not a session
            await self._adopt({"type": "StasisStart", "args": args, "channel": channel_json})

    def _stasis_args_of(self, channel: Mapping[str, Any]) -> list[str] | None:
        """The Stasis arguments of a channel in gtx's application, else None."""
        dialplan = channel.get("dialplan") or {}
        if dialplan.get("app_name") != "Stasis":
            return None
        data = str(dialplan.get("app_data", ""))
        app, _, rest = data.partition(",")
        if app != self.link.app:
            return None
        return rest.split(",") if rest else []

    async def _adopt(self, event: Event) -> None:
        channel_id = str(event["channel"]["id"])
        args = list(event.get("args") or [])
        if channel_id in self._headed_for:
            where = self._headed_for[channel_id]
            await self._continue(channel_id, where or await self._return_of(channel_id, args))
            return
        count = self._restarts.get(channel_id, 0) + 1
        self._restarts[channel_id] = count
        if count > self.max_restarts or not self._running:
            self.log.warn("ARI {server}: {channel} found in Stasis again; continued in the "
                          "dialplan (failover)", server=self.link.name, channel=channel_id)
            await self._continue(channel_id, await self._return_of(channel_id, args))
            return
        try:
            answer = await self.link.call("channels", "getChannelVar", channelId=channel_id,
                                          variable="GTX_STATUS")
        except AriNotFound as e:
            if channel_missing(e):
                return  # gone since it was listed
            answer = None
        except AriError as e:
            self.log.warn("ARI {server}: cannot read the state of {channel}: {error}",
                          server=self.link.name, channel=channel_id, error=e)
            return
        status = answer.get("value") if isinstance(answer, Mapping) else None
        if status in ENDED_STATUSES:
            await self._continue(channel_id, await self._return_of(channel_id, args))
        elif channel_id not in self._driven:
            self._begin(event, "found in Stasis with no session")


def _channel_id(event: Event) -> str | None:
    channel = event.get("channel")
    if isinstance(channel, Mapping) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    return None


__all__ = ["ENDED_STATUSES", "LOST", "REFUSED", "SessionEngine", "StasisRunner"]
