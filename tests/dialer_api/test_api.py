"""The Dialer API's XML-RPC methods over a fake DialerService, called as a client would."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from gtx.config import DialerSettings, parse_config
from gtx.dialer.api import configured_from, register_dialer_api
from gtx.dialer.model import Call, CallRequest, CallState, Outcome
from gtx.dialer.validate import Configured
from gtx.xmlrpc.server import XMLRPCResource
from tests.dialer_api.fakes import T0, FakeDialerService
from tests.dialer_api.rpc import call, fault

BROADCAST = {"name": "Reminders", "mode": "broadcast", "on_answer": {"app": "menu"},
             "windows": [{"days": "mon-fri", "start": "09:00", "end": "20:00"}],
             "retry": {"busy": {"attempts": 2, "delay": 600}}}


@pytest.fixture
def service() -> FakeDialerService:
    return FakeDialerService()


@pytest.fixture
def rpc(service: FakeDialerService) -> XMLRPCResource:
    resource = XMLRPCResource()
    register_dialer_api(resource, service, DialerSettings(channel="PJSIP/{number}@trunk"),
                        Configured(servers={"pbx1"}, apps={"menu"}))
    return resource


def test_every_method_is_registered_with_help_and_signature(rpc: XMLRPCResource) -> None:
    names = set(call(rpc, "system.listMethods"))
    assert {
        "dialer.call", "dialer.call_status", "dialer.hangup",
        "dialer.campaign.create", "dialer.campaign.update", "dialer.campaign.delete",
        "dialer.campaign.list", "dialer.campaign.status", "dialer.campaign.add_contacts",
        "dialer.campaign.start", "dialer.campaign.pause", "dialer.campaign.resume",
        "dialer.campaign.stop", "dialer.campaign.results",
        "dialer.preview.next", "dialer.preview.dial", "dialer.preview.skip",
        "dialer.dnc.add", "dialer.dnc.remove", "dialer.dnc.check",
    } <= names
    for name in names - {n for n in names if n.startswith("system.")}:
        assert call(rpc, "system.methodHelp", name), name
        assert call(rpc, "system.methodSignature", name) != "undef", name


def test_call_then_status_then_hangup(rpc: XMLRPCResource, service: FakeDialerService) -> None:
    assert call(rpc, "dialer.call", "+1 555 0100", {"timeout": 20, "vars": {"order": 17}}) == {
        "call_id": "call-1"}
    assert service.requests[0].destination == "+15550100"
    assert service.requests[0].vars == {"order": 17}
    assert call(rpc, "dialer.call", "5550101") == {"call_id": "call-2"}  # options are optional
    assert call(rpc, "dialer.call_status", "call-1") == {
        "call_id": "call-1", "state": "queued", "number": "+15550100", "attempt": 1,
        "created": "2026-11-18T11:06:40.000Z", "node": "gtx1"}
    assert call(rpc, "dialer.hangup", "call-1") is True
    status = call(rpc, "dialer.call_status", "call-1")
    assert (status["state"], status["outcome"], status["ended"]) == (
        "completed", "canceled", "2026-11-18T11:06:41.000Z")


def test_a_completed_campaign_call_shows_every_field(
    rpc: XMLRPCResource, service: FakeDialerService
) -> None:
    service.calls["c9"] = Call(
        call_id="c9", request=CallRequest("5550100", "PJSIP/{number}@t"),
        state=CallState.COMPLETED, created=T0, node="gtx2", campaign_id=3, contact_id=8,
        attempt=2, outcome=Outcome.BUSY, cause="17", dialing_at=T0 + 0.25, ended_at=T0 + 4.5,
        asterisk="pbx1", channel="PJSIP/trunk-00000001")
    assert call(rpc, "dialer.call_status", "c9") == {
        "call_id": "c9", "state": "completed", "outcome": "busy", "cause": "17",
        "number": "5550100", "campaign_id": 3, "contact_id": 8, "attempt": 2,
        "created": "2026-11-18T11:06:40.000Z", "dialing": "2026-11-18T11:06:40.250Z",
        "ended": "2026-11-18T11:06:44.500Z", "node": "gtx2", "asterisk": "pbx1",
        "channel": "PJSIP/trunk-00000001"}


def test_faults_of_single_calls(rpc: XMLRPCResource) -> None:
    assert fault(rpc, "dialer.call", "12", {}) == (
        400, "destination: '12' is not a phone number: 2 digits; a phone number has 3 to 20")
    assert fault(rpc, "dialer.call", "5550100", {"on_answer": {"app": "sales"}}) == (
        400, "options.on_answer.app: no IVR app 'sales' in gtx.ini; configured apps: menu")
    assert fault(rpc, "dialer.call_status", "nope") == (404, "no call 'nope'")
    assert fault(rpc, "dialer.hangup", 17)[0] == 400
    assert fault(rpc, "dialer.call")[0] == -32602


def test_a_scheduled_call_at_a_time_or_after_a_delay(rpc: XMLRPCResource,
                                                     service: FakeDialerService) -> None:
    call(rpc, "dialer.call", "5550100", {"at": datetime(2026, 11, 21, 9, 30)})
    call(rpc, "dialer.call", "5550101", {"at": "2026-11-21T10:30:00+01:00"})
    call(rpc, "dialer.call", "5550102", {"delay": 3600})
    assert [(r.not_before, r.delay) for r in service.requests] == [
        (1_795_253_400.0, None), (1_795_253_400.0, None), (None, 3600.0)]
    assert fault(rpc, "dialer.call", "5550100", {"at": "2026-11-21 09:30"}) == (
        400, "options.at: '2026-11-21 09:30' has no time zone: add Z (UTC) or an offset such "
             "as +01:00")


def test_a_campaign_from_creation_to_stop(rpc: XMLRPCResource,
                                          service: FakeDialerService) -> None:
    created = call(rpc, "dialer.campaign.create", BROADCAST)
    assert created["campaign_id"] == 1
    assert created["state"] == "draft"
    assert created["windows"] == [{"days": "mon-fri", "start": "09:00", "end": "20:00"}]
    assert created["retry"] == {"busy": {"attempts": 2, "delay": 600}}
    assert created["on_answer"] == {"app": "menu"}
    assert created["channel"] == "PJSIP/{number}@trunk"
    assert created["created"] == "2026-11-18T11:06:40.000Z"
    assert "queue" not in created  # no nil members
    # the answer is a spec create accepts: a client can send it back
    echo = {k: v for k, v in created.items()
            if k not in {"campaign_id", "state", "created", "updated"}}
    assert call(rpc, "dialer.campaign.create", echo)["campaign_id"] == 2

    assert call(rpc, "dialer.campaign.start", 1)["state"] == "running"
    assert call(rpc, "dialer.campaign.pause", 1)["state"] == "paused"
    assert call(rpc, "dialer.campaign.resume", 1)["state"] == "running"
    assert fault(rpc, "dialer.campaign.start", 1) == (409, "campaign 1 is running")
    assert fault(rpc, "dialer.campaign.delete", 1)[0] == 409
    assert call(rpc, "dialer.campaign.stop", 1)["state"] == "stopped"
    assert [c["campaign_id"] for c in call(rpc, "dialer.campaign.list")] == [1, 2]
    assert call(rpc, "dialer.campaign.delete", 1) is True
    assert fault(rpc, "dialer.campaign.status", 1) == (404, "no campaign 1")


def test_update_merges_into_the_current_spec(rpc: XMLRPCResource,
                                             service: FakeDialerService) -> None:
    call(rpc, "dialer.campaign.create", {**BROADCAST, "caller_id": "+15550100"})
    updated = call(rpc, "dialer.campaign.update", 1, {"max_cps": 4, "caller_id": None})
    assert updated["max_cps"] == 4.0
    assert "caller_id" not in updated
    assert updated["name"] == "Reminders"
    assert service.campaigns[1].spec.max_cps == 4.0
    assert fault(rpc, "dialer.campaign.update", 1, {"mode": "power"}) == (
        400, "spec.queue: required in power mode: the agents' Asterisk queue, where answered "
             "calls go")
    assert fault(rpc, "dialer.campaign.update", 9, {"max_cps": 4}) == (404, "no campaign 9")


def test_status_counters_always_carry_every_outcome(
    rpc: XMLRPCResource, service: FakeDialerService
) -> None:
    call(rpc, "dialer.campaign.create", BROADCAST)
    service.counters[1] = {"pending": 5, "dialing": 2, "done": 3, "answered": 2, "busy": 1}
    status = call(rpc, "dialer.campaign.status", 1)
    assert status["state"] == "draft"
    assert status["counters"] == {
        "pending": 5, "dialing": 2, "done": 3, "dnc": 0, "answered": 2, "busy": 1,
        "no_answer": 0, "congestion": 0, "failed": 0, "machine": 0, "abandoned": 0,
        "canceled": 0}
    assert (status["abandon_rate"], status["dial_ratio"], status["agents_free"]) == (
        0.01, 1.5, 2)
    assert (status["name"], status["mode"]) == ("Reminders", "broadcast")


def test_add_contacts_indexes_point_into_the_array_sent(
    rpc: XMLRPCResource, service: FakeDialerService
) -> None:
    call(rpc, "dialer.campaign.create", BROADCAST)
    call(rpc, "dialer.dnc.add", ["5550103"])
    report = call(rpc, "dialer.campaign.add_contacts", 1, [
        "5550100",                       # 0 added
        {"number": "12"},                # 1 rejected
        {"number": "555-0100"},          # 2 duplicate of 0
        {"number": "5550103"},           # 3 on the DNC list
        {"number": "5550104", "vars": {"first name": "x"}},  # 4 rejected
        {"number": "5550105", "timezone": "Europe/Paris"},   # 5 added
    ])
    assert report == {
        "added": 2, "duplicate": [2], "dnc": [3],
        "rejected": [
            {"index": 1, "reason": "number: '12' is not a phone number: 2 digits; a phone "
                                   "number has 3 to 20"},
            {"index": 4, "reason": "vars.first name: a variable name is a letter or _ then "
                                   "letters, digits or _ (at most 64)"},
        ]}
    assert service.batches == [4]  # only the valid ones reach the service
    assert fault(rpc, "dialer.campaign.add_contacts", 7, ["5550100"]) == (404, "no campaign 7")
    assert fault(rpc, "dialer.campaign.add_contacts", 1, "5550100")[0] == 400


def test_results_are_paged(rpc: XMLRPCResource, service: FakeDialerService) -> None:
    call(rpc, "dialer.campaign.create", BROADCAST)
    for n in range(5):
        service.calls[f"c{n}"] = Call(f"c{n}", CallRequest(f"555010{n}", "PJSIP/{number}"),
                                      CallState.COMPLETED, T0, "gtx1", campaign_id=1,
                                      outcome=Outcome.ANSWERED)
    first = call(rpc, "dialer.campaign.results", 1, {"limit": 2})
    assert [c["call_id"] for c in first["calls"]] == ["c0", "c1"]
    assert first["next"] == "2"
    rest = call(rpc, "dialer.campaign.results", 1, {"after": "2", "limit": 10})
    assert [c["call_id"] for c in rest["calls"]] == ["c2", "c3", "c4"]
    assert "next" not in rest
    assert len(call(rpc, "dialer.campaign.results", 1)["calls"]) == 5
    assert fault(rpc, "dialer.campaign.results", 1, {"limit": 0})[1].startswith(
        "options.limit: expected an int from 1 to 1000")
    assert fault(rpc, "dialer.campaign.results", 1, {"offset": 3})[1].startswith(
        "options.offset: unknown key")


def test_preview(rpc: XMLRPCResource, service: FakeDialerService) -> None:
    call(rpc, "dialer.campaign.create", {"name": "P", "mode": "preview", "queue": "sales"})
    assert call(rpc, "dialer.preview.next", 1, "PJSIP/1001") == {}
    call(rpc, "dialer.campaign.add_contacts", 1, [{"number": "5550100", "vars": {"n": "Ann"}}])
    contact = call(rpc, "dialer.preview.next", 1, "PJSIP/1001")
    assert contact == {"contact_id": 7, "campaign_id": 1, "number": "5550100",
                       "vars": {"n": "Ann"}, "priority": 0, "state": "dialing", "attempts": 0}
    assert call(rpc, "dialer.preview.dial", 1, 7, "PJSIP/1001") == {"call_id": "call-preview"}
    assert call(rpc, "dialer.preview.skip", 1, 7, "PJSIP/1001") is True
    assert service.log[-2:] == [("preview_dial", (1, 7, "PJSIP/1001")),
                                ("preview_skip", (1, 7, "PJSIP/1001"))]
    assert fault(rpc, "dialer.preview.next", 1, "")[1].startswith("agent: expected an agent")


def test_dnc(rpc: XMLRPCResource, service: FakeDialerService) -> None:
    assert call(rpc, "dialer.dnc.add", ["+1 555 0100", "5550101"]) == {"added": 2}
    assert call(rpc, "dialer.dnc.add", ["5550101"]) == {"added": 0}
    assert call(rpc, "dialer.dnc.check", ["+1 (555) 0100", "5550102", "5550101"]) == {
        "listed": ["+1 (555) 0100", "5550101"]}  # as sent, so the client can match them
    assert call(rpc, "dialer.dnc.remove", ["5550101"]) == {"removed": 1}
    assert service.dnc == {"+15550100"}
    assert fault(rpc, "dialer.dnc.add", ["5550100", "abc"])[1].startswith(
        "numbers[1]: 'abc' is not a phone number")


def test_configured_names_come_from_gtx_ini() -> None:
    config = parse_config(
        "[asterisk:pbx1]\n[ivr:menu]\nurl = http://127.0.0.1:8000/RPC2\nmethod = menu.start\n"
        "[ivr]\nallow_url_apps = no\n")
    known = configured_from(config)
    assert (set(known.servers), set(known.apps or ()), known.url_apps) == (
        {"pbx1"}, {"menu"}, False)
    assert replace(known, url_apps=True).url_apps


def test_campaign_option_record(rpc: XMLRPCResource, service: FakeDialerService) -> None:
    assert call(rpc, "dialer.campaign.create", BROADCAST)["record"] is False
    sampled = call(rpc, "dialer.campaign.create", {**BROADCAST, "record": {"percent": 20}})
    assert sampled["record"] == {"percent": 20.0}
    assert call(rpc, "dialer.campaign.create", {**BROADCAST, "record": True})["record"] is True
    assert fault(rpc, "dialer.campaign.create", {**BROADCAST, "record": {"percent": 150}})[0] \
        == 400
    assert fault(rpc, "dialer.campaign.create", {**BROADCAST, "record": "all"}) == (
        400, "spec.record: expected true, false or {percent: 0 to 100}, got 'all'")
