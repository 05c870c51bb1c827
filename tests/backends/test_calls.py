"""dial, queue, conference, exec, transfer, goto and callback — over FastAGI and ARI.

FastAGI runs Dial(), Queue(), ConfBridge() and the exec'd application in place (EXEC); ARI
originates and bridges dial legs itself and sends the channel on a dialplan excursion
(``gtx-ari-exec``) for the others. The results must be the same.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from gtx.testing import DialDestination, QueueBehaviour
from tests.backends.harness import Backend

SALES = "PJSIP/sales"


@pytest_twisted.ensureDeferred
async def test_dial_answered_then_the_session_goes_on(backend: Backend) -> None:
    backend.destination(SALES, DialDestination.answer(after=3, talk=20))
    backend.steps({"actions": [{"action": "dial", "target": SALES, "timeout": 30,
                                "options": "g", "name": "sales"}]},
                  {"actions": [{"action": "play", "files": "goodbye"}]})
    result = await backend.call()
    entry = result.result(2)["sales"]
    assert (entry["status"], entry["dialstatus"]) == ("ok", "ANSWER")
    assert entry["answered_seconds"] == 20
    assert entry["dialed_seconds"] == 23
    assert result.dialled == [SALES]
    assert result.at[1] == pytest.approx(23, abs=0.1)
    assert result.heard == ["goodbye"]
    assert result.outcome.status == "DONE"


@pytest_twisted.ensureDeferred
async def test_the_called_party_hanging_up_without_option_g(backend: Backend) -> None:
    """Dial() without ``g`` hangs the caller up with the called party (FastAGI); over ARI the
    caller stays in gtx's application and the session goes on (ari_dial: ``g`` is implied)."""
    backend.destination(SALES, DialDestination.answer(after=1, talk=5))
    backend.steps({"actions": [{"action": "dial", "target": SALES}]},
                  {"actions": [{"action": "play", "files": "goodbye"}]})
    result = await backend.call()
    assert result.action(1)["dialstatus"] == "ANSWER"
    if backend.name == "fastagi":
        assert result.methods == ["menu.start", "menu.hangup"]
        assert result.last["result"]["actions"][0]["status"] == "hangup"
        assert result.outcome.status == "HANGUP"
    else:
        assert result.methods == ["menu.start", "step2"]
        assert result.heard == ["goodbye"]
        assert result.outcome.status == "DONE"


@pytest.mark.parametrize(("behaviour", "status", "seconds"), [
    (DialDestination.busy(after=2), "BUSY", 2),
    (DialDestination.no_answer(), "NOANSWER", 10),
    (DialDestination.congestion(after=1), "CONGESTION", 1),
    (DialDestination.unavailable(), "CHANUNAVAIL", 0),
])
@pytest_twisted.ensureDeferred
async def test_dial_not_answered(backend: Backend, behaviour: DialDestination, status: str,
                                 seconds: int) -> None:
    backend.destination(SALES, behaviour)
    backend.steps({"actions": [{"action": "dial", "target": SALES, "timeout": 10}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "dial", "status": "failed", "dialstatus": status,
                                "answered_seconds": 0, "dialed_seconds": seconds}
    assert result.at[1] == pytest.approx(seconds, abs=0.1)


@pytest_twisted.ensureDeferred
async def test_dial_several_targets_the_first_to_answer_wins(backend: Backend) -> None:
    backend.destination("PJSIP/100", DialDestination.busy(after=1))
    backend.destination("PJSIP/101", DialDestination.answer(after=4, talk=6))
    backend.destination("PJSIP/102", DialDestination.answer(after=2, talk=8))
    backend.steps({"actions": [{"action": "dial", "options": "g", "targets": [
        "PJSIP/100", "PJSIP/101", "PJSIP/102"]}]}, {})
    result = await backend.call()
    entry = result.action(1)
    assert (entry["dialstatus"], entry["answered_seconds"], entry["dialed_seconds"]) == (
        "ANSWER", 8, 10)
    assert sorted(result.dialled) == ["PJSIP/100", "PJSIP/101", "PJSIP/102"]


@pytest_twisted.ensureDeferred
async def test_the_caller_hangs_up_while_the_dial_rings(backend: Backend) -> None:
    backend.destination(SALES, DialDestination.no_answer())
    backend.steps({"actions": [{"action": "dial", "target": SALES, "timeout": 30}]}, {})
    result = await backend.call("wait 4; hangup")
    entry = result.last["result"]["actions"][0]
    assert (entry["status"], entry["dialstatus"]) == ("hangup", "CANCEL")
    assert result.methods == ["menu.start", "menu.hangup"]
    assert result.outcome.status == "HANGUP"


@pytest_twisted.ensureDeferred
async def test_transfer_to_a_dialplan_location(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "play", "files": "welcome"},
                               {"action": "transfer", "context": "sales", "extension": "200",
                                "priority": 2}]})
    result = await backend.call()
    assert result.location == ("sales", "200", 2)
    assert result.hung_up_by is None
    assert result.variables["GTX_STATUS"] == "DONE"
    assert result.outcome.status == "DONE"


@pytest_twisted.ensureDeferred
async def test_transfer_with_handoff_leaves_the_next_step_on_the_channel(
        backend: Backend) -> None:
    backend.steps({"actions": [{"action": "transfer", "context": "gtx-ari",
                                "extension": "menu", "handoff": True, "name": "moved"}],
                   "vars": {"lang": "fr"}, "next": "menu.media"})
    result = await backend.call()
    assert result.location == ("gtx-ari", "menu", 1)
    assert result.methods == ["menu.start"]
    variables = result.variables
    assert (variables["GTX_STATUS"], variables["GTX_STEP"]) == ("HANDOFF", "2")
    assert variables["GTX_SESSION"] == "s1"
    assert variables["GTX_VARS"] == '{"lang":"fr"}'
    assert '"method":"menu.media"' in variables["GTX_NEXT"]
    assert '"handoff":true' in variables["GTX_RESULT"]


@pytest.mark.parametrize(("behaviour", "queuestatus", "status"), [
    (QueueBehaviour(status="TIMEOUT", wait_seconds=4), "TIMEOUT", "timeout"),
    (QueueBehaviour(status="JOINEMPTY", wait_seconds=0), "JOINEMPTY", "failed"),
    (QueueBehaviour(wait_seconds=3, talk_seconds=5), "", "ok"),
])
@pytest_twisted.ensureDeferred
async def test_queue(backend: Backend, behaviour: QueueBehaviour, queuestatus: str,
                     status: str) -> None:
    backend.queue("support", behaviour)
    backend.steps({"actions": [{"action": "queue", "queue": "support", "options": "c"}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "queue", "status": status,
                                "queuestatus": queuestatus}
    assert result.applications == [("queue", "support,c")]
    assert result.outcome.status == "DONE"


@pytest_twisted.ensureDeferred
async def test_conference(backend: Backend) -> None:
    backend.asterisk.conference_seconds = 7
    backend.steps({"actions": [{"action": "conference", "conference": "room1",
                                "bridge_profile": "big", "user_profile": "quiet"}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "conference", "status": "ok"}
    assert result.applications == [("confbridge", "room1,big,quiet")]
    assert result.at[1] == pytest.approx(7, abs=0.1)


@pytest_twisted.ensureDeferred
async def test_exec_an_allowed_application(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "exec", "application": "Playback",
                                "args": ["hello-world"]}]}, {})
    result = await backend.call()
    assert result.action(1) == {"action": "exec", "status": "ok", "value": 0}
    assert result.applications == [("playback", "hello-world")]
    assert result.heard == ["hello-world"]


@pytest_twisted.ensureDeferred
async def test_exec_an_application_asterisk_does_not_have(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "exec", "application": "NoSuchApp", "args": ["x"]},
                               {"action": "play", "files": "welcome"}]}, {})
    result = await backend.call()
    exec_entry, play = result.result(2)["actions"]
    assert (exec_entry["status"], exec_entry["value"]) == ("failed", -2)
    assert play["status"] == "ok"  # the step goes on


@pytest_twisted.ensureDeferred
async def test_goto_another_app_overrides_next(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "goto", "app": "sales"}], "next": "never",
                   "vars": {"from": "menu"}})
    backend.answer("sales.start", {"actions": [{"action": "play", "files": "welcome"}]})
    result = await backend.call()
    assert result.methods == ["menu.start", "sales.start"]
    step2 = result.requests[1]
    assert (step2["step"], step2["session"], step2["vars"]) == (2, "s1", {"from": "menu"})
    assert result.heard == ["welcome"]


@pytest_twisted.ensureDeferred
async def test_callback_is_scheduled_and_the_session_goes_on(backend: Backend) -> None:
    backend.steps({"actions": [{"action": "callback", "delay": 3600, "app": "sales",
                                "vars": {"ticket": "T-1"}, "name": "later"},
                               {"action": "play", "files": "goodbye"}]}, {})
    result = await backend.call()
    ((number, at, app, variables, caller_id),) = backend.callbacks.scheduled
    assert (number, app, variables, caller_id) == ("5551234", "sales", {"ticket": "T-1"},
                                                   None)
    later = result.result(2)["later"]
    assert (later["status"], later["call_id"], later["number"]) == ("ok", "call-1", "5551234")
    assert at == pytest.approx(result.started + 3600, abs=0.1)  # on the engine's clock
    assert result.heard == ["goodbye"]


@pytest.mark.parametrize("excursion", [
    {"action": "queue", "queue": "support"},
    {"action": "conference", "conference": "room1"},
    {"action": "exec", "application": "Playback", "args": ["hello-world"]},
])
@pytest_twisted.ensureDeferred
async def test_after_an_excursion_end_continue_goes_on_where_the_call_came_from(
        backend: Backend, excursion: dict[str, object]) -> None:
    """Over ARI queue, conference and exec run in ``[gtx-ari-exec]`` and come back with a
    second Stasis(): the session's end still continues after the Stasis() the call entered
    gtx with, not after the excursion's (whose next priority hangs up)."""
    backend.queue("support", QueueBehaviour(status="TIMEOUT", wait_seconds=2))
    backend.asterisk.conference_seconds = 3
    backend.steps({"actions": [excursion]},
                  {"actions": [{"action": "play", "files": "goodbye"}], "end": "continue"})
    result = await backend.call()
    assert result.action(1)["status"] in ("ok", "timeout")
    assert result.heard[-1] == "goodbye"
    assert result.location == ("gtx", "100", 3)
    assert result.hung_up_by is None
    assert result.variables["GTX_STATUS"] == "DONE"
