"""IVR sessions over ARI end to end: the emulated ARI server, the real ARIClient over loopback,
the StasisRunner and the IvrEngine, on one Clock."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from gtx.testing import DialDestination
from tests.asterisk.ari_emulated import stack


@pytest_twisted.ensureDeferred
async def test_a_session_answers_plays_reads_and_hangs_up(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [
        {"action": "answer"},
        {"action": "play", "files": ["hello-world"]},
        {"action": "read", "prompt": ["press-1"], "max_digits": 2, "timeout": 5},
    ], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "hangup"}]})
    record = await s.call("wait 3; press 4; press 2")
    step2 = s.requests()[1]
    assert step2["result"]["status"] == "ok"
    assert step2["result"]["digits"] == "42"
    assert step2["channel"] == "PJSIP/alice-00000001"
    assert step2["uniqueid"] == "1795304604.1"
    assert step2["asterisk"] == "pbx1"
    assert record.played[:1] == ["hello-world"]
    assert record.variables["GTX_STATUS"] == "DONE"
    assert record.hangup_source == "ari"
    assert [o.status for o in s.engine.outcomes] == ["DONE"]
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_pjsip_call_without_gtx_headers_gets_a_new_session(tmp_path: Path) -> None:
    """gtx looks for a hand-over in ``PJSIP_HEADER(read,X-GTX-Session)``, which Asterisk
    cannot read on a call without that header (500 "Unable to read provided function"): the
    call gets a session of its own all the same."""
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [{"action": "play", "files": "hello-world"}]})
    record = await s.call(None)
    (read,) = [r for r in s.server.requests if r.operation == "channels.getChannelVar"
               and r.params.get("variable") == "PJSIP_HEADER(read,X-GTX-Session)"]
    assert read.status == 500
    assert [o.status for o in s.engine.outcomes] == ["DONE"]
    assert s.requests()[0]["resumed"] is False
    assert record.played == ["hello-world"]
    assert record.variables["GTX_STATUS"] == "DONE"
    await s.close()


@pytest_twisted.ensureDeferred
async def test_end_continue_and_transfer_give_the_channel_back_to_the_dialplan(
        tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [{"action": "answer"}], "end": "continue"})
    s.answer("sales.start", {"actions": [
        {"action": "transfer", "context": "sales", "extension": "100", "priority": 1}]})
    first = await s.call("wait 30")
    second = await s.call("wait 30", args=("sales",), uniqueid="1795304604.2")
    assert first.continued_at == ("gtx", "menu", 3)  # the priority after Stasis()
    assert first.variables["GTX_STATUS"] == "DONE"
    assert second.continued_at == ("sales", "100", 1)
    assert [o.status for o in s.engine.outcomes] == ["DONE", "DONE"]
    assert s.runner.active == 0
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_url_app_from_the_stasis_arguments(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("shop.start", {"actions": [{"action": "hangup"}]})
    await s.call(None, args=("ivr", "http://shop.example/RPC2", "shop.start", "vip"))
    assert s.ws.calls[0].url == "http://shop.example/RPC2"
    assert s.requests()[0]["args"] == ["vip"]
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_draining_engine_leaves_the_channel_to_the_dialplan(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.engine.stop_accepting()
    record = await s.call("wait 30")
    assert record.continued_at == ("gtx", "menu", 3)
    assert "GTX_STATUS" not in record.variables
    assert s.ws.calls == []
    assert s.operations() == ["channels.list", "channels.continueInDialplan"]
    await s.close()


@pytest_twisted.ensureDeferred
async def test_the_caller_hanging_up_during_a_read(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [
        {"action": "read", "prompt": ["hello-world"], "max_digits": 4, "timeout": 10}],
        "next": "step2"})
    s.answer("menu.hangup", {})
    record = await s.call("wait 3; press 1; wait 1; hangup")
    assert s.ws.methods() == ["menu.start", "menu.hangup"]
    final = s.requests()[-1]["result"]
    assert final["status"] == "hangup"
    assert [o.status for o in s.engine.outcomes] == ["HANGUP"]
    assert record.hangup_source == "caller"
    # ARI cannot write to a destroyed channel: GTX_STATUS keeps its last value there.
    assert record.variables["GTX_STATUS"] == "RUNNING"
    assert record.continued_at is None
    await s.close()


@pytest_twisted.ensureDeferred
async def test_say_record_dtmf_and_music(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [
        {"action": "say", "type": "digits", "value": "42"},
        {"action": "moh", "seconds": 2},
        {"action": "dtmf", "digits": "1#"},
        {"action": "record", "file": "msg-{session}", "max_seconds": 5, "beep": False},
    ], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "hangup"}]})
    record = await s.call("wait 30")
    result = s.requests()[1]["result"]
    assert [a["status"] for a in result["actions"]] == ["ok"] * 4
    recorded = result["actions"][3]
    assert recorded["reason"] == "timeout"
    assert recorded["duration"] == 5
    wav = s.server.recording_dir / "msg-s1.wav"
    assert recorded["file"] == str(wav)
    assert wav.stat().st_size > 44
    assert record.played[:2] == ["digits/4", "digits/2"]
    assert record.dtmf_sent == "1#"
    await s.close()


@pytest_twisted.ensureDeferred
async def test_dial_answered_then_busy(tmp_path: Path) -> None:
    s = await stack(tmp_path, destinations={
        "PJSIP/100": DialDestination.answer(after=3, talk=7),
        "PJSIP/200": DialDestination("BUSY", ring_seconds=1)})
    s.answer("menu.start", {"actions": [
        {"action": "dial", "target": "PJSIP/100", "timeout": 20, "name": "first"},
        {"action": "dial", "target": "PJSIP/200", "timeout": 20, "name": "second"},
    ], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "hangup"}]})
    await s.call("wait 60")
    result = s.requests()[1]["result"]
    assert (result["first"]["dialstatus"], result["first"]["answered_seconds"],
            result["first"]["dialed_seconds"]) == ("ANSWER", 7, 10)
    assert result["second"]["dialstatus"] == "BUSY"
    assert result["second"]["status"] == "failed"
    assert s.server.channels == {}  # no leg and no bridge left behind
    assert not s.server.bridges.bridges
    await s.close()


@pytest_twisted.ensureDeferred
async def test_exec_goes_to_the_dialplan_and_comes_back(tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [
        {"action": "exec", "application": "Playback", "args": ["hello-world"]},
        {"action": "exec", "application": "NoSuchApp"},
    ], "next": "step2"})
    s.answer("step2", {"actions": [{"action": "hangup"}]})
    record = await s.call("wait 60")
    actions = s.requests()[1]["result"]["actions"]
    assert actions[0] == {"action": "exec", "status": "ok", "value": 0}
    assert actions[1]["status"] == "failed"
    assert actions[1]["value"] == -2
    assert [run[0] for run in record.exec_runs] == ["Playback", "NoSuchApp"]
    assert record.continues[:1] == [("gtx-ari-exec", "s", 1)]
    assert [o.status for o in s.engine.outcomes] == ["DONE"]
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_session_prepared_by_the_dialer_and_one_resumed_after_a_failover(
        tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [{"action": "hangup"}]})
    s.answer("menu.three", {"actions": [{"action": "hangup"}]})
    await s.call(None, variables={"GTX_STATUS": "READY", "GTX_VARS": '{"campaign": "c1"}'})
    assert s.requests()[0]["vars"] == {"campaign": "c1"}
    await s.call(None, uniqueid="1795304604.2", variables={
        "GTX_STATUS": "RUNNING", "GTX_SESSION": "node-a-7", "GTX_APP": "menu",
        "GTX_STEP": "3", "GTX_VARS": '{"lang": "fr"}',
        "GTX_NEXT": '{"url": "http://ws.example/RPC2", "method": "menu.three"}'})
    resumed = s.requests()[1]
    assert (resumed["session"], resumed["step"], resumed["vars"]) == ("node-a-7", 3,
                                                                       {"lang": "fr"})
    assert resumed["result"]["status"] == "resumed"
    assert [o.status for o in s.engine.outcomes] == ["DONE", "DONE"]
    await s.close()


@pytest_twisted.ensureDeferred
async def test_a_hand_off_to_the_dialplan_continues_at_the_transfer_location(
        tmp_path: Path) -> None:
    s = await stack(tmp_path)
    s.answer("menu.start", {"actions": [
        {"action": "transfer", "context": "gtx-agi", "extension": "s", "priority": 1,
         "handoff": True}], "next": "menu.two"})
    record = await s.call("wait 30")
    assert record.continued_at == ("gtx-agi", "s", 1)
    assert record.variables["GTX_STATUS"] == "HANDOFF"
    assert record.variables["GTX_STEP"] == "2"
    assert [o.status for o in s.engine.outcomes] == ["HANDOFF"]
    await s.close()
