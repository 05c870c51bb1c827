"""REST calls through the ARI link (gtx.asterisk.ari_link.ARIClient.call and
gtx.asterisk.ari_operations): parameters as Asterisk reads them, JSON answers, the ARI error
tree, programming errors caught before sending, timeouts; over a small ARI server on 127.0.0.1
(tests/asterisk/ari_loopback.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from aiohttp import web, web_exceptions
from twisted.internet.task import Clock

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
from gtx.asterisk.ari_operations import KEEPALIVE_TIMEOUT, AriHttpClient, arguments, http_status
from tests.asterisk.ari_loopback import CHANNEL, FakeARI, Link, aio, failure_of


@pytest_twisted.async_yield_fixture
async def ari() -> AsyncIterator[FakeARI]:
    server = FakeARI()
    await aio(server.start())
    yield server
    await aio(server.stop())


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


@pytest_twisted.ensureDeferred
async def test_supports_says_which_operations_and_parameters_the_listings_declare(
        ari: FakeARI) -> None:
    link = Link(ari.url)
    assert not link.client.supports("channels", "hangup")  # not connected
    try:
        await link.start()
        assert link.client.supports("channels", "hangup")
        assert link.client.supports("channels", "hangup", "reason")
        assert link.client.supports("channels", "hangup", "reason_code")
        assert not link.client.supports("channels", "hangup", "no_such_parameter")
        assert not link.client.supports("channels", "no_such_operation")
        assert not link.client.supports("no_such_resource", "list")
    finally:
        await link.client.stopService()


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


class GatedARI(FakeARI):
    """FakeARI holding the requests of one path until :meth:`open_gate`, counting how many
    REST requests it is answering at once."""

    def __init__(self, gated: str) -> None:
        super().__init__()
        self.gated = gated
        self.answering = 0
        self.peak = 0
        self._gate: asyncio.Future[None] | None = None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        self.answering += 1
        self.peak = max(self.peak, self.answering)
        try:
            if request.path == "/ari" + self.gated:
                if self._gate is None:
                    self._gate = asyncio.get_running_loop().create_future()
                await self._gate
            return await super()._rest(request)
        finally:
            self.answering -= 1

    def open_gate(self) -> None:
        if self._gate is not None and not self._gate.done():
            self._gate.set_result(None)


async def turns(count: int) -> None:
    """Let the loop run ``count`` times (no sleeping)."""
    for _ in range(count):
        await aio(asyncio.sleep(0))


@pytest_twisted.ensureDeferred
async def test_no_more_rest_connections_than_max_connections() -> None:
    # Asterisk closes, unanswered, the connections over its sessionlimit: the link queues
    # requests beyond max_connections instead of opening more.
    ari = GatedARI("/channels/gtx-ari-1/answer")
    await aio(ari.start())
    ari.answer("POST", "/channels/gtx-ari-1/answer", 204)
    link = Link(ari.url, max_connections=2)
    try:
        await link.start()
        calls = [link.client.call("channels", "answer", channelId="gtx-ari-1")
                 for _ in range(6)]
        for _ in range(500):
            if ari.answering >= 2:
                break
            await turns(1)
        await turns(200)  # time for any request that had its own connection to arrive
        assert (ari.answering, len(ari.requests)) == (2, 0)
        assert link.client.in_flight == 6
        ari.open_gate()
        for call in calls:
            assert await call is None
    finally:
        await link.client.stopService()
        await aio(ari.stop())
    assert ari.peak == 2
    assert len(ari.requests) == 6


def test_max_connections_is_checked() -> None:
    for bad in (0, 91):
        with pytest.raises(ValueError, match=r"\[asterisk:pbx1\] ari_connections must be 1 to "
                                             r"90"):
            ARIClient(name="pbx1", url="http://127.0.0.1:1/", user="gtx", password="p",
                      clock=Clock(), max_connections=bad)


@pytest_twisted.ensureDeferred
async def test_the_http_pool_holds_the_rest_connections_and_the_websocket() -> None:
    async def pool() -> tuple[int, float]:
        http = AriHttpClient("127.0.0.1", "gtx:p", heartbeat=20.0, close_timeout=1.0,
                             max_connections=7)
        try:
            connector = http.session.connector
            return connector.limit, connector._keepalive_timeout
        finally:
            await http.close()

    limit, keepalive = await aio(pool())
    assert limit == 8
    assert keepalive == KEEPALIVE_TIMEOUT < 15.0  # Asterisk's session_keep_alive


# -- conversions, without a server --------------------------------------------------------------

PLAY = {"nickname": "play", "parameters": [
    {"name": "channelId", "paramType": "path", "required": True},
    {"name": "media", "paramType": "query", "required": True, "allowMultiple": True},
    {"name": "skipms", "paramType": "query", "required": False},
    {"name": "offsetms", "paramType": "query", "required": False},
    {"name": "lang", "paramType": "query", "required": False},
    {"name": "variables", "paramType": "body", "required": False},
]}


def test_arguments_are_converted_as_asterisk_reads_them() -> None:
    args = arguments("channels.play", PLAY, {
        "channelId": "gtx-ari-1;2", "media": ["sound:a", "digits:12"], "skipms": 1.5,
        "offsetms": 3000.0, "lang": None, "variables": {"A": 1, "B": False}})
    assert args == {"channelId": "gtx-ari-1;2", "media": "sound:a,digits:12", "skipms": "1.5",
                    "offsetms": "3000", "variables": {"A": "1", "B": "false"}}


def test_a_required_parameter_given_as_none_is_missing() -> None:
    with pytest.raises(AriError, match=r"channels\.play: missing required parameter media"):
        arguments("channels.play", PLAY, {"channelId": "c", "media": None})


@pytest.mark.parametrize(("status", "text", "reason", "expected"), [
    (404, '{"message": "Channel not found"}', "Not Found", (404, "Channel not found")),
    (500, '{"error": "Allocation failed"}', "Internal Server Error", (500, "Allocation failed")),
    (400, '{"message": 3}', "Bad Request", (400, '{"message": 3}')),
    (502, "", "Bad Gateway", (502, "Bad Gateway")),
])
def test_http_status_reads_the_message_of_an_ari_error_body(
    status: int, text: str, reason: str, expected: tuple[int, str]
) -> None:
    error_class = {404: web_exceptions.HTTPNotFound, 500: web_exceptions.HTTPInternalServerError,
                   400: web_exceptions.HTTPBadRequest, 502: web_exceptions.HTTPBadGateway}[status]
    error = error_class(reason=reason, text=text)  # as aioswagger11 raises it
    assert http_status(error) == expected
