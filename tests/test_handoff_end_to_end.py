"""End to end: an IVR session handed from one Asterisk server to another over IAX2.

Two gtx nodes (FastAGI server + IVR engine each) sit beside two emulated Asterisk servers, all
in memory on one Clock. The caller enters the menu app on server A; step 2 answers a ``transfer``
with ``dial: IAX2/serverb/ivr``; server A's Dial becomes an AGI call on server B carrying the
IAXVARs gtx set; gtx node B continues the same session at step 3 with its vars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gtx.asterisk.agi_server import FastAGIFactory
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.metrics import Metrics
from gtx.testing import AnySoundCatalogue, CallRecord, CallSpec, EmulatedAsterisk
from gtx.testing.emulator import connect_emulated_call
from gtx.testing.handoff import dialled_extension, remote_asterisk
from tests.ivr.fakes import FakeWebService

URL = "http://ws.example/RPC2"
DESTINATION = "IAX2/serverb/ivr"


def node(clock: Clock, ws: FakeWebService, name: str, asterisk: str) -> FastAGIFactory:
    """A gtx node: its IVR engine behind a FastAGI server, for one Asterisk server."""
    ids = iter(f"{name}-session-{n}" for n in range(1, 100))
    engine = IvrEngine(
        clock=clock, webservice=ws,
        apps={"menu": IvrApp(name="menu", url=URL, method="menu.start", hangup_method=None)},
        url_app_defaults=IvrApp(name="ivr", url="", method=""), node=name, metrics=Metrics(),
        new_session_id=lambda: next(ids),
    )
    return FastAGIFactory(engine.run, clock=clock, asterisk_name_for=lambda host: asterisk)


@dataclass
class TwoServers:
    clock: Clock = field(default_factory=Clock)
    ws: FakeWebService = field(init=False)
    calls_on_b: list[CallRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ws = FakeWebService(self.clock)
        self.node_a = node(self.clock, self.ws, "gtx-a", "pbx1")
        self.node_b = node(self.clock, self.ws, "gtx-b", "pbx2")
        self.server_b = EmulatedAsterisk(self.clock, name="pbx2", sounds=AnySoundCatalogue())
        into_b = remote_asterisk(
            self.node_b, self.server_b,
            CallSpec(request="agi://127.0.0.1:4573/ivr", context="gtx-handoff-in",
                     peer="servera"),
            records=self.calls_on_b)
        self.server_a = EmulatedAsterisk(self.clock, name="pbx1", sounds=AnySoundCatalogue(),
                                         destinations={DESTINATION: into_b})

    def call(self) -> CallRecord:
        d: Deferred[CallRecord] = connect_emulated_call(
            self.node_a, CallSpec(request="agi://127.0.0.1:4573/menu",
                                  channel="PJSIP/alice-00000001", caller_number="5551234"),
            asterisk=self.server_a)
        records: list[CallRecord] = []
        d.addCallback(records.append)
        for _ in range(2000):
            if records:
                return records[0]
            self.clock.advance(0.1)
        raise AssertionError("the call did not end")


def menu(servers: TwoServers, step3: Any) -> None:
    servers.ws.answers.update({
        "menu.start": {"actions": [{"action": "play", "files": "welcome"}],
                       "vars": {"lang": "fr"}, "next": "menu.two"},
        "menu.two": {"actions": [{"action": "transfer", "dial": DESTINATION, "name": "moved"}],
                     "vars": {"visits": 2}, "next": "menu.three"},
        "menu.three": step3,
    })


def test_the_other_server_continues_the_same_session_at_step_3() -> None:
    servers = TwoServers()
    menu(servers, {"actions": [{"action": "play", "files": "bonjour"}]})
    on_a = servers.call()

    steps = [(c.method, c.request["node"], c.request["asterisk"], c.request["step"])
             for c in servers.ws.calls]
    assert steps == [("menu.start", "gtx-a", "pbx1", 1), ("menu.two", "gtx-a", "pbx1", 2),
                     ("menu.three", "gtx-b", "pbx2", 3)]
    sessions = {c.request["session"] for c in servers.ws.calls}
    assert sessions == {"gtx-a-session-1"}  # node B took the session over, it made none
    step3 = servers.ws.calls[-1].request
    assert step3["vars"] == {"lang": "fr", "visits": 2}
    assert step3["resumed"] is False
    assert step3["result"]["moved"] == {"action": "transfer", "name": "moved", "status": "ok",
                                        "dial": DESTINATION}
    assert step3["channel"].startswith("IAX2/servera-")

    # Server A: the IAXVARs went with the Dial, which lasted the call on B; then A hung up.
    (dial,) = on_a.dials
    assert (dial["targets"], dial["status"]) == ([DESTINATION], "ANSWER")
    assert on_a.variables["GTX_STATUS"] == "DONE"
    assert on_a.hung_up
    # Server B: gtx read the state from the IAXVARs and ran step 3 there.
    (on_b,) = servers.calls_on_b
    assert on_b.spec.extension == "ivr"
    assert on_b.spec.inherited["IAXVAR(GTX_SESSION)"] == "gtx-a-session-1"
    assert "GET FULL VARIABLE ${IAXVAR(GTX_SESSION)}" in on_b.commands
    assert on_b.played == ["bonjour"]
    assert on_b.variables["GTX_SESSION"] == "gtx-a-session-1"
    assert on_b.variables["GTX_STATUS"] == "DONE"
    assert on_b.duration <= dial["answered_seconds"] + 1  # A's Dial ended with B's call


def test_a_server_that_does_not_answer_leaves_the_session_here() -> None:
    servers = TwoServers()
    servers.server_a.destinations.pop(DESTINATION)  # server B unreachable: CHANUNAVAIL
    menu(servers, {"actions": [{"action": "play", "files": "sorry"}]})
    on_a = servers.call()

    assert [(c.method, c.request["node"]) for c in servers.ws.calls] == [
        ("menu.start", "gtx-a"), ("menu.two", "gtx-a"), ("menu.three", "gtx-a")]
    moved = servers.ws.calls[-1].request["result"]["moved"]
    assert (moved["status"], moved["dialstatus"]) == ("failed", "CHANUNAVAIL")
    assert servers.calls_on_b == []
    assert "sorry" in on_a.played
    assert on_a.variables["GTX_STATUS"] == "DONE"


def test_dialled_extension_on_the_other_server() -> None:
    assert dialled_extension("IAX2/serverb/ivr") == "ivr"
    assert dialled_extension("IAX2/serverb") == "s"
    assert dialled_extension("PJSIP/ivr@serverb") == "ivr"
    assert dialled_extension("PJSIP/serverb") == "s"
