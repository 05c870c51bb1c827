"""The ARI link (gtx.asterisk.ari_link.ARIClient): connecting, events, staying connected and
stopping, against a small ARI server on 127.0.0.1 (tests/asterisk/ari_loopback.py) and the
emulated ARI server of gtx.testing.

Connecting and reconnecting need real sockets on the asyncio reactor; timeouts run on a fake
clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gtx.asterisk.ari_api import AriNotFound, AriTimeout, AriUnavailable
from gtx.asterisk.ari_link import ARIClient
from gtx.testing import (
    CallSpec,
    EmulatedARIServer,
    EmulatedAsterisk,
    check_against_listings,
    run_until,
)
from tests.asterisk.ari_loopback import (
    CHANNEL,
    STASIS_START,
    FakeARI,
    Link,
    aio,
    closed,
    failure_of,
    link_timers,
    next_event,
)


@pytest_twisted.async_yield_fixture
async def ari() -> AsyncIterator[FakeARI]:
    server = FakeARI()
    await aio(server.start())
    yield server
    await aio(server.stop())


# -- connecting and events ----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_connects_subscribes_the_app_and_dispatches_events(ari: FakeARI) -> None:
    link = Link(ari.url)
    watched: list[dict[str, Any]] = []
    starts: list[dict[str, Any]] = []
    link.client.events.watch("channel:gtx-ari-1", watched.append)
    link.client.events.on_stasis_start(starts.append)
    try:
        await link.start()
        assert link.client.connected
        assert link.client.last_error == ""
        assert ari.websocket_queries == [{"app": "gtx", "api_key": "gtx:gtxsecret"}]
        # Something that is not an event is skipped; the next event still arrives.
        await aio(ari.send("not json"))
        await aio(ari.send({"no": "type"}))
        arrived = next_event(link.client)
        await aio(ari.send(STASIS_START))
        assert (await arrived)["type"] == "StasisStart"
        assert link.client.events.dispatched == 1
        assert [e["channel"]["id"] for e in watched] == ["gtx-ari-1"]
        assert [e["args"] for e in starts] == [["ivr", "http://x/RPC2"]]
        assert len(link.messages("warn")) == 2
    finally:
        await link.client.stopService()
    assert not link.client.connected
    assert link.ready_count == 1


@pytest_twisted.ensureDeferred
async def test_an_other_app_name_is_the_one_subscribed(ari: FakeARI) -> None:
    link = Link(ari.url.rstrip("/"), app="node-b")
    try:
        await link.start()
        assert link.client.app == "node-b"
        assert ari.websocket_queries[0]["app"] == "node-b"
    finally:
        await link.client.stopService()


@pytest_twisted.ensureDeferred
async def test_on_ready_handlers_can_call_at_once_and_be_unsubscribed(ari: FakeARI) -> None:
    ari.answer("GET", "/channels", 200, [CHANNEL])
    link = Link(ari.url)
    listed: list[Deferred[Any]] = []
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise RuntimeError("a resynchronisation bug")

    link.client.on_ready(failing)
    unsubscribe = link.client.on_ready(lambda: calls.append("removed"))
    unsubscribe()
    link.client.on_ready(lambda: listed.append(link.client.call("channels", "list")))
    try:
        await link.start()
        assert calls == ["failing"]
        assert await listed[0] == [CHANNEL]
        assert any("on_ready handler failed" in m for m in link.messages("critical"))
    finally:
        await link.client.stopService()


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="ari_url"):
        ARIClient(name="pbx1", url="127.0.0.1:8088", user="u", password="p", clock=Clock())
    with pytest.raises(ValueError, match="ari_app"):
        ARIClient(name="pbx1", url="http://h:8088/", user="u", password="p", app="gtx,menu",
                  clock=Clock())


# -- staying connected --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_dropped_websocket_is_reconnected_with_a_fresh_back_off(ari: FakeARI) -> None:
    ari.answer("GET", "/channels", 200, [])
    link = Link(ari.url, delays=lambda n: 0.0)
    try:
        await link.start()
        for _ in range(2):
            again = link.ready()
            await aio(ari.drop())
            await again
            assert link.client.connected
            assert await link.client.call("channels", "list") == []
        # Each loss is the first failure since a good connection: the back-off starts over.
        assert link.attempts == [1, 1]
        assert link.ready_count == 3
        assert link.client.last_error == ""
        lost = link.messages("warn")
        assert len(lost) == 2
        assert all("ARI pbx1: link lost (WebSocket closed" in m for m in lost)
    finally:
        await link.client.stopService()
    await closed(ari, 3)
    assert link_timers(link.client) == []


@pytest_twisted.ensureDeferred
async def test_an_unreachable_asterisk_is_retried_with_a_growing_back_off(ari: FakeARI) -> None:
    url = ari.url
    await aio(ari.stop())  # nothing listens on that port any more
    link = Link(url, delays=lambda n: 0.0 if n < 3 else 3600.0)
    try:
        link.client.startService()
        await link.failures(3)
        assert link.attempts == [1, 2, 3]
        assert not link.client.connected
        assert link.client.last_error.startswith("cannot connect: ")
        assert len(link_timers(link.client)) == 1  # the next attempt, an hour away
        failures: list[Any] = []
        link.client.call("channels", "list").addErrback(failures.append)
        assert failures[0].check(AriUnavailable)
    finally:
        await link.client.stopService()
    assert link_timers(link.client) == []
    assert link.ready_count == 0


@pytest.mark.parametrize("refuse", ["api-docs", "websocket"])
@pytest_twisted.ensureDeferred
async def test_refused_credentials_are_logged_and_retried_with_back_off(
    ari: FakeARI, refuse: str
) -> None:
    password = "wrong" if refuse == "api-docs" else "gtxsecret"
    ari.refuse_websocket = refuse == "websocket"
    link = Link(ari.url, password=password, delays=lambda n: 0.0 if n < 2 else 3600.0)
    try:
        link.client.startService()
        await link.failures(2)
        assert not link.client.connected
        assert link.client.last_error == "credentials refused for user 'gtx' (HTTP 401)"
        assert ari.refused == 2
        errors = link.messages("error")
        assert len(errors) == 2
        assert "ARI pbx1: credentials refused for user 'gtx' (HTTP 401)" in errors[0]
        assert "ari_password in [asterisk:pbx1]" in errors[0]
        assert all(password not in m for m in link.messages("warn") + errors)
        assert len(link_timers(link.client)) == 1
    finally:
        await link.client.stopService()
    assert link.ready_count == 0


@pytest_twisted.ensureDeferred
async def test_a_server_without_ari_is_reported_as_such(ari: FakeARI) -> None:
    link = Link(ari.url + "no-ari/")
    try:
        link.client.startService()
        await link.failures(1)
        assert link.client.last_error == (
            f"Asterisk answered HTTP 404: is ARI enabled at {ari.url}no-ari/?")
    finally:
        await link.client.stopService()


def test_error_texts_never_carry_the_password() -> None:
    client = ARIClient(name="pbx1", url="http://h:8088/", user="gtx", password="p&ss:w rd",
                       clock=Clock())
    text = "400, url='ws://h:8088/ari/events?app=gtx&api_key=gtx:p%26ss:w+rd' (p&ss:w rd)"
    assert client._redact(text) == "400, url='ws://h:8088/ari/events?app=gtx&api_key=gtx:***' (***)"


@pytest_twisted.ensureDeferred
async def test_a_password_with_url_special_characters_is_sent_intact() -> None:
    password = "p&ss%2F:w+rd =?#é"
    server = FakeARI(password=password)
    await aio(server.start())
    server.answer("GET", "/channels", 200, [])
    link = Link(server.url, password=password)
    try:
        await link.start()
        assert await link.client.call("channels", "list") == []
        assert server.websocket_queries[0]["api_key"] == f"gtx:{password}"
        assert server.refused == 0
    finally:
        await link.client.stopService()
        await aio(server.stop())


@pytest_twisted.ensureDeferred
async def test_an_asterisk_that_does_not_answer_is_given_up_after_connect_timeout(
    ari: FakeARI,
) -> None:
    clock = Clock()
    ari.hold_api_docs = True
    link = Link(ari.url, clock=clock, connect_timeout=5.0)
    try:
        link.client.startService()
        clock.advance(5.0)
        await link.failures(1)
        assert link.client.last_error == "no answer within 5 s"
        assert not link.client.connected
        assert [c.getTime() for c in clock.getDelayedCalls()] == [3605.0]  # the next attempt
    finally:
        await link.client.stopService()
    assert clock.getDelayedCalls() == []


# -- stopping -----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_stopping_lets_calls_in_flight_finish_then_closes(ari: FakeARI) -> None:
    clock = Clock()
    ari.held.add("/channels/gtx-ari-1/answer")
    link = Link(ari.url, clock=clock, call_timeout=3.0)
    await link.start()
    call = link.client.call("channels", "answer", channelId="gtx-ari-1")
    stopped = link.client.stopService()
    assert not link.client.connected
    refused: list[Any] = []
    link.client.call("channels", "list").addErrback(refused.append)
    assert refused[0].check(AriUnavailable)
    assert not stopped.called
    assert len(ari.sockets) == 1  # still open while the call may be answered
    clock.advance(3.0)
    assert isinstance(await failure_of(call), AriTimeout)
    await stopped
    await closed(ari, 1)
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_stopping_while_connecting_closes_the_session(ari: FakeARI) -> None:
    ari.hold_api_docs = True
    link = Link(ari.url)
    link.client.startService()
    for _ in range(100):  # until the server has the request (no sleep: one loop turn each)
        if ari.api_docs_requests:
            break
        await aio(asyncio.sleep(0))
    assert ari.api_docs_requests == 1
    await link.client.stopService()
    assert not link.client.connected
    assert link.attempts == []  # stopping is no failure: nothing is retried
    assert link_timers(link.client) == []


@pytest_twisted.ensureDeferred
async def test_a_link_can_be_started_again_after_a_stop(ari: FakeARI) -> None:
    link = Link(ari.url)
    await link.start()
    await link.client.stopService()
    await link.start()
    try:
        assert link.client.connected
        assert link.ready_count == 2
    finally:
        await link.client.stopService()
    await closed(ari, 2)


# -- over the emulated Asterisk -----------------------------------------------------------------


async def _registered(server: EmulatedARIServer, app: str = "gtx") -> None:
    """The server registers the application just after the client's upgrade is done."""
    for _ in range(100):
        if server.app_connected(app):
            return
        await aio(asyncio.sleep(0))
    raise AssertionError(f"{app} never registered")


@pytest_twisted.ensureDeferred
async def test_a_stasis_call_on_the_emulated_asterisk(tmp_path: Path) -> None:
    clock = Clock()
    server = EmulatedARIServer(EmulatedAsterisk(clock), recording_dir=tmp_path / "recordings")
    await server.start()
    link = Link(server.url)
    got: list[Any] = []

    def started(event: dict[str, Any]) -> None:
        channel = event["channel"]["id"]
        d = link.client.call("channels", "answer", channelId=channel)
        d.addCallback(lambda _: link.client.call(
            "channels", "setChannelVar", channelId=channel, variable="GTX_STATUS",
            value="RUNNING"))
        d.addCallback(lambda _: link.client.call(
            "channels", "getChannelVar", channelId=channel, variable="GTX_STATUS"))
        d.addBoth(got.append)

    link.client.events.on_stasis_start(started)
    try:
        await link.start()
        await _registered(server)
        assert "system" in await link.client.call("asterisk", "getInfo")
        spec = CallSpec(channel="PJSIP/alice-00000001", uniqueid="1795304604.1",
                        context="gtx", extension="menu", priority=2)
        record = await run_until(server.stasis_call(spec, "wait 2; hangup", args=["menu"]),
                                 clock=clock, reactor=reactor, server=server,
                                 links=[link.client])
        assert got == [{"value": "RUNNING"}]
        assert record.variables["GTX_STATUS"] == "RUNNING"
        assert record.hangup_source == "caller"
        missing = await failure_of(link.client.call("channels", "answer", channelId="no-such"))
        assert isinstance(missing, AriNotFound)
        assert missing.message == "Channel not found"
        assert check_against_listings(server.requests) == []
    finally:
        await link.client.stopService()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_the_emulated_asterisk_going_away_and_coming_back(tmp_path: Path) -> None:
    server = EmulatedARIServer(EmulatedAsterisk(Clock()), recording_dir=tmp_path / "rec")
    await server.start()
    # The first retry at once, the next ones after a tiny real delay (the server is back soon).
    link = Link(server.url, delays=lambda n: 0.0 if n == 1 else 0.02)
    try:
        await link.start()
        await _registered(server)
        await server.refuse_connections(True)
        await link.failures(2)
        assert not link.client.connected
        assert link.client.last_error.startswith("cannot connect: ")
        back = link.ready()
        await server.refuse_connections(False)
        await back
        await _registered(server)
        assert link.client.connected
        assert await link.client.call("channels", "list") == []
    finally:
        await link.client.stopService()
        await server.stop()
    assert link_timers(link.client) == []

