"""The ``transfer`` action with ``handoff``: the session goes on at a dialplan location.

The sending session leaves the state of its next step on the channel with
``GTX_STATUS=HANDOFF`` and ends without DONE; the next session started on the channel (FastAGI
or ARI: the engine only sees the channel) continues it: same id, vars and last result, at the
next step, ``resumed`` false.
"""

from __future__ import annotations

import json
from typing import Any

from gtx.channel import CallInfo
from gtx.ivr.state import HANDOFF, STATE_VARIABLES
from tests.ivr.conftest import URL, Harness
from tests.ivr.fakes import FakeChannel
from tests.ivr.test_validation import invalid

HANDOFF_TO_QUEUE = {"action": "transfer", "context": "gtx-examples", "extension": "agents",
                    "handoff": True, "name": "moved"}


def statuses(channel: FakeChannel) -> list[str]:
    return [value for name, value in channel.called("set_variable") if name == "GTX_STATUS"]


def hand_off(ivr: Harness, transfer: dict[str, Any] | None = None,
             **channel_kwargs: Any) -> tuple[Any, FakeChannel]:
    ivr.answer("menu.start", {"actions": [{"action": "answer"}, transfer or HANDOFF_TO_QUEUE],
                              "vars": {"lang": "fr"}, "next": "menu.after"})
    channel = ivr.channel(**channel_kwargs)
    return ivr.run(channel), channel


def test_handoff_leaves_the_next_step_on_the_channel_and_ends_without_done(
    ivr: Harness,
) -> None:
    outcome, channel = hand_off(ivr)
    assert outcome.status == HANDOFF
    assert (outcome.session, outcome.steps) == ("s1", 1)
    assert [c.method for c in ivr.ws.calls] == ["menu.start"]  # the next step runs elsewhere
    assert channel.called("transfer") == [("gtx-examples", "agents", 1)]
    variables = channel.variables
    assert variables["GTX_STATUS"] == "HANDOFF"
    assert variables["GTX_SESSION"] == "s1"
    assert variables["GTX_APP"] == "menu"
    assert variables["GTX_STEP"] == "2"
    assert json.loads(variables["GTX_NEXT"]) == {"url": URL, "method": "menu.after"}
    assert json.loads(variables["GTX_VARS"]) == {"lang": "fr"}
    result = json.loads(variables["GTX_RESULT"])
    assert result["moved"] == {"action": "transfer", "name": "moved", "status": "ok",
                               "handoff": True}
    # Never DONE, never hung up: the call carries on in the dialplan.
    assert "DONE" not in statuses(channel)
    assert statuses(channel)[-1] == "HANDOFF"
    assert "hangup" not in channel.methods()
    # The status is written last, once the state it announces is complete.
    last_write = channel.called("set_variable")[-1]
    assert last_write == ("GTX_STATUS", "HANDOFF")
    assert ivr.metric("gtx_ivr_sessions_total", app="menu", status="HANDOFF") == 1


def test_a_session_started_on_a_handoff_continues_at_the_next_step(ivr: Harness) -> None:
    _, first = hand_off(ivr)
    ivr.answer("menu.after", {"actions": [{"action": "play", "files": "bonjour"}]})
    # Another node picks the call up where the dialplan sent it: a different entry script,
    # another Asterisk even; the state on the channel decides.
    second = ivr.channel(
        info=CallInfo(channel="PJSIP/alice-00000001", uniqueid="1700000000.1",
                      script="sales", asterisk="pbx2"),
        variables=first.variables,
    )
    outcome = ivr.run(second)
    assert outcome.status == "DONE"
    assert (outcome.session, outcome.app) == ("s1", "menu")
    call = ivr.ws.calls[-1]
    assert call.method == "menu.after"
    request = call.request
    assert (request["session"], request["step"], request["resumed"]) == ("s1", 2, False)
    assert request["vars"] == {"lang": "fr"}
    assert request["result"]["moved"]["handoff"] is True
    assert request["result"]["status"] == "ok"  # as it was, not "resumed"
    assert request["asterisk"] == "pbx2"
    assert statuses(second) == ["RUNNING", "DONE"]
    # Only what changed is written again: the carried state is already on the channel.
    written = {name for name, _ in second.called("set_variable")}
    assert not written & {"GTX_SESSION", "GTX_APP", "GTX_VARS"}


def test_a_session_may_hand_off_again(ivr: Harness) -> None:
    _, first = hand_off(ivr)
    ivr.answer("menu.after", {"actions": [{"action": "transfer", "context": "gtx",
                                           "extension": "menu", "handoff": True}],
                              "vars": {"visits": 2}, "next": "menu.third"})
    second = ivr.channel(variables=first.variables)
    assert ivr.run(second).status == HANDOFF
    assert second.variables["GTX_STEP"] == "3"
    assert json.loads(second.variables["GTX_VARS"]) == {"lang": "fr", "visits": 2}
    assert json.loads(second.variables["GTX_NEXT"])["method"] == "menu.third"


def test_a_handoff_to_a_named_app_carries_the_app(ivr: Harness) -> None:
    ivr.answer("menu.start", {"actions": [HANDOFF_TO_QUEUE], "next": {"app": "sales"}})
    channel = ivr.channel()
    assert ivr.run(channel).status == HANDOFF
    assert channel.variables["GTX_APP"] == "sales"
    assert json.loads(channel.variables["GTX_NEXT"]) == {
        "url": URL, "method": "sales.start", "app": "sales"}
    ivr.answer("sales.start", {})
    second = ivr.channel(variables=channel.variables)
    assert ivr.run(second).app == "sales"
    assert ivr.ws.calls[-1].method == "sales.start"


def test_a_plain_transfer_still_ends_the_session(ivr: Harness) -> None:
    plain = {key: value for key, value in HANDOFF_TO_QUEUE.items() if key != "handoff"}
    outcome, channel = hand_off(ivr, plain)
    assert outcome.status == "DONE"
    assert statuses(channel) == ["RUNNING", "DONE"]
    assert "hangup" not in channel.methods()


def test_handoff_false_is_a_plain_transfer(ivr: Harness) -> None:
    outcome, channel = hand_off(ivr, {**HANDOFF_TO_QUEUE, "handoff": False})
    assert outcome.status == "DONE"
    assert channel.variables["GTX_STATUS"] == "DONE"


def test_caller_hanging_up_during_the_handoff_ends_in_hangup(ivr: Harness) -> None:
    outcome, channel = hand_off(ivr, hangup_during="transfer")
    assert outcome.status == "HANGUP"
    assert channel.variables["GTX_STATUS"] == "HANGUP"


def test_a_failed_transfer_does_not_hand_off(ivr: Harness) -> None:
    # The dialplan location cannot be set (the connection is fine, the command fails): the
    # session goes on here at next, the transfer reported failed.
    from gtx.channel import CommandFailed

    class RefusingChannel(FakeChannel):
        def transfer(self, context: str, extension: str, priority: int) -> Any:
            from twisted.internet.defer import fail

            self.calls.append(("transfer", context, extension, priority))
            return fail(CommandFailed("SET CONTEXT", "refused"))

    ivr.answer("menu.start", {"actions": [HANDOFF_TO_QUEUE], "next": "menu.after"})
    ivr.answer("menu.after", {})
    channel = RefusingChannel(ivr.clock)
    assert ivr.run(channel).status == "DONE"
    entry = ivr.ws.calls[-1].request["result"]["moved"]
    assert entry["status"] == "failed"
    assert "HANDOFF" not in statuses(channel)


def test_handoff_state_that_is_not_usable_is_an_error(ivr: Harness) -> None:
    channel = ivr.channel(variables={"GTX_STATUS": "HANDOFF", "GTX_NEXT": "{}"})
    outcome = ivr.run(channel)
    assert outcome.status == "ERROR"
    assert "cannot resume the session on the channel: GTX_SESSION is not set" in (
        outcome.error or "")


def test_handoff_reads_the_state_variables_only(ivr: Harness) -> None:
    _, first = hand_off(ivr)
    ivr.answer("menu.after", {})
    second = ivr.channel(variables=first.variables)
    ivr.run(second)
    read = [name for (name,) in second.called("get_variable")]
    assert read[0] == "GTX_STATUS"
    assert set(read[1:1 + len(STATE_VARIABLES)]) == set(STATE_VARIABLES)


def test_invalid_handoffs(ivr: Harness) -> None:
    cases = [
        ({"actions": [{"action": "transfer", "dial": "IAX2/b/ivr", "handoff": True}],
          "next": "m"}, "actions[0].handoff: applies to a transfer with context and extension"),
        ({"actions": [{**HANDOFF_TO_QUEUE}]},
         "actions[0].handoff: the session continues at the response's next wherever the call "
         "goes: give next"),
        ({"actions": [{**HANDOFF_TO_QUEUE, "handoff": "yes"}], "next": "m"},
         "actions[0].handoff: expected a boolean, got"),
    ]
    for answer, message in cases:
        assert message in invalid(ivr, answer)
