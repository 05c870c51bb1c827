"""The emulated ``[gtx-dialer]`` dialplan: AMD, queue (connected / abandoned), goto, and the
hand-off of an answered call to a FastAGI server."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.protocols.basic import LineOnlyReceiver

from gtx.testing import (
    AMIMessage,
    DialDestination,
    EmulatedAMIServer,
    EmulatedAsterisk,
    QueueBehaviour,
)
from tests.testing.ami_harness import AMIClient, events, run


class FastAGIServer(LineOnlyReceiver):
    """Reads the AGI environment, sends its commands one by one, then closes."""

    delimiter = b"\n"

    def __init__(self, commands: list[str], done: Deferred[FastAGIServer] | None) -> None:
        self.commands = list(commands)
        self.environment: dict[str, str] = {}
        self.replies: list[str] = []
        self.done = done
        self._in_env = True

    def lineReceived(self, line: bytes) -> None:
        text = line.decode()
        if self._in_env:
            if text:
                key, _, value = text.partition(": ")
                self.environment[key] = value
                return
            self._in_env = False
        else:
            self.replies.append(text)
            if text == "HANGUP":
                return
        self._next()

    def _next(self) -> None:
        if self.commands:
            self.sendLine(self.commands.pop(0).encode())
        else:
            self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        if self.done is not None and not self.done.called:
            self.done.callback(self)


class FastAGIFactory(Factory):
    def __init__(self, commands: list[str], done: Deferred[FastAGIServer] | None = None) -> None:
        self.commands = commands
        self.done = done
        self.servers: list[FastAGIServer] = []

    def buildProtocol(self, addr: object) -> FastAGIServer:
        server = FastAGIServer(self.commands, self.done)
        server.factory = self
        self.servers.append(server)
        return server


def dialer_call(client: AMIClient, *variables: str, call_id: str = "call-1") -> None:
    client.action(
        ("Action", "Originate"), ("Channel", "PJSIP/5551234@trunk"), ("Context", "gtx-dialer"),
        ("Exten", "answered"), ("Priority", "1"), ("Timeout", "30000"), ("Async", "true"),
        ("ActionID", call_id), ("ChannelId", call_id), ("CallerID", "5550000"),
        *[("Variable", v) for v in (f"GTX_CALL_ID={call_id}", *variables)])


def user_events(messages: list[AMIMessage]) -> list[tuple[str | None, dict[str, str]]]:
    skip = {"Event", "Privilege", "UserEvent"}
    found = []
    for e in events(messages, "UserEvent"):
        fields = {k: v for k, v in e if k in ("CallId", "Status", "Cause", "To", "Queue",
                                              "Reason")}
        found.append((e.get("UserEvent"), fields))
        assert not skip & set(fields)
    return found


def setup(dest: DialDestination, **kwargs: object) -> tuple[Clock, EmulatedAMIServer, AMIClient]:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={"PJSIP/5551234@trunk": dest},
                                queues={"sales": QueueBehaviour(wait_seconds=1)})
    server = EmulatedAMIServer(asterisk, **kwargs)  # type: ignore[arg-type]
    client = AMIClient(server)
    client.login()
    return clock, server, client


def test_amd_machine_hangs_up() -> None:
    factory = FastAGIFactory([])
    clock, server, client = setup(DialDestination.machine(after=1), fastagi=factory)
    dialer_call(client, "GTX_AMD=1", "GTX_DIALER_APP=survey")
    run(clock, 10)
    messages = client.read()
    assert user_events(messages) == [
        ("GtxAmd", {"CallId": "call-1", "Status": "MACHINE", "Cause": "LONGGREETING-1500-1500"})]
    varsets = [(e.get("Variable"), e.get("Value")) for e in events(messages, "VarSet")]
    assert ("AMDSTATUS", "MACHINE") in varsets
    assert [(h.get("Cause"), h.get("Priority")) for h in events(messages, "Hangup")] == [
        ("16", "5")]  # NoOp, AMD, UserEvent, NoOp, Hangup
    assert factory.servers == []
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def test_human_enters_the_ivr_app_over_fastagi() -> None:
    factory = FastAGIFactory(["GET VARIABLE GTX_VARS", "GET VARIABLE GTX_STATUS",
                              "SET VARIABLE GTX_STATUS DONE"])
    clock, server, client = setup(DialDestination.answer(after=2, talk=60), fastagi=factory)
    # Asterisk splits Variable: values on commas and drops quotes and backslashes: the
    # commas and quotes that must survive are escaped.
    dialer_call(client, "GTX_AMD=1", "GTX_DIALER_APP=survey\\,x", "GTX_STATUS=READY",
                'GTX_VARS={\\"name\\": \\"Ann\\"\\, \\"n\\": 2}')
    run(clock, 10)
    assert user_events(client.read()) == [
        ("GtxAmd", {"CallId": "call-1", "Status": "HUMAN", "Cause": "HUMAN-500-500"}),
        ("GtxConnected", {"CallId": "call-1", "To": "app"}),
    ]
    (agi,) = factory.servers
    assert agi.environment["agi_network_script"] == "survey"
    assert agi.environment["agi_arg_1"] == "x"
    assert agi.environment["agi_channel"] == "PJSIP/trunk-00000000"
    assert agi.environment["agi_uniqueid"] == "call-1"
    assert agi.environment["agi_callerid"] == "5550000"
    assert agi.replies == ['200 result=1 ({"name": "Ann", "n": 2})', "200 result=1 (READY)",
                           "200 result=1"]
    (record,) = server.agi_records
    assert record.variables["GTX_STATUS"] == "DONE"
    assert [h.get("Cause") for h in events(client.read(), "Hangup")] == ["16"]
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def test_called_party_hangs_up_during_the_session() -> None:
    factory = FastAGIFactory(["STREAM FILE hello-world \"\"", "GET VARIABLE GTX_STATUS"])
    clock, server, client = setup(DialDestination.answer(after=0, talk=0.5), fastagi=factory)
    dialer_call(client, "GTX_DIALER_APP=survey")
    run(clock, 10)
    (agi,) = factory.servers
    assert "HANGUP" in agi.replies
    assert server.agi_records[0].hung_up
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def test_no_fastagi_server_means_agi_failure_and_hangup() -> None:
    clock, server, client = setup(DialDestination.answer(after=0, talk=None))
    dialer_call(client, "GTX_DIALER_APP=survey")
    run(clock, 2)
    assert events(client.read(), "Hangup")
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def test_queue_agent_answers_within_the_abandon_time() -> None:
    clock, server, client = setup(DialDestination.answer(after=0, talk=10))
    server.set_queue_member("sales", "agent1")
    dialer_call(client, "GTX_DIALER_QUEUE=sales", "GTX_ABANDON_SECONDS=2")
    run(clock, 2)
    assert user_events(client.read()) == [
        ("GtxConnected", {"CallId": "call-1", "To": "queue", "Queue": "sales"})]
    summary = client.action(("Action", "QueueSummary"), ("Queue", "sales"))
    assert events(summary, "QueueSummary")[0].get("Available") == "0"
    run(clock, 10)
    queue = server.queue("sales")
    assert (queue.completed, queue.available) == (1, 1)
    assert queue.members["Local/agent1@gtx-agents"].calls_taken == 1
    assert not clock.getDelayedCalls()


def test_no_free_agent_is_abandoned_with_the_safe_harbor_message() -> None:
    clock, server, client = setup(DialDestination.answer(after=0, talk=None))
    server.set_queue_member("sales", "agent1", paused=True)
    dialer_call(client, "GTX_DIALER_QUEUE=sales", "GTX_ABANDON_SECONDS=2")
    run(clock, 1.5)
    connected = ("GtxConnected", {"CallId": "call-1", "To": "queue", "Queue": "sales"})
    assert user_events(client.read()) == [connected]
    run(clock, 1)
    assert user_events(client.read()) == [connected, ("GtxAbandoned", {
        "CallId": "call-1", "Queue": "sales", "Reason": "TIMEOUT"})]
    assert not events(client.read(), "Hangup")  # the message is still playing
    run(clock, 5)
    assert events(client.read(), "Hangup")
    assert server.queue("sales").abandoned == 1
    assert not clock.getDelayedCalls()


def test_goto_connects_there() -> None:
    clock, _, client = setup(DialDestination.answer(after=0, talk=3))
    dialer_call(client, "GTX_DIALER_GOTO=sales\\,s\\,1")
    run(clock, 1)
    assert user_events(client.read()) == [("GtxConnected", {"CallId": "call-1", "To": "goto"})]
    run(clock, 3)
    assert events(client.read(), "Hangup")
    assert not clock.getDelayedCalls()


@pytest_twisted.ensureDeferred
async def test_fastagi_over_tcp() -> None:
    from twisted.internet import reactor

    done: Deferred[FastAGIServer] = Deferred()
    factory = FastAGIFactory(["GET VARIABLE GTX_CALL_ID"], done)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        asterisk = EmulatedAsterisk(
            reactor, time_scale=0.001,  # type: ignore[arg-type]
            destinations={"PJSIP/5551234@trunk": DialDestination.answer(after=1, talk=None)})
        server = EmulatedAMIServer(asterisk, fastagi=("127.0.0.1", port.getHost().port),
                                   reactor=reactor)
        client = AMIClient(server)
        client.login()
        dialer_call(client, "GTX_DIALER_APP=survey")
        agi = await done
        assert agi.replies == ["200 result=1 (call-1)"]
        assert agi.environment["agi_request"].endswith(f":{port.getHost().port}/survey")
    finally:
        await port.stopListening()


def test_variable_values_are_split_like_asterisk_splits_them() -> None:
    clock, server, client = setup(DialDestination.answer(after=0, talk=None))
    dialer_call(client, 'A=1,B="x,y",C={"k": 1}', call_id="v")
    found = server.find_call("v")
    assert found is not None
    assert found.params.variables == (("GTX_CALL_ID", "v"), ("A", "1"), ("B", "x,y"),
                                      ("C", "{k: 1}"))
    client.action(("Action", "Hangup"), ("Channel", "v"))
    assert not clock.getDelayedCalls()
