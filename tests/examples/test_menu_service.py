"""examples/menu_service.py, called over XML-RPC the way gtx calls it, through every branch."""

from __future__ import annotations

import signal
import subprocess
import sys
import xmlrpc.client
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.examples.conftest import (
    Call,
    action_result,
    kinds,
    load_example,
    make_request,
    read_result,
    step_result,
)

menu_service = load_example("menu_service")


@pytest.fixture
def service() -> Any:
    return menu_service.MenuService()


@pytest.fixture
def proxy(serve, service) -> xmlrpc.client.ServerProxy:
    return serve(menu_service.build_server(port=0, service=service))


@pytest.fixture
def call(proxy) -> Call:
    return Call(proxy, "menu", "menu.start")


def test_start_answers_welcomes_and_reads_one_digit(call: Call) -> None:
    response = call.step()
    assert kinds(response) == ["answer", "play", "read"]
    assert response["actions"][1]["files"] == ["welcome"]
    read = response["actions"][2]
    assert read["name"] == "choice"
    assert read["max_digits"] == 1
    assert read["pattern"] == "[120]"
    assert read["invalid_prompt"] == ["option-is-invalid"]
    assert read["timeout_prompt"] == ["please-try-again"]
    assert read["prompt"][:3] == ["for", "sales", "press-1"]
    assert response["next"] == "menu.choice"
    assert response["vars"] == {"level": "main", "retries": 0}


def test_one_transfers_to_sales(call: Call) -> None:
    call.step()
    response = call.step(read_result("choice", "1"))
    assert kinds(response) == ["play", "transfer"]  # transfer must be the last action
    assert response["actions"][1] == {
        "action": "transfer",
        "context": "gtx-examples",
        "extension": "sales",
    }
    assert call.next is None


def test_two_opens_the_support_menu_and_star_goes_back(call: Call) -> None:
    call.step()
    response = call.step(read_result("choice", "2"))
    assert kinds(response) == ["play", "read"]
    assert response["actions"][0]["files"] == ["support"]
    assert response["actions"][1]["pattern"] == "[1*]"
    assert call.vars == {"level": "support", "retries": 0}
    response = call.step(read_result("choice", "*"))
    assert kinds(response) == ["read"]
    assert response["actions"][0]["pattern"] == "[120]"
    assert call.vars["level"] == "main"


def test_support_one_waits_in_the_queue(call: Call) -> None:
    call.step()
    call.step(read_result("choice", "2"))
    response = call.step(read_result("choice", "1"))
    assert response["actions"] == [
        {"action": "queue", "name": "support", "queue": "support", "timeout": 300}
    ]
    assert call.next == "menu.after_call"
    missed = call.step(step_result(action_result("queue", queuestatus="TIMEOUT")))
    assert kinds(missed) == ["play", "hangup"]
    assert missed["actions"][0]["files"] == ["nbdy-avail-to-take-call", "goodbye"]


def test_queue_answered_by_an_agent_just_ends(call: Call) -> None:
    call.next = "menu.after_call"
    response = call.step(step_result(action_result("queue", queuestatus="CONTINUE")))
    assert response == {"actions": [{"action": "hangup"}]}


def test_zero_dials_the_operator(call: Call) -> None:
    call.step()
    response = call.step(read_result("choice", "0"))
    assert response["actions"] == [
        {"action": "dial", "target": "Local/operator@gtx-examples", "timeout": 30}
    ]
    assert call.next == "menu.after_call"
    answered = action_result("dial", dialstatus="ANSWER", answered_seconds=42, dialed_seconds=50)
    assert kinds(call.step(step_result(answered))) == ["hangup"]


def test_operator_not_answering_gets_an_apology(call: Call) -> None:
    call.next = "menu.after_call"
    failed = action_result("dial", "failed", dialstatus="NOANSWER", answered_seconds=0)
    response = call.step(step_result(failed))
    assert kinds(response) == ["play", "hangup"]
    assert response["actions"][0]["files"][0] == "nbdy-avail-to-take-call"
    assert call.next is None


@pytest.mark.parametrize("status", ["invalid", "timeout"])
def test_failed_reads_are_retried_then_the_caller_is_let_go(call: Call, status: str) -> None:
    call.step()
    digits = "7" if status == "invalid" else ""
    for retries in (1, 2):
        response = call.step(read_result("choice", digits, status, attempts=2))
        assert kinds(response) == ["read"]
        assert call.vars == {"level": "main", "retries": retries}
    response = call.step(read_result("choice", digits, status, attempts=2))
    assert kinds(response) == ["play", "hangup"]
    assert response["actions"][0]["files"] == ["goodbye"]
    assert call.next is None


def test_retry_stays_on_the_support_menu_and_a_good_choice_resets_it(call: Call) -> None:
    call.step()
    call.step(read_result("choice", "2"))
    response = call.step(read_result("choice", "", "timeout"))
    assert response["actions"][0]["pattern"] == "[1*]"
    assert call.vars == {"level": "support", "retries": 1}
    call.step(read_result("choice", "*"))
    assert call.vars == {"level": "main", "retries": 0}


def test_caller_gone_during_the_read_ends_the_session(call: Call) -> None:
    call.step()
    assert call.step(read_result("choice", "", "hangup")) == {}
    assert call.next is None


def test_a_resumed_step_gets_the_same_answer(proxy) -> None:
    vars_ = {"level": "main", "retries": 1}
    result = read_result("choice", "2")
    first = proxy.menu.choice(make_request(3, app="menu", vars=vars_, result=result))
    again = make_request(3, app="menu", vars=vars_, result=read_result("choice", "2"), resumed=True)
    again["result"]["status"] = "resumed"
    assert proxy.menu.choice(again) == first


def test_hangup_method_records_the_end(proxy, service) -> None:
    request = make_request(4, app="menu", vars={"level": "support", "retries": 0})
    request["result"] = {"status": "hangup", "actions": []}
    assert proxy.menu.hangup(request) == {}
    assert service.ended_calls == [
        {"session": "1795304604.1", "step": 4, "level": "support", "status": "hangup"}
    ]


def garbage_requests() -> list[tuple[str, Any, str]]:
    good = make_request(2, app="menu", vars={"level": "main", "retries": 0})
    good["result"] = read_result("choice", "1")

    def changed(**fields: Any) -> dict[str, Any]:
        return {**good, **fields}

    return [
        ("menu.start", "not a struct", "request: expected a struct, got str"),
        ("menu.start", {"step": 1, "vars": {}, "result": {}}, "request.session: expected str"),
        ("menu.start", changed(step="abc"), "request.step: expected int, got 'abc'"),
        ("menu.start", changed(step=True), "request.step: expected int, got True"),
        ("menu.start", changed(step=0), "request.step: expected 1 or more"),
        ("menu.choice", changed(vars=[]), "request.vars: expected dict"),
        ("menu.choice", changed(vars={"level": "attic", "retries": 0}), "vars.level"),
        ("menu.choice", changed(vars={"level": "main"}), "vars.retries: expected int"),
        ("menu.choice", changed(result={"status": "ok"}), "result.choice: expected dict"),
        ("menu.after_call", changed(result={"actions": []}), "result.actions"),
        (
            "menu.after_call",
            changed(result=step_result(action_result("play"))),
            "expected dial or queue",
        ),
    ]


@pytest.mark.parametrize(("method", "request_", "message"), garbage_requests())
def test_garbage_gets_a_fault(proxy, method: str, request_: Any, message: str) -> None:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        getattr(proxy, method)(request_)
    assert caught.value.faultCode == menu_service.INVALID_REQUEST
    assert message in caught.value.faultString


def test_methods_are_listed(proxy) -> None:
    methods = set(proxy.system.listMethods())
    assert {"menu.start", "menu.choice", "menu.after_call", "menu.hangup"} <= methods


def test_the_script_serves_from_the_command_line() -> None:
    script = ROOT / "examples" / "menu_service.py"
    with subprocess.Popen(
        [sys.executable, "-u", str(script), "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            banner = process.stdout.readline()
            assert banner.startswith("menu service on http://127.0.0.1:")
            with xmlrpc.client.ServerProxy(banner.split()[-1], allow_none=True) as proxy:
                response = proxy.menu.start(make_request(1, app="menu"))
            assert response["next"] == "menu.choice"
        finally:
            process.send_signal(signal.SIGINT)  # the script stops cleanly on Ctrl-C
            assert process.wait(timeout=10) == 0
