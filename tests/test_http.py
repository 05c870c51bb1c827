"""/health and /metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyRequest

from gtx.http import build_root
from gtx.metrics import Metrics

reactor: Any = _reactor


def render(root: object, path: bytes) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    from twisted.web.resource import getChildForRequest

    request = DummyRequest([path])
    request.method = b"GET"
    resource = getChildForRequest(root, request)  # type: ignore[arg-type]
    body = resource.render(request)
    headers = dict(request.responseHeaders.getAllRawHeaders())
    return request.responseCode or 200, headers, body


def test_health_ok_then_draining() -> None:
    state = {"status": "ok", "node": "gtx1", "active_sessions": 2}
    root = build_root(health=lambda: state, metrics=Metrics())
    code, headers, body = render(root, b"health")
    assert code == 200
    assert headers[b"Content-Type"] == [b"application/json"]
    assert json.loads(body) == {"active_sessions": 2, "node": "gtx1", "status": "ok"}

    state["status"] = "draining"
    code, _, body = render(root, b"health")
    assert code == 503
    assert json.loads(body)["status"] == "draining"


def test_metrics_exposition() -> None:
    metrics = Metrics()
    metrics.steps.labels(app="menu").inc(3)
    metrics.webservice_latency.labels(app="menu").observe(0.004)
    metrics.errors.labels(kind="webservice_timeout").inc()
    root = build_root(health=lambda: {"status": "ok"}, metrics=metrics)
    code, headers, body = render(root, b"metrics")
    text = body.decode()
    assert code == 200
    assert headers[b"Content-Type"][0].startswith(b"text/plain")
    assert 'gtx_ivr_steps_total{app="menu"} 3.0' in text
    assert 'gtx_webservice_latency_seconds_bucket{app="menu",le="0.005"} 1.0' in text
    assert 'gtx_errors_total{kind="webservice_timeout"} 1.0' in text
    assert "gtx_ivr_active_sessions 0.0" in text


def test_each_metrics_object_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.steps.labels(app="x").inc()
    assert 'app="x"' not in b.render().decode()


class _BodySize(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def render_POST(self, request: Request) -> bytes:
        self.sizes.append(len(request.content.read()))
        return b"ok"


async def _post(port: int, path: bytes, body_parts: list[bytes], length: int | None) -> bytes:
    """A raw HTTP/1.1 POST; returns the whole response."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
    from twisted.internet.protocol import Protocol

    class Client(Protocol):
        def __init__(self) -> None:
            self.data = b""
            self.done: Deferred[bytes] = Deferred()

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: object = None) -> None:
            self.done.callback(self.data)

    client = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), Client())
    head = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if length is None:
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in body_parts) + b"0\r\n\r\n"
    else:
        head += b"Content-Length: %d\r\n\r\n" % length
        body = b"".join(body_parts)
    assert client.transport is not None
    client.transport.write(head + body)
    return await client.done


@pytest_twisted.ensureDeferred
async def test_site_keeps_at_most_the_limit_of_a_body() -> None:
    from gtx.http import build_site

    sink = _BodySize()
    root = Resource()
    root.putChild(b"sink", sink)
    port = reactor.listenTCP(0, build_site(root, max_request_size=1000), interface="127.0.0.1")
    try:
        number = port.getHost().port
        await _post(number, b"/sink", [b"x" * 500], 500)
        await _post(number, b"/sink", [b"x" * 100_000] * 30, 3_000_000)  # declared, too big
        await _post(number, b"/sink", [b"x" * 700] * 40, None)  # chunked, too big
    finally:
        await port.stopListening()
    assert sink.sizes == [500, 1001, 1001]


@pytest_twisted.ensureDeferred
async def test_unknown_path_is_a_plain_404() -> None:
    from gtx.http import build_site

    root = build_root(health=lambda: {"status": "ok"}, metrics=Metrics())
    port = reactor.listenTCP(0, build_site(root, max_request_size=1000), interface="127.0.0.1")
    try:
        response = await _post(port.getHost().port, b"/nope", [b""], 0)
    finally:
        await port.stopListening()
    assert response.startswith(b"HTTP/1.1 404 ")
