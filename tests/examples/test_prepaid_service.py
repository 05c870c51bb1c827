"""examples/prepaid_service.py, called over XML-RPC the way gtx calls it, through every branch."""

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

prepaid = load_example("prepaid_service")


@pytest.fixture
def book() -> Any:
    return prepaid.AccountBook(
        [
            prepaid.Account("1001", "1234", 500),
            prepaid.Account("1002", "98765432", 75),
            prepaid.Account("1003", "4321", 5),
        ]
    )


@pytest.fixture
def proxy(serve, book) -> xmlrpc.client.ServerProxy:
    return serve(prepaid.build_server(port=0, accounts=book))


@pytest.fixture
def call(proxy) -> Call:
    return Call(proxy, "prepaid", "prepaid.start")


def said(response: dict[str, Any]) -> list[Any]:
    """What the caller hears, flattened: file names and the values said."""
    heard: list[Any] = []
    for action in response["actions"]:
        if action["action"] == "play":
            heard.extend(action["files"])
        elif action["action"] == "say":
            heard.append(action["value"])
    return heard


def logged_in(call: Call, pin: str = "1234") -> dict[str, Any]:
    call.step()
    return call.step(read_result("pin", pin))


def test_start_reads_a_pin(call: Call) -> None:
    response = call.step()
    assert kinds(response) == ["answer", "read"]
    read = response["actions"][1]
    assert read["name"] == "pin"
    assert (read["min_digits"], read["max_digits"], read["terminator"]) == (4, 8, "#")
    assert read["pattern"] == r"\d{4,8}"
    assert response["next"] == "prepaid.pin"
    assert response["vars"] == {"pin_failures": 0}


def test_good_pin_says_the_balance_and_reads_the_number(call: Call) -> None:
    response = logged_in(call)
    assert said(response) == ["account-balance-is", 5, "dollars", 0, "cents"]
    assert [a["type"] for a in response["actions"] if a["action"] == "say"] == ["number"] * 2
    assert response["actions"][-1]["name"] == "number"
    assert response["actions"][-1]["prompt"] == ["vm-enter-num-to-call"]
    assert call.vars == {"pin_failures": 0, "account": "1001"}
    assert call.next == "prepaid.dial"


def test_three_bad_pins_end_the_call(call: Call) -> None:
    call.step()
    for failures in (1, 2):
        response = call.step(read_result("pin", "0000"))
        assert kinds(response) == ["read"]
        assert response["actions"][0]["prompt"] == ["auth-incorrect"]
        assert call.vars == {"pin_failures": failures}
        assert call.next == "prepaid.pin"
    response = call.step(read_result("pin", "", "timeout"))  # no input counts as a failure
    assert said(response) == ["vm-incorrect", "vm-goodbye"]
    assert kinds(response)[-1] == "hangup"
    assert call.vars == {"pin_failures": 3}
    assert call.next is None


def test_a_good_pin_after_a_bad_one_still_logs_in(call: Call) -> None:
    call.step()
    call.step(read_result("pin", "12", "invalid"))
    call.step(read_result("pin", "98765432"))
    assert call.vars == {"pin_failures": 1, "account": "1002"}


def test_balance_below_one_minute_is_refused(call: Call) -> None:
    response = logged_in(call, "4321")
    balance = ["account-balance-is", 0, "dollars", 5, "cents"]
    assert said(response) == [*balance, "not-enough-credit", "vm-goodbye"]
    assert call.next is None


def test_dial_is_limited_to_what_the_balance_pays_for(call: Call) -> None:
    logged_in(call)
    response = call.step(read_result("number", "5551000"))
    assert response["actions"] == [
        {
            "action": "dial",
            "name": "call",
            "target": "Local/5551000@gtx-outbound",
            "timeout": 45,
            "time_limit": 50 * 60,  # 500 cents at 10 cents a minute
            "options": "g",
        }
    ]
    assert call.vars["destination"] == "5551000"
    assert call.next == "prepaid.dialed"


def test_no_number_entered_says_goodbye(call: Call) -> None:
    logged_in(call)
    response = call.step(read_result("number", "", "timeout"))
    assert said(response) == ["vm-goodbye"]
    assert call.next is None


def answered(seconds: Any, status: str = "ok") -> dict[str, Any]:
    dial = action_result(
        "dial", status, "call", dialstatus="ANSWER", answered_seconds=seconds, dialed_seconds=9
    )
    return step_result(dial)


def test_answered_call_is_debited_per_started_minute(call: Call, book) -> None:
    logged_in(call)
    call.step(read_result("number", "5551000"))
    response = call.step(answered(61))
    assert said(response) == ["account-balance-is", 4, "dollars", 80, "cents", "vm-goodbye"]
    assert kinds(response)[-1] == "hangup"
    assert response["vars"] == {"charged": 20}
    assert book.balance("1001") == 480


def test_step_rerun_after_failover_does_not_debit_twice(proxy, book) -> None:
    request = make_request(4, app="prepaid", vars={"account": "1001"}, result=answered(30))
    proxy.prepaid.dialed(request)
    again = make_request(
        4, app="prepaid", vars={"account": "1001"}, result=answered(30), resumed=True
    )
    assert proxy.prepaid.dialed(again)["vars"] == {"charged": 10}
    assert book.balance("1001") == 490


def test_failed_dial_leaves_the_balance(call: Call, book) -> None:
    logged_in(call)
    call.step(read_result("number", "5551000"))
    busy = action_result("dial", "failed", "call", dialstatus="BUSY", answered_seconds=0)
    response = call.step(step_result(busy))
    assert said(response) == [
        "account-balance-is",
        5,
        "dollars",
        0,
        "cents",
        "nbdy-avail-to-take-call",
        "vm-goodbye",
    ]
    assert book.balance("1001") == 500


def test_caller_hanging_up_mid_call_is_debited_by_the_hangup_method(proxy, book) -> None:
    request = make_request(4, app="prepaid", vars={"account": "1002"})
    request["result"] = answered(125, status="hangup") | {"status": "hangup"}
    assert proxy.prepaid.hangup(request) == {}
    assert book.balance("1002") == 45  # three started minutes
    # The hang-up call after prepaid.dialed already charged: nothing more.
    assert proxy.prepaid.hangup(request) == {}
    assert book.balance("1002") == 45


def test_hangup_before_login_charges_nothing(proxy, book) -> None:
    request = make_request(2, app="prepaid", vars={"pin_failures": 1})
    request["result"] = {"status": "hangup", "actions": []}
    assert proxy.prepaid.hangup(request) == {}
    assert book.balance("1001") == 500


def test_rate_and_dial_string_are_injectable(serve, book) -> None:
    proxy = serve(
        prepaid.build_server(port=0, accounts=book, rate=100, dial_template="SIP/{number}")
    )
    request = make_request(
        3, app="prepaid", vars={"account": "1001"}, result=read_result("number", "123")
    )
    dial = proxy.prepaid.dial(request)["actions"][0]
    assert (dial["target"], dial["time_limit"]) == ("SIP/123", 5 * 60)


def garbage_requests() -> list[tuple[str, Any, str]]:
    base = make_request(4, app="prepaid", vars={"account": "1001"}, result=answered(10))

    def changed(**fields: Any) -> dict[str, Any]:
        return {**base, **fields}

    return [
        ("prepaid.start", ["a", "list"], "request: expected a struct, got list"),
        ("prepaid.pin", changed(vars={}), "vars.pin_failures: expected int, got None"),
        ("prepaid.pin", changed(vars={"pin_failures": 0}), "result.pin: expected dict"),
        ("prepaid.dialed", changed(vars={"account": "9999"}), "vars.account: no account '9999'"),
        ("prepaid.dialed", changed(vars={"account": 1001}), "vars.account: expected str"),
        (
            "prepaid.dialed",
            changed(result=answered("abc")),
            "answered_seconds: expected int or float",
        ),
        ("prepaid.dialed", changed(result=answered(-5)), "answered_seconds: expected 0 or more"),
        ("prepaid.dialed", changed(result={}), "result.call: expected dict"),
        ("prepaid.dial", changed(result={"number": {"status": 3}}), "result.number.status"),
    ]


@pytest.mark.parametrize(("method", "request_", "message"), garbage_requests())
def test_garbage_gets_a_fault(proxy, method: str, request_: Any, message: str) -> None:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        getattr(proxy, method)(request_)
    assert caught.value.faultCode == prepaid.INVALID_REQUEST
    assert message in caught.value.faultString


def test_account_book_debits_once_per_key_and_never_below_zero() -> None:
    book = prepaid.AccountBook([prepaid.Account("1", "1111", 25)])
    assert book.debit("1", 10, "call-a") == 15
    assert book.debit("1", 10, "call-a") == 15
    assert book.debit("1", 40, "call-b") == 0
    assert (book.charged("call-a"), book.charged("call-b"), book.charged("c")) == (10, 15, None)
    assert book.find_by_pin("1111").number == "1"
    assert book.find_by_pin("2222") is None


def test_default_accounts_are_the_demo_ones(serve) -> None:
    proxy = serve(prepaid.build_server(port=0))
    request = make_request(2, app="prepaid", vars={"pin_failures": 0})
    request["result"] = read_result("pin", prepaid.ACCOUNTS[0].pin)
    assert proxy.prepaid.pin(request)["vars"]["account"] == prepaid.ACCOUNTS[0].number


def test_the_script_serves_from_the_command_line() -> None:
    script = ROOT / "examples" / "prepaid_service.py"
    with subprocess.Popen(
        [sys.executable, "-u", str(script), "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            banner = process.stdout.readline()
            assert banner.startswith("prepaid service on http://127.0.0.1:")
            with xmlrpc.client.ServerProxy(banner.split()[-1], allow_none=True) as proxy:
                response = proxy.prepaid.start(make_request(1, app="prepaid"))
            assert response["next"] == "prepaid.pin"
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
