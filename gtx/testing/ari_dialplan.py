"""The dialplan around Stasis on the emulated ARI server.

A channel that leaves Stasis with ``continueInDialplan`` goes on at the location it names
(``StasisEnd`` first). The emulator runs a few locations itself:

- ``gtx-ari-exec,s,1`` — the dialplan excursion of ``dialplan/extensions_gtx_ari.conf``:
  ``TryExec(${GTX_EXEC_APP}(${GTX_EXEC_DATA}))`` with the emulated applications of
  :mod:`gtx.testing.applications` (``Queue``, ``ConfBridge``, ``Dial``, ``Playback``…),
  ``GTX_EXEC_STATUS`` = ``SUCCESS``, ``FAILED`` or ``NOAPP`` (``TRYSTATUS``), then
  ``Stasis(${GTX_EXEC_STASIS},gtx-exec)``: ``StasisStart`` again with ``["gtx-exec"]``; once
  let go again the excursion hangs up;
- ``gtx-dialer,answered,1`` — :func:`ari_dialer_answered`, ``[gtx-dialer]`` of
  ``dialplan/extensions_gtx.conf`` with the IVR reached over ARI;
- the place right after a ``Stasis()`` the emulated dialplan itself runs (the dialer's
  hand-off, the excursion's return): that routine resumes — also when the channel went
  elsewhere in between (an excursion from the dialer's ``Stasis()``: ``continueInDialplan``
  to the priority after it takes the call back there, as in Asterisk, where the channel's
  place in the dialplan is all there is). ``continueInDialplan`` without a location goes on
  after the ``Stasis()`` the channel is in now: back from an excursion, that is the one of
  ``gtx-ari-exec``, and the excursion hangs up.

Any other location ends the call there: the channel hangs up (``hangup_source`` ``dialplan``)
and its record says where (``continued_at``). A call entering Stasis from the dialplan
(:meth:`EmulatedARIServer.stasis_call`) whose application is not connected goes on at once
after Stasis() (``STASISSTATUS=FAILED``) and so ends.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.testing.ami_calls import ChannelHungUp
from gtx.testing.ami_dialplan import AMD_SECONDS, SAFE_HARBOR_SECONDS
from gtx.testing.applications import run_application
from gtx.testing.ari_model import ARIChannel, event
from gtx.testing.call import ActiveCall
from gtx.testing.emulator import connect_emulated_call
from gtx.testing.pbx import CallSpec

if TYPE_CHECKING:
    from gtx.testing.ari_server import EmulatedARIServer

_log = Logger()
#: The Stasis argument of a channel returning from an excursion.
EXEC_RETURN = "gtx-exec"
#: QUEUESTATUS values after which ``[gtx-dialer]`` counts the call abandoned.
ABANDONED = ("TIMEOUT", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL")


class LeftForElsewhere(Exception):
    """The channel was continued to another place than the routine's: the routine stops."""


class ARIRun:
    """One emulated dialplan routine running on a channel."""

    def __init__(self, dialplan: ARIDialplan, channel: ARIChannel) -> None:
        self.dialplan = dialplan
        self.server = dialplan.server
        self.channel = channel
        self._call = ActiveCall(self.server.asterisk, channel.spec or CallSpec(), channel.media)

    def variable(self, name: str) -> str:
        """A channel variable ('' when unset)."""
        return self.channel.media.variables.get(name, "")

    def _check(self) -> None:
        channel = self.channel
        if channel.gone or channel.hanging_up or channel.media.hung_up:
            raise ChannelHungUp(channel.name)

    def app(self, application: str, data: str = "") -> None:
        """Run an application at the next priority (``ChannelDialplan``)."""
        self._check()
        context, exten, priority = self.channel.location
        self.channel.set_location(context, exten, priority + 1)
        self.server.calls.dialplan_app(self.channel, application, data)

    def set_variable(self, name: str, value: str) -> None:
        """``Set(NAME=value)`` (``ChannelVarset``)."""
        self._check()
        self.server.calls.set_variable(self.channel, name, value)

    def user_event(self, name: str, *fields: tuple[str, str]) -> None:
        """``UserEvent(NAME,Key: Value,…)``: ``ChannelUserevent`` to the subscribed apps."""
        self.app("UserEvent", ",".join([name, *(f"{k}: {v}" for k, v in fields)]))
        calls = self.server.calls
        blob = {"eventname": name, **dict(fields)}
        calls.emit(self.channel, event("ChannelUserevent", calls.ts(self.channel),
                                       ("eventname", name), ("userevent", blob),
                                       ("channel", self.channel.to_json())))

    async def wait(self, seconds: float) -> None:
        """Let call time pass; raises :class:`ChannelHungUp` if the channel goes."""
        self._check()
        heard = await self.channel.media.listen(seconds)
        if heard.hangup:
            raise ChannelHungUp(self.channel.name)

    async def until_hangup(self) -> None:
        """Wait until the channel hangs up."""
        await self.channel.media.listen(None)
        raise ChannelHungUp(self.channel.name)

    async def application(self, name: str, data: str) -> int:
        """Run an emulated dialplan application (-2: no such application)."""
        self.app(name, data)
        return await run_application(self._call, name, data)

    def hangup(self, cause: int = 16) -> None:
        """``Hangup()``: the channel goes; the routine ends."""
        self.app("Hangup", "")
        self.server.calls.hangup(self.channel, cause, source="dialplan")
        raise ChannelHungUp(self.channel.name)

    async def amd(self) -> tuple[str, str]:
        """``AMD()``: the dialled destination's verdict after ``AMD_SECONDS``."""
        self.app("AMD", "")
        await self.wait(AMD_SECONDS)
        destination = self.channel.destination
        status = destination.amd_status if destination is not None else "HUMAN"
        cause = destination.amd_cause if destination is not None else "HUMAN-500-500"
        self.set_variable("AMDSTATUS", status)
        self.set_variable("AMDCAUSE", cause)
        return status, cause

    async def stasis(self, app: str, args: list[str]) -> bool:
        """``Stasis(app,args…)``: False at once when the application is not connected; else
        True once the application lets the channel go on right after Stasis()."""
        self._check()
        context, exten, priority = self.channel.location
        self.channel.set_location(context, exten, priority + 1)
        if not self.server.calls.enter_stasis(self.channel, app, args):
            return False
        waiter: Deferred[tuple[str, str, int]] = Deferred()
        self.channel.stasis_waiter = waiter
        self.channel.stasis_return = (context, exten, priority + 2)
        await waiter
        return True


#: A dialplan routine the emulator runs at ``context,exten`` priority 1.
ARIRoutine = Callable[[ARIRun], Coroutine[Any, Any, None]]


class ARIDialplan:
    """What happens around Stasis (see the module docstring); ``server.dialplan``."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        #: Routines by ``"context,exten"``: add your own to emulate more of your dialplan.
        self.routines: dict[str, ARIRoutine] = {
            "gtx-ari-exec,s": ari_exec,
            "gtx-dialer,answered": ari_dialer_answered,
        }

    def stasis_from_dialplan(self, channel: ARIChannel, app: str, args: list[str]) -> None:
        """The channel's dialplan runs ``Stasis(app,args…)`` where it is."""
        if not self.server.calls.enter_stasis(channel, app, args):
            self.continue_at(channel, None)

    def continue_at(self, channel: ARIChannel, where: tuple[str, str, int] | None) -> None:
        """The channel goes on in the dialplan at ``where`` (None: right after Stasis())."""
        context, exten, priority = channel.location
        if where is None:
            where = (context, exten, priority + 1)
        self.server.calls.leave_stasis(channel)
        if channel.gone or channel.hanging_up:
            return
        channel.continues.append(where)
        channel.set_location(*where)
        channel.media.note("media", "continues at {},{},{}".format(*where))
        waiter, channel.stasis_waiter = channel.stasis_waiter, None
        back, channel.stasis_return = channel.stasis_return, None
        if waiter is not None and not waiter.called:
            if back == where:
                self._abandon(channel)
                waiter.callback(where)
                return
            if back is not None:  # the routine waits there until the channel comes back
                channel.suspended[back] = waiter
            else:
                waiter.errback(Failure(LeftForElsewhere(channel.name)))
        resumed = channel.suspended.pop(where, None)
        if resumed is not None and not resumed.called:
            self._abandon(channel)
            resumed.callback(where)
            return
        self._go(channel, where)

    @staticmethod
    def _abandon(channel: ARIChannel) -> None:
        """The channel runs one routine: the others it left are over."""
        suspended, channel.suspended = channel.suspended, {}
        for waiter in suspended.values():
            if not waiter.called:
                waiter.errback(Failure(LeftForElsewhere(channel.name)))

    def start_at(self, channel: ARIChannel, where: tuple[str, str, int]) -> None:
        """An answered originated channel starts its dialplan at ``where``."""
        channel.continues.append(where)
        channel.set_location(*where)
        self._go(channel, where)

    def _go(self, channel: ARIChannel, where: tuple[str, str, int]) -> None:
        routine = self.routines.get(f"{where[0]},{where[1]}")
        if routine is not None and where[2] == 1:
            self.run(channel, routine)
        else:
            self.ends_here(channel)

    def run(self, channel: ARIChannel, routine: ARIRoutine) -> None:
        """Run ``routine`` on ``channel``; when it returns the channel hangs up."""
        run = ARIRun(self, channel)
        channel.set_location(channel.media.context, channel.media.extension, 0)

        def ended(result: object) -> None:
            if isinstance(result, Failure) and not result.check(ChannelHungUp,
                                                                  LeftForElsewhere):
                _log.failure("emulated dialplan on {channel} failed", result,
                             channel=channel.name)
            if isinstance(result, Failure) and result.check(LeftForElsewhere):
                return
            if not (channel.gone or channel.hanging_up or channel.media.hung_up):
                self.server.calls.hangup(channel, 16, source="dialplan")

        Deferred.fromCoroutine(routine(run)).addBoth(ended)

    def ends_here(self, channel: ARIChannel) -> None:
        """The call ends where the channel is (the emulator does not run that dialplan)."""
        channel.media.note("media", "the call ends in the dialplan at {},{},{}".format(
            *channel.location))
        self.server.calls.hangup(channel, 16, source="dialplan")

    def redirect(self, channel: ARIChannel, endpoint: str) -> None:
        """``channels.redirect``: the call is sent to ``endpoint`` and leaves this server."""
        self.server.calls.leave_stasis(channel)
        channel.continues.append(("redirect", endpoint, 0))
        channel.media.note("media", f"redirected to {endpoint}")
        self.server.calls.hangup(channel, 16, source="dialplan")


async def ari_exec(run: ARIRun) -> None:
    """``gtx-ari-exec,s,1`` (see the module docstring)."""
    app, data = run.variable("GTX_EXEC_APP"), run.variable("GTX_EXEC_DATA")
    run.app("NoOp", f"gtx: {app}({data}) for {run.variable('GTX_EXEC_STASIS')}")
    result = await run.application(app, data) if app else -2
    run._check()
    status = "NOAPP" if result == -2 else ("SUCCESS" if result == 0 else "FAILED")
    run.channel.exec_runs.append((app, data, status))
    run.set_variable("GTX_EXEC_STATUS", status)
    await run.stasis(run.variable("GTX_EXEC_STASIS") or "gtx", [EXEC_RETURN])
    run.hangup()


async def ari_dialer_answered(run: ARIRun) -> None:
    """``gtx-dialer,answered,1`` with the IVR reached over ARI (``GTX_IVR_VIA=ari``): AMD
    (``GTX_AMD=1``), then a queue (``GTX_DIALER_QUEUE``), a dialplan place
    (``GTX_DIALER_GOTO``) or an IVR app (``GTX_DIALER_APP``, default ``dialer``) through
    ``Gosub(gtx-stasis,s,1(APP))``: ``Stasis(ARI_APP,APP[,ARG…])`` on each of the server's
    ``ari_apps`` in turn until one is connected — or, with the server's ``ivr_via="agi"``,
    through ``Gosub(gtx-ivr,s,1(APP))``: FastAGI against its ``fastagi`` target. UserEvents
    as ``[gtx-dialer]`` raises them (``ChannelUserevent`` to the applications subscribed to
    the channel)."""
    call_id = run.variable("GTX_CALL_ID")
    run.app("NoOp", f"gtx dialer: call {call_id} answered on {run.channel.name}")
    if run.variable("GTX_AMD") == "1":
        status, cause = await run.amd()
        run.user_event("GtxAmd", ("CallId", call_id), ("Status", status), ("Cause", cause))
        if status == "MACHINE":
            run.app("NoOp", f"gtx dialer: call {call_id} reached a machine ({cause})")
            run.hangup()
    queue, target = run.variable("GTX_DIALER_QUEUE"), run.variable("GTX_DIALER_GOTO")
    if queue:
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "queue"), ("Queue", queue))
        abandon = run.variable("GTX_ABANDON_SECONDS")
        await run.application("Queue", f"{queue},,,,{abandon}" if abandon else queue)
        reason = run.variable("QUEUESTATUS")
        if abandon and reason in ABANDONED:
            run.user_event("GtxAbandoned", ("CallId", call_id), ("Queue", queue),
                           ("Reason", reason))
            harbor = run.variable("GTX_SAFE_HARBOR") or "vm-goodbye"
            run.app("Playback", harbor)
            run.channel.media.played.append(harbor)
            await run.wait(SAFE_HARBOR_SECONDS)
    elif target:
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "goto"))
        run.app("Goto", target)
        run.channel.continues.append(_location(target))
        await run.until_hangup()
    else:
        app = run.variable("GTX_DIALER_APP") or "dialer"
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "app"))
        if run.server.ivr_via == "agi":
            run.app("Gosub", f"gtx-ivr,s,1({app})")
            await _agi(run, app)
        else:
            run.app("Gosub", f"gtx-stasis,s,1({app})")
            await _stasis_with_failover(run, app.split(","))
    run.hangup()


async def _stasis_with_failover(run: ARIRun, app_args: list[str]) -> None:
    """``Gosub(gtx-stasis,s,1(APP))`` of ``dialplan/extensions_gtx.conf``: ``Stasis()`` on
    the server's ``ari_apps`` round robin, ``GTX_ROUNDS`` times (default 2), until a session
    reaches its end (``GTX_STATUS`` DONE, ERROR, HANGUP, or a new HANDOFF); an application
    not connected (``STASISSTATUS=FAILED``) or one that lets the call go with the status it
    had is a failover. None left: ``GTX_STATUS=ERROR``, the fallback prompt, hang-up."""
    back = run.channel.location
    run.channel.set_location("gtx-stasis", "s", 0)
    if run.variable("GTX_STATUS") not in ("RUNNING", "READY", "HANDOFF"):
        run.set_variable("GTX_STATUS", "")
    entry = f"{run.variable('GTX_STATUS')}/{run.variable('GTX_STEP')}"
    apps = run.server.ari_apps
    rounds = int(run.variable("GTX_ROUNDS") or 2) if run.variable("GTX_ROUNDS").isdigit() else 2
    attempts = len(apps) * max(rounds, 1)
    for attempt in range(attempts):
        await run.stasis(apps[attempt % len(apps)], app_args)
        status = run.variable("GTX_STATUS")
        if status in ("DONE", "ERROR", "HANGUP") or (
                status == "HANDOFF" and f"{status}/{run.variable('GTX_STEP')}" != entry):
            break
    else:
        run.set_variable("GTX_STATUS", "ERROR")
        run.set_variable("GTX_ERROR", f"node_unreachable: no gtx Stasis application ran "
                                      f"{app_args[0]} to its end in {attempts} attempts")
        await run.application("Playback", run.variable("GTX_FALLBACK") or "an-error-has-occured")
    if run.variable("GTX_STATUS") in ("HANGUP", "ERROR"):
        run.hangup()  # GTX_ON_ERROR=hangup, the default
    run.channel.set_location(*back)


async def _agi(run: ARIRun, app: str) -> None:
    """``Gosub(gtx-ivr,s,1(APP))``: a FastAGI session against the server's ``fastagi`` target
    with the channel's variables; they come back when it ends. (The FastAGI call runs on a
    channel of its own: a hang-up of this one does not reach it.)"""
    server = run.server
    if server.fastagi is None:
        run.set_variable("AGISTATUS", "FAILURE")
        return
    script, *args = app.split(",")
    channel = run.channel
    spec = CallSpec(request=f"agi://127.0.0.1:4573/{script}", args=tuple(args),
                    channel=channel.name, uniqueid=channel.id,
                    caller_number=channel.caller[1] or None,
                    caller_name=channel.caller[0] or None, context="gtx-ivr", extension="s",
                    priority=1, variables=dict(channel.media.variables))
    record = await connect_emulated_call(server.fastagi, spec, asterisk=server.asterisk,
                                         reactor=server.reactor)
    for name, value in record.variables.items():
        if channel.media.variables.get(name) != value:
            run.set_variable(name, value)


def _location(target: str) -> tuple[str, str, int]:
    parts = [p.strip() for p in target.split(",")]
    while len(parts) < 3:
        parts.insert(0, "")
    priority = parts[-1]
    return parts[-3], parts[-2], int(priority) if priority.isdigit() else 1
