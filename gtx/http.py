"""The node's HTTP side: /health, /metrics, and the root that the XML-RPC APIs hang from."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

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


class _Root(Resource):
    """The HTTP root; an unknown path is a plain 404."""

    def getChild(self, path: bytes, request: Request) -> IResource:
        return notFound()


class BoundedRequest(Request):
    """A request that keeps at most ``max_body_size + 1`` bytes of its body, whatever the
    client declares or sends: a huge or endless body costs neither memory nor disk. The
    resource then sees a body over the limit and refuses it with a clear error."""

    max_body_size = 1024 * 1024
    _received = 0

    def gotLength(self, length: int | None) -> None:
        # Twisted spools a declared large body to a temporary file; an in-memory buffer of
        # at most the limit is all a refused request needs.
        too_large = length is not None and length > self.max_body_size
        super().gotLength(None if too_large else length)
        self._received = 0

    def handleContentChunk(self, data: bytes) -> None:
        room = self.max_body_size + 1 - self._received
        self._received += len(data)
        if room > 0:
            super().handleContentChunk(data[:room])


def build_site(root: Resource, *, max_request_size: int) -> Site:
    """The HTTP site of a node: requests keep at most ``max_request_size`` bytes of body."""

    class _Request(BoundedRequest):
        max_body_size = max_request_size

    site = Site(root)
    site.requestFactory = _Request
    return site


def build_root(
    *, health: HealthSource, metrics: Metrics, rpc: Resource | None = None
) -> Resource:
    """The HTTP root: /health, /metrics and, when given, the XML-RPC resource at /RPC2."""
    root = _Root()
    root.putChild(b"health", HealthResource(health))
    root.putChild(b"metrics", MetricsResource(metrics))
    if rpc is not None:
        root.putChild(b"RPC2", rpc)
    return root
