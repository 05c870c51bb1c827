"""The engine: apps, resume, hand-over, metrics, logging, shutdown."""

from __future__ import annotations

import json
from typing import Any

from twisted.logger import globalLogPublisher

from gtx.channel import CallInfo
from tests.ivr.conftest import URL, Harness
from tests.ivr.fakes import Delay, drive

RUNNING_STATE = {
    "GTX_STATUS": "RUNNING", "GTX_SESSION": "abc", "GTX_APP": "menu", "GTX_STEP": "4",
    "GTX_NEXT": json.dumps({"url": URL, "method": "menu.four"}),
    "GTX_VARS": json.dumps({"lang": "fr"}),
    "GTX_RESULT": json.dumps({"status": "ok", "actions": [], "digits": "7"}),
}


def info(script: str, **changes: Any) -> CallInfo:
    return CallInfo(**{"channel": "PJSIP/bob-1", "uniqueid": "1.2", "script": script, **changes})


def test_resume_from_the_channel_state(ivr: Harness) -> None:
    ivr.answer("menu.four", {"actions": [{"action": "answer"}], "next": "menu.five"})
    ivr.answer("menu.five", {})
    channel = ivr.channel(variables=RUNNING_STATE)
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    assert outcome.session == "abc"
    first, second = (c.request for c in ivr.ws.calls)
    assert (first["session"], first["step"], first["resumed"]) == ("abc", 4, True)
    assert first["vars"] == {"lang": "fr"}
    assert first["result"] == {"status": "resumed", "actions": [], "digits": "7"}
    assert (second["step"], second["resumed"], second["result"]["status"]) == (5, False, "ok")
    # Nothing is rewritten on resume before the first step: the state is already there.
    assert next(c for c in channel.calls if c[0] == "set_variable")[1] != "GTX_SESSION"


def test_resume_accepts_a_bare_method_in_gtx_next(ivr: Harness) -> None:
    ivr.answer("menu.three", {})
    ivr.run(ivr.channel(variables={**RUNNING_STATE, "GTX_NEXT": "menu.three"}))
    assert (ivr.ws.calls[0].url, ivr.ws.calls[0].method) == (URL, "menu.three")


def test_resume_with_broken_state_is_an_internal_error(ivr: Harness) -> None:
    channel = ivr.channel(variables={**RUNNING_STATE, "GTX_VARS": "{oops"})
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert channel.variables["GTX_ERROR"].startswith(
        "internal: cannot resume the session on the channel: GTX_VARS is not valid JSON"
    )
    assert ivr.ws.calls == []


def test_finished_session_on_the_channel_starts_a_new_one(ivr: Harness) -> None:
    ivr.answer("menu.start", {})
    channel = ivr.channel(variables={**RUNNING_STATE, "GTX_STATUS": "ERROR",
                                     "GTX_ERROR": "webservice_timeout: x"})
    ivr.run(channel)
    assert ivr.ws.calls[0].request["step"] == 1
    assert ivr.ws.calls[0].request["session"] == "s1"
    assert channel.variables["GTX_ERROR"] == ""


def test_iax2_hand_over_continues_the_session(ivr: Harness) -> None:
    # As set by Set(IAXVAR(GTX_…)=…) on the Asterisk that handed the call over.
    iax = {"${IAXVAR(GTX_SESSION)}": "1795304604.1",
           "${IAXVAR(GTX_VARS)}": '{"visits": 2, "lang": "en"}',
           "${IAXVAR(GTX_NEXT)}": "menu.three"}
    ivr.answer("menu.three", {})
    channel = ivr.channel(info=info("menu", channel="IAX2/gtxa-604"), full_variables=iax)
    ivr.run(channel)
    request = ivr.ws.calls[0].request
    # A hand-over runs the next step (a failover re-runs the step that was running).
    assert (request["session"], request["step"], request["resumed"]) == ("1795304604.1", 1, False)
    assert request["vars"] == {"visits": 2, "lang": "en"}
    assert channel.variables["GTX_SESSION"] == "1795304604.1"


def test_unknown_app(ivr: Harness) -> None:
    channel = ivr.channel(info=info("nope"))
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert channel.variables["GTX_STATUS"] == "ERROR"
    assert channel.variables["GTX_ERROR"] == (
        "unknown_app: no app named 'nope' is configured (configured: menu, sales)"
    )
    assert channel.methods() == ["stream", "hangup"]
    assert ivr.ws.calls == []
    assert ivr.metric("gtx_errors_total", kind="unknown_app") == 1


def test_url_app(ivr: Harness) -> None:
    ivr.answer("shop.start", {"actions": [{"action": "wait", "seconds": 1}], "next": "shop.two"})
    ivr.answer("shop.two", {})
    query = {"url": "https://shop.example/rpc", "method": "shop.start"}
    channel = ivr.channel(info=info("ivr", query=query, args=("first arg", "2")))
    assert ivr.run(channel).status == "DONE"
    first, second = ivr.ws.calls
    assert (first.url, first.method) == ("https://shop.example/rpc", "shop.start")
    assert first.request["app"] == "ivr"
    assert first.request["args"] == ["first arg", "2"]
    assert (second.url, second.method) == ("https://shop.example/rpc", "shop.two")


def test_url_app_refused_without_defaults(ivr: Harness) -> None:
    ivr.url_app_defaults = None
    channel = ivr.channel(info=info("ivr", query={"url": "http://x/", "method": "m"}))
    outcome = ivr.run(channel)
    assert outcome.error is not None
    assert outcome.error.startswith("unknown_app: no app named 'ivr'")


def test_url_app_needs_an_http_url(ivr: Harness) -> None:
    channel = ivr.channel(info=info("ivr", query={"url": "file:///etc/passwd", "method": "m"}))
    outcome = ivr.run(channel)
    assert outcome.error is not None
    assert outcome.error.startswith("unknown_app: ivr?url=…&method=… needs an http(s) url")


def test_metrics(ivr: Harness) -> None:
    ivr.answer("menu.start", Delay(0.2, {"next": "menu.two"}))
    ivr.answer("menu.two", Delay(0.3, {}))
    d = ivr.engine.run(ivr.channel())
    assert ivr.metric("gtx_ivr_active_sessions") == 1
    assert ivr.engine.active == 1
    drive(ivr.clock, d, step=0.1)
    assert ivr.metric("gtx_ivr_active_sessions") == 0
    assert ivr.metric("gtx_ivr_sessions_total", app="menu", status="DONE") == 1
    assert ivr.metric("gtx_ivr_steps_total", app="menu") == 2
    assert ivr.metric("gtx_webservice_latency_seconds_count", app="menu") == 2
    assert 0.45 <= ivr.metric("gtx_webservice_latency_seconds_sum", app="menu") <= 0.75


def test_every_log_line_of_a_session_carries_its_id(ivr: Harness) -> None:
    ivr.answer("menu.start", {"next": "menu.two"})
    ivr.answer("menu.two", {})
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        ivr.run(ivr.channel())
    finally:
        globalLogPublisher.removeObserver(events.append)
    mine = [e for e in events if e.get("log_namespace") == "gtx.ivr"]
    assert len(mine) >= 4  # started, step 1, step 2, ended
    assert all(e["session"] == "s1" and e["log_format"].startswith("[{session}] ") for e in mine)


def test_stop_accepting_refuses_without_touching_the_channel(ivr: Harness) -> None:
    ivr.engine.stop_accepting()
    channel = ivr.channel(variables={"GTX_STATUS": "RUNNING"})
    outcome = ivr.run(channel)
    assert outcome.status == "REFUSED"
    assert channel.calls == []
    assert ivr.ws.calls == []
    assert ivr.metric("gtx_ivr_sessions_total", app="menu", status="REFUSED") == 1


def test_drain_waits_for_running_sessions(ivr: Harness) -> None:
    ivr.answer("menu.start", Delay(2, {}))
    session = ivr.engine.run(ivr.channel())
    drained = ivr.engine.drain(10)
    assert not ivr.engine.accepting
    assert not drained.called
    ivr.clock.advance(1)
    assert not drained.called
    drive(ivr.clock, session)
    assert drained.called
    assert drained.result is True


def test_drain_gives_up_after_its_timeout(ivr: Harness) -> None:
    ivr.answer("menu.start", Delay(4, {"actions": [{"action": "wait", "seconds": 100}]}))
    ivr.engine.run(ivr.channel())
    drained = ivr.engine.drain(2)
    ivr.clock.advance(2)
    assert drained.called
    assert drained.result is False
    assert ivr.engine.active == 1


def test_drain_with_nothing_running(ivr: Harness) -> None:
    d = ivr.engine.drain(5)
    assert d.called
    assert d.result is True


def test_new_session_writes_only_its_id_app_and_status_before_step_one(ivr: Harness) -> None:
    ivr.answer("menu.start", {})
    channel = ivr.channel()
    ivr.run(channel)
    writes = [c[1] for c in channel.calls if c[0] == "set_variable"]
    first_step = writes[: writes.index("GTX_STATUS") + 1]
    assert first_step == ["GTX_SESSION", "GTX_APP", "GTX_STATUS"]


def test_session_lost_during_step_one_resumes_at_its_start(ivr: Harness) -> None:
    # What a node that died during step 1 leaves: only the id, the app and the status.
    ivr.answer("menu.start", {})
    channel = ivr.channel(variables={"GTX_SESSION": "abc", "GTX_APP": "menu",
                                     "GTX_STATUS": "RUNNING"})
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    (call,) = ivr.ws.calls
    assert (call.url, call.method) == (URL, "menu.start")
    assert (call.request["session"], call.request["step"]) == ("abc", 1)
    assert call.request["resumed"] is True
    assert call.request["vars"] == {}


def test_prepared_session_starts_with_the_vars_on_the_channel(ivr: Harness) -> None:
    # What the dialer sets on a call it hands to an IVR app.
    ivr.answer("menu.start", {"vars": {"seen": True}, "next": "menu.two"})
    ivr.answer("menu.two", {})
    channel = ivr.channel(variables={"GTX_STATUS": "READY",
                                     "GTX_VARS": '{"campaign_id": 7, "name": "Ann"}'})
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    first, second = (c.request for c in ivr.ws.calls)
    assert (first["step"], first["resumed"]) == (1, False)
    assert first["vars"] == {"campaign_id": 7, "name": "Ann"}
    assert second["vars"] == {"campaign_id": 7, "name": "Ann", "seen": True}
    assert json.loads(channel.variables["GTX_VARS"]) == second["vars"]


def test_prepared_session_with_broken_vars_is_an_error(ivr: Harness) -> None:
    channel = ivr.channel(variables={"GTX_STATUS": "READY", "GTX_VARS": "[1, 2]"})
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert channel.variables["GTX_ERROR"].startswith(
        "internal: cannot start the prepared session: GTX_VARS is not a JSON object")
