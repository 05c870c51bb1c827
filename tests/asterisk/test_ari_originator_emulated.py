"""ARIOriginator over the real ARIClient against the emulated ARI server: the outcomes of real
originations, the [gtx-dialer] dialplan (AMD), refusals, hang-ups, a link that drops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from gtx.asterisk.ari_originator import ENDED_WHILE_DOWN
from gtx.origination import OriginateRefused, OriginatorUnavailable
from gtx.testing import DialDestination
from tests.asterisk.ari_dialer_rig import Rig, dropped, reconnected, rig


async def failure_of(r: Rig, d: Deferred[Any]) -> BaseException:
    """The error ``d`` fails with, once the rig has driven it."""
    settled: Deferred[list[object]] = Deferred()
    d.addBoth(lambda value: settled.callback([value]))
    (value,) = await r.run(settled)
    assert isinstance(value, Failure), value
    return value.value


@pytest_twisted.ensureDeferred
async def test_an_answered_call_goes_on_in_the_dialer_dialplan(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5551000": DialDestination.answer(after=2, talk=10)})
    await r.run(r.originate("c1", "5551000"))
    ended = await r.ended("c1")
    assert r.progress("c1") == [("ringing", None), ("answered", None), ("ended", "answered")]
    assert ended.cause == "hangup cause 16 (Normal Clearing)"
    assert ended.channel is not None
    assert r.clock.seconds() == pytest.approx(12)
    sent = [(q.operation, q.params) for q in r.server.requests if q.operation not in (
        None, "events.eventWebsocket", "channels.list")]
    assert sent == [
        ("channels.originate", {
            "endpoint": "PJSIP/5551000@trunk", "app": "gtx", "appArgs": "gtx-dialer",
            "timeout": 20, "channelId": "c1", "otherChannelId": "c1-2",
            "variables": {"GTX_CALL_ID": "c1", "GTX_DIALER_GOTO": "gtx-test,talk,1"}}),
        ("applications.subscribe", {"eventSource": ["channel:c1"]}),
        ("channels.continueInDialplan", {"context": "gtx-dialer", "extension": "answered",
                                         "priority": 1}),
    ]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_machine_found_by_amd(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5551001": DialDestination.machine(after=1, talk=20)})
    await r.run(r.originate("c1", "5551001", variables={"GTX_AMD": "1"}))
    ended = await r.ended("c1")
    assert (ended.outcome, ended.cause) == ("machine", "AMD MACHINE LONGGREETING-1500-1500")
    assert r.progress("c1")[-2:] == [("answered", None), ("ended", "machine")]
    await r.close()


@pytest_twisted.ensureDeferred
async def test_unanswered_outcomes(tmp_path: Path) -> None:
    r = await rig(tmp_path, {
        "5552000": DialDestination.busy(after=1), "5553000": DialDestination.no_answer(),
        "5554000": DialDestination.congestion(after=1)})
    for call_id, number in (("busy", "5552000"), ("none", "5553000"), ("cong", "5554000")):
        await r.run(r.originate(call_id, number, timeout=15))
    busy = await r.ended("busy")
    assert (busy.outcome, busy.cause, r.clock.seconds()) == ("busy", "dial BUSY", 1)
    for call_id, outcome in (("none", "no_answer"), ("cong", "congestion")):
        await r.ended(call_id)
        assert r.progress(call_id) == [("ringing", None), ("ended", outcome)]
    assert r.clock.seconds() == 15  # the ring timeout
    await r.close()


@pytest_twisted.ensureDeferred
async def test_an_endpoint_that_cannot_be_called_is_refused(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5555000": DialDestination.unavailable()})
    refused = await failure_of(r, r.originate("c1", "5555000"))
    assert isinstance(refused, OriginateRefused)
    assert "HTTP 500 Allocation failed" in str(refused)
    assert r.calls == {}
    await r.close()


@pytest_twisted.ensureDeferred
async def test_refused_at_once_and_link_down(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5551000": DialDestination.answer()})
    r.server.fail_next("channels.originate", 400, {"message": "Endpoint must be specified"})
    refused = await failure_of(r, r.originate("c1", "5551000"))
    assert isinstance(refused, OriginateRefused)
    assert "400 Endpoint must be specified" in str(refused)
    assert r.calls == {}
    await dropped(r)
    assert not r.originator.connected
    down = await failure_of(r, r.originate("c2", "5551000"))
    assert isinstance(down, OriginatorUnavailable)
    await reconnected(r)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_hangup_cancels_an_answered_call(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5551000": DialDestination.answer(after=1, talk=None)})
    await r.run(r.originate("c1", "5551000"))
    await r.wait(3)
    assert r.progress("c1")[-1] == ("answered", None)
    await r.run(r.originator.hangup("c1"))
    ended = await r.ended("c1")
    assert ended.outcome == "canceled"
    await r.run(r.originator.hangup("c1"))  # gone already: 404 is no error
    await r.close()


@pytest_twisted.ensureDeferred
async def test_a_call_that_ends_while_the_link_is_down(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"5551000": DialDestination.answer(after=1, talk=None),
                             "5551001": DialDestination.answer(after=1, talk=None)})
    await r.run(r.originate("c1", "5551000"))
    await r.run(r.originate("c2", "5551001"))
    await r.wait(3)
    await dropped(r)
    r.server.hangup("c1")  # its events are lost with the WebSocket
    assert r.progress("c1") == [("ringing", None), ("answered", None)]
    await reconnected(r)
    ended = await r.ended("c1")
    assert (ended.outcome, ended.cause) == ("answered", ENDED_WHILE_DOWN)
    assert r.progress("c2")[-1] == ("answered", None)  # still up: followed on
    r.server.hangup("c2")
    assert (await r.ended("c2")).outcome == "answered"
    await r.close()
