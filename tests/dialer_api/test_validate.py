"""Validation of the Dialer API's arguments: model values out, or a fault naming the field."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time

import pytest

from gtx.config import DialerSettings
from gtx.dialer import validate as v
from gtx.dialer.model import (
    DEFAULT_WINDOWS,
    Callback,
    CampaignMode,
    OnAnswer,
    Outcome,
    RetryRule,
    Window,
)
from gtx.dialer.validate_call import scheduled
from gtx.errors import InvalidArgument

TRUNK = DialerSettings(channel="PJSIP/{number}@trunk")
NO_CHANNEL = DialerSettings()
KNOWN = v.Configured(servers={"pbx1", "pbx2"}, apps={"menu", "survey"})
BROADCAST = {"name": "Reminders", "mode": "broadcast", "on_answer": {"app": "menu"}}


def refused(func, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        func(*args, **kwargs)
    assert caught.value.code == 400
    assert str(caught.value) == f"{caught.value.field}: {caught.value.problem}"
    return caught.value.field, caught.value.problem


# ----------------------------------------------------------------------------- dialer.call


def test_a_call_with_every_option() -> None:
    request = v.call_request("+1 (555) 010-9999", {
        "channel": "SIP/{number}@carrier", "caller_id": '"Sales" <+15550100>', "timeout": 45,
        "vars": {"order": "A-17", "amount": 12.5, "vip": True, "tries": 2},
        "on_answer": {"app": "survey"}, "callback": {"url": "https://crm.example/RPC2",
                                                     "method": "calls.event"},
        "amd": True, "asterisk": "pbx2",
    }, TRUNK, KNOWN)
    assert request.destination == "+15550109999"
    assert request.channel == "SIP/{number}@carrier"
    assert request.caller_id == '"Sales" <+15550100>'
    assert request.timeout == 45
    assert request.vars == {"order": "A-17", "amount": 12.5, "vip": True, "tries": 2}
    assert request.on_answer == OnAnswer(app="survey")
    assert request.callback == Callback("https://crm.example/RPC2", "calls.event")
    assert request.amd is True
    assert request.asterisk == "pbx2"


def test_a_call_takes_its_defaults_from_gtx_ini() -> None:
    request = v.call_request("0612345678", {}, TRUNK)
    assert (request.channel, request.timeout, request.amd, request.on_answer) == (
        "PJSIP/{number}@trunk", 30, False, None)
    assert v.call_request("5550100", {"caller_id": None}, TRUNK).caller_id is None


def test_a_call_needs_a_channel_from_the_options_or_gtx_ini() -> None:
    field, problem = refused(v.call_request, "5550100", {}, NO_CHANNEL)
    assert field == "options.channel"
    assert "PJSIP/{number}@trunk" in problem
    assert "[dialer] channel" in problem


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"timeout": 0}, "options.timeout", "an int from 1 to 600"),
    ({"timeout": 601}, "options.timeout", "got 601"),
    ({"timeout": "30"}, "options.timeout", "got '30'"),
    ({"timeout": True}, "options.timeout", "got true"),
    ({"timout": 30}, "options.timout", "did you mean 'timeout'?"),
    ({"channel": "PJSIP/5550100"}, "options.channel", "with {number}"),
    ({"channel": "PJSIP/{number}\r\nAction: Logoff"}, "options.channel", "control characters"),
    ({"channel": "PJSIP/{number}{x}"}, "options.channel", "with {number}"),
    ({"caller_id": "x\ny"}, "options.caller_id", "control characters"),
    ({"vars": {"1st": "x"}}, "options.vars.1st", "variable name"),
    ({"vars": {"a": {"b": 1}}}, "options.vars.a", "got a struct"),
    ({"vars": {"a": [1]}}, "options.vars.a", "got an array"),
    ({"vars": []}, "options.vars", "a struct of variables"),
    ({"on_answer": {}}, "options.on_answer", "exactly one of {app} | {url, method}"),
    ({"on_answer": {"app": "menu", "queue": "sales"}}, "options.on_answer", "got app, queue"),
    ({"on_answer": {"url": "http://ivr.example/RPC2"}}, "options.on_answer", "got url"),
    ({"on_answer": {"app": "menus"}}, "options.on_answer.app", "configured apps: menu, survey"),
    ({"on_answer": {"aplication": "menu"}}, "options.on_answer.aplication", "unknown key"),
    ({"on_answer": {"url": "file:///etc/passwd", "method": "m"}}, "options.on_answer.url",
     "http:// or https://"),
    ({"on_answer": {"context": "sales", "extension": "1 2"}}, "options.on_answer.extension",
     "a dialplan extension"),
    ({"callback": {"url": "http://crm.example/RPC2"}}, "options.callback.method", "missing"),
    ({"callback": {"url": "http://", "method": "m"}}, "options.callback.url", "http://"),
    ({"callback": {"url": "http://crm:99999/", "method": "m"}}, "options.callback.url", "URL"),
    ({"callback": "http://crm.example"}, "options.callback", "expected a struct"),
    ({"amd": 1}, "options.amd", "a boolean"),
    ({"asterisk": "pbx3"}, "options.asterisk", "configured servers: pbx1, pbx2"),
])
def test_call_options_faults_name_the_field(options: dict, field: str, words: str) -> None:
    got_field, problem = refused(v.call_request, "5550100", options, TRUNK, KNOWN)
    assert got_field == field
    assert words in f"{field}: {problem}"


# ------------------------------------------------------------------- scheduled dialer.call


@pytest.mark.parametrize(("at", "epoch"), [
    ("2026-11-21T09:30:00Z", 1_795_253_400.0),
    ("2026-11-21T10:30:00+01:00", 1_795_253_400.0),
    ("2026-11-21T09:30:00.500+00:00", 1_795_253_400.5),
    (datetime(2026, 11, 21, 9, 30), 1_795_253_400.0),  # dateTime.iso8601: read as UTC
])
def test_a_call_at_a_time(at: object, epoch: float) -> None:
    request = v.call_request("5550100", {"at": at}, TRUNK)
    assert (request.not_before, request.delay) == (epoch, None)


def test_a_call_after_a_delay() -> None:
    request = v.call_request("5550100", {"delay": 3600}, TRUNK)
    assert (request.not_before, request.delay) == (None, 3600.0)
    assert v.call_request("5550100", {"delay": 0.5}, TRUNK).delay == 0.5


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"at": "2026-11-21T09:30:00"}, "options.at", "has no time zone: add Z"),
    ({"at": "tomorrow"}, "options.at", "an ISO 8601 string with a time zone"),
    ({"at": 1795253400}, "options.at", "a dateTime.iso8601"),
    ({"at": ""}, "options.at", "got an empty string"),
    ({"delay": "3600"}, "options.delay", "a number of seconds from 0 to 2592000 (30 days)"),
    ({"delay": -5}, "options.delay", "(30 days), got -5"),
    ({"delay": 31 * 86400}, "options.delay", "got 2678400"),
    ({"delay": True}, "options.delay", "a number"),
    ({"delay": 60, "at": "2026-11-21T09:30:00Z"}, "options.delay", "either at or delay"),
])
def test_scheduled_call_faults_name_the_field(options: dict, field: str, words: str) -> None:
    got_field, problem = refused(v.call_request, "5550100", options, TRUNK)
    assert got_field == field
    assert words in f"{field}: {problem}"


NOW = 1_795_253_400.0


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, None),
    ({"delay": 90.0}, NOW + 90),
    ({"not_before": NOW + 3600}, NOW + 3600),
    ({"not_before": NOW - 59}, NOW - 59),  # within the tolerance: dialled at once
    ({"not_before": NOW + 30 * 86400}, NOW + 30 * 86400),
])
def test_scheduled_settles_the_time_against_now(changes: dict, expected: float | None) -> None:
    request = replace(v.call_request("5550100", {}, TRUNK), **changes)
    settled = scheduled(request, NOW)
    assert (settled.not_before, settled.delay) == (expected, None)


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"not_before": NOW - 61}, "options.at", "2026-11-21T09:28:59Z is in the past (now: "
                                             "2026-11-21T09:30:00Z)"),
    ({"not_before": NOW + 30 * 86400 + 1}, "options.at", "more than 30 days ahead"),
    ({"delay": -1.0}, "options.delay", "from 0 to 2592000 (30 days), got -1.0"),
    ({"delay": 1.0, "not_before": NOW}, "options.delay", "either at or delay"),
])
def test_scheduled_refuses_times_out_of_range(changes: dict, field: str, words: str) -> None:
    request = replace(v.call_request("5550100", {}, TRUNK), **changes)
    got_field, problem = refused(scheduled, request, NOW)
    assert got_field == field
    assert words in problem


def test_options_must_be_a_struct() -> None:
    assert refused(v.call_request, "5550100", ["timeout"], TRUNK) == (
        "options", "expected a struct, got an array")


@pytest.mark.parametrize(("sent", "normalised"), [
    ("+33 1 23 45 67 89", "+33123456789"), ("555-0100", "5550100"), ("(555) 010.0100",
                                                                     "5550100100"),
    ("112", "112"), ("+" + "9" * 20, "+" + "9" * 20), (5550100, "5550100"),
])
def test_phone_numbers_are_normalised(sent: object, normalised: str) -> None:
    assert v.call_request(sent, {}, TRUNK).destination == normalised


@pytest.mark.parametrize(("sent", "words"), [
    ("12", "2 digits; a phone number has 3 to 20"), ("9" * 21, "21 digits"),
    ("555-CALL-NOW", "digits only"), ("++33123", "digits only"), ("", "digits only"),
    ("123#", "digits only"), (None, "a phone number string"), (["5550100"], "got an array"),
    (True, "got true"), (-5, "got -5"),
])
def test_bad_phone_numbers(sent: object, words: str) -> None:
    field, problem = refused(v.call_request, sent, {}, TRUNK)
    assert field == "destination"
    assert words in problem


def test_asterisk_without_any_configured_server() -> None:
    assert refused(v.call_request, "5550100", {"asterisk": "pbx1"}, TRUNK)[1].endswith(
        "no server is configured")


def test_url_apps_may_be_forbidden() -> None:
    closed = v.Configured(url_apps=False)
    field, problem = refused(v.call_request, "5550100", {
        "on_answer": {"url": "http://ivr/RPC2", "method": "m"}}, TRUNK, closed)
    assert field == "options.on_answer.url"
    assert "allow_url_apps" in problem


# ------------------------------------------------------------------------------- campaigns


def test_a_broadcast_campaign_with_its_defaults() -> None:
    spec = v.campaign_spec(BROADCAST, TRUNK, configured=KNOWN)
    assert spec.mode is CampaignMode.BROADCAST
    assert spec.channel == "PJSIP/{number}@trunk"
    assert (spec.timeout, spec.abandon_target, spec.max_attempts) == (30, 0.03, 3)
    assert spec.windows == DEFAULT_WINDOWS
    assert spec.timezone == "UTC"


def test_a_predictive_campaign_with_every_key() -> None:
    spec = v.campaign_spec({
        "name": "Renewals", "mode": "predictive", "channel": "PJSIP/{number}@out",
        "caller_id": "+15550100", "max_concurrent": 50, "max_cps": 2.5, "ratio": 2,
        "abandon_target": 0.02, "queue": "sales", "timeout": 25, "amd": True,
        "retry": {"busy": {"attempts": 3, "delay": 300}, "no_answer": {"attempts": 2,
                                                                        "delay": 3600}},
        "max_attempts": 4,
        "windows": [{"days": "mon-fri", "start": "09:00", "end": "20:00"},
                    {"days": "sat", "start": "10:00", "end": "13:00"}],
        "timezone": "America/New_York", "callback": {"url": "http://crm/RPC2", "method": "ev"},
        "priority": 5, "asterisk": "pbx1",
    }, NO_CHANNEL, configured=KNOWN)
    assert spec.mode is CampaignMode.PREDICTIVE
    assert (spec.max_cps, spec.ratio, spec.abandon_target) == (2.5, 2.0, 0.02)
    assert spec.retry == {Outcome.BUSY: RetryRule(3, 300), Outcome.NO_ANSWER: RetryRule(2, 3600)}
    assert spec.windows == (Window(frozenset(range(5)), time(9), time(20)),
                            Window(frozenset({5}), time(10), time(13)))
    assert (spec.queue, spec.timezone, spec.priority, spec.asterisk) == (
        "sales", "America/New_York", 5, "pbx1")


@pytest.mark.parametrize(("days", "expected"), [
    ("mon-fri", {0, 1, 2, 3, 4}), ("sat,sun", {5, 6}), ("mon-wed,fri", {0, 1, 2, 4}),
    ("Fri-Mon", {4, 5, 6, 0}), ("sun", {6}), ("mon-sun", set(range(7))),
])
def test_days_of_windows(days: str, expected: set[int]) -> None:
    spec = v.campaign_spec({**BROADCAST, "windows": [{"days": days, "start": "08:00",
                                                      "end": "09:30"}]}, TRUNK)
    assert spec.windows[0].days == frozenset(expected)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"name": None}, "spec.name", "missing"),
    ({"mode": "broadcst"}, "spec.mode", "did you mean 'broadcast'?"),
    ({"mode": "preview"}, "spec.queue", "required in preview mode"),
    ({"queue": "sales"}, "spec.queue", "broadcast campaigns have no agents"),
    ({"on_answer": None}, "spec.on_answer", "required in broadcast mode"),
    ({"mode": "progressive", "queue": "sales"}, "spec.on_answer", "not used in progressive"),
    ({"max_concurrent": 0}, "spec.max_concurrent", "from 1 to 10000"),
    ({"max_cps": 0}, "spec.max_cps", "more than 0"),
    ({"ratio": 0.5}, "spec.ratio", "from 1 to 10"),
    ({"abandon_target": 1.0}, "spec.abandon_target", "less than 1"),
    ({"abandon_target": 0}, "spec.abandon_target", "more than 0"),
    ({"timeout": 1000}, "spec.timeout", "from 1 to 600"),
    ({"retry": {"busy": {"attempts": 2}}}, "spec.retry.busy.delay", "missing"),
    ({"retry": {"bussy": {"attempts": 2, "delay": 1}}}, "spec.retry.bussy", "did you mean 'busy'"),
    ({"retry": {"answered": {"attempts": 2, "delay": 1}}}, "spec.retry.answered", "never retried"),
    ({"retry": {"busy": {"attempts": 9, "delay": 1}}}, "spec.retry.busy.attempts",
     "more than max_attempts (3)"),
    ({"retry": {"busy": {"attempts": 2, "delay": -1}}}, "spec.retry.busy.delay", "from 0"),
    ({"windows": []}, "spec.windows", "at least one window"),
    ({"windows": {"days": "mon"}}, "spec.windows", "expected an array"),
    ({"windows": [{"start": "09:00", "end": "20:00"}, {"start": "9h", "end": "10:00"}]},
     "spec.windows[1].start", "HH:MM"),
    ({"windows": [{"start": "09:00", "end": "24:00"}]}, "spec.windows[0].end", "23:59"),
    ({"windows": [{"start": "22:00", "end": "06:00"}]}, "spec.windows[0].end",
     "split it in two"),
    ({"windows": [{"start": "09:00", "end": "09:00"}]}, "spec.windows[0].end", "not after"),
    ({"windows": [{"days": "mon-fry", "start": "09:00", "end": "10:00"}]},
     "spec.windows[0].days", "'mon-fry' is not a day"),
    ({"windows": [{"days": "", "start": "09:00", "end": "10:00"}]}, "spec.windows[0].days",
     "empty"),
    ({"windows": [{"start": "09:00"}]}, "spec.windows[0].end", "missing"),
    ({"windows": [{"start": "09:00", "end": "10:00", "tz": "UTC"}]}, "spec.windows[0].tz",
     "unknown key"),
    ({"timezone": "Europe/Pari"}, "spec.timezone", "did you mean 'Europe/Paris'?"),
    ({"timezone": "../../etc/passwd"}, "spec.timezone", "unknown time zone"),
    ({"priority": 5000}, "spec.priority", "from -1000 to 1000"),
    ({"max_attempt": 3}, "spec.max_attempt", "did you mean 'max_attempts'?"),
    ({"asterisk": "pbx9"}, "spec.asterisk", "configured servers"),
    ({"name": "x" * 101}, "spec.name", "at most 100"),
])
def test_campaign_faults_name_the_field(change: dict, field: str, words: str) -> None:
    spec = {key: value for key, value in {**BROADCAST, **change}.items() if value is not None}
    got_field, problem = refused(v.campaign_spec, spec, TRUNK, configured=KNOWN)
    assert got_field == field
    assert words in problem


def test_a_spec_must_be_a_struct() -> None:
    assert refused(v.campaign_spec, "broadcast", TRUNK) == ("spec",
                                                            "expected a struct, got 'broadcast'")


def test_an_update_changes_only_the_keys_given() -> None:
    base = v.campaign_spec({**BROADCAST, "caller_id": "+15550100", "max_cps": 3}, TRUNK)
    updated = v.campaign_spec({"max_cps": 5, "caller_id": None}, TRUNK, partial=True, base=base)
    assert updated.max_cps == 5.0
    assert updated.caller_id is None  # nil: back to the default
    assert (updated.name, updated.on_answer) == (base.name, base.on_answer)


def test_an_update_is_checked_as_a_whole() -> None:
    base = v.campaign_spec(BROADCAST, TRUNK)
    assert refused(v.campaign_spec, {"mode": "power"}, TRUNK, partial=True, base=base)[0] == (
        "spec.queue")
    moved = v.campaign_spec({"mode": "power", "queue": "sales", "on_answer": None}, TRUNK,
                            partial=True, base=base)
    assert (moved.mode, moved.queue, moved.on_answer) == (CampaignMode.POWER, "sales", None)
    assert refused(v.campaign_spec, {"name": None}, TRUNK, partial=True, base=base) == (
        "spec.name", "cannot be reset to nil: give a value")


# -------------------------------------------------------------------------------- contacts


def test_contacts_are_sorted_into_valid_and_rejected() -> None:
    batch = v.contacts([
        "+15550100",
        {"number": "555 0101", "timezone": "Europe/Paris", "vars": {"name": "Ann"},
         "priority": 2},
        {"number": "12"},
        {"number": "5550102", "timezone": "Mars/Olympus"},
        {"numbr": "5550103"},
        {"number": "5550104", "vars": {"bad name": 1}},
        42.5,
        {"number": "5550105", "priority": "high"},
    ])
    assert [c.number for c in batch.valid] == ["+15550100", "5550101"]
    assert batch.valid[1].timezone == "Europe/Paris"
    assert batch.valid[1].vars == {"name": "Ann"}
    assert batch.valid[1].priority == 2
    assert batch.indexes == [0, 1]
    reasons = dict(batch.rejected)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert reasons[2].startswith("number: '12' is not a phone number")
    assert reasons[3].startswith("timezone: unknown time zone 'Mars/Olympus'")
    assert reasons[4].startswith("numbr: unknown key (did you mean 'number'?)")
    assert reasons[5].startswith("vars.bad name: a variable name")
    assert reasons[6].startswith("contact: expected a struct")
    assert reasons[7].startswith("priority: expected an int")


def test_contacts_must_be_an_array_of_bounded_size() -> None:
    assert refused(v.contacts, {"number": "5550100"})[0] == "contacts"
    field, problem = refused(v.contacts, ["5550100"] * (v.MAX_BATCH + 1))
    assert field == "contacts"
    assert "at most 10000 per call" in problem


def test_dnc_numbers_fault_on_the_first_bad_one() -> None:
    assert v.numbers(["+1 555 0100", "5550101"]) == ["+15550100", "5550101"]
    assert refused(v.numbers, ["5550100", "x"])[0] == "numbers[1]"
    assert refused(v.numbers, "5550100")[0] == "numbers"


@pytest.mark.parametrize(("func", "value", "field"), [
    (v.campaign_id, 0, "campaign_id"), (v.campaign_id, "3", "campaign_id"),
    (v.contact_id, -1, "contact_id"), (v.call_id, "a b", "call_id"),
    (v.call_id, "", "call_id"), (v.agent, "alice\n", "agent"),
])
def test_ids(func, value: object, field: str) -> None:
    assert refused(func, value)[0] == field


def test_good_ids() -> None:
    assert v.campaign_id(12) == 12
    assert v.call_id("0b6f0e1c-3a6d-4f36-b8a3-5f7c1f7d0a11") == (
        "0b6f0e1c-3a6d-4f36-b8a3-5f7c1f7d0a11")
    assert v.agent("PJSIP/1001") == "PJSIP/1001"
