"""The composition root: builds every gtx service from the configuration.

Nothing imports this module but the entry points (``gtx serve``, ``twistd gtx``, ``gtx demo``).
It holds only :class:`Options`, :func:`makeService` and the :class:`GtxNode` that wires the
parts together; every part takes its dependencies as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from twisted.application import strports
from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorCore, IReactorTCP, IReactorTime
from twisted.logger import Logger
from twisted.python import usage

from gtx import __version__
from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_protocol import FastAGILimits
from gtx.asterisk.agi_server import FastAGIFactory
from gtx.config import GtxConfig, load_config
from gtx.http import build_root, build_site
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.server import XMLRPCResource

log = Logger(namespace="gtx")


class Options(usage.Options):
    """``twistd gtx`` options."""

    optParameters: ClassVar[list[list[str]]] = [
        ["config", "c", "/etc/gtx/gtx.ini", "The gtx.ini file to run."]
    ]


class GtxNode:
    """One gtx node: the IVR engine behind FastAGI, the XML-RPC APIs and the HTTP endpoints."""

    def __init__(self, config: GtxConfig, reactor: Any) -> None:
        self.config = config
        self.reactor = reactor
        self.metrics = Metrics()
        self.started = time.time()
        self.draining = False
        self.webservice = XMLRPCClient(
            reactor,
            max_connections_per_host=config.connections_per_host,
            user_agent=f"gtx/{__version__} ({config.node})",
        )
        self.engine = IvrEngine(
            clock=reactor,
            webservice=self.webservice,
            apps=config.apps,
            url_app_defaults=config.url_app_defaults,
            node=config.node,
            metrics=self.metrics,
        )
        self.fastagi = FastAGIFactory(
            self._session,
            clock=reactor,
            asterisk_name_for=config.asterisk_name_for,
            limits=FastAGILimits(
                max_line_length=config.fastagi_max_line_length,
                environment_timeout=config.fastagi_environment_timeout,
                command_timeout=config.fastagi_command_timeout,
                media_timeout=config.fastagi_media_timeout,
                application_timeout=config.fastagi_application_timeout,
            ),
        )
        self.rpc = XMLRPCResource(max_request_size=config.http_max_request_size)
        self.site = build_site(
            build_root(health=self.health, metrics=self.metrics, rpc=self.rpc),
            max_request_size=config.http_max_request_size,
        )

    def _session(self, channel: FastAGIChannel) -> Deferred[SessionOutcome]:
        """One FastAGI connection: count it, run its IVR session."""
        self.metrics.agi_connections.inc()
        return self.engine.run(channel)

    def health(self) -> Mapping[str, object]:
        """What /health reports."""
        return {
            "status": "draining" if self.draining else "ok",
            "node": self.config.node,
            "version": __version__,
            "active_sessions": self.engine.active,
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    def drain(self) -> Deferred[None]:
        """Stop taking calls, let running sessions finish (bounded), release connections."""
        return ensureDeferred(self._drain())

    async def _drain(self) -> None:
        self.draining = True
        self.engine.stop_accepting()
        self.fastagi.stop_accepting()
        timeout = self.config.shutdown_timeout
        log.info("node {node}: shutting down, waiting up to {timeout:g} s for {active} "
                 "session(s)", node=self.config.node, timeout=timeout, active=self.engine.active)
        finished = await self.engine.drain(timeout)
        # Sessions that ended close their connections at once; what is left is dropped.
        await self.fastagi.drain(timeout if finished else 0)
        if not finished:
            log.warn("node {node}: sessions still running after {timeout:g} s were dropped; "
                     "the dialplan resumes them on another node", node=self.config.node,
                     timeout=timeout)
        await self.webservice.close()

    def service(self) -> MultiService:
        """The Twisted service tree of this node."""
        top = MultiService()
        top.setName("gtx")
        strports.service(self.config.fastagi_listen, self.fastagi).setServiceParent(top)
        strports.service(self.config.http_listen, self.site).setServiceParent(top)
        _DrainOnStop(self).setServiceParent(top)
        return top


class _DrainOnStop(Service):
    """Drains the node when the service tree stops (SIGTERM, SIGINT, reactor.stop())."""

    def __init__(self, node: GtxNode) -> None:
        self.node = node

    def startService(self) -> None:
        super().startService()
        log.info("node {node} started (gtx {version})", node=self.node.config.node,
                 version=__version__)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return self.node.drain() if not self.node.draining else succeed(None)


def makeService(options: Mapping[str, Any]) -> IService:
    """twistd's entry point: the service tree for the config file in ``options``."""
    from twisted.internet import reactor

    config = load_config(options["config"])
    _use_reactor_loop(reactor)
    return GtxNode(config, reactor).service()


def _use_reactor_loop(reactor: IReactorCore | IReactorTCP | IReactorTime) -> None:
    """Make the asyncio reactor's loop the current one, so asyncio libraries share it."""
    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is not None:
        import asyncio

        asyncio.set_event_loop(loop)
