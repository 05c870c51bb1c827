"""gtx.ini: reading, validating and explaining the configuration.

Every key is documented in ``examples/gtx.ini``. :func:`load_config` reads a file and returns a
:class:`GtxConfig`, or raises :class:`ConfigError` listing *every* problem found, each naming the
section, the key and what to write instead — ``gtx check-config`` prints them.
"""

from __future__ import annotations

import configparser
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gtx.asterisk.ari_api import INTERNAL_ARG_PREFIX
from gtx.config_values import (
    ConfigProblem,
    Reader,
    boolean,
    choice,
    client_endpoint,
    dial_template,
    endpoint_host,
    http_url,
    integer,
    listing,
    matching,
    number,
    server_endpoint,
    store_url,
)
from gtx.ivr.app import IvrApp

DEFAULT_FASTAGI_LISTEN = "tcp:4573:interface=127.0.0.1"
DEFAULT_HTTP_LISTEN = "tcp:8090:interface=127.0.0.1"
DEFAULT_STORE_URL = "sqlite:///var/lib/gtx/gtx.db"
#: The Stasis application a node registers over ARI (``ari_app``).
DEFAULT_ARI_APP = "gtx"
#: Asterisk's recording spool: ARI names recordings relative to it (``ari_recording_dir``).
DEFAULT_ARI_RECORDING_DIR = "/var/spool/asterisk/recording"
#: REST connections a node opens to one Asterisk at most (``ari_connections``), the event
#: WebSocket aside: well under the 100 HTTP sessions Asterisk serves by default.
DEFAULT_ARI_CONNECTIONS = 20
#: What ``originate_via`` and ``record_via`` may name.
BACKENDS = ("ami", "ari")

#: Keys each section accepts. A section name ending in ":" takes a name (``[ivr:menu]``).
IVR_KEYS = frozenset({
    "timeout", "retries", "retry_delay", "secret", "hangup_method", "fallback", "on_error",
    "exec_allowed", "record_dir", "max_steps",
})
SECTION_KEYS: dict[str, frozenset[str]] = {
    "gtx": frozenset({"node", "shutdown_timeout"}),
    "fastagi": frozenset({
        "listen", "environment_timeout", "command_timeout", "media_timeout",
        "application_timeout", "max_line_length",
    }),
    "http": frozenset({"listen", "max_request_size"}),
    "store": frozenset({"url"}),
    "asterisk:": frozenset({
        "ami", "ami_user", "ami_secret", "ari_url", "ari_user", "ari_password", "agi_hosts",
        "ari_app", "originate_via", "record_via", "ari_recording_dir", "ari_connections",
    }),
    "ivr": IVR_KEYS | {"allow_url_apps", "connections_per_host"},
    "ivr:": IVR_KEYS | {"url", "method"},
    "dialer": frozenset({
        "channel", "lease_seconds", "tick", "callback_timeout", "callback_retry_max",
        "safe_harbor",
    }),
    "user:": frozenset({"role", "password", "token", "allow"}),
    "recorder": frozenset({"dir", "keep_days", "url_secret", "url_ttl", "public_url"}),
}

#: The roles an API user can have (docs/dialer-api.md says which methods each allows).
ROLES = ("admin", "dialer", "recorder", "readonly")

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_METHOD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$")
_SOUND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_APPLICATION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9_.:-]+$")
_NO_HOSTS: tuple[str, ...] = ()
_NETWORK = re.compile(r"^[0-9A-Fa-f.:]+(/\d{1,3})?$")
#: A Stasis application name: it goes into Stasis(APP,…) and the "&"-separated GTX_ARI_APPS.
_STASIS_APP = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class ConfigError(Exception):
    """gtx.ini has problems; ``problems`` lists them all."""

    def __init__(self, path: str, problems: list[ConfigProblem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s):\n{lines}")
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class AsteriskServer:
    """An ``[asterisk:NAME]`` section."""

    name: str
    ami: str | None = None
    ami_user: str | None = None
    ami_secret: str | None = None
    ari_url: str | None = None
    ari_user: str | None = None
    ari_password: str | None = None
    agi_hosts: frozenset[str] = frozenset()  # addresses its FastAGI connections come from
    ari_app: str = DEFAULT_ARI_APP  # the Stasis application this node registers
    #: "ami" or "ari": how calls are placed and recordings made on this server. None stands
    #: for the default, filled in at construction: ami when ami is set, else ari when ari_url
    #: is; it stays None on a server with neither (FastAGI only: no calls, no recordings).
    originate_via: str | None = None
    record_via: str | None = None
    ari_recording_dir: str = DEFAULT_ARI_RECORDING_DIR  # Asterisk's spool, for ARI recordings
    ari_connections: int = DEFAULT_ARI_CONNECTIONS  # REST connections at most (+ the WebSocket)

    def __post_init__(self) -> None:
        default = "ami" if self.ami else "ari" if self.ari_url else None
        for key in ("originate_via", "record_via"):
            if getattr(self, key) is None:
                object.__setattr__(self, key, default)  # frozen: set once, here


@dataclass(frozen=True)
class ApiUser:
    """A ``[user:NAME]`` section: who may call the XML-RPC API, and what."""

    name: str
    role: str  # one of ROLES
    password: str | None = None  # for HTTP Basic (send it over TLS)
    token: str | None = None  # for "Authorization: Bearer TOKEN"
    allow: tuple[str, ...] = ()  # addresses or CIDR networks allowed; empty: any


@dataclass(frozen=True)
class DialerSettings:
    """The ``[dialer]`` section."""

    channel: str | None = None  # default dial string template, e.g. PJSIP/{number}@trunk
    lease_seconds: float = 60.0  # how long a node's claim on a contact lasts unless renewed
    tick: float = 0.25  # seconds between two pacing decisions
    callback_timeout: float = 10.0  # seconds to wait for a call-back receiver's answer
    callback_retry_max: float = 300.0  # the longest delay between two delivery tries
    safe_harbor: str = "vm-goodbye"  # prompt played to an abandoned call (record your own)


@dataclass(frozen=True)
class RecorderSettings:
    """The ``[recorder]`` section."""

    dir: str = "/var/spool/asterisk/recording"  # where recordings are written (Asterisk host)
    keep_days: float | None = None  # delete recordings older than this; None: keep them
    url_secret: str | None = None  # HMAC key of signed URLs; None: a random one per start
    url_ttl: float = 3600.0  # how long a signed URL stays valid (seconds)
    public_url: str | None = None  # base of signed URLs (e.g. https://gtx.example:8090)


@dataclass(frozen=True)
class GtxConfig:
    """The whole configuration of one gtx node."""

    path: str = "<defaults>"
    node: str = "gtx1"
    shutdown_timeout: float = 30.0
    fastagi_listen: str = DEFAULT_FASTAGI_LISTEN
    fastagi_environment_timeout: float = 5.0
    fastagi_command_timeout: float = 30.0
    fastagi_media_timeout: float = 900.0
    fastagi_application_timeout: float = 4 * 3600.0
    fastagi_max_line_length: int = 16384
    http_listen: str = DEFAULT_HTTP_LISTEN
    http_max_request_size: int = 1024 * 1024
    store_url: str = DEFAULT_STORE_URL
    asterisk: Mapping[str, AsteriskServer] = field(default_factory=dict)
    ivr_defaults: IvrApp = field(default_factory=lambda: IvrApp(name="", url="", method=""))
    allow_url_apps: bool = True
    connections_per_host: int = 32
    apps: Mapping[str, IvrApp] = field(default_factory=dict)
    dialer: DialerSettings = field(default_factory=DialerSettings)
    users: Mapping[str, ApiUser] = field(default_factory=dict)
    recorder: RecorderSettings = field(default_factory=RecorderSettings)

    def asterisk_name_for(self, host: str) -> str:
        """The name of the Asterisk server whose FastAGI connections come from ``host``: the
        one listing it in ``agi_hosts``, else the one whose AMI address is that host, else the
        only server when there is one; otherwise the host itself."""
        for server in self.asterisk.values():
            if host in server.agi_hosts:
                return server.name
        for server in self.asterisk.values():
            if server.ami is not None and endpoint_host(server.ami) == host:
                return server.name
        if len(self.asterisk) == 1:
            return next(iter(self.asterisk))
        return host

    @property
    def url_app_defaults(self) -> IvrApp | None:
        """The template for ``ivr?url=…&method=…`` requests, or None when they are refused."""
        return self.ivr_defaults if self.allow_url_apps else None


def _check_sections(reader: Reader) -> None:
    for section in reader.parser.sections():
        kind = section.split(":", 1)[0] + ":" if ":" in section else section
        allowed = SECTION_KEYS.get(kind)
        if allowed is None:
            known = [k if not k.endswith(":") else k + "NAME" for k in SECTION_KEYS]
            hint = difflib.get_close_matches(section, known, n=1)
            suggestion = f"; did you mean [{hint[0]}]?" if hint else ""
            reader.problem(section, None, f"unknown section{suggestion} "
                           f"(known: {', '.join('[' + k + ']' for k in known)})")
            continue
        if kind.endswith(":") and not _NAME.match(section.split(":", 1)[1]):
            reader.problem(section, None, "the name after ':' must be letters, digits, _ . -")
        for key in reader.parser.options(section):
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                reader.problem(section, key, f"unknown key; {suggestion}"
                               f"(known: {', '.join(sorted(allowed))})")


def _read_app(reader: Reader, section: str, base: IvrApp, name: str) -> IvrApp:
    get = reader.get
    exec_allowed = get(section, "exec_allowed", tuple(sorted(base.exec_allowed)),
                       listing(_APPLICATION), "a comma-separated list of dialplan applications")
    secret = reader.raw(section, "secret")
    return IvrApp(
        name=name,
        url=get(section, "url", base.url, http_url, "an http:// or https:// URL"),
        method=get(section, "method", base.method, matching(_METHOD), "an XML-RPC method name"),
        timeout=get(section, "timeout", base.timeout, number(0.1, 300), "seconds"),
        retries=get(section, "retries", base.retries, integer(0, 10), "a whole number"),
        retry_delay=get(section, "retry_delay", base.retry_delay, number(0, 60), "seconds"),
        secret=secret if secret else base.secret,
        hangup_method=get(section, "hangup_method", base.hangup_method, matching(_METHOD),
                          "an XML-RPC method name"),
        fallback=get(section, "fallback", tuple(base.fallback), listing(_SOUND),
                     "a comma-separated list of sound names"),
        on_error=get(section, "on_error", base.on_error, choice("hangup", "continue"),
                     "hangup or continue"),
        exec_allowed=frozenset(exec_allowed),
        record_dir=get(section, "record_dir", base.record_dir, str, "a directory"),
        max_steps=get(section, "max_steps", base.max_steps, integer(1, 100000), "a number"),
    )


def _read_users(reader: Reader) -> dict[str, ApiUser]:
    users: dict[str, ApiUser] = {}
    for section in reader.parser.sections():
        if not section.startswith("user:"):
            continue
        name = section.split(":", 1)[1]
        role = ""
        if reader.raw(section, "role"):
            role = reader.get(section, "role", "", choice(*ROLES), " or ".join(ROLES))
        else:
            reader.problem(section, "role", f"missing: one of {', '.join(ROLES)}")
        password, token = reader.raw(section, "password"), reader.raw(section, "token")
        if not password and not token:
            reader.problem(section, None, "needs a password (HTTP Basic) or a token (Bearer)")
        users[name] = ApiUser(
            name=name, role=role, password=password or None, token=token or None,
            allow=reader.get(section, "allow", (), listing(_NETWORK), "addresses or networks"),
        )
    return users


def _read_dialer(reader: Reader) -> DialerSettings:
    get = reader.get
    dd = DialerSettings()
    return DialerSettings(
        channel=get("dialer", "channel", dd.channel, dial_template,
                    "a dial string with {number}, e.g. PJSIP/{number}@trunk"),
        lease_seconds=get("dialer", "lease_seconds", dd.lease_seconds, number(5, 3600),
                          "seconds"),
        tick=get("dialer", "tick", dd.tick, number(0.01, 10), "seconds"),
        callback_timeout=get("dialer", "callback_timeout", dd.callback_timeout,
                             number(0.1, 300), "seconds"),
        callback_retry_max=get("dialer", "callback_retry_max", dd.callback_retry_max,
                               number(1, 86400), "seconds"),
        safe_harbor=get("dialer", "safe_harbor", dd.safe_harbor, matching(_SOUND),
                        "a sound name"),
    )


def _read_recorder(reader: Reader) -> RecorderSettings:
    get, d = reader.get, RecorderSettings()
    directory = get("recorder", "dir", d.dir, str, "a directory")
    if not directory.startswith("/"):
        reader.problem("recorder", "dir", f"expected an absolute path, got {directory!r}")
    secret = reader.raw("recorder", "url_secret")
    return RecorderSettings(
        dir=directory,
        keep_days=get("recorder", "keep_days", d.keep_days, number(0.01, 36500), "days"),
        url_secret=secret or None,
        url_ttl=get("recorder", "url_ttl", d.url_ttl, number(1, 7 * 86400), "seconds"),
        public_url=get("recorder", "public_url", d.public_url, http_url,
                       "an http:// or https:// base URL"),
    )


def _read_servers(reader: Reader) -> dict[str, AsteriskServer]:
    get = reader.get
    servers: dict[str, AsteriskServer] = {}
    for section in reader.parser.sections():
        if section.startswith("asterisk:"):
            name = section.split(":", 1)[1]
            recording_dir = get(section, "ari_recording_dir", DEFAULT_ARI_RECORDING_DIR, str,
                                "a directory")
            if not recording_dir.startswith("/"):
                reader.problem(section, "ari_recording_dir",
                               f"expected an absolute path, got {recording_dir!r}")
            servers[name] = AsteriskServer(
                name=name,
                ami=get(section, "ami", None, client_endpoint, "a client endpoint string"),
                ami_user=reader.raw(section, "ami_user"),
                ami_secret=reader.raw(section, "ami_secret"),
                ari_url=get(section, "ari_url", None, http_url, "an http:// URL"),
                ari_user=reader.raw(section, "ari_user") or None,
                ari_password=reader.raw(section, "ari_password") or None,
                agi_hosts=frozenset(get(section, "agi_hosts", _NO_HOSTS, listing(_HOST),
                                        "a comma-separated list of addresses")),
                ari_app=get(section, "ari_app", DEFAULT_ARI_APP, matching(_STASIS_APP),
                            "a Stasis application name (letters, digits, _ . -)"),
                originate_via=get(section, "originate_via", None, choice(*BACKENDS),
                                  "ami or ari"),
                record_via=get(section, "record_via", None, choice(*BACKENDS), "ami or ari"),
                ari_recording_dir=recording_dir,
                ari_connections=get(section, "ari_connections", DEFAULT_ARI_CONNECTIONS,
                                    integer(1, 90), "a number of connections"),
            )
            _check_server(reader, section)
    return servers


def _check_server(reader: Reader, section: str) -> None:
    """Keys that go together, and backends that must be configured to be chosen."""
    def has(key: str) -> bool:
        return bool(reader.raw(section, key))

    if (reader.raw(section, "ami") is None) != (reader.raw(section, "ami_user") is None):
        reader.problem(section, "ami_user", "ami and ami_user go together")
    if has("ari_url"):
        for key in ("ari_user", "ari_password"):
            if not has(key):
                reader.problem(section, key, "missing: ari_url needs ari_user and ari_password "
                               "(the user of asterisk-conf/ari_gtx.conf)")
    elif has("ari_user") or has("ari_password"):
        reader.problem(section, "ari_url", "missing: ari_user and ari_password need ari_url "
                       "(e.g. http://127.0.0.1:8088/)")
    for key in ("originate_via", "record_via"):
        chosen = reader.raw(section, key)
        if chosen == "ami" and not has("ami"):
            reader.problem(section, key, "ami is chosen but this section has no ami "
                           "(set ami, ami_user and ami_secret, or choose ari)")
        elif chosen == "ari" and not has("ari_url"):
            reader.problem(section, key, "ari is chosen but this section has no ari_url "
                           "(set ari_url, ari_user and ari_password, or choose ami)")


def parse_config(text: str, path: str = "<string>") -> GtxConfig:
    """Parse gtx.ini text; raise ConfigError listing every problem."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        parser.read_string(text, source=path)
    except configparser.Error as e:
        raise ConfigError(path, [ConfigProblem("file", None, str(e).replace("\n", " "))]) from e
    reader = Reader(parser)
    _check_sections(reader)
    get = reader.get
    d = GtxConfig()

    defaults = _read_app(reader, "ivr", IvrApp(name="", url="", method=""), "")
    apps: dict[str, IvrApp] = {}
    for section in parser.sections():
        if section.startswith("ivr:"):
            name = section.split(":", 1)[1]
            if name.startswith(INTERNAL_ARG_PREFIX):
                reader.problem(section, None, f"an app name may not start with "
                               f"{INTERNAL_ARG_PREFIX!r}: Stasis arguments starting with it are "
                               "gtx's own (dial legs, dialer calls, recordings)")
            for key in ("url", "method"):
                if reader.raw(section, key) is None:
                    reader.problem(section, key, "missing: every [ivr:NAME] needs url and method")
            apps[name] = _read_app(reader, section, defaults, name)
    servers = _read_servers(reader)
    users = _read_users(reader)
    dialer = _read_dialer(reader)
    recorder = _read_recorder(reader)

    config = GtxConfig(
        path=path,
        node=get("gtx", "node", d.node, matching(_NAME), "a node name (letters, digits, _ . -)"),
        shutdown_timeout=get("gtx", "shutdown_timeout", d.shutdown_timeout, number(0, 3600),
                             "seconds"),
        fastagi_listen=get("fastagi", "listen", d.fastagi_listen, server_endpoint,
                           "a server endpoint string such as tcp:4573:interface=127.0.0.1"),
        fastagi_environment_timeout=get("fastagi", "environment_timeout",
                                        d.fastagi_environment_timeout, number(0.1, 300),
                                        "seconds"),
        fastagi_command_timeout=get("fastagi", "command_timeout", d.fastagi_command_timeout,
                                    number(1, 86400), "seconds"),
        fastagi_media_timeout=get("fastagi", "media_timeout", d.fastagi_media_timeout,
                                  number(1, 86400), "seconds"),
        fastagi_application_timeout=get("fastagi", "application_timeout",
                                        d.fastagi_application_timeout, number(1, 7 * 86400),
                                        "seconds"),
        fastagi_max_line_length=get("fastagi", "max_line_length", d.fastagi_max_line_length,
                                    integer(1024, 1024 * 1024), "bytes"),
        http_listen=get("http", "listen", d.http_listen, server_endpoint,
                        "a server endpoint string such as tcp:8090:interface=127.0.0.1"),
        http_max_request_size=get("http", "max_request_size", d.http_max_request_size,
                                  integer(1024, 256 * 1024 * 1024), "bytes"),
        store_url=get("store", "url", d.store_url, store_url, "a store URL"),
        asterisk=servers,
        ivr_defaults=defaults,
        allow_url_apps=get("ivr", "allow_url_apps", d.allow_url_apps, boolean, "yes or no"),
        connections_per_host=get("ivr", "connections_per_host", d.connections_per_host,
                                 integer(1, 1024), "a number of connections"),
        apps=apps,
        dialer=dialer,
        users=users,
        recorder=recorder,
    )
    if reader.problems:
        raise ConfigError(path, reader.problems)
    return config


def load_config(path: str | Path) -> GtxConfig:
    """Read and validate gtx.ini at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        problem = ConfigProblem("file", None, f"cannot read: {e.strerror}")
        raise ConfigError(str(p), [problem]) from e
    return parse_config(text, str(p))


def describe(config: GtxConfig) -> Iterable[str]:
    """A short human summary of a valid configuration (for ``gtx check-config``)."""
    yield f"node {config.node}: FastAGI on {config.fastagi_listen}, HTTP on {config.http_listen}"
    yield f"store: {config.store_url}"
    for server in config.asterisk.values():
        yield f"asterisk {server.name}: ami={server.ami or '-'} ari={server.ari_url or '-'}"
        if server.ari_url:
            yield (f"asterisk {server.name} ARI: user {server.ari_user}, Stasis app "
                   f"{server.ari_app}, recordings under {server.ari_recording_dir}, "
                   f"{server.ari_connections} REST connections at most")
        yield (f"asterisk {server.name}: calls via {server.originate_via or 'none'}, "
               f"recordings via {server.record_via or 'none'}")
    for app in config.apps.values():
        yield f"ivr app {app.name}: {app.method} at {app.url} (timeout {app.timeout:g} s)"
    if config.allow_url_apps:
        yield "ivr?url=…&method=… requests are allowed"


__all__ = [
    "BACKENDS", "DEFAULT_ARI_APP", "DEFAULT_ARI_CONNECTIONS", "DEFAULT_ARI_RECORDING_DIR",
    "DEFAULT_FASTAGI_LISTEN", "DEFAULT_HTTP_LISTEN", "DEFAULT_STORE_URL", "IVR_KEYS", "ROLES",
    "SECTION_KEYS", "ApiUser", "AsteriskServer", "ConfigError", "ConfigProblem",
    "DialerSettings", "GtxConfig", "RecorderSettings", "describe", "load_config", "parse_config",
]
