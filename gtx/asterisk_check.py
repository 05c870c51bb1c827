"""``gtx check-config --asterisk-dir DIR``: does Asterisk accept what gtx.ini says?

For each ``[asterisk:NAME]`` section, the Asterisk configuration in DIR (``/etc/asterisk``) is
read like Asterisk reads it (:mod:`gtx.asterisk_conf`, which follows ``#include``) and compared
with what gtx will send:

- with ``ari_url``: ``ari.conf`` (ARI enabled; the user ``ari_user`` exists, is ``type = user``,
  not ``read_only``, and has the password ``ari_password`` — unless it is a crypt hash, which
  cannot be compared) and ``http.conf`` (the HTTP server enabled, bound to an address and port
  that ``ari_url`` reaches, under its ``prefix``);
- with ``ami``: ``manager.conf`` (AMI enabled on the port and address of ``ami``; the user
  ``ami_user`` exists with the secret ``ami_secret``).

Each mismatch is a :class:`~gtx.config.ConfigProblem` on the gtx.ini section and key, whose
message names the Asterisk file, section and key to change. Settings that work but put calls at
risk under load are warnings: http.conf's ``sessionlimit`` too close to ``ari_connections``
(Asterisk closes, unanswered, every HTTP connection over it), ``session_keep_alive`` shorter
than the link keeps idle connections, and ari.conf's ``websocket_write_timeout`` below
:data:`WEBSOCKET_WRITE_TIMEOUT` ms (Asterisk drops the event WebSocket of a gtx node that is
busy for longer than that).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gtx.asterisk.ari_operations import KEEPALIVE_TIMEOUT
from gtx.asterisk_conf import AsteriskConfError, AsteriskFile, Origin, Section, is_true, read
from gtx.config import AsteriskServer, ConfigProblem, GtxConfig

#: The gtx files of asterisk-conf/ that each Asterisk file is meant to #include.
GTX_INCLUDES = {"ari.conf": "ari_gtx.conf", "http.conf": "http_gtx.conf",
                "manager.conf": "manager_gtx.conf"}
#: Asterisk's default bind address (read from its files, never bound by gtx).
ANY_ADDRESS = "0.0.0.0"  # noqa: S104
_WILDCARDS = frozenset({ANY_ADDRESS, "::", ""})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: Asterisk's defaults (main/http.c, res/ari/config.c).
DEFAULT_SESSION_LIMIT = 100
DEFAULT_SESSION_KEEP_ALIVE_MS = 15000
DEFAULT_WEBSOCKET_WRITE_TIMEOUT_MS = 100
#: HTTP sessions left for everything but this node's link: other gtx nodes, tools.
SESSION_MARGIN = 10
#: The ``websocket_write_timeout`` (ms) asterisk-conf/ari_gtx.conf recommends.
WEBSOCKET_WRITE_TIMEOUT = 1000

#: Reads one file of the directory (once), or says why it cannot.
Loader = Callable[[str], "AsteriskFile | AsteriskConfError"]


@dataclass
class AsteriskCheck:
    """What the comparison found."""

    directory: Path
    problems: list[ConfigProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things that could not be compared
    warnings: list[str] = field(default_factory=list)  # works, but at risk under load
    files: list[Path] = field(default_factory=list)  # every file read, includes too


def check_asterisk(config: GtxConfig, directory: Path,
                   servers: Iterable[str] | None = None) -> AsteriskCheck:
    """Compare the ``[asterisk:NAME]`` sections (all, or those named) with the Asterisk
    configuration in ``directory``."""
    check = AsteriskCheck(directory)
    cache: dict[str, AsteriskFile | AsteriskConfError] = {}

    def load(name: str) -> AsteriskFile | AsteriskConfError:
        if name not in cache:
            try:
                conf = read(directory / name)
            except AsteriskConfError as e:
                cache[name] = e
            else:
                cache[name] = conf
                check.files += [conf.path, *conf.included]
        return cache[name]

    chosen = list(servers) if servers is not None else list(config.asterisk)
    for name in chosen:
        server = config.asterisk[name]
        if server.ari_url:
            _Checker(check, server, load).ari()
        if server.ami:
            _Checker(check, server, load).ami()
    return check


def _host_and_port(endpoint: str) -> tuple[str | None, int | None, bool]:
    """Host, port and TLS of a client endpoint string (``tcp:HOST:PORT``,
    ``tcp:host=HOST:port=PORT``, ``tls:…``); ``\\:`` escapes a colon (IPv6)."""
    kind, _, rest = endpoint.partition(":")
    parts = [p.replace("\\:", ":") for p in re.split(r"(?<!\\):", rest)]
    positional = [p for p in parts if "=" not in p]
    named = dict(p.split("=", 1) for p in parts if "=" in p)
    host = named.get("host") or (positional[0] if positional else None)
    port_text = named.get("port") or (positional[1] if len(positional) > 1 else None)
    port = int(port_text) if port_text and port_text.isdigit() else None
    return host, port, kind in ("tls", "ssl")


def _address(text: str) -> tuple[str, int | None]:
    """An Asterisk bind address: ``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or ``V6``."""
    text = text.strip()
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(\d+))?", text)
    if bracketed:
        return bracketed.group(1), int(bracketed.group(2)) if bracketed.group(2) else None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port) if port.isdigit() else None
    return text, None


def _whole_number(text: str, default: int) -> int:
    """A whole number of an Asterisk setting; its default when absent or unreadable (Asterisk
    logs a warning and uses the default then)."""
    text = text.strip()
    return int(text) if text.isdigit() else default


def _reaches(host: str, bound: str) -> bool | None:
    """Whether a client connecting to ``host`` reaches a server bound to ``bound``; None when
    it cannot be told (a DNS name)."""
    if bound in _WILDCARDS:
        return True
    try:
        bound_ip = ipaddress.ip_address(bound)
    except ValueError:
        return None
    if host.lower() in _LOOPBACK_NAMES:
        return bound_ip.is_loopback
    try:
        return ipaddress.ip_address(host) == bound_ip
    except ValueError:
        return None


class _Checker:
    """The checks of one gtx.ini server section."""

    def __init__(self, check: AsteriskCheck, server: AsteriskServer, load: Loader) -> None:
        self.check = check
        self.server = server
        self.section = f"asterisk:{server.name}"
        self.load = load

    def problem(self, key: str, message: str) -> None:
        self.check.problems.append(ConfigProblem(self.section, key, message))

    def file(self, name: str, key: str, purpose: str) -> AsteriskFile | None:
        loaded = self.load(name)
        if isinstance(loaded, AsteriskConfError):
            self.problem(key, f"{purpose}, but {loaded}")
            return None
        return loaded

    @staticmethod
    def general(conf: AsteriskFile) -> Section:
        """The [general] section Asterisk reads (the first); without one, the defaults."""
        section = conf.first("general")
        return section if section is not None else Section("general", Origin(conf.path, 1))

    def user(self, conf: AsteriskFile, name: str, key: str, what: str) -> Section | None:
        section = conf.first(name) if name != "general" else None
        if section is not None:
            return section
        gtx_file = GTX_INCLUDES[conf.path.name]
        hint = f"; asterisk-conf/{gtx_file} defines one"
        if (conf.path.parent / gtx_file).exists() and conf.path.parent / gtx_file not in (
                conf.included):
            hint = (f"; {gtx_file} is in {conf.path.parent} but {conf.path.name} does not "
                    f"include it: add `#include {gtx_file}` at its end")
        self.problem(key, f"no {what} [{name}] in {conf.path} or the files it includes{hint}")
        return None

    # -- ARI -------------------------------------------------------------------------------

    def ari(self) -> None:
        server = self.server
        conf = self.file("ari.conf", "ari_url", "ari_url is set")
        if conf is not None:
            general = self.general(conf)
            if not is_true(general.get("enabled", "yes")):
                self.problem("ari_url", f"ARI is disabled: set enabled = yes at "
                             f"{general.where('enabled')}")
            user = self.user(conf, server.ari_user or "", "ari_user", "ARI user")
            if user is not None:
                self.ari_user(user)
            self.write_timeout(general)
        self.http()

    def warn(self, key: str, message: str) -> None:
        self.check.warnings.append(f"[{self.section}] {key}: {message}")

    def write_timeout(self, general: Section) -> None:
        """A gtx node busy for longer than ``websocket_write_timeout`` loses its WebSocket,
        and the events of its calls with it."""
        timeout = _whole_number(general.get("websocket_write_timeout"),
                                DEFAULT_WEBSOCKET_WRITE_TIMEOUT_MS)
        if timeout < WEBSOCKET_WRITE_TIMEOUT:
            self.warn("ari_url", f"Asterisk drops the event WebSocket when a write to it takes "
                      f"over {timeout} ms, so a node busy for a moment loses its calls' "
                      f"events: set websocket_write_timeout = {WEBSOCKET_WRITE_TIMEOUT} at "
                      f"{general.where('websocket_write_timeout')}")

    def session_limits(self, general: Section) -> None:
        """Asterisk closes, unanswered, each HTTP connection over ``sessionlimit`` (idle
        kept-alive ones count); the link opens ``ari_connections`` plus its WebSocket."""
        connections = self.server.ari_connections
        limit = _whole_number(general.get("sessionlimit"), DEFAULT_SESSION_LIMIT)
        wanted = connections + 1 + SESSION_MARGIN
        if limit < wanted:
            self.warn("ari_connections", f"{connections} REST connections and the event "
                      f"WebSocket leave too little of Asterisk's {limit} HTTP sessions (other "
                      f"nodes and tools need some; a request over the limit is cut off "
                      f"unanswered): set sessionlimit = {max(wanted, 200)} at "
                      f"{general.where('sessionlimit')} (more with several gtx nodes), or "
                      f"lower ari_connections")
        keep_alive = _whole_number(general.get("session_keep_alive"),
                                   DEFAULT_SESSION_KEEP_ALIVE_MS)
        if keep_alive <= KEEPALIVE_TIMEOUT * 1000:
            self.warn("ari_url", f"Asterisk closes idle HTTP connections after {keep_alive} "
                      f"ms, before gtx does ({KEEPALIVE_TIMEOUT * 1000:g} ms): a request may "
                      f"meet a connection being closed; remove session_keep_alive at "
                      f"{general.where('session_keep_alive')} (15000 by default)")

    def ari_user(self, user: Section) -> None:
        server = self.server
        if user.get("type") != "user":
            self.problem("ari_user", f"[{user.name}] is not an ARI user: set type = user at "
                         f"{user.where('type')}")
        if is_true(user.get("read_only", "no")):
            self.problem("ari_user", f"the ARI user may only read, and gtx originates, plays "
                         f"and hangs up: set read_only = no at {user.where('read_only')}")
        if user.get("password_format", "plain").lower() == "crypt":
            self.check.notes.append(
                f"[{self.section}] ari_password: {user.where('password')} is a crypt hash "
                "(password_format = crypt): it cannot be compared, check it by hand")
        elif user.get("password", "") != server.ari_password:
            self.problem("ari_password", f"differs from the password at "
                         f"{user.where('password')}: write the same one in both")

    def http(self) -> None:
        conf = self.file("http.conf", "ari_url", "ARI is served by Asterisk's HTTP server")
        if conf is None:
            return
        general = self.general(conf)
        url = urlsplit(self.server.ari_url or "")
        if not is_true(general.get("enabled", "no")):
            self.problem("ari_url", f"Asterisk's HTTP server, which serves ARI, is off: set "
                         f"enabled = yes at {general.where('enabled')}")
        self.session_limits(general)
        if url.scheme == "https":
            self.listener(general, url.hostname or "", url.port or 443, tls=True)
        else:
            self.listener(general, url.hostname or "", url.port or 80, tls=False)
        prefix = general.get("prefix").strip("/")
        path = url.path.strip("/")
        if prefix != path:
            where = general.where("prefix")
            served = f"/{prefix}/ari" if prefix else "/ari"
            wanted = f"/{prefix}/" if prefix else "/"
            self.problem("ari_url", f"Asterisk serves ARI at {served} ({where}): give ari_url "
                         f"the path {wanted} (got {url.path or '/'})")

    def listener(self, general: Section, host: str, port: int, *, tls: bool) -> None:
        """``ari_url``'s host and port against http.conf's bind address and port."""
        if tls:
            if not is_true(general.get("tlsenable", "no")):
                self.problem("ari_url", f"ari_url is https but Asterisk's HTTP server has no "
                             f"TLS: set tlsenable = yes at {general.where('tlsenable')}")
                return
            key, default_port = "tlsbindaddr", 8089
            bound, bound_port = _address(general.get("tlsbindaddr")
                                         or general.get("bindaddr"))
        else:
            key, default_port = "bindaddr", 8088
            if "bindaddr" not in general.settings:
                self.problem("ari_url", f"Asterisk's HTTP server runs only with a bind address: "
                             f"set bindaddr (e.g. 127.0.0.1) at {general.where('bindaddr')}")
                return
            bound, bound_port = _address(general.get("bindaddr"))
            if bound_port is None:
                key_port = general.get("bindport")
                bound_port = int(key_port) if key_port and key_port.isdigit() else None
        bound_port = bound_port or default_port
        if bound_port != port:
            where = general.where(key if tls else "bindport")
            self.problem("ari_url", f"port {port}, but Asterisk's HTTP server listens on "
                         f"{bound_port} ({where}): make them the same")
        self.reach("ari_url", host, bound, general.where(key))

    def reach(self, key: str, host: str, bound: str, where: str) -> None:
        reaches = _reaches(host, bound)
        if reaches is False:
            self.problem(key, f"host {host}, but Asterisk listens on {bound} only ({where}): "
                         "bind it to an address gtx reaches, or point gtx at that one")
        elif reaches is None:
            self.check.notes.append(f"[{self.section}] {key}: cannot tell whether {host} is "
                                    f"the address {bound} Asterisk listens on ({where})")

    # -- AMI -------------------------------------------------------------------------------

    def ami(self) -> None:
        server = self.server
        conf = self.file("manager.conf", "ami", "ami is set")
        if conf is None:
            return
        general = self.general(conf)
        if not is_true(general.get("enabled", "no")):
            self.problem("ami", f"AMI is disabled: set enabled = yes at "
                         f"{general.where('enabled')}")
        host, port, tls = _host_and_port(server.ami or "")
        if tls:
            if not is_true(general.get("tlsenable", "no")):
                self.problem("ami", f"ami is a TLS endpoint but AMI has no TLS: set "
                             f"tlsenable = yes at {general.where('tlsenable')}")
            bound, bound_port = _address(general.get("tlsbindaddr", ANY_ADDRESS))
            bound_port, port_key = bound_port or 5039, "tlsbindaddr"
        else:
            bound, _ = _address(general.get("bindaddr", ANY_ADDRESS))
            port_text = general.get("port", "5038")
            bound_port = int(port_text) if port_text.isdigit() else None
            port_key = "port"
        if port is not None and bound_port != port:
            self.problem("ami", f"port {port}, but AMI listens on {bound_port} "
                         f"({general.where(port_key)}): make them the same")
        if host:
            self.reach("ami", host, bound, general.where("tlsbindaddr" if tls else "bindaddr"))
        user = self.user(conf, server.ami_user or "", "ami_user", "AMI user")
        if user is not None and user.get("secret", "") != (server.ami_secret or ""):
            self.problem("ami_secret", f"differs from the secret at {user.where('secret')}: "
                         "write the same one in both")

