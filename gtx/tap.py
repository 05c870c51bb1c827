"""The composition root: builds every gtx service from the configuration.

Nothing imports this module but the entry points (``gtx serve``, ``twistd gtx``, ``gtx demo``).
It holds only :class:`Options`, :func:`makeService` and the :class:`GtxNode` that wires the
parts together; every part takes its dependencies as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from twisted.application import strports
from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IReactorCore, IReactorTCP, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python import usage

from gtx import __version__
from gtx.asterisk.agi_channel import FastAGIChannel
from gtx.asterisk.agi_protocol import FastAGILimits
from gtx.asterisk.agi_server import FastAGIFactory
from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_agents import AMIAgentSource, CombinedAgents
from gtx.asterisk.ami_originator import AMIOriginator
from gtx.asterisk.ami_recorder import AMIRecorder
from gtx.asterisk.ari_link import ARIClient
from gtx.asterisk.ari_originator import ARIOriginator
from gtx.asterisk.ari_recorder import ARIRecorder
from gtx.asterisk.ari_stasis import StasisRunner
from gtx.config import ConfigError, ConfigProblem, GtxConfig, load_config
from gtx.dialer.agents import AgentSource
from gtx.dialer.api import configured_from, register_dialer_api
from gtx.dialer.engine import Dialer
from gtx.dialer.ivr_callbacks import DialerCallbacks
from gtx.http import build_root, build_site
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome
from gtx.metrics import Metrics
from gtx.origination import Originator
from gtx.recorder.api import register_recorder_api
from gtx.recorder.engine import Recorder
from gtx.recorder.ivr_adapter import RecorderForIvr
from gtx.recorder.urls import MOUNT, RecordingDirectory, RecordingsResource, UrlSigner
from gtx.recording import RecordingControl
from gtx.store import open_store
from gtx.store.api import StoreError
from gtx.xmlrpc.auth import AuthenticatedXMLRPCResource, access_notice, check_listen_address
from gtx.xmlrpc.client import XMLRPCClient

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
        problem = check_listen_address(config.http_listen, config.users)
        if problem:
            raise ConfigError(config.path, [ConfigProblem("http", "listen", problem)])
        self.store = open_store(config.store_url, reactor=reactor)
        self.store_ready = False
        self.ami: dict[str, AMIClient] = {}
        self.originators: dict[str, Originator] = {}
        self.agents: dict[str, AgentSource] = {}
        self.recording_controls: dict[str, RecordingControl] = {}
        self.ari: dict[str, ARIClient] = {}
        for server in config.asterisk.values():
            if server.ami:
                client = AMIClient(server.name, clientFromString(reactor, server.ami),
                                   server.ami_user or "", server.ami_secret or "", clock=reactor)
                self.ami[server.name] = client
                self.agents[server.name] = AMIAgentSource(client)
                if server.originate_via == "ami":
                    self.originators[server.name] = AMIOriginator(client, reactor)
                if server.record_via == "ami":
                    self.recording_controls[server.name] = AMIRecorder(client, reactor)
            if server.ari_url:
                link = ARIClient(name=server.name, url=server.ari_url,
                                 user=server.ari_user or "", password=server.ari_password or "",
                                 app=server.ari_app, clock=reactor,
                                 max_connections=server.ari_connections)
                self.ari[server.name] = link
                if server.originate_via == "ari":
                    self.originators[server.name] = ARIOriginator(link, reactor)
                if server.record_via == "ari":
                    self.recording_controls[server.name] = ARIRecorder(
                        link, reactor, recording_dir=server.ari_recording_dir)
        self.recorder = Recorder(
            clock=reactor,
            store=self.store,
            controls=self.recording_controls,
            node=config.node,
            directory=config.recorder.dir,
            keep_days=config.recorder.keep_days,
            callback_client=self.webservice,
            callback_timeout=config.dialer.callback_timeout,
            callback_retry_max=config.dialer.callback_retry_max,
        )
        self.dialer = Dialer(
            clock=reactor,
            store=self.store,
            originators=self.originators,
            node=config.node,
            settings=config.dialer,
            callback_client=self.webservice,
            agents=CombinedAgents(self.agents),
            recorder=self.recorder,
        )
        # The IVR's `callback` action schedules dialer calls; without an Asterisk server to
        # dial through there is no dialer to ask, and the action says so.
        self.engine = IvrEngine(
            clock=reactor,
            webservice=self.webservice,
            apps=config.apps,
            url_app_defaults=config.url_app_defaults,
            node=config.node,
            metrics=self.metrics,
            callbacks=DialerCallbacks(self.dialer, config.dialer) if self.originators else None,
            recorder=RecorderForIvr(self.recorder),
        )
        self.recorder.sessions = self.engine  # {session} targets: the sessions running here
        # Calls entering Stasis(ari_app, APP…) run the same sessions as FastAGI connections.
        self.stasis = [
            StasisRunner(self.ari[server.name], self.engine, reactor,
                         recording_dir=server.ari_recording_dir)
            for server in config.asterisk.values() if server.name in self.ari
        ]
        self.rpc = AuthenticatedXMLRPCResource(
            config.users, clock=reactor, audit=self.store.audit,
            max_request_size=config.http_max_request_size,
        )
        register_dialer_api(self.rpc, self.dialer, config.dialer, configured_from(config))
        self.url_signer = UrlSigner.from_settings(config.recorder, config.http_listen, reactor)
        recordings = RecordingDirectory(config.recorder.dir)
        register_recorder_api(self.rpc, self.recorder, self.url_signer, recordings,
                              configured_from(config))
        root = build_root(health=self.health, metrics=self.metrics, rpc=self.rpc)
        root.putChild(MOUNT, RecordingsResource(self.recorder, self.url_signer, recordings))
        self.site = build_site(root, max_request_size=config.http_max_request_size)

    def _session(self, channel: FastAGIChannel) -> Deferred[SessionOutcome]:
        """One FastAGI connection: count it, run its IVR session."""
        self.metrics.agi_connections.inc()
        return self.engine.run(channel)

    def http_listening_on(self, port: int) -> None:
        """The port the HTTP side really listens on (``tcp:0`` picks one when it starts):
        signed recording URLs point there unless ``[recorder] public_url`` says otherwise."""
        if self.config.recorder.public_url is None:
            parts = urlsplit(self.url_signer.base_url)
            self.url_signer.base_url = f"{parts.scheme}://{parts.hostname}:{port}"

    def health(self) -> Mapping[str, object]:
        """What /health reports."""
        return {
            "status": "draining" if self.draining else "ok",
            "node": self.config.node,
            "version": __version__,
            "active_sessions": self.engine.active,
            "store": "ok" if self.store_ready else "starting",
            "asterisk": {name: client.connected for name, client in self.ami.items()},
            "ari": {name: link.connected for name, link in self.ari.items()},
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    def start(self) -> Deferred[None]:
        """Connect to the Asterisk servers, bring the store's schema up to date (retrying
        while the database cannot be reached), then start the dialer."""
        log.info(access_notice(self.config.http_listen, self.config.users))
        for client in self.ami.values():
            client.startService()
        for runner in self.stasis:
            runner.start()
        for link in self.ari.values():
            link.startService()
        self._starting = ensureDeferred(self._start_dialer())
        return self._starting

    async def _start_dialer(self) -> None:
        delay = 1.0
        while not self.draining:
            try:
                version = await self.store.upgrade()
            except StoreError as e:
                log.error("node {node}: store {url} not ready ({why}); retrying in {delay:g} s",
                          node=self.config.node, url=_safe_url(self.config.store_url),
                          why=str(e), delay=delay)
                await deferLater(self.reactor, delay, lambda: None)
                delay = min(delay * 2, 30.0)
                continue
            log.info("node {node}: store schema version {version}", node=self.config.node,
                     version=version)
            self.store_ready = True
            self.recorder.startService()
            self.dialer.startService()
            await self.recorder.ready
            await self.dialer.ready
            return

    def drain(self) -> Deferred[None]:
        """Stop taking calls, let running sessions finish (bounded), release connections."""
        return ensureDeferred(self._drain())

    async def _drain(self) -> None:
        self.draining = True
        self.engine.stop_accepting()
        self.fastagi.stop_accepting()
        for runner in self.stasis:
            runner.stop()
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
        if self.dialer.running:
            await self.dialer.stopService()
        if self.recorder.running:
            await self.recorder.stopService()
        for client in self.ami.values():
            if client.running:
                await client.stopService()
        for link in self.ari.values():
            if link.running:
                await link.stopService()
        await self.store.close()
        await self.webservice.close()

    def service(self) -> MultiService:
        """The Twisted service tree of this node."""
        top = MultiService()
        top.setName("gtx")
        strports.service(self.config.fastagi_listen, self.fastagi).setServiceParent(top)
        strports.service(self.config.http_listen, self.site).setServiceParent(top)
        _Lifecycle(self).setServiceParent(top)
        return top


class _Lifecycle(Service):
    """Starts the node's connections with the service tree, and drains the node when the
    tree stops (SIGTERM, SIGINT, reactor.stop())."""

    def __init__(self, node: GtxNode) -> None:
        self.node = node

    def startService(self) -> None:
        super().startService()
        self.node.start()
        log.info("node {node} started (gtx {version})", node=self.node.config.node,
                 version=__version__)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return self.node.drain() if not self.node.draining else succeed(None)


def _safe_url(url: str) -> str:
    """A store URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


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
