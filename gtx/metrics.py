"""Prometheus metrics of one gtx node, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Buckets for web-service latency, in seconds: most services answer in a few milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The node's metrics. Create one per service (tests create their own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.active_sessions = Gauge(
            "gtx_ivr_active_sessions", "IVR sessions running now.", registry=self.registry
        )
        self.sessions = Counter(
            "gtx_ivr_sessions", "IVR sessions ended, by app and final status.",
            ["app", "status"], registry=self.registry,
        )
        self.steps = Counter(
            "gtx_ivr_steps", "IVR steps run, by app.", ["app"], registry=self.registry
        )
        self.webservice_latency = Histogram(
            "gtx_webservice_latency_seconds",
            "Time from sending a request to a web service to its complete answer.",
            ["app"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.errors = Counter(
            "gtx_errors", "Errors by kind (webservice_timeout, webservice_fault, …).",
            ["kind"], registry=self.registry,
        )
        self.agi_connections = Counter(
            "gtx_fastagi_connections", "FastAGI connections accepted.", registry=self.registry
        )
        self.dialer_calls = Counter(
            "gtx_dialer_calls", "Dialer calls ended, by final outcome.", ["outcome"],
            registry=self.registry,
        )
        self.dialer_active_calls = Gauge(
            "gtx_dialer_active_calls", "Dialer calls placed and not ended yet.",
            registry=self.registry,
        )
        self.callback_deliveries = Counter(
            "gtx_callback_deliveries", "Call-back event deliveries, by result (ok, failed).",
            ["result"], registry=self.registry,
        )
        self.asterisk_connected = Gauge(
            "gtx_asterisk_connected", "1 while the AMI link to the server is up.", ["asterisk"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format served at /metrics."""
        return generate_latest(self.registry)
