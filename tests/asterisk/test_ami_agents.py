"""AMIAgentSource: queue members from QueueStatus and the member events (bytes of the real
transcript, then the emulated AMI server), reconnects, refreshes; CombinedAgents."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_agents import (
    AMIAgentSource,
    CombinedAgents,
    QueueMemberState,
    member_from,
)
from gtx.asterisk.ami_message import AMIMessage, parse_message
from gtx.dialer.agents import AgentSource, FixedAgents
from gtx.testing import (
    DialDestination,
    EmulatedAMIServer,
    EmulatedAsterisk,
    MemoryPipe,
    QueueBehaviour,
)
from tests.asterisk.ami_transcripts import BANNER, LOGIN_OK, Link, Transcript, wire
from tests.testing.ami_harness import AMIClient as AMIConsole
from tests.testing.ami_harness import run

QUEUES = Transcript.load("ami-queue-members.txt")


# -- pure parts ---------------------------------------------------------------------------------


def member(status: int = 1, *, paused: bool = False, in_call: bool = False, last_call: int = 0,
           wrapup: int = 0) -> QueueMemberState:
    return QueueMemberState("sales", "Local/a@x", "a", status, paused, in_call, last_call, wrapup)


@pytest.mark.parametrize(("status", "free"), [
    (0, False),  # unknown: app_queue would try it, the dialer does not count it
    (1, True), (2, False), (3, False), (4, False), (5, False), (6, False), (7, False),
    (8, False),
])
def test_only_a_not_in_use_device_is_free(status: int, free: bool) -> None:
    assert member(status).free(now=0) is free


def test_paused_in_call_and_wrap_up_are_not_free() -> None:
    assert not member(paused=True).free(0)
    assert not member(in_call=True).free(0)
    # Wrap-up: 30 s after the last call ended at 1000.
    assert not member(last_call=1000, wrapup=30).free(1029.5)
    assert member(last_call=1000, wrapup=30).free(1030)
    assert member(last_call=1000, wrapup=0).free(1000)


def test_member_from_a_queue_member_list_event_of_the_transcript() -> None:
    (listed,) = [parse_message(lines) for lines in QUEUES.messages(after="qs-2", until="qr-1")
                 if "Event: QueueMember" in lines]
    assert member_from(listed) == QueueMemberState(
        queue="sales", interface="Local/agent1@gtx-agents", name="agent1", status=1,
        paused=True, in_call=False, last_call=1795305245, wrapup=0)
    assert member_from(AMIMessage((("Event", "QueueMemberStatus"), ("Queue", "sales")))) is None


def test_combined_agents_sum_over_servers() -> None:
    a, b = FixedAgents({"sales": 2, "support": 1}), FixedAgents({"sales": 3})
    combined = CombinedAgents({"pbx1": a, "pbx2": b})
    source: AgentSource = combined
    assert source.free_agents("sales") == 5
    assert combined.free_agents("support") == 1
    assert combined.free_agents("nowhere") == 0
    assert combined.on("pbx2") is b
    assert combined.on("pbx9") is None
    assert CombinedAgents({}).free_agents("sales") == 0


# -- the real transcript, byte for byte ----------------------------------------------------------


def transcript_link(*ids: str, queues: list[str] | None = None,
                    refresh: float | None = 60.0) -> tuple[Link, AMIAgentSource]:
    link = Link("login-1", *ids, ping_interval=3600)
    source = AMIAgentSource(link.client, queues=queues, refresh_interval=refresh)
    link.login()
    return link, source


def feed_watching(link: Link, source: AMIAgentSource, after: str,
                  until: str) -> list[tuple[str, int]]:
    """Feed the transcript's messages one by one; (event, free agents) after each member
    event."""
    seen = []
    for lines in QUEUES.messages(after=after, until=until):
        link.endpoint.peer.feed(wire(lines))
        name = parse_message(lines).event or ""
        if name.startswith(("QueueMember", "Agent")):
            seen.append((name, source.free_agents("sales")))
    return seen


def test_login_asks_queue_status_and_the_snapshot_counts_the_free_member() -> None:
    link, source = transcript_link("qs-1", queues=["sales"])
    assert link.endpoint.peer.written() == QUEUES.action("qs-1")
    assert source.free_agents("sales") == 0  # nothing seen yet
    assert not source.synchronised
    link.endpoint.peer.feed(QUEUES.asterisk_bytes(after="qs-1", until="qsum-1"))
    assert source.synchronised
    assert source.free_agents("sales") == 1
    assert source.queues() == ["sales"]
    (agent,) = source.members("sales")
    assert (agent.name, agent.interface, agent.status, agent.paused) == (
        "agent1", "Local/agent1@gtx-agents", 1, False)
    assert source.free_agents("support") == 0


def test_a_queue_call_makes_the_member_busy_then_free_again() -> None:
    link, source = transcript_link("qs-1", queues=["sales"])
    link.endpoint.peer.feed(QUEUES.asterisk_bytes(after="qs-1", until="qsum-1"))
    assert feed_watching(link, source, after="q-call", until="qp-1") == [
        ("AgentCalled", 1),  # not counted as taken: its device state follows at once
        ("QueueMemberStatus", 0),  # Status 2: in use (the agent's phone rings, then talks)
        ("AgentConnect", 0),
        ("AgentComplete", 0),
        ("QueueMemberStatus", 1),  # Status 1 again, LastCall set
    ]
    (agent,) = source.members("sales")
    assert (agent.in_call, agent.last_call) == (False, 1795305245)


def test_pause_then_refresh_then_remove() -> None:
    link, source = transcript_link("qs-1", "qs-2", queues=["sales"], refresh=60.0)
    peer = link.endpoint.peer
    peer.feed(QUEUES.asterisk_bytes(after="qs-1", until="qsum-1"))
    feed_watching(link, source, after="q-call", until="qp-1")
    assert feed_watching(link, source, after="qp-1", until="qs-2") == [("QueueMemberPause", 0)]
    assert source.members("sales")[0].paused
    # The periodic refresh sends the transcript's second QueueStatus.
    peer.written()
    link.clock.advance(60)
    assert peer.written() == QUEUES.action("qs-2")
    peer.feed(QUEUES.asterisk_bytes(after="qs-2", until="qr-1"))
    assert source.members("sales")[0].paused
    assert source.free_agents("sales") == 0
    assert feed_watching(link, source, after="qr-1", until=None) == [("QueueMemberRemoved", 0)]
    assert source.members("sales") == []
    assert source.queues() == ["sales"]  # the queue stays known, empty
    link.stop()


def test_a_member_added_after_the_snapshot_counts_at_once() -> None:
    link, source = transcript_link("qs-empty")
    assert link.endpoint.peer.written() == wire(["Action: QueueStatus", "ActionID: qs-empty"])
    link.endpoint.peer.feed(
        wire(["Response: Success", "ActionID: qs-empty", "EventList: start",
              "Message: Queue status will follow"])
        + wire(["Event: QueueParams", "Queue: sales", "Max: 0", "Strategy: ringall",
                "Calls: 0", "ActionID: qs-empty"])
        + wire(["Event: QueueStatusComplete", "ActionID: qs-empty", "EventList: Complete",
                "ListItems: 1"]))
    assert source.synchronised
    assert source.queues() == ["sales"]
    assert source.free_agents("sales") == 0
    # QueueAdd on the server: the transcript's QueueMemberAdded (Status 1, Paused 0).
    assert feed_watching(link, source, after="qa-1", until="qs-1") == [("QueueMemberAdded", 1)]


def test_events_before_the_snapshot_are_left_to_it() -> None:
    link, source = transcript_link("qs-1", queues=["sales"])
    feed_watching(link, source, after="qa-1", until="qs-1")  # QueueMemberAdded, not applied
    assert source.queues() == []
    link.endpoint.peer.feed(QUEUES.asterisk_bytes(after="qs-1", until="qsum-1"))
    assert source.free_agents("sales") == 1


def test_events_of_queues_not_followed_are_ignored() -> None:
    link, source = transcript_link("qs-1", queues=["support"])
    assert link.endpoint.peer.written() == wire(
        ["Action: QueueStatus", "Queue: support", "ActionID: qs-1"])
    link.endpoint.peer.feed(
        wire(["Response: Success", "ActionID: qs-1", "EventList: start"])
        + wire(["Event: QueueStatusComplete", "ActionID: qs-1", "EventList: Complete",
                "ListItems: 0"]))
    assert source.synchronised
    feed_watching(link, source, after="qa-1", until="qs-1")
    assert source.queues() == []


def test_link_lost_counts_nothing_until_the_next_snapshot() -> None:
    link, source = transcript_link("qs-1", "login-2", "qs-again", queues=["sales"])
    link.endpoint.peer.feed(QUEUES.asterisk_bytes(after="qs-1", until="qsum-1"))
    assert source.free_agents("sales") == 1
    link.endpoint.peer.close()
    assert source.free_agents("sales") == 0
    assert not source.synchronised
    link.clock.advance(2.0)  # the client's back-off
    assert len(link.endpoint.peers) == 2
    peer = link.endpoint.peer
    peer.feed(BANNER)
    assert b"ActionID: login-2" in peer.written()
    peer.feed(LOGIN_OK.replace(b"login-1", b"login-2"))
    assert peer.written() == wire(["Action: QueueStatus", "Queue: sales", "ActionID: qs-again"])
    assert source.free_agents("sales") == 0
    snapshot = QUEUES.asterisk_bytes(after="qs-2", until="qr-1").replace(b"qs-2", b"qs-again")
    peer.feed(snapshot)
    assert source.synchronised
    assert source.members("sales")[0].paused  # what changed while the link was down
    link.stop()


def test_a_failed_queue_status_is_asked_again() -> None:
    link, source = transcript_link("qs-1", "qs-2", queues=["sales"])
    peer = link.endpoint.peer
    peer.written()
    peer.feed(wire(["Response: Error", "ActionID: qs-1", "Message: Permission denied"]))
    assert not source.synchronised
    link.clock.advance(source.retry_delay)
    assert b"ActionID: qs-2" in peer.written()
    link.stop()


# -- against the emulated AMI server -------------------------------------------------------------


class InMemoryEndpoint:
    """Connects a client factory to the emulated AMI server through an in-memory pipe."""

    def __init__(self, server: EmulatedAMIServer) -> None:
        self.server = server

    def connect(self, factory: Factory) -> Deferred[object]:
        client = factory.buildProtocol(None)
        server_side = self.server.buildProtocol(None)
        pipe = MemoryPipe(client, server_side, IPv4Address("TCP", "127.0.0.1", 40100),
                          IPv4Address("TCP", "127.0.0.1", 5038))
        client.makeConnection(pipe.client_transport)
        server_side.makeConnection(pipe.server_transport)
        return succeed(client)


class Emulated:
    """An AMIAgentSource on an AMIClient logged in to an EmulatedAMIServer, plus a console
    (a second AMI session) that plays the supervisor: QueueAdd, QueuePause, QueueRemove."""

    def __init__(self, refresh: float | None = None) -> None:
        self.clock = Clock()
        self.asterisk = EmulatedAsterisk(self.clock, queues={"sales": QueueBehaviour(
            wait_seconds=1, talk_seconds=20)})
        self.server = EmulatedAMIServer(self.asterisk)
        self.server.set_queue_member("sales", "agent1")
        self.server.set_queue_member("sales", "agent2")
        self.server.set_queue_member("support", "agent9", paused=True)
        self.client = AMIClient("pbx1", InMemoryEndpoint(self.server), "gtx", "gtxsecret",
                                clock=self.clock, ping_interval=3600,
                                retry_policy=lambda attempt: 1.0)
        self.source = AMIAgentSource(self.client, refresh_interval=refresh)
        self.client.startService()
        assert self.client.connected
        self.console = AMIConsole(self.server)
        self.console.login()

    def act(self, action: str, *fields: tuple[str, str]) -> None:
        (reply, *_) = self.console.action(("Action", action), *fields)
        assert reply.get("Response") == "Success", reply

    def free(self) -> tuple[int, int]:
        return self.source.free_agents("sales"), self.source.free_agents("support")

    def stop(self) -> None:
        d = self.client.stopService()
        assert d.called


def test_emulated_snapshot_at_login() -> None:
    pbx = Emulated()
    assert pbx.source.synchronised
    assert pbx.free() == (2, 0)
    assert pbx.source.queues() == ["sales", "support"]
    assert [m.name for m in pbx.source.members("support")] == ["agent9"]
    assert [a.get("Action") for a in pbx.server.actions] == ["Login", "QueueStatus", "Login"]
    pbx.stop()


def test_emulated_agents_added_paused_busy_and_removed() -> None:
    pbx = Emulated()
    pbx.act("QueueAdd", ("Queue", "sales"), ("Interface", "Local/agent3@gtx-agents"),
            ("MemberName", "agent3"), ("Paused", "false"))
    assert pbx.free() == (3, 0)
    pbx.act("QueuePause", ("Queue", "sales"), ("Interface", "Local/agent1@gtx-agents"),
            ("Paused", "true"), ("Reason", "break"))
    assert pbx.free() == (2, 0)
    pbx.act("QueuePause", ("Interface", "Local/agent9@gtx-agents"), ("Paused", "false"))
    assert pbx.free() == (2, 1)
    # agent2 takes a call: app_queue reports the device in use.
    queue = pbx.server.queue("sales")
    agent2 = queue.members["Local/agent2@gtx-agents"]
    agent2.in_call = True
    pbx.server.emit(queue.member_event("QueueMemberStatus", agent2))
    assert pbx.free() == (1, 1)
    agent2.in_call = False
    pbx.server.emit(queue.member_event("QueueMemberStatus", agent2))
    assert pbx.free() == (2, 1)
    pbx.act("QueueRemove", ("Queue", "sales"), ("Interface", "Local/agent3@gtx-agents"))
    pbx.act("QueuePause", ("Queue", "sales"), ("Interface", "Local/agent1@gtx-agents"),
            ("Paused", "false"))
    assert pbx.free() == (2, 1)
    assert sorted(m.name for m in pbx.source.members("sales")) == ["agent1", "agent2"]
    pbx.stop()


def test_emulated_reconnect_resynchronises() -> None:
    pbx = Emulated()
    pbx.server.disconnect_all()
    assert not pbx.client.connected
    assert pbx.free() == (0, 0)
    # While the link is down: agent1 logs out, agent2 pauses, agent4 logs in (no events seen).
    pbx.server.remove_queue_member("sales", "Local/agent1@gtx-agents")
    pbx.server.set_queue_member("sales", "agent2", paused=True)
    pbx.server.set_queue_member("sales", "agent4")
    pbx.server.set_queue_member("sales", "agent5", available=False)
    pbx.clock.advance(1.0)
    assert pbx.client.connected
    assert pbx.source.synchronised
    assert pbx.free() == (1, 0)
    assert [(m.name, m.paused, m.status) for m in pbx.source.members("sales")] == [
        ("agent2", True, 1), ("agent4", False, 1), ("agent5", False, 5)]
    pbx.stop()


def test_emulated_queue_call_is_followed_from_member_events() -> None:
    pbx = Emulated(refresh=3600.0)  # no periodic refresh: the events alone must do
    pbx.asterisk.destinations["PJSIP/5551234@trunk"] = DialDestination.answer(after=1, talk=50)
    pbx.console.action(
        ("Action", "Originate"), ("Channel", "PJSIP/5551234@trunk"), ("Context", "gtx-dialer"),
        ("Exten", "answered"), ("Priority", "1"), ("Timeout", "30000"), ("Async", "true"),
        ("ActionID", "call-1"), ("ChannelId", "call-1"),
        ("Variable", "GTX_CALL_ID=call-1"), ("Variable", "GTX_DIALER_QUEUE=sales"))
    run(pbx.clock, 5)
    assert [m.name for m in pbx.server.queue("sales").members.values() if m.in_call] == [
        "agent1"]
    # QueueMemberStatus (Status 2) says at once that agent1 took the call ...
    assert pbx.free() == (1, 0)
    run(pbx.clock, 60)  # ... and (Status 1) that it is free again once the call is over
    assert not pbx.server.live_channels()
    assert pbx.free() == (2, 0)
    pbx.stop()
