"""Sessions as a whole on both backends: the request, steps and vars, the end, the caller
hanging up, the web service failing, a draining node.

Where ARI legitimately differs it is asserted as documented (docs/ari.md, "What works
differently on ARI"): once the caller has hung up, gtx cannot write ``GTX_STATUS=HANGUP`` on
the destroyed channel, so the channel keeps ``RUNNING`` there.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from gtx.testing import DialDestination, QueueBehaviour
from gtx.xmlrpc.errors import ConnectFailed
from tests.backends.harness import URL, Backend, CallResult
from tests.ivr.fakes import Delay


def final_status_after_a_hangup(backend: Backend, result: CallResult) -> None:
    """GTX_STATUS once the caller hung up: HANGUP over FastAGI (a dead channel still takes SET
    VARIABLE); over ARI the channel is destroyed and keeps the last value written, RUNNING."""
    expected = {"fastagi": "HANGUP", "ari": "RUNNING"}[backend.name]
    assert result.variables["GTX_STATUS"] == expected
    assert result.hung_up_by == "caller"
    assert result.outcome.status == "HANGUP"


@pytest_twisted.ensureDeferred
async def test_the_request_describes_the_call(backend: Backend) -> None:
    backend.steps({})
    result = await backend.call(args=("vip", "42"), language="fr", accountcode="acme")
    (request,) = result.requests
    assert request == {
        "session": "s1", "step": 1, "app": "menu", "channel": "PJSIP/alice-00000001",
        "uniqueid": request["uniqueid"], "caller": {"number": "5551234", "name": "Alice"},
        "called": "100", "context": "gtx", "extension": "100", "language": "fr",
        "args": ["vip", "42"], "vars": {}, "result": {}, "node": "gtx1", "asterisk": "pbx1",
        "resumed": False,
    }
    assert request["uniqueid"] == result.record.uniqueid
    assert backend.ws.calls[0].url == URL


@pytest_twisted.ensureDeferred
async def test_an_unknown_caller_and_an_app_named_by_url(backend: Backend) -> None:
    backend.answer("shop.start", {"actions": [{"action": "play", "files": "welcome"}]})
    result = await backend.call(
        app="ivr?url=http%3A%2F%2Fshop.example%2FRPC2&method=shop.start",
        caller_number=None, caller_name=None, dnid=None)
    (request,) = result.requests
    assert backend.ws.calls[0].url == "http://shop.example/RPC2"
    assert (request["app"], request["caller"], request["called"]) == (
        "ivr", {"number": "", "name": ""}, "")
    assert result.heard == ["welcome"]


@pytest_twisted.ensureDeferred
async def test_a_three_step_session_with_vars(backend: Backend) -> None:
    backend.steps(
        {"actions": [{"action": "read", "prompt": "welcome", "name": "choice"}],
         "vars": {"visits": 1, "profile": {"tier": "gold"}}},
        {"actions": [{"action": "say", "type": "number", "value": 7}],
         "vars": {"visits": 2, "seen": [1, 2]}},
        {"actions": [{"action": "play", "files": "goodbye"}]})
    result = await backend.call("wait 0.5; press 2")
    assert result.methods == ["menu.start", "step2", "step3"]
    assert [r["step"] for r in result.requests] == [1, 2, 3]
    assert {r["session"] for r in result.requests} == {"s1"}
    assert [r["vars"] for r in result.requests] == [
        {}, {"visits": 1, "profile": {"tier": "gold"}},
        {"visits": 2, "profile": {"tier": "gold"}, "seen": [1, 2]}]
    assert result.result(2)["choice"]["digits"] == "2"
    assert result.heard == ["welcome", "digits/7", "goodbye"]
    assert result.outcome.steps == 3
    # The end: DONE, then the channel is hung up.
    variables = result.variables
    assert (variables["GTX_STATUS"], variables["GTX_SESSION"]) == ("DONE", "s1")
    assert variables["GTX_VARS"] == '{"visits":2,"profile":{"tier":"gold"},"seen":[1,2]}'
    assert result.hung_up_by == "gtx"


@pytest_twisted.ensureDeferred
async def test_end_continue_returns_to_the_dialplan(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": "welcome"}], "end": "continue"})
    result = await backend.call()
    assert result.location == ("gtx", "100", 3)
    assert result.hung_up_by is None
    assert result.variables["GTX_STATUS"] == "DONE"


@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_during_a_read(backend: Backend) -> None:
    backend.steps({"actions": [
        {"action": "play", "files": "welcome"},
        {"action": "read", "prompt": "hello-world", "max_digits": 4, "timeout": 10,
         "name": "pin"},
        {"action": "play", "files": "goodbye"}], "vars": {"a": 1}}, {})
    result = await backend.call("wait 3; press 1; wait 1; hangup")
    assert result.methods == ["menu.start", "menu.hangup"]
    hangup = result.last
    assert (hangup["step"], hangup["vars"], hangup["result"]["status"]) == (2, {"a": 1},
                                                                           "hangup")
    assert [a["status"] for a in hangup["result"]["actions"]] == ["ok", "hangup", "skipped"]
    assert hangup["result"]["pin"] == {"action": "read", "name": "pin", "status": "hangup"}
    final_status_after_a_hangup(backend, result)


@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_during_a_play(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": ["demo-congrats", "goodbye"]}]}, {})
    result = await backend.call("wait 2; hangup")
    assert result.methods == ["menu.start", "menu.hangup"]
    (play,) = result.last["result"]["actions"]
    assert play["status"] == "hangup"
    assert result.last["result"]["status"] == "hangup"
    assert "goodbye" not in result.heard
    final_status_after_a_hangup(backend, result)


@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_while_gtx_waits_for_the_web_service(
        backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": "welcome"}]}, {})
    backend.answer("step2", Delay(3, {"actions": [{"action": "play", "files": "goodbye"}]}))
    result = await backend.call("wait 2; hangup")
    assert result.methods == ["menu.start", "step2", "menu.hangup"]
    assert result.last["result"]["status"] == "hangup"
    assert result.heard == ["welcome"]
    final_status_after_a_hangup(backend, result)


async def failing_service(backend: Backend, *answers: Any) -> CallResult:
    backend.steps({"actions": [{"action": "play", "files": "welcome"}]}, {})
    backend.answer("step2", *answers)
    result = await backend.call("wait 30")
    assert result.outcome.status == "ERROR"
    assert result.variables["GTX_STATUS"] == "ERROR"
    assert result.heard == ["welcome", "an-error-has-occured"]  # the app's fallback
    assert result.hung_up_by == "gtx"
    return result


@pytest_twisted.ensureDeferred
async def test_the_web_service_is_down(backend: Backend) -> None:
    result = await failing_service(backend, ConnectFailed("connection refused"))
    assert result.methods == ["menu.start", "step2", "step2", "step2"]  # 2 retries
    assert result.variables["GTX_ERROR"] == (
        "webservice_unreachable: step2 at http://ws.example/RPC2: connection refused "
        "(3 attempts)")


@pytest_twisted.ensureDeferred
async def test_the_web_service_is_too_slow(backend: Backend) -> None:
    result = await failing_service(backend, Delay(30, {}))
    assert result.variables["GTX_ERROR"] == (
        "webservice_timeout: step2 at http://ws.example/RPC2: no answer within 5 s")
    # Given up after the app's timeout (5 s): the fallback, the hang-up, well before 30 s.
    assert result.record.duration - result.at[1] < 5 + 1 + 3


@pytest_twisted.ensureDeferred
async def test_the_web_service_answers_nonsense(backend: Backend) -> None:
    result = await failing_service(backend, {"actions": [{"action": "dance"}]})
    assert result.variables["GTX_ERROR"].startswith("invalid_response: step 2: actions[0]")


@pytest_twisted.ensureDeferred
async def test_on_error_continue_gives_the_call_back_to_the_dialplan(
        backend: Backend) -> None:
    backend.apps["menu"] = backend.apps["menu"].__class__(
        **{**backend.apps["menu"].__dict__, "on_error": "continue", "fallback": ("goodbye",)})
    backend.answer("menu.start", ConnectFailed("refused"))
    result = await backend.call()
    assert result.outcome.status == "ERROR"
    assert result.heard == ["goodbye"]
    assert result.location == ("gtx", "100", 3)
    assert result.variables["GTX_STATUS"] == "ERROR"
    assert result.variables["GTX_ERROR"].startswith("webservice_unreachable:")


@pytest_twisted.ensureDeferred
async def test_a_draining_node_leaves_the_call_untouched(backend: Backend) -> None:
    backend.steps({})
    backend.shared.engine.stop_accepting()
    result = await backend.call()
    assert result.requests == []
    assert result.outcome.status == "REFUSED"
    assert "GTX_STATUS" not in result.variables  # the dialplan tries the next node
    assert result.location == ("gtx", "100", 3)


@pytest_twisted.ensureDeferred
async def test_a_session_found_running_resumes_at_its_step(backend: Backend) -> None:
    """A node died mid-session: the next one finds RUNNING and sends that step again."""
    backend.answer("menu.billing", {"actions": [{"action": "play", "files": "welcome"}]})
    result = await backend.call(variables={
        "GTX_STATUS": "RUNNING", "GTX_SESSION": "old-7", "GTX_APP": "menu", "GTX_STEP": "3",
        "GTX_NEXT": '{"url":"http://ws.example/RPC2","method":"menu.billing"}',
        "GTX_VARS": '{"k":"v"}', "GTX_RESULT": '{"status":"ok","actions":[]}'})
    (request,) = result.requests
    assert (request["session"], request["step"], request["resumed"]) == ("old-7", 3, True)
    assert (request["vars"], request["result"]["status"]) == ({"k": "v"}, "resumed")
    assert result.heard == ["welcome"]
    assert result.variables["GTX_STATUS"] == "DONE"


@pytest.mark.parametrize("action", [
    {"action": "wait", "seconds": 10},
    {"action": "moh", "seconds": 10},
    {"action": "say", "type": "digits", "value": "1234567890"},
    {"action": "queue", "queue": "support"},
    {"action": "conference", "conference": "room1"},
    {"action": "exec", "application": "Playback", "args": ["demo-congrats"]},
    {"action": "dial", "target": "PJSIP/sales", "options": "g"},
], ids=lambda action: action["action"])
@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_during_each_waiting_action(
        backend: Backend, action: dict[str, Any]) -> None:
    backend.queue("support", QueueBehaviour(wait_seconds=30))
    backend.destination("PJSIP/sales", DialDestination.answer(after=1, talk=30))
    backend.steps({"actions": [action, {"action": "play", "files": "goodbye"}]}, {})
    result = await backend.call("wait 2.5; hangup")
    assert result.methods == ["menu.start", "menu.hangup"]
    entry, after = result.last["result"]["actions"]
    if backend.name == "fastagi" and action["action"] in ("conference", "exec"):
        # ConfBridge and an exec'd application may return 0 when the caller hangs up, and
        # Asterisk's HANGUP notice only follows the reply: the action ends at once, ok, and
        # the hang-up shows on the next one (gtx.asterisk.agi_channel's docstring).
        assert entry["status"] == "ok"
        assert after == {"action": "play", "status": "hangup"}
    else:
        assert entry["status"] == "hangup"
        assert after == {"action": "play", "status": "skipped"}
    assert result.at[1] == pytest.approx(2.5, abs=0.1)  # at once, not when the action ends
    assert "goodbye" not in result.heard
    final_status_after_a_hangup(backend, result)
