"""The step loop: request structs, next/goto/transfer/end, session state on the channel."""

from __future__ import annotations

import json

from tests.ivr.conftest import URL, Harness


def test_step_one_request_carries_the_call_context(ivr: Harness) -> None:
    ivr.answer("menu.start", {})
    outcome = ivr.run(ivr.channel())
    assert outcome.status == "DONE"
    call = ivr.ws.calls[0]
    assert (call.url, call.method, call.timeout, call.secret) == (URL, "menu.start", 5.0, None)
    assert call.request == {
        "session": "s1", "step": 1, "app": "menu", "channel": "PJSIP/alice-00000001",
        "uniqueid": "1700000000.1", "caller": {"number": "5551234", "name": "Alice"},
        "called": "100", "context": "gtx", "extension": "100", "language": "en", "args": [],
        "vars": {}, "result": {}, "node": "gtx1", "asterisk": "pbx1", "resumed": False,
    }


def test_step_two_request_has_result_vars_named_results_and_digits(ivr: Harness) -> None:
    ivr.answer("menu.start", {
        "actions": [
            {"action": "answer"},
            {"action": "play", "files": "welcome", "name": "greeting"},
            {"action": "read", "prompt": "enter-account", "max_digits": 4, "name": "account"},
        ],
        "vars": {"lang": "en", "visits": 1},
        "next": "menu.account",
    })
    ivr.answer("menu.account", {"vars": {"visits": 2, "ok": True}})
    ivr.run(ivr.channel(presses=["1", "2", "3", "4"]))
    second = ivr.ws.calls[1].request
    assert second["step"] == 2
    assert second["session"] == "s1"
    assert second["vars"] == {"lang": "en", "visits": 1}
    result = second["result"]
    assert result["status"] == "ok"
    assert result["digits"] == "1234"
    assert [a["action"] for a in result["actions"]] == ["answer", "play", "read"]
    assert result["actions"][0] == {"action": "answer", "status": "ok"}
    assert result["greeting"] == {"action": "play", "name": "greeting", "status": "ok",
                                  "digit": "", "played": 1, "missing": []}
    assert result["account"] == {"action": "read", "name": "account", "status": "ok",
                                 "digits": "1234", "attempts": 1}


def test_state_is_written_to_the_channel_after_each_step(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}], "vars": {"a": "x\ny"},
                              "next": "menu.two"})
    ivr.answer("menu.two", {"actions": [{"action": "hangup"}], "next": "never"})
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    assert outcome.steps == 2
    v = channel.variables
    assert v["GTX_SESSION"] == "s1"
    assert v["GTX_APP"] == "menu"
    assert v["GTX_STEP"] == "2"
    assert json.loads(v["GTX_NEXT"]) == {"url": URL, "method": "menu.two"}
    assert json.loads(v["GTX_VARS"]) == {"a": "x\ny"}
    assert json.loads(v["GTX_RESULT"])["actions"] == [{"action": "answer", "status": "ok"}]
    assert v["GTX_STATUS"] == "DONE"
    assert v.get("GTX_ERROR", "") == ""  # never set: no useless write on a fresh channel
    # RUNNING was written before the first request so that a failover resumes the session.
    sets = [c[1:] for c in channel.calls if c[0] == "set_variable"]
    assert sets.index(("GTX_STATUS", "RUNNING")) < len(sets) - 1
    assert channel.methods()[-1] == "hangup"


def test_next_struct_with_url_and_method(ivr: Harness) -> None:
    ivr.answer("menu.start", {"next": {"url": "https://other.example/rpc", "method": "b.go"}})
    ivr.answer("b.go", {})
    ivr.run(ivr.channel())
    assert (ivr.ws.calls[1].url, ivr.ws.calls[1].method) == ("https://other.example/rpc", "b.go")


def test_next_app_switches_to_that_apps_settings(ivr: Harness) -> None:
    ivr.apps["sales"] = ivr.apps["sales"].__class__(
        **{**ivr.apps["sales"].__dict__, "url": "http://sales.example/RPC2", "secret": "k"}
    )
    ivr.answer("menu.start", {"next": {"app": "sales"}})
    ivr.answer("sales.start", {})
    channel = ivr.channel()
    ivr.run(channel)
    call = ivr.ws.calls[1]
    assert (call.url, call.method, call.secret) == ("http://sales.example/RPC2", "sales.start", "k")
    assert call.request["app"] == "sales"
    assert channel.variables["GTX_APP"] == "sales"


def test_goto_overrides_next_and_skips_nothing_before_it(ivr: Harness) -> None:
    ivr.answer("menu.start", {
        "actions": [{"action": "wait", "seconds": 1}, {"action": "goto", "method": "menu.other"}],
        "next": "menu.ignored",
    })
    ivr.answer("menu.other", {})
    ivr.run(ivr.channel())
    assert ivr.ws.methods() == ["menu.start", "menu.other"]
    assert [a["status"] for a in ivr.ws.calls[1].request["result"]["actions"]] == ["ok", "ok"]


def test_goto_app(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "goto", "app": "sales"}]})
    ivr.answer("sales.start", {})
    ivr.run(ivr.channel())
    assert ivr.ws.methods() == ["menu.start", "sales.start"]


def test_transfer_ends_the_session_and_returns_to_the_dialplan(ivr: Harness) -> None:
    ivr.answer("menu.start", {
        "actions": [{"action": "transfer", "context": "sales", "extension": "200"}],
        "next": "menu.never",
    })
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    assert channel.called("transfer") == [("sales", "200", 1)]
    assert "hangup" not in channel.methods()
    assert channel.variables["GTX_STATUS"] == "DONE"
    assert ivr.ws.methods() == ["menu.start"]


def test_end_continue_returns_to_the_dialplan(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}], "end": "continue"})
    channel = ivr.channel()
    assert ivr.run(channel).status == "DONE"
    assert "hangup" not in channel.methods()
    assert channel.variables["GTX_STATUS"] == "DONE"


def test_end_hangup_is_the_default(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}]})
    channel = ivr.channel()
    ivr.run(channel)
    assert channel.called("hangup") == [(None,)]


def test_hangup_action_writes_done_then_hangs_up_with_the_cause(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [{"action": "hangup", "cause": 17},
                                          {"action": "play", "files": "never"}]})
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "DONE"
    assert channel.called("hangup") == [(17,)]
    assert channel.called("stream") == []
    assert channel.variables["GTX_STATUS"] == "DONE"
    # The hang-up method is for caller hang-ups only.
    assert ivr.ws.methods() == ["menu.start"]


def test_max_steps(ivr: Harness) -> None:
    ivr.apps["menu"] = ivr.apps["menu"].__class__(**{**ivr.apps["menu"].__dict__, "max_steps": 3})
    ivr.answer("menu.start", {"next": "menu.start"})
    channel = ivr.channel()
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert len(ivr.ws.calls) == 3
    assert channel.variables["GTX_ERROR"].startswith("too_many_steps: step 4 is over the limit")
