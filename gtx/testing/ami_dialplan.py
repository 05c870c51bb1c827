"""The dialplan the emulated AMI server runs on answered calls, and ``[gtx-dialer]`` itself.

An answered originate runs either its ``Application`` (``Wait(N)`` ends after N seconds; any
other application runs until the called party hangs up) or its ``Context,Exten,Priority``,
looked up in the server's dialplan: a mapping ``"context,exten"`` → :data:`DialplanRoutine`, an
``async`` function driving a :class:`DialplanRun` (the emulated dialplan applications).

:func:`gtx_dialer_answered` plays ``gtx-dialer,answered,1`` of ``dialplan/extensions_gtx.conf``
(keep the two in step; Newexten priorities are approximate, the UserEvents exact):

1. ``GTX_AMD=1``: ``AMD()`` (its verdict is the destination's ``amd_status``/``amd_cause``),
   ``VarSet`` AMDSTATUS and AMDCAUSE, ``UserEvent(GtxAmd,CallId: …,Status: …,Cause: …)``; a
   MACHINE hangs up (cause 16).
2. ``GTX_DIALER_QUEUE=Q``: ``UserEvent(GtxConnected,CallId,To: queue,Queue: Q)``, then
   ``Queue(Q,,,,GTX_ABANDON_SECONDS)``: an available member answers after the queue's
   ``QueueBehaviour.wait_seconds`` and the call talks until the called party hangs up (the
   member counts the call); with no available member within the bound →
   ``UserEvent(GtxAbandoned,CallId,Queue,Reason: TIMEOUT)``, the safe-harbor message
   (``GTX_SAFE_HARBOR``, default vm-goodbye) plays :data:`SAFE_HARBOR_SECONDS`, hang-up.
   No GTX_ABANDON_SECONDS: Queue() waits for good.
3. ``GTX_DIALER_GOTO=ctx,exten,prio`` → ``UserEvent(GtxConnected,CallId,To: goto)``, Goto; the
   call talks until the called party hangs up.
4. Otherwise ``UserEvent(GtxConnected,CallId,To: app)`` and ``Gosub(gtx-ivr,s,1(APP))`` with
   ``GTX_DIALER_APP`` (default ``dialer``): ``AGI(agi://NODE/APP)``, a FastAGI call from
   :mod:`gtx.testing` to the server's FastAGI target with the channel's variables
   (``GTX_CALL_ID``, ``GTX_STATUS=READY``, ``GTX_VARS``…); then ``Hangup()``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.testing.ami_calls import ChannelHungUp, PlacedCall
from gtx.testing.ami_events import AMIChannel, newexten_event, user_event, var_set_event

if TYPE_CHECKING:
    from gtx.testing.agi_emulator import CallRecord
    from gtx.testing.ami_queues import EmulatedQueue, QueueMember

_log = Logger()

#: How long AMD() listens before its verdict (call seconds).
AMD_SECONDS = 2.5
#: How long the safe-harbor message of an abandoned call plays.
SAFE_HARBOR_SECONDS = 4.0


class DialplanRun:
    """One dialplan routine running on an answered call's originated channel."""

    def __init__(
        self,
        call: PlacedCall,
        context: str,
        exten: str,
        priority: int,
        queues: Mapping[str, EmulatedQueue],
        fastagi: Callable[[DialplanRun, str, list[str]], Deferred[CallRecord]] | None,
    ) -> None:
        assert call.outer is not None
        self.call = call
        self.channel: AMIChannel = call.outer
        self.queues = queues
        self._fastagi = fastagi
        self._next_priority = priority
        self.channel.context, self.channel.exten = context, exten

    def variable(self, name: str) -> str:
        """A channel variable ('' when unset)."""
        return self.channel.variables.get(name, "")

    def _check(self) -> None:
        if self.channel.hung_up or self.call.ended:
            raise ChannelHungUp(self.channel.name)

    def app(self, application: str, data: str = "") -> None:
        """Run an application at the next priority: ``Newexten``."""
        self._check()
        self.channel.priority = self._next_priority
        self._next_priority += 1
        self.channel.application, self.channel.app_data = application, data
        self.call.host.emit(newexten_event(self.channel, application, data), self.call)

    def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (``VarSet``)."""
        self.channel.variables[name] = value
        self.call.host.emit(var_set_event(self.channel, name, value), self.call)

    def user_event(self, name: str, *fields: tuple[str, str]) -> None:
        """``UserEvent(NAME,Key: Value,…)``."""
        data = ",".join([name, *(f"{k}: {v}" for k, v in fields)])
        self.app("UserEvent", data)
        self.call.host.emit(user_event(self.channel, name, fields), self.call)

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` call seconds pass; raises :class:`ChannelHungUp` if the call ends."""
        self._check()
        waiting: Deferred[None] = Deferred()

        def hung_up() -> None:
            if not waiting.called:
                waiting.errback(Failure(ChannelHungUp(self.channel.name)))

        def done() -> None:
            if hung_up in self.call.on_hangup:
                self.call.on_hangup.remove(hung_up)
            if not waiting.called:
                waiting.callback(None)

        timer = self.call.later(seconds, done)
        self.call.on_hangup.append(hung_up)
        try:
            await waiting
        finally:
            if timer.active():
                timer.cancel()

    async def until_hangup(self) -> NoReturn:
        """Wait until the call ends (the called party hangs up, or the AMI hangs it up)."""
        self._check()
        waiting: Deferred[None] = Deferred()
        self.call.on_hangup.append(lambda: waiting.callback(None))
        await waiting
        raise ChannelHungUp(self.channel.name)

    def hangup(self, cause: int = 16) -> None:
        """``Hangup()``: ends the call and the routine."""
        self.app("Hangup", "")
        self.call.dialplan_hangup(cause)
        raise ChannelHungUp(self.channel.name)

    async def amd(self) -> tuple[str, str]:
        """``AMD()``: the destination's verdict after :data:`AMD_SECONDS`."""
        self.app("AMD", "")
        await self.wait(AMD_SECONDS)
        dest = self.call.destination
        self.set_variable("AMDSTATUS", dest.amd_status)
        self.set_variable("AMDCAUSE", dest.amd_cause)
        return dest.amd_status, dest.amd_cause

    async def agi(self, script: str, args: list[str]) -> CallRecord | None:
        """``AGI(agi://NODE/script,args)`` against the server's FastAGI target (None when the
        server has none: AGISTATUS=FAILURE, as when no node can be reached)."""
        self.app("AGI", ",".join([script, *args]))
        if self._fastagi is None:
            self.channel.variables["AGISTATUS"] = "FAILURE"
            return None
        record = await self._fastagi(self, script, args)
        self.channel.variables.update(record.variables)
        self._check()
        return record


#: A dialplan extension: an async function run on the answered channel.
DialplanRoutine = Callable[[DialplanRun], Coroutine[Any, Any, None]]


async def gtx_dialer_answered(run: DialplanRun) -> None:
    """``gtx-dialer,answered,1`` (see the module docstring)."""
    call_id = run.variable("GTX_CALL_ID")
    run.app("NoOp", f"gtx dialer: call {call_id} answered on {run.channel.name}")
    if run.variable("GTX_AMD") == "1":
        status, cause = await run.amd()
        run.user_event("GtxAmd", ("CallId", call_id), ("Status", status), ("Cause", cause))
        if status == "MACHINE":
            run.app("NoOp", f"gtx dialer: call {call_id} reached a machine ({cause})")
            run.hangup()
    queue_name = run.variable("GTX_DIALER_QUEUE")
    target = run.variable("GTX_DIALER_GOTO")
    if queue_name:
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "queue"),
                       ("Queue", queue_name))
        await _to_queue(run, call_id, queue_name)
    elif target:
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "goto"))
        run.app("Goto", target)
        await run.until_hangup()
    else:
        app = run.variable("GTX_DIALER_APP") or "dialer"
        run.user_event("GtxConnected", ("CallId", call_id), ("To", "app"))
        run.app("Gosub", f"gtx-ivr,s,1({app})")
        script, *args = app.split(",")
        await run.agi(script, args)
    run.hangup()


async def _to_queue(run: DialplanRun, call_id: str, queue_name: str) -> None:
    raw = run.variable("GTX_ABANDON_SECONDS")
    try:
        abandon: float | None = float(raw) if raw else None
    except ValueError:
        abandon = None
    run.app("Queue", f"{queue_name},,,,{raw}" if raw else queue_name)
    queue = run.queues.get(queue_name)
    if queue is None:
        return  # QUEUESTATUS=UNKNOWN: the dialplan hangs up
    member = queue.available_member()
    answer_in = _member_answer_seconds(run)
    if member is None or (abandon is not None and answer_in > abandon):
        if abandon is None:
            await run.until_hangup()  # Queue() without a timeout waits for good
        await run.wait(abandon)
        queue.abandoned += 1
        run.user_event("GtxAbandoned", ("CallId", call_id), ("Queue", queue_name),
                       ("Reason", "TIMEOUT"))
        run.app("Playback", run.variable("GTX_SAFE_HARBOR") or "vm-goodbye")
        await run.wait(SAFE_HARBOR_SECONDS)
        return
    host = run.call.host
    member.in_call = True
    # The member's device state changes: Asterisk says so with QueueMemberStatus (Status 2,
    # in use, while it takes the call; Status 1 again after), as in ami-queue-members.txt.
    host.emit(queue.member_event("QueueMemberStatus", member))
    await _wait_keeping(run, answer_in, member, queue)
    started = host.asterisk.clock.seconds()
    try:
        await run.until_hangup()
    finally:
        member.in_call = False
        asterisk = host.asterisk
        queue.call_completed(member, asterisk.clock.seconds() - started, int(asterisk.epoch()))
        host.emit(queue.member_event("QueueMemberStatus", member))


async def _wait_keeping(run: DialplanRun, seconds: float, member: QueueMember,
                        queue: EmulatedQueue) -> None:
    try:
        await run.wait(seconds)
    except ChannelHungUp:
        member.in_call = False
        run.call.host.emit(queue.member_event("QueueMemberStatus", member))
        raise


def _member_answer_seconds(run: DialplanRun) -> float:
    """How long the agent takes to pick up: the EmulatedAsterisk's QueueBehaviour wait."""
    behaviour = run.call.host.asterisk.queues.get(run.variable("GTX_DIALER_QUEUE"))
    return behaviour.wait_seconds if behaviour is not None else 0.5


def run_program(
    call: PlacedCall,
    dialplan: Mapping[str, DialplanRoutine],
    queues: Mapping[str, EmulatedQueue],
    fastagi: Callable[[DialplanRun, str, list[str]], Deferred[CallRecord]] | None,
) -> None:
    """Run the answered call's application or dialplan extension, then hang it up."""
    p = call.params
    if p.application is not None:
        outer = call.outer
        assert outer is not None
        outer.application, outer.app_data = p.application, p.data
        if p.application.lower() == "wait":
            try:
                seconds = float(p.data or "0")
            except ValueError:
                seconds = 0.0
            call.later(seconds, call.program_ends)
        return  # any other application runs until the called party hangs up
    routine = dialplan.get(f"{p.context},{p.exten}")
    if routine is None:
        call.program_ends()
        return
    run = DialplanRun(call, p.context or "", p.exten or "", p.priority, queues, fastagi)

    def ended(result: object) -> None:
        if isinstance(result, Failure) and not result.check(ChannelHungUp):
            _log.failure("emulated dialplan {where} failed", result, where=f"{p.context},{p.exten}")
        call.program_ends()

    Deferred.fromCoroutine(routine(run)).addBoth(ended)


#: The emulated server's default dialplan.
DEFAULT_DIALPLAN: Mapping[str, DialplanRoutine] = {"gtx-dialer,answered": gtx_dialer_answered}
