"""The ``transfer`` action with ``dial``: a call and its session handed to another Asterisk.

The sending side (IAXVARs or inherited values for the PJSIP pre-dial handler, GTX_STATUS around
the Dial, a failed hand-over going on here) and the receiving side (state read from IAXVARs or
SIP headers, continued at the carried step).
"""

from __future__ import annotations

import json
from typing import Any

from gtx.channel import CallInfo
from gtx.ivr.handoff import IAX2_STATE_BYTES, carried_state, fit_iax2, iax2_bytes
from gtx.ivr.state import STATE_HEADERS, SessionState, Target
from tests.ivr.conftest import URL, Harness
from tests.ivr.test_validation import invalid

IAX2 = {"action": "transfer", "dial": "IAX2/serverb/ivr", "name": "moved"}


def sets(channel: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, value in channel.called("set_variable")]


def transfer_step(ivr: Harness, transfer: dict[str, Any], **channel_kwargs: Any) -> Any:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}, transfer],
                              "vars": {"lang": "fr"}, "next": "menu.three"})
    ivr.answer("menu.three", {})
    channel = ivr.channel(**channel_kwargs)
    return ivr.run(channel), channel


def test_iax2_hand_over_carries_the_state_of_the_next_step(ivr: Harness) -> None:
    outcome, channel = transfer_step(ivr, IAX2)
    assert outcome.status == "DONE"
    assert [c.method for c in ivr.ws.calls] == ["menu.start"]  # step 2 runs on the other side
    carried = {name[7:-1]: value for name, value in sets(channel) if name.startswith("IAXVAR(")}
    assert carried["GTX_SESSION"] == "s1"
    assert carried["GTX_APP"] == "menu"
    assert carried["GTX_STEP"] == "2"
    assert json.loads(carried["GTX_NEXT"]) == {"url": URL, "method": "menu.three"}
    assert json.loads(carried["GTX_VARS"]) == {"lang": "fr"}
    result = json.loads(carried["GTX_RESULT"])
    assert result["actions"][-1] == {"action": "transfer", "name": "moved", "status": "ok",
                                     "dial": "IAX2/serverb/ivr"}
    assert channel.called("dial") == [(("IAX2/serverb/ivr",), 30, "", None, None)]
    # DONE before the Dial: a node dying meanwhile must not resume a session now run elsewhere.
    order = [c for c in channel.calls if c[0] == "dial" or c[1:2] == ("GTX_STATUS",)]
    assert order[-2:] == [("set_variable", "GTX_STATUS", "DONE"), order[-1]]
    assert order[-1][0] == "dial"
    assert channel.variables["GTX_STATUS"] == "DONE"
    assert channel.methods()[-1] == "hangup"  # back from the other server: the call is over


def test_pjsip_hand_over_sets_inherited_values_for_the_pre_dial_handler(ivr: Harness) -> None:
    transfer = {"action": "transfer", "dial": "PJSIP/ivr@serverb", "timeout": 12}
    outcome, channel = transfer_step(ivr, transfer)
    assert outcome.status == "DONE"
    carried = dict(sets(channel))
    assert carried["_GTX_HANDOFF_SESSION"] == "s1"
    assert carried["_GTX_HANDOFF_STEP"] == "2"
    assert json.loads(carried["_GTX_HANDOFF_VARS"]) == {"lang": "fr"}
    assert {"_GTX_HANDOFF_APP", "_GTX_HANDOFF_NEXT", "_GTX_HANDOFF_RESULT"} <= carried.keys()
    assert not any(name.startswith("IAXVAR(") for name in carried)
    assert channel.called("dial") == [
        (("PJSIP/ivr@serverb",), 12, "b(gtx-handoff-pjsip^s^1)", None, None)]


def test_a_hand_over_the_other_server_refuses_goes_on_here(ivr: Harness) -> None:
    outcome, channel = transfer_step(ivr, IAX2, dial_status={"IAX2/serverb/ivr": "CHANUNAVAIL"})
    assert outcome.status == "DONE"
    _, second = ivr.ws.calls
    assert second.method == "menu.three"
    assert second.request["step"] == 2
    assert second.request["vars"] == {"lang": "fr"}
    assert second.request["result"]["moved"] == {
        "action": "transfer", "name": "moved", "status": "failed", "dial": "IAX2/serverb/ivr",
        "dialstatus": "CHANUNAVAIL", "answered_seconds": 0, "dialed_seconds": 5,
        "error": "IAX2/serverb/ivr did not take the call (dialstatus CHANUNAVAIL)"}
    statuses = [v for n, v in sets(channel) if n == "GTX_STATUS"]
    assert statuses[-3:] == ["DONE", "RUNNING", "DONE"]  # back to running, then ended normally


def test_state_too_large_for_iax2_fails_without_dialling(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [IAX2], "vars": {"blob": "x" * 900},
                              "next": "menu.three"})
    ivr.answer("menu.three", {})
    channel = ivr.channel()
    assert ivr.run(channel).status == "DONE"
    assert channel.called("dial") == []
    entry = ivr.ws.calls[-1].request["result"]["moved"]
    assert entry["status"] == "failed"
    assert entry["error"].startswith("the session state takes ")
    assert "over the 800 an IAX2 call can carry" in entry["error"]


def test_iax2_leaves_the_last_result_out_when_it_does_not_fit() -> None:
    state = SessionState("s1", "menu", 3, Target(URL, "m"), vars={"a": "y" * 300},
                         result={"status": "ok", "note": "z" * 400})
    values = carried_state(state)
    assert iax2_bytes(values) > IAX2_STATE_BYTES
    fitted = fit_iax2(values)
    assert fitted["GTX_RESULT"] == "{}"
    assert fitted["GTX_VARS"] == values["GTX_VARS"]
    assert iax2_bytes(fitted) <= IAX2_STATE_BYTES


def test_iax2_bytes_counts_the_pieces_of_long_values() -> None:
    # "GTX_VARS=" + 246 bytes fills one 255-byte element; one more byte needs a second one.
    assert iax2_bytes({"GTX_VARS": "v" * 246}) == 246 + 11
    assert iax2_bytes({"GTX_VARS": "v" * 247}) == 247 + 22


def test_invalid_transfers(ivr: Harness) -> None:
    cases = [
        ({"actions": [{"action": "transfer", "dial": "IAX2/b/ivr", "context": "x"}],
          "next": "m"}, "actions[0]: expected either dial (another server) or context"),
        ({"actions": [{"action": "transfer", "dial": "SIP/b"}], "next": "m"},
         "actions[0].dial: expected an IAX2/… or PJSIP/… destination"),
        ({"actions": [{"action": "transfer", "dial": "IAX2/b&IAX2/c"}], "next": "m"},
         "actions[0].dial: expected a dial string"),
        ({"actions": [{"action": "transfer", "dial": "IAX2/b/ivr"}]},
         "actions[0]: a transfer with dial hands the session to another server, which "
         "continues at the response's next: give next"),
        ({"actions": [{"action": "transfer", "context": "a", "extension": "1", "timeout": 3}]},
         "actions[0].timeout: applies to a transfer with dial only"),
    ]
    for answer, message in cases:
        assert message in invalid(ivr, answer)


# -- the receiving side ----------------------------------------------------------------------


def headers(values: dict[str, str]) -> dict[str, str]:
    return {f"${{PJSIP_HEADER(read,{STATE_HEADERS[k]})}}": v for k, v in values.items()}


def test_pjsip_hand_over_continues_the_session_at_the_carried_step(ivr: Harness) -> None:
    carried = {"GTX_SESSION": "s-from-a", "GTX_APP": "menu", "GTX_STEP": "3",
               "GTX_NEXT": json.dumps({"url": URL, "method": "menu.three"}),
               "GTX_VARS": '{"lang":"fr"}',
               "GTX_RESULT": '{"status":"ok","actions":[{"action":"transfer","status":"ok"}]}'}
    ivr.answer("menu.three", {"actions": [{"action": "play", "files": "bonjour"}]})
    channel = ivr.channel(
        info=CallInfo(channel="PJSIP/serverb-0000002", uniqueid="9.1", script="menu",
                      asterisk="pbx2"),
        full_variables=headers(carried))
    assert ivr.run(channel).status == "DONE"
    (call,) = ivr.ws.calls
    request = call.request
    assert call.method == "menu.three"
    assert (request["session"], request["step"], request["resumed"]) == ("s-from-a", 3, False)
    assert request["vars"] == {"lang": "fr"}
    assert request["result"] == {"status": "ok",
                                 "actions": [{"action": "transfer", "status": "ok"}]}
    assert request["asterisk"] == "pbx2"
    assert channel.variables["GTX_SESSION"] == "s-from-a"


def test_a_pjsip_call_without_gtx_headers_starts_a_new_session(ivr: Harness) -> None:
    ivr.answer("menu.start", {})
    channel = ivr.channel()
    ivr.run(channel)
    assert ivr.ws.calls[0].request["session"] == "s1"
    assert channel.called("get_full_variable") == [("${PJSIP_HEADER(read,X-GTX-Session)}",)]


def test_a_local_channel_is_never_probed_for_carried_state(ivr: Harness) -> None:
    ivr.answer("menu.start", {})
    channel = ivr.channel(info=CallInfo(channel="Local/100@gtx-00000001;2", uniqueid="1.1",
                                        script="menu"))
    ivr.run(channel)
    assert channel.called("get_full_variable") == []
