"""The keep-alive client against a real twisted.web server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_twisted
from twisted.internet import endpoints
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock
from twisted.web.server import NOT_DONE_YET, Request

from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.errors import (
    BodyTooLarge,
    CallTimeout,
    CodecError,
    ConnectFailed,
    Fault,
    HTTPStatusError,
)
from gtx.xmlrpc.signing import verify

from .conftest import Server, echo, fault, hang

MakeClient = Callable[..., XMLRPCClient]


@pytest_twisted.ensureDeferred
async def test_sequential_calls_reuse_one_connection(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client()
    for step in range(50):
        value = await client.call(server.url, "menu.step", [{"step": step}], timeout=5)
        assert value == {"method": "menu.step", "params": [{"step": step}]}
    assert server.site.connections == 1


@pytest_twisted.ensureDeferred
async def test_concurrent_calls_stay_within_the_connection_limit(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client(max_connections_per_host=3)
    calls = [client.call(server.url, "menu.step", [n], timeout=5) for n in range(20)]
    values = await gatherResults(calls)
    assert [value["params"] for value in values] == [[n] for n in range(20)]  # type: ignore[index]
    assert 1 <= server.site.connections <= 3


@pytest_twisted.ensureDeferred
async def test_request_headers_and_verifiable_signature(
    server: Server, make_client: MakeClient
) -> None:
    clock = Clock()
    clock.advance(1795000000.7)
    client = make_client(clock=clock, user_agent="gtx/test")
    await client.call(
        server.url, "menu.step", ["x"], timeout=5, secret="s3cret", headers={"X-Trace": "t-1"}
    )
    request, body = server.service.received[-1]
    header = request.getHeader
    assert header("content-type") == "text/xml"
    assert header("user-agent") == "gtx/test"
    assert header("x-trace") == "t-1"
    assert header("x-gtx-timestamp") == "1795000000"
    signature = header("x-gtx-signature")
    assert signature is not None
    assert signature.startswith("v1=")
    assert verify("s3cret", "1795000000", signature, body, now=1795000010)
    assert not verify("other", "1795000000", signature, body, now=1795000010)
    await client.call(server.url, "menu.step", ["x"], timeout=5)
    assert server.service.received[-1][0].getHeader("x-gtx-signature") is None


@pytest_twisted.ensureDeferred
async def test_http_error_status(server: Server, make_client: MakeClient) -> None:
    def broken(request: Request, method: str, params: list[object]) -> bytes:
        request.setResponseCode(500)
        return b"<html>Internal Server Error</html>"

    server.answer(broken)
    client = make_client()
    with pytest.raises(HTTPStatusError) as caught:
        await client.call(server.url, "menu.step", [], timeout=5)
    assert (caught.value.status, caught.value.reason) == (500, "Internal Server Error")
    server.answer(echo)
    assert await client.call(server.url, "menu.step", [], timeout=5) is not None
    assert server.site.connections == 1


@pytest_twisted.ensureDeferred
async def test_fault_and_garbage(server: Server, make_client: MakeClient) -> None:
    client = make_client()
    server.answer(fault)
    with pytest.raises(Fault) as caught:
        await client.call(server.url, "menu.step", [], timeout=5)
    assert (caught.value.code, caught.value.message) == (404, "no such menu")
    server.answer(lambda request, method, params: b"<html>not xml-rpc</html>")
    with pytest.raises(CodecError, match="expected a <methodResponse> document"):
        await client.call(server.url, "menu.step", [], timeout=5)
    assert server.site.connections == 1


@pytest.mark.parametrize("chunked", [False, True])
@pytest_twisted.ensureDeferred
async def test_answer_over_the_size_limit(
    server: Server, make_client: MakeClient, chunked: bool
) -> None:
    def big(request: Request, method: str, params: list[object]) -> bytes | int:
        body = b"<methodResponse>" + b" " * 5000 + b"</methodResponse>"
        if not chunked:
            return body
        request.write(body)  # no Content-Length: the size is only known while reading
        request.finish()
        return NOT_DONE_YET

    server.answer(big)
    client = make_client(max_response_size=1000)
    with pytest.raises(BodyTooLarge) as caught:
        await client.call(server.url, "m", [], timeout=5)
    assert caught.value.limit == 1000
    # The dropped connection is not reused: the next call gets a fresh, working one.
    server.answer(echo)
    assert await client.call(server.url, "m", [], timeout=5) == {"method": "m", "params": []}
    assert server.site.connections == 2


@pytest_twisted.ensureDeferred
async def test_silent_server_times_out_on_the_clock(
    server: Server, make_client: MakeClient
) -> None:
    clock = Clock()
    server.answer(hang)
    call = make_client(clock=clock).call(server.url, "menu.step", [], timeout=5)
    await server.service.next_request()
    clock.advance(4.9)
    assert not call.called
    clock.advance(0.2)
    with pytest.raises(CallTimeout, match=r"menu.step at http://127.0.0.1:\d+/RPC2: no answer"):
        await call
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_connection_dropped_before_the_answer(
    server: Server, make_client: MakeClient
) -> None:
    def drop(request: Request, method: str, params: list[object]) -> int:
        request.channel.transport.loseConnection()
        return NOT_DONE_YET

    server.answer(drop)
    with pytest.raises(ConnectFailed, match=r"menu\.step at http://127\.0\.0\.1:\d+/RPC2: "):
        await make_client().call(server.url, "menu.step", [], timeout=5)


@pytest_twisted.ensureDeferred
async def test_connection_refused(make_client: MakeClient) -> None:
    from twisted.internet import reactor

    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        endpoints.Factory()
    )
    closed = port.getHost().port
    await port.stopListening()
    clock = Clock()
    with pytest.raises(ConnectFailed, match=r"menu\.step at .*: .*refused"):
        await make_client(clock=clock).call(
            f"http://127.0.0.1:{closed}/RPC2", "menu.step", [], timeout=5
        )
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_unsupported_url_and_unencodable_params(make_client: MakeClient) -> None:
    client = make_client(clock=Clock())
    with pytest.raises(ConnectFailed, match="ftp"):
        await client.call("ftp://127.0.0.1/RPC2", "m", [], timeout=5)
    with pytest.raises(CodecError, match=r"params\[0\]: cannot encode the double nan"):
        await client.call("http://127.0.0.1:9/RPC2", "m", [float("nan")], timeout=5)
