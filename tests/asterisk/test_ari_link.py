"""The ARI link (gtx.asterisk.ari_link.ARIClient) against a small ARI server on 127.0.0.1.

Connecting, the event WebSocket and reconnecting need real sockets on the asyncio reactor;
timeouts run on a fake clock (the REST call itself still goes over loopback).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger

from gtx.asterisk.ari_api import (
    AriConflict,
    AriError,
    AriHTTPError,
    AriNotFound,
    AriServerError,
    AriTimeout,
    AriUnavailable,
    AriUnprocessable,
)
from gtx.asterisk.ari_link import ARIClient
from tests.asterisk.ari_fake import FakeARI, aio

#: Bound on every wait of these tests on real sockets (they take milliseconds).
WAIT = 10.0
CHANNEL = {"id": "gtx-ari-1", "name": "Local/wait@gtx-test-00000001;1", "state": "Up"}
STASIS_START = {"type": "StasisStart", "args": ["ivr", "http://x/RPC2"], "channel": CHANNEL,
                "application": "gtx"}


@pytest_twisted.async_yield_fixture
async def ari() -> AsyncIterator[FakeARI]:
    server = FakeARI()
    await aio(server.start())
    yield server
    await aio(server.stop())


class Link:
    """An ARIClient plus what a test watches: on_ready firings, retry delays asked for, logs."""

    def __init__(self, url: str, *, password: str = "gtxsecret", clock: Any = reactor,
                 delays: Callable[[int], float] | None = None, **kwargs: Any) -> None:
        self.attempts: list[int] = []
        self.logs: list[dict[str, Any]] = []
        self.ready_count = 0
        self._ready_waiters: list[Deferred[None]] = []
        self._attempt_waiters: list[tuple[int, Deferred[None]]] = []
        self._delays = delays or (lambda n: 3600.0)
        self.client = ARIClient(
            name="pbx1", url=url, user="gtx", password=password, clock=clock,
            retry_policy=self._policy, log=Logger(namespace="test", observer=self.logs.append),
            **kwargs)
        self.client.on_ready(self._ready)

    def _policy(self, failures: int) -> float:
        self.attempts.append(failures)
        for waiter in [w for n, w in self._attempt_waiters if len(self.attempts) >= n]:
            self._attempt_waiters = [(n, w) for n, w in self._attempt_waiters if w is not waiter]
            reactor.callLater(0, waiter.callback, None)  # once the retry is scheduled
        return self._delays(failures)

    def _ready(self) -> None:
        self.ready_count += 1
        waiters, self._ready_waiters = self._ready_waiters, []
        for waiter in waiters:  # after the other on_ready handlers
            reactor.callLater(0, waiter.callback, None)

    def ready(self) -> Deferred[None]:
        """Fires at the next on_ready (fails after WAIT seconds: a broken link fails the test,
        never hangs it)."""
        d: Deferred[None] = Deferred()
        self._ready_waiters.append(d)
        return d.addTimeout(WAIT, reactor)

    def failures(self, count: int) -> Deferred[None]:
        """Fires once the retry policy has been asked ``count`` times in all."""
        d: Deferred[None] = Deferred()
        if len(self.attempts) >= count:
            d.callback(None)
        else:
            self._attempt_waiters.append((count, d))
        return d.addTimeout(WAIT, reactor)

    async def start(self) -> None:
        ready = self.ready()
        self.client.startService()
        try:
            await ready
        except BaseException:
            await self.client.stopService()
            raise

    def messages(self, level: str) -> list[str]:
        from twisted.logger import formatEvent

        return [formatEvent(e) for e in self.logs if e["log_level"].name == level]


def next_event(client: ARIClient) -> Deferred[dict[str, Any]]:
    """Fires with the next event once its dispatch is over (every handler has had it)."""
    d: Deferred[dict[str, Any]] = Deferred()
    stop = client.events.on_every(lambda e: (stop(), reactor.callLater(0, d.callback, dict(e))))
    return d.addTimeout(WAIT, reactor)


async def failure_of(d: Deferred[Any]) -> BaseException:
    try:
        await d
    except BaseException as e:
        return e
    raise AssertionError("the call succeeded")


async def closed(ari: FakeARI, count: int) -> None:
    """Wait (a bounded number of loop turns, no sleep) until the server has seen ``count``
    WebSockets closed: it finishes its side of a close just after the client."""
    for _ in range(100):
        if ari.closed_sockets >= count:
            break
        await aio(asyncio.sleep(0))
    assert ari.closed_sockets == count


def link_timers(client: ARIClient) -> list[Any]:
    return [c for c in reactor.getDelayedCalls()
            if getattr(c.func, "__self__", None) is client]


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
        ARIClient(name="pbx1", url="http://h:8088/", user="u", password="p", app="gtx-dial",
                  clock=Clock())


# -- REST calls ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_rest_calls_send_converted_parameters_and_return_json(ari: FakeARI) -> None:
    ari.answer("POST", "/channels", 200, CHANNEL)
    ari.answer("POST", "/channels/gtx-ari-1;2/answer", 204)
    ari.answer("POST", "/channels/gtx-ari-1/record", 201, {"name": "r1", "state": "queued"})
    ari.answer("POST", "/channels/gtx-ari-1/variable", 204)
    link = Link(ari.url)
    try:
        await link.start()
        created = await link.client.call(
            "channels", "originate", endpoint="Local/wait@gtx-test", app="gtx",
            appArgs="ivr,http://x/RPC2", channelId="gtx-ari-1", timeout=30,
            variables={"GTX_SESSION": "s1", "TRIES": 2}, callerId=None)
        assert created == CHANNEL
        assert await link.client.call("channels", "answer", channelId="gtx-ari-1;2") is None
        recording = await link.client.call(
            "channels", "record", channelId="gtx-ari-1", name="r1", format="wav",
            maxDurationSeconds=2.0, beep=True, terminateOn=["#", "*"])
        assert recording == {"name": "r1", "state": "queued"}
        await link.client.call("channels", "setChannelVar", channelId="gtx-ari-1",
                               variable="A", value="x")
        assert link.client.in_flight == 0
    finally:
        await link.client.stopService()
    originate, answer, record, var = ari.requests
    assert (originate.method, originate.path) == ("POST", "/channels")
    assert originate.query == {"endpoint": "Local/wait@gtx-test", "app": "gtx",
                               "appArgs": "ivr,http://x/RPC2", "channelId": "gtx-ari-1",
                               "timeout": "30"}
    assert originate.body == {"variables": {"GTX_SESSION": "s1", "TRIES": "2"}}
    assert answer.path == "/channels/gtx-ari-1;2/answer"
    assert record.query == {"name": "r1", "format": "wav", "maxDurationSeconds": "2",
                            "beep": "true", "terminateOn": "#,*"}
    assert record.body is None
    assert var.query == {"variable": "A", "value": "x"}


@pytest_twisted.ensureDeferred
async def test_variables_already_wrapped_are_sent_once(ari: FakeARI) -> None:
    ari.answer("POST", "/channels/create", 200, CHANNEL)
    link = Link(ari.url)
    try:
        await link.start()
        await link.client.call("channels", "create", endpoint="Local/s@x", app="gtx",
                               variables={"variables": {"A": "1"}})
    finally:
        await link.client.stopService()
    assert ari.requests[0].body == {"variables": {"A": "1"}}


@pytest.mark.parametrize(("status", "body", "error", "message"), [
    (404, {"message": "Channel not found"}, AriNotFound, "Channel not found"),
    (409, {"message": "Channel not in Stasis application"}, AriConflict,
     "Channel not in Stasis application"),
    (422, {"message": "Recording not found"}, AriUnprocessable, "Recording not found"),
    (500, {"message": "Internal Server Error"}, AriServerError, "Internal Server Error"),
    (500, {"error": "Allocation failed"}, AriServerError, "Allocation failed"),
    (503, "overloaded", AriServerError, "overloaded"),
])
@pytest_twisted.ensureDeferred
async def test_http_errors_become_the_matching_ari_error(
    ari: FakeARI, status: int, body: Any, error: type[AriHTTPError], message: str
) -> None:
    ari.answer("POST", "/channels/no-such/answer", status, body)
    link = Link(ari.url)
    try:
        await link.start()
        failure = await failure_of(link.client.call("channels", "answer", channelId="no-such"))
    finally:
        await link.client.stopService()
    assert type(failure) is error
    assert isinstance(failure, AriHTTPError)
    assert (failure.operation, failure.status, failure.message) == (
        "channels.answer", status, message)


@pytest.mark.parametrize(("resource", "operation", "params", "message"), [
    ("channel", "answer", {"channelId": "c"}, "no resource 'channel'"),
    ("channels", "pickUp", {"channelId": "c"}, "'channels' has no operation 'pickUp'"),
    ("channels", "answer", {"channelId": "c", "loud": True}, "channels.answer has no parameter"
     " loud"),
    ("channels", "play", {"channelId": "c"}, "missing required parameter media"),
    ("channels", "play", {"channelId": "c", "media": {"x": 1}}, "cannot be a dict"),
    ("channels", "originate", {"endpoint": "e", "variables": ["A"]}, "must be a mapping"),
    ("events", "eventWebsocket", {"app": "gtx"}, "the event WebSocket"),
])
@pytest_twisted.ensureDeferred
async def test_programming_errors_fail_clearly_before_sending(
    ari: FakeARI, resource: str, operation: str, params: dict[str, Any], message: str
) -> None:
    link = Link(ari.url)
    try:
        await link.start()
        failure = await failure_of(link.client.call(resource, operation, **params))
    finally:
        await link.client.stopService()
    assert type(failure) is AriError
    assert message in str(failure)
    assert ari.requests == []


def test_a_call_while_disconnected_fails_at_once() -> None:
    client = ARIClient(name="pbx1", url="http://127.0.0.1:1/", user="gtx", password="p",
                       clock=Clock())
    failures: list[Any] = []
    client.call("channels", "answer", channelId="c").addErrback(failures.append)
    assert failures[0].check(AriUnavailable)
    assert "channels.answer: the ARI link to pbx1 is down" in str(failures[0].value)
    assert client.in_flight == 0


@pytest_twisted.ensureDeferred
async def test_a_call_unanswered_in_time_fails_with_a_timeout(ari: FakeARI) -> None:
    clock = Clock()
    ari.held.add("/channels/gtx-ari-1/answer")
    link = Link(ari.url, clock=clock, call_timeout=3.0)
    try:
        await link.start()
        call = link.client.call("channels", "answer", channelId="gtx-ari-1")
        assert link.client.in_flight == 1
        clock.advance(2.9)
        assert not call.called
        clock.advance(0.1)
        failure = await failure_of(call)
        assert isinstance(failure, AriTimeout)
        assert "channels.answer: no answer from pbx1 within 3 s" in str(failure)
        assert link.client.in_flight == 0
    finally:
        await link.client.stopService()
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_a_connection_cut_during_a_call_leaves_its_effect_unknown(ari: FakeARI) -> None:
    ari.cut.add("/channels/gtx-ari-1/answer")
    link = Link(ari.url)
    try:
        await link.start()
        failure = await failure_of(link.client.call("channels", "answer", channelId="gtx-ari-1"))
    finally:
        await link.client.stopService()
    assert isinstance(failure, AriTimeout)
    assert "lost before the answer" in str(failure)


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
