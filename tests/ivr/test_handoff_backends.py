"""A hand-off (``transfer`` with ``handoff``) through the real channel adapters: step 1 over
FastAGI on the emulated Asterisk (real AGI commands), then step 2 over FastAGI again and over
ARI (the ARI adapter on a scripted link), both continuing the same session from the variables
the first left on the channel."""

from __future__ import annotations

import itertools
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gtx.asterisk.agi_server import FastAGIFactory
from gtx.asterisk.ari_api import http_error
from gtx.asterisk.ari_channel import ARIChannel
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from gtx.testing import AnySoundCatalogue, CallRecord, CallSpec, EmulatedAsterisk
from gtx.testing.emulator import connect_emulated_call
from tests.asterisk.scripted_ari import ScriptedLink, stasis_start
from tests.ivr.fakes import FakeWebService, drive

URL = "http://ws.example/RPC2"
STATE = ("GTX_SESSION", "GTX_APP", "GTX_STEP", "GTX_NEXT", "GTX_VARS", "GTX_RESULT",
         "GTX_STATUS")


def engine(clock: Clock, ws: FakeWebService, node: str) -> IvrEngine:
    ids = iter(f"{node}-session-{n}" for n in range(1, 100))
    return IvrEngine(
        clock=clock, webservice=ws,
        apps={"menu": IvrApp(name="menu", url=URL, method="menu.start", hangup_method=None),
              "other": IvrApp(name="other", url=URL, method="other.start",
                              hangup_method=None)},
        url_app_defaults=None, node=node, metrics=Metrics(), new_session_id=lambda: next(ids))


def agi_call(clock: Clock, ws: FakeWebService, node: str, spec: CallSpec) -> CallRecord:
    factory = FastAGIFactory(engine(clock, ws, node).run, clock=clock,
                             asterisk_name_for=lambda host: "pbx1")
    asterisk = EmulatedAsterisk(clock, name="pbx1", sounds=AnySoundCatalogue())
    d: Deferred[CallRecord] = connect_emulated_call(factory, spec, asterisk=asterisk)
    records: list[CallRecord] = []
    d.addCallback(records.append)
    for _ in range(2000):
        if records:
            return records[0]
        clock.advance(0.1)
    raise AssertionError("the call did not end")


def first_step(clock: Clock, ws: FakeWebService) -> CallRecord:
    """Step 1 over FastAGI hands the call to gtx-ari,menu,1 with next menu.two."""
    ws.answers["menu.start"] = [{
        "actions": [{"action": "play", "files": "hello"},
                    {"action": "transfer", "context": "gtx-ari", "extension": "menu",
                     "handoff": True, "name": "moved"}],
        "vars": {"lang": "fr"}, "next": "menu.two"}]
    return agi_call(clock, ws, "gtx1", CallSpec(request="agi://127.0.0.1:4573/menu",
                                                channel="PJSIP/alice-00000001"))


def test_the_fastagi_side_sets_the_location_and_leaves_the_next_step() -> None:
    clock = Clock()
    ws = FakeWebService(clock)
    record = first_step(clock, ws)
    assert (record.context, record.extension) == ("gtx-ari", "menu")
    assert record.variables["GTX_STATUS"] == "HANDOFF"
    assert record.variables["GTX_STEP"] == "2"
    assert not record.hung_up  # the dialplan goes on at the location
    assert "SET CONTEXT gtx-ari" in record.transcript
    assert [c.method for c in ws.calls] == ["menu.start"]


def test_a_fastagi_session_continues_the_handoff() -> None:
    clock = Clock()
    ws = FakeWebService(clock)
    state = {name: first_step(clock, ws).variables[name] for name in STATE}
    ws.answers["menu.two"] = [{"actions": [{"action": "play", "files": "bonjour"}]}]
    # Another node, another entry app: the state on the channel decides.
    record = agi_call(clock, ws, "gtx2", CallSpec(request="agi://127.0.0.1:4573/other",
                                                  channel="PJSIP/alice-00000001",
                                                  variables=state))
    step2 = ws.calls[-1]
    assert step2.method == "menu.two"
    request = step2.request
    assert (request["session"], request["step"], request["resumed"], request["node"]) == (
        "gtx1-session-1", 2, False, "gtx2")
    assert request["vars"] == {"lang": "fr"}
    assert request["result"]["moved"] == {"action": "transfer", "name": "moved",
                                          "status": "ok", "handoff": True}
    assert record.played == ["bonjour"]
    assert record.variables["GTX_STATUS"] == "DONE"


def test_an_ari_session_continues_the_handoff() -> None:
    clock = Clock()
    ws = FakeWebService(clock)
    variables: dict[str, str] = {
        name: first_step(clock, ws).variables[name] for name in STATE}
    link = ScriptedLink(clock)

    def get(params: dict[str, Any]) -> Any:
        value = variables.get(params["variable"])
        if value is None:
            return http_error("channels.getChannelVar", 404, "Provided variable was not found")
        return {"value": value}

    def put(params: dict[str, Any]) -> None:
        variables[params["variable"]] = params.get("value", "")

    link.answer("channels.getChannelVar", get)
    link.answer("channels.setChannelVar", put)
    counter = itertools.count(1)
    channel = ARIChannel(link, stasis_start(args=["other"]), clock,
                         recording_dir="/var/spool/asterisk/recording",
                         ids=lambda kind: f"{kind}-{next(counter)}")
    ws.answers["menu.two"] = [{"end": "continue"}]
    outcome = drive(clock, engine(clock, ws, "gtx2").run(channel))
    assert isinstance(outcome, SessionOutcome)
    assert (outcome.status, outcome.session, outcome.app) == ("DONE", "gtx1-session-1", "menu")
    request = ws.calls[-1].request
    assert (ws.calls[-1].method, request["step"], request["resumed"]) == ("menu.two", 2, False)
    assert request["vars"] == {"lang": "fr"}
    assert variables["GTX_STATUS"] == "DONE"
    statuses = [p.get("value") for p in link.made("channels.setChannelVar")
                if p["variable"] == "GTX_STATUS"]
    assert statuses == ["RUNNING", "DONE"]
