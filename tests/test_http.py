"""/health and /metrics."""

from __future__ import annotations

import json

from twisted.web.test.requesthelper import DummyRequest

from gtx.http import build_root
from gtx.metrics import Metrics


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
