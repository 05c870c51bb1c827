"""Web-service failures: timeouts, connection errors and retries, faults, HTTP errors, garbage."""

from __future__ import annotations

from typing import Any

from gtx.xmlrpc.errors import CodecError, ConnectFailed, Fault, HTTPStatusError
from tests.ivr.conftest import Harness
from tests.ivr.fakes import Delay, Hang


def failing(ivr: Harness, *answers: Any) -> tuple[str, Any]:
    ivr.answer("menu.start", *answers)
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert channel.called("stream") == [("an-error-has-occured", "")]
    assert channel.methods()[-1] == "hangup"
    return channel.variables["GTX_ERROR"], channel


def test_timeout_after_the_apps_timeout(ivr: Harness) -> None:
    error, _ = failing(ivr, Delay(30, {}))
    assert error == "webservice_timeout: menu.start at http://ws.example/RPC2: no answer within 5 s"
    assert len(ivr.ws.calls) == 1  # a timeout is not retried
    assert ivr.metric("gtx_errors_total", kind="webservice_timeout") == 1


def test_a_client_that_never_answers_is_bounded_by_the_engine(ivr: Harness) -> None:
    ivr.answer("menu.start", Hang())
    channel = ivr.channel()
    started = ivr.clock.seconds()
    outcome = ivr.run(channel)
    assert outcome.error is not None
    assert outcome.error.startswith("webservice_timeout:")
    assert ivr.clock.seconds() - started < 5 + 1 + 2  # timeout + guard + the fallback


def test_connection_errors_are_retried_then_succeed(ivr: Harness) -> None:
    ivr.answer("menu.start", ConnectFailed("refused"), ConnectFailed("refused"), {})
    channel = ivr.channel()
    assert ivr.run(channel).status == "DONE"
    assert ivr.ws.methods() == ["menu.start"] * 3
    # The same request each time.
    assert ivr.ws.calls[0].request == ivr.ws.calls[2].request


def test_retries_wait_retry_delay_on_the_clock(ivr: Harness) -> None:
    ivr.answer("menu.start", ConnectFailed("refused"), {})
    ivr.ws.latency = 0.0
    d = ivr.engine.run(ivr.channel())
    ivr.clock.advance(0)
    assert len(ivr.ws.calls) == 1
    ivr.clock.advance(0.4)
    assert len(ivr.ws.calls) == 1
    ivr.clock.advance(0.1)
    assert len(ivr.ws.calls) == 2
    ivr.clock.advance(1)
    assert d.called


def test_retries_exhausted(ivr: Harness) -> None:
    error, _ = failing(ivr, ConnectFailed("connection refused"))
    assert error == ("webservice_unreachable: menu.start at http://ws.example/RPC2: "
                     "connection refused (3 attempts)")
    assert len(ivr.ws.calls) == 3


def test_fault(ivr: Harness) -> None:
    error, _ = failing(ivr, Fault(42, "no such customer"))
    assert error == ("webservice_fault: menu.start at http://ws.example/RPC2: "
                     "fault 42: no such customer")
    assert len(ivr.ws.calls) == 1


def test_http_error(ivr: Harness) -> None:
    error, _ = failing(ivr, HTTPStatusError(503, "Service Unavailable"))
    assert error == ("webservice_fault: menu.start at http://ws.example/RPC2: "
                     "HTTP 503 Service Unavailable")


def test_garbage_answer(ivr: Harness) -> None:
    error, _ = failing(ivr, CodecError("line 1: not well-formed"))
    assert error == ("invalid_response: step 1: the answer of menu.start at "
                     "http://ws.example/RPC2 is not acceptable XML-RPC: line 1: not well-formed")


def test_error_in_a_later_step_after_actions_ran(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}], "next": "menu.two"})
    ivr.answer("menu.two", Fault(1, "boom"))
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert outcome.steps == 1
    assert channel.methods() == ["answer", "stream", "hangup"]


def test_internal_error_is_logged_and_the_caller_hears_the_fallback(ivr: Harness) -> None:
    from twisted.logger import globalLogPublisher

    def explode(request: dict[str, Any]) -> Any:
        raise RuntimeError("bug")

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        error, _ = failing(ivr, explode)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert error == "internal: unexpected error in gtx (see its log)"
    assert any("log_failure" in e for e in events)
    assert ivr.metric("gtx_errors_total", kind="internal") == 1


def test_no_fallback_once_the_caller_is_gone(ivr: Harness) -> None:
    ivr.answer("menu.start", Fault(1, "x"))
    channel = ivr.channel()
    channel.caller_hangs_up()
    outcome = ivr.run(channel)
    # Hung up before the first request: that is a hang-up, not an error.
    assert outcome.status == "HANGUP"
    assert channel.methods() == []
