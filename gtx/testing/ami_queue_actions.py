"""The app_queue AMI actions of the emulated server: QueueStatus, QueueSummary, QueueAdd,
QueuePause, QueueRemove (replies and events as in ``ami-queue-members.txt``).

A queue exists when the :class:`~gtx.testing.pbx.EmulatedAsterisk` has a ``QueueBehaviour`` for
it or a member was set with :meth:`EmulatedAMIServer.set_queue_member`, as a queue exists on a
real Asterisk when ``queues.conf`` defines it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gtx.testing.ami_events import AMIMessage
from gtx.testing.ami_events import action_error as error
from gtx.testing.ami_events import action_response as response
from gtx.testing.ami_queues import EmulatedQueue, QueueMember

if TYPE_CHECKING:
    from gtx.testing.ami_server import AMISession, EmulatedAMIServer

Handler = Callable[["EmulatedAMIServer", "AMISession", AMIMessage], None]


def _known_queue(server: EmulatedAMIServer, name: str) -> EmulatedQueue | None:
    if name in server.queues or name in server.asterisk.queues:
        return server.queue(name)
    return None


def _queues(server: EmulatedAMIServer, name: str | None) -> list[EmulatedQueue]:
    if name:
        found = _known_queue(server, name)
        return [found] if found is not None else []
    for known in server.asterisk.queues:
        server.queue(known)
    return list(server.queues.values())


def _list_end(action: AMIMessage, name: str, count: int) -> AMIMessage:
    tail = [("ActionID", v) for v in [action.get("ActionID")] if v is not None]
    return AMIMessage(
        [("Event", name), *tail, ("EventList", "Complete"), ("ListItems", str(count))]
    )


def _queue_status(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    session.send(response(action, "Success", ("EventList", "start"),
                          ("Message", "Queue status will follow")))
    member_filter = action.get("Member")
    count = 0
    for queue in _queues(server, action.get("Queue")):
        for message in queue.status_events(action.get("ActionID")):
            if member_filter and message.get("Event") == "QueueMember" and member_filter not in (
                message.get("Name"), message.get("Location")
            ):
                continue
            session.send(message)
            count += 1
    session.send(_list_end(action, "QueueStatusComplete", count))


def _queue_summary(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    session.send(response(action, "Success", ("EventList", "start"),
                          ("Message", "Queue summary will follow")))
    queues = _queues(server, action.get("Queue"))
    for queue in queues:
        session.send(queue.summary_event(action.get("ActionID")))
    session.send(_list_end(action, "QueueSummaryComplete", len(queues)))


def _queue_add(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    interface = action.get("Interface")
    queue = _known_queue(server, action.get("Queue") or "")
    if not interface:
        session.send(error(action, "'Queue' and 'Interface' not set."))
        return
    if queue is None:
        session.send(error(action, "Unable to add interface: No such queue"))
        return
    if interface in queue.members:
        session.send(error(action, "Unable to add interface: Already there"))
        return
    name = action.get("MemberName") or interface
    member = QueueMember(name, interface, login_time=int(server.asterisk.epoch()))
    member.paused = (action.get("Paused") or "").lower() in ("true", "yes", "1")
    queue.members[interface] = member
    session.send(response(action, "Success", ("Message", "Added interface to queue")))
    pause_device, avail_device = queue.pause_device_events(member)
    server.emit(pause_device)
    server.emit(queue.member_event("QueueMemberAdded", member))
    server.emit(avail_device)


def _queue_pause(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    interface = action.get("Interface") or ""
    paused = (action.get("Paused") or "").lower() in ("true", "yes", "1")
    names = [action.get("Queue")] if action.get("Queue") else list(server.queues)
    touched = []
    for name in names:
        queue = _known_queue(server, name or "")
        member = queue.members.get(interface) if queue is not None else None
        if queue is not None and member is not None:
            member.paused = paused
            member.paused_reason = (action.get("Reason") or "") if paused else ""
            if paused:
                member.last_pause = int(server.asterisk.epoch())
            touched.append((queue, member))
    if not touched:
        session.send(error(action, "Interface not found"))
        return
    verb = "paused" if paused else "unpaused"
    session.send(response(action, "Success", ("Message", f"Interface {verb} successfully")))
    for queue, member in touched:
        for message in queue.pause_device_events(member):
            server.emit(message)
        server.emit(queue.member_event("QueueMemberPause", member))


def _queue_remove(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    interface = action.get("Interface") or ""
    queue = _known_queue(server, action.get("Queue") or "")
    if queue is None:
        session.send(error(action, "Unable to remove interface from queue: No such queue"))
        return
    member = queue.members.pop(interface, None)
    if member is None:
        session.send(error(action, "Unable to remove interface: Not there"))
        return
    session.send(response(action, "Success", ("Message", "Removed interface from queue")))
    server.emit(queue.member_event("QueueMemberRemoved", member))
    member.paused = False
    server.emit(queue.pause_device_events(member)[0])


HANDLERS: dict[str, Handler] = {
    "queuestatus": _queue_status,
    "queuesummary": _queue_summary,
    "queueadd": _queue_add,
    "queuepause": _queue_pause,
    "queueremove": _queue_remove,
}
