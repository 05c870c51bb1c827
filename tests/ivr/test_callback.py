"""The ``callback`` action: what it asks the dialer, its result fields, and its failures."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from gtx.channel import CallInfo
from gtx.errors import Conflict, InvalidArgument
from gtx.ivr.actions.callback import utc_text
from tests.ivr.conftest import Harness
from tests.ivr.fakes import FakeScheduler
from tests.ivr.test_validation import invalid

T0 = 1_795_253_400.0  # 2026-11-21T09:30:00Z


@pytest.fixture
def ivr(ivr: Harness) -> Harness:
    ivr.clock.advance(T0)
    return ivr


def scheduler(ivr: Harness) -> FakeScheduler:
    assert ivr.callbacks is not None
    return ivr.callbacks


def test_call_back_the_caller_in_an_hour_into_this_app(ivr: Harness) -> None:
    outcome, _, result = ivr.one_step({"action": "callback", "delay": 3600, "name": "cb",
                                       "vars": {"topic": "billing", "tries": [1, 2]}})
    assert outcome.status == "DONE"
    ((number, at, app, values, caller_id),) = scheduler(ivr).scheduled
    assert (number, app, values, caller_id) == (
        "5551234", "menu", {"topic": "billing", "tries": [1, 2]}, None)
    assert T0 + 3600 <= at < T0 + 3601  # from when the action ran
    assert result["cb"] == {"action": "callback", "name": "cb", "status": "ok",
                            "call_id": "call-1", "number": "5551234", "at": utc_text(at)}


def test_call_back_another_number_at_a_time_into_another_app(ivr: Harness) -> None:
    _, _, result = ivr.one_step({"action": "callback", "number": "+1 (555) 01-00",
                                 "at": "2026-11-21T11:30:00+01:00", "app": "sales",
                                 "caller_id": '"Support" <+15550199>'})
    assert scheduler(ivr).scheduled == [
        ("+15550100", T0 + 3600, "sales", {}, '"Support" <+15550199>')]
    assert result["actions"][0] == {"action": "callback", "status": "ok", "call_id": "call-1",
                                    "number": "+15550100", "at": "2026-11-21T10:30:00.000Z"}


def test_at_as_a_datetime_is_utc(ivr: Harness) -> None:
    ivr.one_step({"action": "callback", "at": datetime.datetime(2026, 11, 21, 12, 0)})
    assert scheduler(ivr).scheduled[0][1] == T0 + 9000


def test_a_url_app_is_called_back_into_its_web_service(ivr: Harness) -> None:
    ivr.answer("shop.start", {"actions": [{"action": "callback", "delay": 60}],
                              "next": "shop.two"})
    ivr.answer("shop.two", {})
    query = {"url": "https://shop.example/rpc", "method": "shop.start"}
    channel = ivr.channel(info=CallInfo(channel="PJSIP/bob-1", uniqueid="1.2", script="ivr",
                                        caller_number="5550123", query=query))
    assert ivr.run(channel).status == "DONE"
    ((number, _, app, _, _),) = scheduler(ivr).scheduled
    assert (number, app) == ("5550123", ("https://shop.example/rpc", "shop.start"))


def test_without_a_dialer_the_action_fails_and_the_session_goes_on(ivr: Harness) -> None:
    ivr.callbacks = None
    outcome, _, result = ivr.one_step({"action": "callback", "delay": 60},
                                      {"action": "play", "files": "bye"})
    assert outcome.status == "DONE"
    first, second = result["actions"]
    assert first["status"] == "failed"
    assert first["error"].startswith("no dialer on this node")
    assert "call_id" not in first
    assert second["status"] == "ok"


@pytest.mark.parametrize(("error", "message"), [
    (Conflict("no [dialer] channel in gtx.ini"), "no [dialer] channel in gtx.ini"),
    (InvalidArgument("options.at", "in the past"), "options.at: in the past"),
    (RuntimeError("database is locked"), "the dialer failed: database is locked"),
])
def test_a_refusal_of_the_dialer_is_the_error(ivr: Harness, error: Exception,
                                              message: str) -> None:
    scheduler(ivr).refuse = error
    _, _, result = ivr.one_step({"action": "callback", "delay": 60, "name": "cb"})
    assert result["cb"] == {"action": "callback", "name": "cb", "status": "failed",
                            "error": message}


@pytest.mark.parametrize(("caller", "words"), [
    ("", "the caller's number (unknown) cannot be called back: give number"),
    ("anonymous", "the caller's number (anonymous) cannot be called back"),
])
def test_a_caller_without_a_number_needs_one_given(ivr: Harness, caller: str,
                                                   words: str) -> None:
    channel_info = CallInfo(channel="PJSIP/x-1", uniqueid="1.3", script="menu",
                            caller_number=caller)
    _, _, result = ivr.one_step({"action": "callback", "delay": 60}, info=channel_info)
    assert result["actions"][0]["status"] == "failed"
    assert words in result["actions"][0]["error"]
    assert scheduler(ivr).scheduled == []


@pytest.mark.parametrize(("at", "words"), [
    ("2026-11-21T09:00:00Z", "at: 2026-11-21T09:00:00.000Z is in the past (now: "),
    ("2026-12-22T09:30:00Z", "at: 2026-12-22T09:30:00.000Z is more than 30 days ahead"),
])
def test_times_out_of_range_fail(ivr: Harness, at: str, words: str) -> None:
    _, _, result = ivr.one_step({"action": "callback", "at": at})
    assert result["actions"][0]["status"] == "failed"
    assert result["actions"][0]["error"].startswith(words)
    assert scheduler(ivr).scheduled == []


def test_a_time_just_past_calls_back_at_once(ivr: Harness) -> None:
    _, _, result = ivr.one_step({"action": "callback", "at": "2026-11-21T09:29:30Z"})
    assert result["actions"][0]["status"] == "ok"
    assert scheduler(ivr).scheduled[0][1] == T0 - 30


@pytest.mark.parametrize(("action", "message"), [
    ({}, "actions[0]: expected exactly one of delay (seconds from now) and at (a time)"),
    ({"delay": 60, "at": "2026-11-21T10:00:00Z"}, "actions[0]: expected exactly one of"),
    ({"delay": -1}, "actions[0].delay: expected a number of seconds from 0 to 2592000"),
    ({"delay": 2592001}, "actions[0].delay: expected a number of seconds from 0 to 2592000"),
    ({"delay": "60"}, "actions[0].delay: expected a number of seconds"),
    ({"at": "2026-11-21T10:00:00"}, "actions[0].at: '2026-11-21T10:00:00' has no time zone"),
    ({"at": "in an hour"}, "actions[0].at: expected an ISO 8601 time with a time zone"),
    ({"at": 1795257000}, "actions[0].at: expected an ISO 8601 time with a time zone"),
    ({"delay": 60, "number": "12"}, "actions[0].number: expected a phone number: 3 to 20 "
                                    "digits, optionally after a +, got '12'"),
    ({"delay": 60, "app": "billing"}, "actions[0].app: expected a configured app (configured: "
                                      "menu, sales), got 'billing'"),
    ({"delay": 60, "vars": {"1st": "x"}}, "actions[0].vars.1st: expected a variable name"),
    ({"delay": 60, "vars": {"when": datetime.datetime(2026, 1, 1)}},
     "actions[0].vars.when: expected a string, number, boolean, array or struct"),
    ({"delay": 60, "vars": {"big": "x" * 2000}}, "actions[0].vars: 2014 bytes as JSON"),
    ({"delay": 60, "vars": "topic"}, "actions[0].vars: expected a struct"),
    ({"delay": 60, "caller_id": "a,b"}, "actions[0].caller_id: expected a caller id"),
    ({"delay": 60, "url": "http://x/"}, "actions[0].url: unknown parameter (known: action, "
                                        "app, at, caller_id, delay, name, number, vars)"),
])
def test_invalid_callbacks_are_refused_naming_the_field(ivr: Harness, action: dict[str, Any],
                                                        message: str) -> None:
    error = invalid(ivr, {"actions": [{"action": "callback", **action}]})
    assert error.startswith(message)
    assert scheduler(ivr).scheduled == []
