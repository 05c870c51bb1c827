"""IVR sessions over ARI when things go wrong: REST errors mid-session, the WebSocket dropped
mid-call, a channel leaving Stasis unexpectedly, the caller hanging up during each wait. Each
session ends with a clear status and nothing is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from gtx.testing import DialDestination, QueueBehaviour
from tests.asterisk.ari_emulated import stack

HANGS_UP_AFTER_3 = "wait 3; hangup"


@pytest_twisted.ensureDeferred
async def test_a_server_error_fails_one_action_only(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.server.fail_next("channels.play", 500)
    s.answer("menu.start", {"actions": [
        {"action": "play", "files": ["hello-world"]},
        {"action": "play", "files": ["hello-world"]}], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "hangup"}]})
    record = await s.call("wait 30")
    first, second = s.requests()[1]["result"]["actions"]
    assert first["status"] == "failed"
    assert "500 Internal Server Error" in first["error"]
    assert second["status"] == "ok"
    assert record.played == ["hello-world"]
    assert [o.status for o in s.engine.outcomes] == ["DONE"]
    await s.close()


@pytest.mark.parametrize(("status", "message"), [
    (404, "Channel not found"), (409, "Channel not in Stasis application")])
@pytest_twisted.ensureDeferred
async def test_a_channel_asterisk_no_longer_knows_is_hung_up(tmp_path: Path, status: int,
                                                             message: str) -> None:
    s = await stack(tmp_path)
    s.server.fail_next("channels.answer", status, {"message": message})
    s.answer("menu.start", {"actions": [{"action": "answer"}], "next": "step2"})
    s.answer("menu.hangup", {})
    await s.call(HANGS_UP_AFTER_3)
    assert s.ws.methods() == ["menu.start", "menu.hangup"]
    assert s.requests()[-1]["result"]["status"] == "hangup"
    assert [o.status for o in s.engine.outcomes] == ["HANGUP"]
    assert "channels.continueInDialplan" not in s.operations()
    await s.close()


@pytest_twisted.ensureDeferred
async def test_the_websocket_dropped_mid_call_resumes_the_session(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [{"action": "answer"}], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "play", "files": ["demo-congrats"]}],
                       "next": "step3"}, {"actions": [{"action": "hangup"}]})
    s.clock.callLater(3, s.server.drop_websockets)
    record = await s.call("wait 60")
    assert s.ws.methods() == ["menu.start", "step2", "step2"]
    again = s.requests()[2]
    assert again["session"] == s.requests()[1]["session"]
    assert again["step"] == 2
    assert again["result"]["status"] == "resumed"
    assert [o.status for o in s.engine.outcomes] == ["LOST", "DONE"]
    assert record.variables["GTX_STATUS"] == "DONE"
    assert s.link.connected
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_channel_kicked_out_of_stasis(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [{"action": "wait", "seconds": 30}], "next": "step2"})
    s.answer("menu.hangup", {})
    s.clock.callLater(5, s.server.kick, "1795304604.1")
    record = await s.call("wait 60")
    assert s.ws.methods() == ["menu.start", "menu.hangup"]
    assert [o.status for o in s.engine.outcomes] == ["HANGUP"]
    assert "channels.continueInDialplan" not in s.operations()
    assert record.continued_at == ("gtx", "menu", 3)  # where Asterisk took it
    await s.close()


WAITS: dict[str, dict[str, Any]] = {
    "play": {"action": "play", "files": ["demo-congrats"]},
    "read": {"action": "read", "prompt": ["hello-world"], "timeout": 10},
    "say": {"action": "say", "type": "number", "value": 123456789},
    "record": {"action": "record", "file": "r-{session}", "max_seconds": 30},
    "dial": {"action": "dial", "target": "PJSIP/ringing", "timeout": 30},
    "dial answered": {"action": "dial", "target": "PJSIP/talks", "timeout": 30},
    "moh": {"action": "moh", "seconds": 30},
    "wait": {"action": "wait", "seconds": 30},
    "queue": {"action": "queue", "queue": "support"},
}


@pytest.mark.parametrize("action", list(WAITS))
@pytest_twisted.ensureDeferred
async def test_the_caller_hanging_up_during_each_wait(tmp_path: Path, action: str) -> None:
    s = await stack(tmp_path, destinations={
        "PJSIP/ringing": DialDestination("NOANSWER"),
        "PJSIP/talks": DialDestination.answer(after=1, talk=None)},
        queues={"support": QueueBehaviour(wait_seconds=20)})
    s.answer("menu.start", {"actions": [WAITS[action]], "next": "step2"})
    s.answer("menu.hangup", {})
    record = await s.call(HANGS_UP_AFTER_3)
    assert s.ws.methods() == ["menu.start", "menu.hangup"]
    final = s.requests()[-1]["result"]
    assert final["status"] == "hangup"
    assert final["actions"][0]["status"] == "hangup"
    assert [o.status for o in s.engine.outcomes] == ["HANGUP"]
    assert record.hangup_source == "caller"
    assert s.server.channels == {}  # no dial leg left
    assert s.runner.active == 0
    await s.close()
