"""A session on an ARI channel handed to another Asterisk server over IAX2 or PJSIP: ARI runs no
pre-dial handler and a leg may not inherit IAXVARs, so the state goes in the originate's
variables; the other server's gtx node (FastAGI here) continues the session at its next step."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from gtx.asterisk.agi_server import FastAGIFactory
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.metrics import Metrics
from gtx.testing import AnySoundCatalogue, CallRecord, CallSpec, EmulatedAsterisk
from gtx.testing.handoff import remote_asterisk
from tests.asterisk.ari_emulated import URL, stack
from tests.ivr.fakes import FakeWebService


def node_b(clock: Clock, ws: FakeWebService) -> FastAGIFactory:
    ids = iter(f"b-session-{n}" for n in range(1, 100))
    engine = IvrEngine(
        clock=clock, webservice=ws,
        apps={"menu": IvrApp(name="menu", url=URL, method="menu.start", hangup_method=None)},
        url_app_defaults=IvrApp(name="ivr", url="", method=""), node="gtx-b",
        metrics=Metrics(), new_session_id=lambda: next(ids))
    return FastAGIFactory(engine.run, clock=clock, asterisk_name_for=lambda host: "pbx2")


@pytest.mark.parametrize(("destination", "read"), [
    ("IAX2/serverb/ivr", "IAXVAR(GTX_SESSION)"),
    ("PJSIP/ivr@serverb", "PJSIP_HEADER(X-GTX-Session)"),
])
@pytest_twisted.ensureDeferred
async def test_the_other_server_continues_the_session(tmp_path: Path, destination: str,
                                                      read: str) -> None:
    on_b: list[CallRecord] = []
    s = await stack(tmp_path)
    server_b = EmulatedAsterisk(s.clock, name="pbx2", sounds=AnySoundCatalogue())
    # The channel is named here: the emulator hands the remote call the dial string without
    # its technology, from which it would name it.
    technology = destination.split("/", 1)[0]
    s.asterisk.destinations[destination] = remote_asterisk(
        node_b(s.clock, s.ws), server_b,
        CallSpec(request="agi://127.0.0.1:4573/ivr", context="gtx-handoff-in", peer="servera",
                 channel=f"{technology}/servera-00000001"),
        records=on_b)
    s.answer("menu.start", {"actions": [{"action": "answer"}], "vars": {"lang": "fr"},
                            "next": "menu.two"})
    s.answer("menu.two", {"actions": [{"action": "transfer", "dial": destination,
                                       "name": "moved"}], "next": "menu.three"})
    s.answer("menu.three", {"actions": [{"action": "play", "files": ["bonjour"]}]})
    record = await s.call("wait 60")
    steps = [(c.method, c.request["node"], c.request["step"]) for c in s.ws.calls]
    assert steps == [("menu.start", "gtx1", 1), ("menu.two", "gtx1", 2),
                     ("menu.three", "gtx-b", 3)]
    step3 = s.requests()[-1]
    assert step3["session"] == "s1"
    assert step3["vars"] == {"lang": "fr"}
    (call_b,) = on_b
    assert call_b.spec.inherited[read] == "s1"
    assert call_b.played == ["bonjour"]
    assert call_b.variables["GTX_STATUS"] == "DONE"
    assert record.variables["GTX_STATUS"] == "DONE"
    assert [o.status for o in s.engine.outcomes] == ["DONE"]
    await s.close()
