"""Agents of Asterisk queues, followed over AMI: :class:`AMIAgentSource` (one server) and
:class:`CombinedAgents` (several servers), both :class:`gtx.dialer.agents.AgentSource`.

What a queue's members are and what they are doing comes from two places, in wire order:

- a **snapshot**: the ``QueueStatus`` list action (``QueueParams`` per queue, one
  ``QueueMember`` per member, then ``QueueStatusComplete``), sent after every login — the first
  one and each reconnect — and every ``refresh_interval`` seconds as a safety net (an AMI user
  whose ``read`` permissions lack ``agent`` receives no member events at all);
- the **member events** in between: ``QueueMemberAdded``, ``QueueMemberStatus``,
  ``QueueMemberPause`` (each carries the member's whole state), ``QueueMemberRemoved``, and
  ``AgentConnect`` / ``AgentComplete`` (the member took / finished a queue call).

A snapshot replaces what was known of the queues it lists: Asterisk writes a list action's
answer in one piece from the manager session's own thread, so events that arrived before the
list was complete describe changes the snapshot already includes.

A member is **free** when it is logged in (a member of the queue), not paused, not on a queue
call, its device ``Status`` is 1 (``AST_DEVICE_NOT_INUSE``; the values are enum
``ast_device_state``: 0 unknown, 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable,
6 ringing, 7 ring+in use, 8 on hold) and its own wrap-up time after its last call
(``Wrapuptime`` seconds after ``LastCall``) is over. app_queue would also offer a call to a
member whose device state is *unknown*; the dialer does not count those, as over-dialing
costs abandoned calls while under-dialing only costs a little agent time.

While the AMI link is down, and until the first snapshot after a login has arrived, every queue
of the server has 0 free agents: the dialer does not dial for agents it cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIMessage
from gtx.asterisk.ami_protocol import AMIList
from gtx.dialer.agents import AgentSource

#: ``Status`` of a member whose device is idle (``AST_DEVICE_NOT_INUSE``).
DEVICE_NOT_INUSE = 1

#: The member events that carry a member's whole state.
_MEMBER_STATE_EVENTS = ("QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause")


@dataclass
class QueueMemberState:
    """What is known of one member of one queue."""

    queue: str
    interface: str  # ``Interface`` in events, ``Location`` in QueueStatus
    name: str
    status: int  # enum ast_device_state (module docstring)
    paused: bool
    in_call: bool
    last_call: int = 0  # Asterisk's epoch seconds of the end of its last queue call
    wrapup: int = 0  # the member's own wrap-up seconds (``Wrapuptime``)

    def free(self, now: float) -> bool:
        """Could take a call at ``now`` (epoch seconds)."""
        if self.paused or self.in_call or self.status != DEVICE_NOT_INUSE:
            return False
        return not (self.wrapup > 0 and self.last_call and now < self.last_call + self.wrapup)


def _number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def member_from(message: AMIMessage) -> QueueMemberState | None:
    """A member's state from a ``QueueMember`` list event or a ``QueueMember*`` event; None
    when it names no queue or interface."""
    queue = message.get("Queue")
    interface = message.get("Interface") or message.get("Location")
    if not queue or not interface:
        return None
    return QueueMemberState(
        queue=queue,
        interface=interface,
        name=message.get("MemberName") or message.get("Name") or interface,
        status=_number(message.get("Status")),
        paused=message.get("Paused") == "1",
        in_call=message.get("InCall") == "1",
        last_call=_number(message.get("LastCall")),
        wrapup=_number(message.get("Wrapuptime")),
    )


class AMIAgentSource:
    """The queues of one Asterisk server and their members (see the module docstring).

    ``queues`` limits what is followed to those queues (one ``QueueStatus`` per queue; events
    of other queues are ignored); by default every queue of the server is followed (one
    ``QueueStatus`` without a filter). Build it before the client starts, so it sees the
    first login."""

    def __init__(
        self,
        client: AMIClient,
        *,
        queues: Iterable[str] | None = None,
        refresh_interval: float | None = 60.0,
        retry_delay: float = 5.0,
        log: Logger | None = None,
    ) -> None:
        self.client = client
        self.clock = client.clock
        self.followed: frozenset[str] | None = frozenset(queues) if queues is not None else None
        self.refresh_interval = refresh_interval
        self.retry_delay = retry_delay
        self.log = log or Logger(namespace="gtx.ami")
        self._queues: dict[str, dict[str, QueueMemberState]] = {}
        self._generation = 0  # bumped by every login and every loss of the link
        self._synced = False
        self._timer: IDelayedCall | None = None
        for name in _MEMBER_STATE_EVENTS:
            client.subscribe(name, self._on_member_state)
        client.subscribe("QueueMemberRemoved", self._on_member_removed)
        client.subscribe("AgentConnect", self._on_agent_connect)
        client.subscribe("AgentComplete", self._on_agent_complete)
        client.on_login(self._logged_in)
        client.on_disconnect(self._lost)

    # -- AgentSource ------------------------------------------------------------------------

    @property
    def server(self) -> str:
        """The server's name in gtx.ini."""
        return self.client.server

    def free_agents(self, queue: str) -> int:
        """Free members of ``queue`` now (0 for a queue not known, or while not synchronised)."""
        members = self._queues.get(queue)
        if not members or not self._synced:
            return 0
        now = self.clock.seconds()
        return sum(1 for member in members.values() if member.free(now))

    # -- inspection -------------------------------------------------------------------------

    @property
    def synchronised(self) -> bool:
        """True once a snapshot has arrived on the current link."""
        return self._synced and self.client.connected

    def queues(self) -> list[str]:
        """The queues known now, sorted."""
        return sorted(self._queues)

    def members(self, queue: str) -> list[QueueMemberState]:
        """The members of ``queue`` known now (copies), by interface."""
        members = self._queues.get(queue, {})
        return [QueueMemberState(**vars(members[key])) for key in sorted(members)]

    # -- snapshots --------------------------------------------------------------------------

    def resynchronise(self) -> Deferred[None]:
        """Ask for a snapshot now (``QueueStatus``); fires once it has been applied or has
        failed (a failure is logged and tried again after ``retry_delay`` while the link is
        up)."""
        self._cancel_timer()
        generation = self._generation
        names: list[str | None] = [None]
        if self.followed is not None:
            names = [*sorted(self.followed)]
        asked = [
            self.client.send_list_action("QueueStatus", [("Queue", name)] if name else [])
            for name in names
        ]
        gathered: Deferred[list[AMIList]] = gatherResults(asked, consumeErrors=True)
        done: Deferred[None] = Deferred()

        def apply(lists: list[AMIList]) -> None:
            if generation != self._generation:
                return  # the link was lost meanwhile: the next login asks again
            self._apply(names, lists)
            self._schedule(self.refresh_interval)

        def failed(failure: Failure) -> None:
            if generation != self._generation:
                return
            error = failure.value
            cause = getattr(error, "subFailure", None)
            why = cause.getErrorMessage() if isinstance(cause, Failure) else str(error)
            self.log.warn("AMI {server}: QueueStatus failed ({why}); asking again in "
                          "{delay:g} s", server=self.server, why=why, delay=self.retry_delay)
            self._schedule(self.retry_delay)

        gathered.addCallbacks(apply, failed).addBoth(lambda _: done.callback(None))
        return done

    def _apply(self, names: list[str | None], lists: list[AMIList]) -> None:
        if self.followed is None:
            self._queues = {}
        fresh: dict[str, dict[str, QueueMemberState]] = {}
        for name, listed in zip(names, lists, strict=True):
            if name is not None:
                self._queues.pop(name, None)
            for message in listed.events:
                queue = message.get("Queue")
                if message.event == "QueueParams" and queue:
                    fresh.setdefault(queue, {})
                elif message.event == "QueueMember":
                    member = member_from(message)
                    if member is not None and self._follows(member.queue):
                        fresh.setdefault(member.queue, {})[member.interface] = member
        self._queues.update(fresh)
        self._synced = True
        self.log.info(
            "AMI {server}: queues synchronised: {summary}", server=self.server,
            summary=", ".join(f"{q} {self.free_agents(q)}/{len(m)} free"
                              for q, m in sorted(self._queues.items())) or "none")

    def _schedule(self, delay: float | None) -> None:
        self._cancel_timer()
        if delay is not None and self.client.connected:
            self._timer = self.clock.callLater(delay, self._refresh)

    def _refresh(self) -> None:
        self._timer = None
        if self.client.connected:
            self.resynchronise()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _logged_in(self) -> None:
        self._generation += 1
        self._queues = {}
        self._synced = False
        self.resynchronise()

    def _lost(self) -> None:
        self._generation += 1
        self._cancel_timer()
        self._queues = {}  # nothing can be seen of this server's agents now
        self._synced = False

    # -- events -----------------------------------------------------------------------------

    def _follows(self, queue: str) -> bool:
        return self.followed is None or queue in self.followed

    def _on_member_state(self, message: AMIMessage) -> None:
        member = member_from(message)
        # Before the first snapshot of a link, events are older than it (module docstring).
        if member is None or not self._synced or not self._follows(member.queue):
            return
        self._queues.setdefault(member.queue, {})[member.interface] = member

    def _on_member_removed(self, message: AMIMessage) -> None:
        member = member_from(message)
        if member is not None:
            self._queues.get(member.queue, {}).pop(member.interface, None)

    def _member_of(self, message: AMIMessage) -> QueueMemberState | None:
        members = self._queues.get(message.get("Queue"), {})
        return members.get(message.get("Interface")) or next(
            (m for m in members.values() if m.name == message.get("MemberName")), None)

    def _on_agent_connect(self, message: AMIMessage) -> None:
        member = self._member_of(message)
        if member is not None:
            member.in_call = True

    def _on_agent_complete(self, message: AMIMessage) -> None:
        member = self._member_of(message)
        if member is not None:
            member.in_call = False


class CombinedAgents:
    """The agents of several Asterisk servers, by server name: a queue's free agents are the
    sum over the servers (a queue name may exist on several)."""

    def __init__(self, sources: Mapping[str, AgentSource]) -> None:
        self.sources = dict(sources)

    def free_agents(self, queue: str) -> int:
        """Free members of ``queue`` on every server."""
        return sum(max(0, source.free_agents(queue)) for source in self.sources.values())

    def on(self, server: str) -> AgentSource | None:
        """The source of one server (None if not configured)."""
        return self.sources.get(server)
