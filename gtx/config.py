"""gtx.ini: reading, validating and explaining the configuration.

Every key is documented in ``examples/gtx.ini``. :func:`load_config` reads a file and returns a
:class:`GtxConfig`, or raises :class:`ConfigError` listing *every* problem found, each naming the
section, the key and what to write instead — ``gtx check-config`` prints them.
"""

from __future__ import annotations

import configparser
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

from gtx.ivr.app import IvrApp

T = TypeVar("T")

DEFAULT_FASTAGI_LISTEN = "tcp:4573:interface=127.0.0.1"
DEFAULT_HTTP_LISTEN = "tcp:8090:interface=127.0.0.1"
DEFAULT_STORE_URL = "sqlite:///var/lib/gtx/gtx.db"

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


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in gtx.ini."""

    section: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
        return f"{where}: {self.message}"


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
            if server.ami is not None and _endpoint_host(server.ami) == host:
                return server.name
        if len(self.asterisk) == 1:
            return next(iter(self.asterisk))
        return host

    @property
    def url_app_defaults(self) -> IvrApp | None:
        """The template for ``ivr?url=…&method=…`` requests, or None when they are refused."""
        return self.ivr_defaults if self.allow_url_apps else None


class _Reader:
    """Reads typed values from one parsed file, collecting problems instead of stopping."""

    def __init__(self, parser: configparser.ConfigParser) -> None:
        self.parser = parser
        self.problems: list[ConfigProblem] = []

    def problem(self, section: str, key: str | None, message: str) -> None:
        self.problems.append(ConfigProblem(section, key, message))

    def raw(self, section: str, key: str) -> str | None:
        if not self.parser.has_section(section) or not self.parser.has_option(section, key):
            return None
        return self.parser.get(section, key).strip()

    def get(
        self, section: str, key: str, default: T, convert: Callable[[str], T], expected: str
    ) -> T:
        value = self.raw(section, key)
        if not value:  # absent or empty: the default
            return default
        try:
            return convert(value)
        except ValueError as e:
            detail = f" ({e})" if str(e) else ""
            self.problem(section, key, f"expected {expected}, got {value!r}{detail}")
            return default


def _number(low: float, high: float) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return value
    return convert


def _integer(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return convert


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"yes", "true", "on", "1"}:
        return True
    if lowered in {"no", "false", "off", "0"}:
        return False
    raise ValueError("")


def _choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text
    return convert


def _matching(pattern: re.Pattern[str]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not pattern.match(text):
            raise ValueError("")
        return text
    return convert


def _list(item: re.Pattern[str]) -> Callable[[str], tuple[str, ...]]:
    def convert(text: str) -> tuple[str, ...]:
        items = tuple(part.strip() for part in re.split(r"[,\s]+", text) if part.strip())
        for part in items:
            if not item.match(part):
                raise ValueError(f"{part!r} is not valid")
        return items
    return convert


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host")
    return text


def _server_endpoint(text: str) -> str:
    try:
        serverFromString(MemoryReactor(), text)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a Twisted server endpoint string: {e}") from None
    return text


def _client_endpoint(text: str) -> str:
    try:
        clientFromString(MemoryReactor(), text)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a Twisted client endpoint string: {e}") from None
    return text


def _dial_template(text: str) -> str:
    if "{number}" not in text or not re.match(r"^[A-Za-z0-9]+/\S+$", text):
        raise ValueError("")
    return text


def _endpoint_host(endpoint: str) -> str | None:
    """The host of a client endpoint string (``tcp:HOST:PORT``, ``tcp:host=HOST:port=PORT``)."""
    match = re.match(r"^(?:tcp|tls|ssl):(?:host=)?([^:]+)", endpoint)
    return match.group(1) if match else None


def _store_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme == "sqlite":  # sqlite:///PATH, or sqlite:// in memory (tests, demos)
        return text
    if parts.scheme in {"postgresql", "postgres"} and parts.hostname and parts.path.strip("/"):
        return text
    raise ValueError("sqlite:///PATH, sqlite:// (in memory) or "
                     "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")


def _check_sections(reader: _Reader) -> None:
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


def _read_app(reader: _Reader, section: str, base: IvrApp, name: str) -> IvrApp:
    get = reader.get
    exec_allowed = get(section, "exec_allowed", tuple(sorted(base.exec_allowed)),
                       _list(_APPLICATION), "a comma-separated list of dialplan applications")
    secret = reader.raw(section, "secret")
    return IvrApp(
        name=name,
        url=get(section, "url", base.url, _http_url, "an http:// or https:// URL"),
        method=get(section, "method", base.method, _matching(_METHOD), "an XML-RPC method name"),
        timeout=get(section, "timeout", base.timeout, _number(0.1, 300), "seconds"),
        retries=get(section, "retries", base.retries, _integer(0, 10), "a whole number"),
        retry_delay=get(section, "retry_delay", base.retry_delay, _number(0, 60), "seconds"),
        secret=secret if secret else base.secret,
        hangup_method=get(section, "hangup_method", base.hangup_method, _matching(_METHOD),
                          "an XML-RPC method name"),
        fallback=get(section, "fallback", tuple(base.fallback), _list(_SOUND),
                     "a comma-separated list of sound names"),
        on_error=get(section, "on_error", base.on_error, _choice("hangup", "continue"),
                     "hangup or continue"),
        exec_allowed=frozenset(exec_allowed),
        record_dir=get(section, "record_dir", base.record_dir, str, "a directory"),
        max_steps=get(section, "max_steps", base.max_steps, _integer(1, 100000), "a number"),
    )


def _read_users(reader: _Reader) -> dict[str, ApiUser]:
    users: dict[str, ApiUser] = {}
    for section in reader.parser.sections():
        if not section.startswith("user:"):
            continue
        name = section.split(":", 1)[1]
        role = ""
        if reader.raw(section, "role"):
            role = reader.get(section, "role", "", _choice(*ROLES), " or ".join(ROLES))
        else:
            reader.problem(section, "role", f"missing: one of {', '.join(ROLES)}")
        password, token = reader.raw(section, "password"), reader.raw(section, "token")
        if not password and not token:
            reader.problem(section, None, "needs a password (HTTP Basic) or a token (Bearer)")
        users[name] = ApiUser(
            name=name, role=role, password=password or None, token=token or None,
            allow=reader.get(section, "allow", (), _list(_NETWORK), "addresses or networks"),
        )
    return users


def _read_dialer(reader: _Reader) -> DialerSettings:
    get = reader.get
    dd = DialerSettings()
    return DialerSettings(
        channel=get("dialer", "channel", dd.channel, _dial_template,
                    "a dial string with {number}, e.g. PJSIP/{number}@trunk"),
        lease_seconds=get("dialer", "lease_seconds", dd.lease_seconds, _number(5, 3600),
                          "seconds"),
        tick=get("dialer", "tick", dd.tick, _number(0.01, 10), "seconds"),
        callback_timeout=get("dialer", "callback_timeout", dd.callback_timeout,
                             _number(0.1, 300), "seconds"),
        callback_retry_max=get("dialer", "callback_retry_max", dd.callback_retry_max,
                               _number(1, 86400), "seconds"),
        safe_harbor=get("dialer", "safe_harbor", dd.safe_harbor, _matching(_SOUND),
                        "a sound name"),
    )


def _read_recorder(reader: _Reader) -> RecorderSettings:
    get, d = reader.get, RecorderSettings()
    directory = get("recorder", "dir", d.dir, str, "a directory")
    if not directory.startswith("/"):
        reader.problem("recorder", "dir", f"expected an absolute path, got {directory!r}")
    secret = reader.raw("recorder", "url_secret")
    return RecorderSettings(
        dir=directory,
        keep_days=get("recorder", "keep_days", d.keep_days, _number(0.01, 36500), "days"),
        url_secret=secret or None,
        url_ttl=get("recorder", "url_ttl", d.url_ttl, _number(1, 7 * 86400), "seconds"),
        public_url=get("recorder", "public_url", d.public_url, _http_url,
                       "an http:// or https:// base URL"),
    )


def _read_servers(reader: _Reader) -> dict[str, AsteriskServer]:
    get = reader.get
    servers: dict[str, AsteriskServer] = {}
    for section in reader.parser.sections():
        if section.startswith("asterisk:"):
            name = section.split(":", 1)[1]
            ari_url = get(section, "ari_url", None, _http_url, "an http:// URL")
            servers[name] = AsteriskServer(
                name=name,
                ami=get(section, "ami", None, _client_endpoint, "a client endpoint string"),
                ami_user=reader.raw(section, "ami_user"),
                ami_secret=reader.raw(section, "ami_secret"),
                ari_url=ari_url,
                ari_user=reader.raw(section, "ari_user"),
                ari_password=reader.raw(section, "ari_password"),
                agi_hosts=frozenset(get(section, "agi_hosts", _NO_HOSTS, _list(_HOST),
                                        "a comma-separated list of addresses")),
            )
            if (reader.raw(section, "ami") is None) != (reader.raw(section, "ami_user") is None):
                reader.problem(section, "ami_user", "ami and ami_user go together")
    return servers


def parse_config(text: str, path: str = "<string>") -> GtxConfig:
    """Parse gtx.ini text; raise ConfigError listing every problem."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        parser.read_string(text, source=path)
    except configparser.Error as e:
        raise ConfigError(path, [ConfigProblem("file", None, str(e).replace("\n", " "))]) from e
    reader = _Reader(parser)
    _check_sections(reader)
    get = reader.get
    d = GtxConfig()

    defaults = _read_app(reader, "ivr", IvrApp(name="", url="", method=""), "")
    apps: dict[str, IvrApp] = {}
    for section in parser.sections():
        if section.startswith("ivr:"):
            name = section.split(":", 1)[1]
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
        node=get("gtx", "node", d.node, _matching(_NAME), "a node name (letters, digits, _ . -)"),
        shutdown_timeout=get("gtx", "shutdown_timeout", d.shutdown_timeout, _number(0, 3600),
                             "seconds"),
        fastagi_listen=get("fastagi", "listen", d.fastagi_listen, _server_endpoint,
                           "a server endpoint string such as tcp:4573:interface=127.0.0.1"),
        fastagi_environment_timeout=get("fastagi", "environment_timeout",
                                        d.fastagi_environment_timeout, _number(0.1, 300),
                                        "seconds"),
        fastagi_command_timeout=get("fastagi", "command_timeout", d.fastagi_command_timeout,
                                    _number(1, 86400), "seconds"),
        fastagi_media_timeout=get("fastagi", "media_timeout", d.fastagi_media_timeout,
                                  _number(1, 86400), "seconds"),
        fastagi_application_timeout=get("fastagi", "application_timeout",
                                        d.fastagi_application_timeout, _number(1, 7 * 86400),
                                        "seconds"),
        fastagi_max_line_length=get("fastagi", "max_line_length", d.fastagi_max_line_length,
                                    _integer(1024, 1024 * 1024), "bytes"),
        http_listen=get("http", "listen", d.http_listen, _server_endpoint,
                        "a server endpoint string such as tcp:8090:interface=127.0.0.1"),
        http_max_request_size=get("http", "max_request_size", d.http_max_request_size,
                                  _integer(1024, 256 * 1024 * 1024), "bytes"),
        store_url=get("store", "url", d.store_url, _store_url, "a store URL"),
        asterisk=servers,
        ivr_defaults=defaults,
        allow_url_apps=get("ivr", "allow_url_apps", d.allow_url_apps, _boolean, "yes or no"),
        connections_per_host=get("ivr", "connections_per_host", d.connections_per_host,
                                 _integer(1, 1024), "a number of connections"),
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
    for app in config.apps.values():
        yield f"ivr app {app.name}: {app.method} at {app.url} (timeout {app.timeout:g} s)"
    if config.allow_url_apps:
        yield "ivr?url=…&method=… requests are allowed"
