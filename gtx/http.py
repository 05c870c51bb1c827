"""The node's HTTP side: /health, /metrics, and the root that the XML-RPC APIs hang from."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from twisted.web.resource import Resource
from twisted.web.server import Request

from gtx.metrics import Metrics

#: What /health reports, produced fresh for each request.
HealthSource = Callable[[], Mapping[str, object]]


class HealthResource(Resource):
    """``GET /health``: 200 and ``{"status": "ok", …}`` while the node takes calls; 503 and
    ``{"status": "draining", …}`` once it is shutting down, so balancers stop sending calls."""

    isLeaf = True

    def __init__(self, source: HealthSource) -> None:
        super().__init__()
        self._source = source

    def render_GET(self, request: Request) -> bytes:
        health = dict(self._source())
        if health.get("status") != "ok":
            request.setResponseCode(503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(health, sort_keys=True).encode() + b"\n"


class MetricsResource(Resource):
    """``GET /metrics``: the Prometheus text exposition of the node's metrics."""

    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
        return self._metrics.render()


def build_root(
    *, health: HealthSource, metrics: Metrics, rpc: Resource | None = None
) -> Resource:
    """The HTTP root: /health, /metrics and, when given, the XML-RPC resource at /RPC2."""
    root = Resource()
    root.putChild(b"health", HealthResource(health))
    root.putChild(b"metrics", MetricsResource(metrics))
    if rpc is not None:
        root.putChild(b"RPC2", rpc)
    return root
