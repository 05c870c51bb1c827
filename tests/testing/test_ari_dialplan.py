"""Emulated ARI: the dialplan around Stasis — the ``gtx-ari-exec`` excursion, ``[gtx-dialer]``
handing answered calls to the IVR over ARI, the end of a call after continue, kicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineOnlyReceiver

from gtx.testing import CallSpec, DialDestination, QueueBehaviour
from tests.testing.ari_harness import Rig, rig


def _excursion_app(r: Rig, app: str, data: str, statuses: list[str]) -> None:
    """On the first StasisStart: an excursion to run APP(DATA); back in Stasis: read the
    status, then let the call go on after its Stasis()."""
    call = r.client.call

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]
        base = f"/channels/{channel['id']}"
        if event["args"] == ["gtx-exec"]:
            d = call("GET", f"{base}/variable", {"variable": "GTX_EXEC_STATUS"})
            d.addCallback(lambda reply: statuses.append(reply.body["value"]))
            d.addCallback(lambda _: call("POST", f"{base}/continue", {
                "context": "gtx", "extension": "menu", "priority": 3}))
            return
        for name, value in (("GTX_EXEC_APP", app), ("GTX_EXEC_DATA", data),
                            ("GTX_EXEC_STASIS", "gtx")):
            call("POST", f"{base}/variable", {"variable": name, "value": value})
        call("POST", "/applications/gtx/subscription", {"eventSource": f"channel:{channel['id']}"})
        call("POST", f"{base}/continue", {"context": "gtx-ari-exec", "extension": "s",
                                           "priority": 1})

    r.client.events.on_every(lambda e: started(e) if e["type"] == "StasisStart" else None)


@pytest_twisted.ensureDeferred
async def test_excursion_runs_the_application_and_comes_back_into_stasis(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    statuses: list[str] = []
    _excursion_app(r, "Playback", "hello-world", statuses)
    record = await r.run(r.server.stasis_call(CallSpec(context="gtx", extension="menu",
                                                       priority=2)))
    assert statuses == ["SUCCESS"]
    assert record.exec_runs == [("Playback", "hello-world", "SUCCESS")]
    assert record.played == ["hello-world"]
    assert record.continues == [("gtx-ari-exec", "s", 1), ("gtx", "menu", 3)]
    assert record.continued_at == ("gtx", "menu", 3)
    starts = [e for e in r.client.received if e["type"] == "StasisStart"]
    assert [e["args"] for e in starts] == [["menu"], ["gtx-exec"]]
    assert starts[1]["channel"]["dialplan"]["context"] == "gtx-ari-exec"
    # Subscribed, the application heard the excursion's dialplan.
    apps = [e["dialplan_app"] for e in r.client.received if e["type"] == "ChannelDialplan"]
    assert apps == ["NoOp", "Playback"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_continue_without_a_location_after_an_excursion_hangs_up_there(
        tmp_path: Path) -> None:
    """Back from the excursion the channel is in the Stasis() of ``gtx-ari-exec``: continued
    with no location it goes on after that one, where the excursion hangs up."""
    r = await rig(tmp_path)
    call = r.client.call

    def started(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"
        if event["args"] == ["gtx-exec"]:
            call("POST", f"{base}/continue")
            return
        for name, value in (("GTX_EXEC_APP", "Playback"), ("GTX_EXEC_DATA", "beep"),
                            ("GTX_EXEC_STASIS", "gtx")):
            call("POST", f"{base}/variable", {"variable": name, "value": value})
        call("POST", "/applications/gtx/subscription",
             {"eventSource": f"channel:{event['channel']['id']}"})
        call("POST", f"{base}/continue", {"context": "gtx-ari-exec", "extension": "s",
                                           "priority": 1})

    r.client.events.on_every(lambda e: started(e) if e["type"] == "StasisStart" else None)
    record = await r.run(r.server.stasis_call(CallSpec(context="gtx", extension="menu",
                                                       priority=2)))
    back = next(e for e in r.client.received if e["type"] == "StasisStart"
                and e["args"] == ["gtx-exec"])
    where = back["channel"]["dialplan"]
    assert record.continues == [("gtx-ari-exec", "s", 1),
                                ("gtx-ari-exec", "s", where["priority"] + 1)]
    apps = [e["dialplan_app"] for e in r.client.received if e["type"] == "ChannelDialplan"]
    assert apps[-1] == "Hangup"
    assert record.hangup_source == "dialplan"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_excursion_to_an_application_asterisk_does_not_have(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    statuses: list[str] = []
    _excursion_app(r, "NoSuchApp", "x", statuses)
    record = await r.run(r.server.stasis_call())
    assert statuses == ["NOAPP"]
    assert record.exec_runs == [("NoSuchApp", "x", "NOAPP")]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_caller_hangs_up_during_the_excursion(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.asterisk.queues["sales"] = QueueBehaviour(wait_seconds=30)
    statuses: list[str] = []
    _excursion_app(r, "Queue", "sales", statuses)
    record = await r.run(r.server.stasis_call(caller="wait 5; hangup"))
    assert statuses == []
    assert record.hangup_source == "caller"
    assert record.exec_runs == []
    assert [e["args"] for e in r.client.received if e["type"] == "StasisStart"] == [["menu"]]
    assert r.client.types()[-1] == "ChannelDestroyed"
    await r.close()


def _originate_dialer_call(r: Rig, call_id: str, **variables: str) -> Deferred[Any]:
    body = {"variables": {"GTX_CALL_ID": call_id, **variables}}
    d = r.client.call("POST", "/channels", {
        "endpoint": "PJSIP/5551234@trunk", "context": "gtx-dialer", "extension": "answered",
        "priority": 1, "channelId": call_id}, body=body)

    def subscribe(reply: Any) -> Any:
        assert reply.status == 200
        return r.client.call("POST", "/applications/gtx/subscription",
                             {"eventSource": f"channel:{call_id}"})

    return d.addCallback(subscribe)


@pytest_twisted.ensureDeferred
async def test_dialer_call_answered_by_a_human_goes_to_the_ivr_over_ari(tmp_path: Path) -> None:
    r = await rig(tmp_path, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=2, talk=None)},
        ari_apps=("gtx-down", "gtx"))

    def session(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"
        r.client.call("POST", f"{base}/variable", {"variable": "GTX_STATUS", "value": "DONE"})
        r.client.call("POST", f"{base}/continue")

    r.client.events.on_stasis_start(session)
    await r.run(_originate_dialer_call(r, "c7", GTX_AMD="1", GTX_DIALER_APP="dialer,x"))
    record = await r.run(r.server.channels["c7"].finished)
    user_events = [(e["eventname"], e["userevent"]) for e in r.client.received
                   if e["type"] == "ChannelUserevent"]
    assert user_events == [
        ("GtxAmd", {"eventname": "GtxAmd", "CallId": "c7", "Status": "HUMAN",
                    "Cause": "HUMAN-500-500"}),
        ("GtxConnected", {"eventname": "GtxConnected", "CallId": "c7", "To": "app"})]
    start = next(e for e in r.client.received if e["type"] == "StasisStart")
    assert start["args"] == ["dialer", "x"]
    assert start["channel"]["dialplan"]["app_data"] == "gtx,dialer,x"
    assert start["channel"]["dialplan"]["context"] == "gtx-stasis"
    # gtx-down had no WebSocket: its Stasis() failed at once, then gtx took the call.
    assert record.stasis_statuses == ["FAILED", "SUCCESS"]
    assert record.hangup_source == "dialplan"
    assert record.continues[0] == ("gtx-dialer", "answered", 1)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_dialer_call_back_from_an_excursion_resumes_gtx_stasis(tmp_path: Path) -> None:
    """A session in the Stasis() of ``gtx-stasis`` goes on an excursion, then names the
    priority after that Stasis(): ``gtx-stasis`` goes on there (its status not an end: the
    next attempt), as a real dialplan would."""
    r = await rig(tmp_path, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=2, talk=None)})
    call = r.client.call
    entries: list[dict[str, Any]] = []

    def started(event: dict[str, Any]) -> None:
        base = f"/channels/{event['channel']['id']}"
        if event["args"] == ["gtx-exec"]:
            context, exten, priority = (entries[0][k] for k in ("context", "exten", "priority"))
            call("POST", f"{base}/continue", {"context": context, "extension": exten,
                                               "priority": priority + 1})
            return
        entries.append(event["channel"]["dialplan"])
        if len(entries) == 2:  # the second attempt ends the session
            call("POST", f"{base}/variable", {"variable": "GTX_STATUS", "value": "DONE"})
            call("POST", f"{base}/continue")
            return
        for name, value in (("GTX_EXEC_APP", "Playback"), ("GTX_EXEC_DATA", "beep"),
                            ("GTX_EXEC_STASIS", "gtx")):
            call("POST", f"{base}/variable", {"variable": name, "value": value})
        call("POST", f"{base}/continue", {"context": "gtx-ari-exec", "extension": "s",
                                           "priority": 1})

    r.client.events.on_every(lambda e: started(e) if e["type"] == "StasisStart"
                             and e["channel"]["id"] == "c9" else None)
    await r.run(_originate_dialer_call(r, "c9"))
    record = await r.run(r.server.channels["c9"].finished)
    assert [e["args"] for e in r.client.received if e["type"] == "StasisStart"] == [
        ["dialer"], ["gtx-exec"], ["dialer"]]
    assert entries[0]["context"] == "gtx-stasis"
    assert record.exec_runs == [("Playback", "beep", "SUCCESS")]
    assert record.variables["GTX_STATUS"] == "DONE"
    assert record.stasis_statuses[-1] == "SUCCESS"
    await r.close()


@pytest_twisted.ensureDeferred
async def test_dialer_call_no_session_ran_to_its_end(tmp_path: Path) -> None:
    r = await rig(tmp_path, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=2, talk=None)},
        ari_apps=("gtx-down", "gtx"))
    # A draining node: lets every call go on untouched.
    r.client.events.on_stasis_start(lambda e: r.client.call(
        "POST", f"/channels/{e['channel']['id']}/continue"))
    await r.run(_originate_dialer_call(r, "c8"))
    record = await r.run(r.server.channels["c8"].finished)
    # 2 applications x 2 rounds, then the error and the fallback prompt.
    assert record.stasis_statuses == ["FAILED", "SUCCESS", "FAILED", "SUCCESS"]
    assert record.variables["GTX_STATUS"] == "ERROR"
    assert record.variables["GTX_ERROR"].startswith("node_unreachable:")
    assert record.played == ["an-error-has-occured"]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_dialer_call_answered_by_a_machine_is_hung_up(tmp_path: Path) -> None:
    r = await rig(tmp_path, destinations={
        "PJSIP/5551234@trunk": DialDestination.machine(after=1)})
    await r.run(_originate_dialer_call(r, "m1", GTX_AMD="1"))
    record = await r.run(r.server.channels["m1"].finished)
    assert [e["userevent"]["Status"] for e in r.client.received
            if e["type"] == "ChannelUserevent"] == ["MACHINE"]
    assert "StasisStart" not in r.client.types()
    assert record.variables["AMDSTATUS"] == "MACHINE"
    assert record.duration == 1 + 2.5
    await r.close()


@pytest_twisted.ensureDeferred
async def test_kick_ends_stasis_and_the_call_goes_on_in_the_dialplan(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    ids: list[str] = []
    r.client.events.on_stasis_start(lambda e: ids.append(e["channel"]["id"]))
    d = r.server.stasis_call(CallSpec(context="gtx", extension="menu", priority=2))
    await r.run(r.client.call("GET", "/channels"))
    r.server.kick(ids[0])
    record = await r.run(d)
    assert record.continued_at == ("gtx", "menu", 3)
    assert r.client.types()[-2:] == ["StasisEnd", "ChannelVarset"]
    assert record.hangup_source == "dialplan"
    await r.close()


class _OneCommandAGI(LineOnlyReceiver):
    """A FastAGI server that reads the environment, marks the session done and leaves."""

    delimiter = b"\n"

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def lineReceived(self, line: bytes) -> None:
        text = line.decode()
        self.seen.append(text)
        if text == "":
            self.sendLine(b'SET VARIABLE GTX_STATUS "DONE"')
        elif text.startswith("200"):
            assert self.transport is not None
            self.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_dialer_call_handed_to_the_ivr_over_fastagi(tmp_path: Path) -> None:
    seen: list[str] = []
    factory = Factory.forProtocol(lambda: _OneCommandAGI(seen))
    r = await rig(tmp_path, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=1, talk=None)},
        ivr_via="agi", fastagi=factory)
    await r.run(_originate_dialer_call(r, "f1", GTX_DIALER_APP="dialer,7"))
    record = await r.run(r.server.channels["f1"].finished)
    assert "agi_network_script: dialer" in seen
    assert "agi_arg_1: 7" in seen
    assert "agi_uniqueid: f1" in seen
    assert record.variables["GTX_STATUS"] == "DONE"
    assert "StasisStart" not in r.client.types()
    assert record.hangup_source == "dialplan"
    await r.close()
