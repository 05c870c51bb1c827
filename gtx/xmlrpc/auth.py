"""Who may call the XML-RPC API at ``/RPC2``: credentials, roles, allow-lists, the audit log.

The Dialer API places calls that cost money: it is never open. All of it happens in one place,
:class:`AuthenticatedXMLRPCResource`, before any handler runs:

1. **Credentials** — the API users of gtx.ini (``[user:NAME]``: role, password, token, allow)
   send ``Authorization: Basic …`` (user and password) or ``Authorization: Bearer TOKEN``.
   Secrets are compared in constant time. No or wrong credentials → fault 401.
2. **Allow-list** — a user with ``allow`` may call only from those addresses / networks;
   from elsewhere → fault 403.
3. **Role** — ``admin``: every method; ``dialer``: ``dialer.*``; ``recorder``: ``recorder.*``;
   ``readonly``: the methods that change nothing (``*.status``, ``*.list``, ``*.results``,
   ``dialer.call_status``, ``dialer.dnc.check``); every role may call ``system.*``. Outside the
   role → fault 403 naming the method and the role. Each call of a ``system.multicall`` is
   checked on its own.
4. **Audit** — every call of a method that changes something (allowed or refused by role) is
   recorded: who, what, when, from where, the arguments shortened and without secrets, and how
   it ended. A failing audit store is logged; it never blocks nor fails the call.

With **no user configured** anonymous calls are accepted from this machine only: the node must
listen on loopback only (:func:`check_listen_address` says when it does not,
:func:`access_notice` is the start-up log line), and a call from another address is refused
anyway. Faults are answered with HTTP 200 like every XML-RPC fault, without a
``WWW-Authenticate`` challenge: XML-RPC clients show faults, not challenges, so credentials are
sent with every request (``http://user:password@host:8090/RPC2`` in most clients).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from gtx.audit import AuditEntry
from gtx.config import ApiUser
from gtx.errors import ApiError, Forbidden, Unauthorized
from gtx.xmlrpc.codec import DEFAULT_MAX_SIZE
from gtx.xmlrpc.server import CallContext, XMLRPCResource

__all__ = [
    "ANONYMOUS",
    "AuthenticatedXMLRPCResource",
    "Authenticator",
    "access_notice",
    "check_listen_address",
    "is_read_only",
    "role_allows",
    "summarize",
]

#: The user name audit entries carry for anonymous calls (no user configured).
ANONYMOUS: Final = "anonymous"
_READ_ONLY_SUFFIXES: Final = (".status", ".list", ".results")
_READ_ONLY_METHODS: Final = frozenset({"dialer.call_status", "dialer.dnc.check"})
_ROLE_PREFIXES: Final = {"dialer": "dialer.", "recorder": "recorder."}
_SECRET_KEY: Final = re.compile(r"pass|secret|token|pin$|auth|key$", re.IGNORECASE)
_URL_USERINFO: Final = re.compile(r"(?<=://)[^/@\s]*@")
_SUMMARY_LENGTH: Final = 400


def is_read_only(method: str) -> bool:
    """True for the methods that change nothing (the ``readonly`` role's, never audited)."""
    return (method.startswith("system.") or method.endswith(_READ_ONLY_SUFFIXES)
            or method in _READ_ONLY_METHODS)


def role_allows(role: str, method: str) -> bool:
    """Whether ``role`` may call ``method``."""
    if role == "admin" or method.startswith("system."):
        return True
    if role == "readonly":
        return is_read_only(method)
    prefix = _ROLE_PREFIXES.get(role)
    return prefix is not None and method.startswith(prefix)


#: The outcome of authenticating one HTTP request: a user, anonymous (None), or a refusal.
_Caller = ApiUser | None | ApiError


@dataclass(frozen=True)
class _Checked:
    """What authentication found for one HTTP request."""

    caller: _Caller


class Authenticator:
    """Checks an ``Authorization`` header and the peer's address against the API users."""

    def __init__(self, users: Mapping[str, ApiUser]) -> None:
        self.users = dict(users)
        self._networks = {
            name: tuple(ipaddress.ip_network(entry, strict=False) for entry in user.allow)
            for name, user in self.users.items()
        }

    @property
    def open(self) -> bool:
        """True when no user is configured: anonymous calls are accepted."""
        return not self.users

    def authenticate(self, authorization: bytes | None, peer: str) -> ApiUser | None:
        """The user calling (None: anonymous, when no user is configured), or raise
        :class:`Unauthorized` / :class:`Forbidden` (address not allowed)."""
        if self.open:
            if not _local(peer):  # in case the node was started on an open address anyway
                raise Unauthorized("no API user is configured: only calls from this machine "
                                   "are accepted")
            return None
        if not authorization:
            raise Unauthorized("credentials required: HTTP Basic (user and password) or "
                               "'Authorization: Bearer TOKEN'")
        scheme, _, credentials = authorization.decode("latin-1").strip().partition(" ")
        if scheme.lower() == "basic":
            user = self._basic(credentials.strip())
        elif scheme.lower() == "bearer":
            user = self._bearer(credentials.strip())
        else:
            raise Unauthorized(f"unsupported authorization scheme {scheme[:20]!r}: use Basic "
                               "or Bearer")
        self._check_address(user, peer)
        return user

    def _basic(self, credentials: str) -> ApiUser:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed HTTP Basic credentials") from None
        name, colon, password = decoded.partition(":")
        user = self.users.get(name)
        # Compare even for an unknown user, so the time taken does not tell names apart.
        expected = user.password if user is not None and user.password else "\0no password"
        matches = hmac.compare_digest(password.encode(), expected.encode())
        if user is None or not user.password or not colon or not matches:
            raise Unauthorized("wrong user or password")
        return user

    def _bearer(self, token: str) -> ApiUser:
        found: ApiUser | None = None
        for user in self.users.values():  # every token is compared: no early exit
            expected = user.token or "\0no token"
            if hmac.compare_digest(token.encode(), expected.encode()) and user.token:
                found = user
        if found is None:
            raise Unauthorized("unknown token")
        return found

    def _check_address(self, user: ApiUser, peer: str) -> None:
        networks = self._networks.get(user.name, ())
        if not networks:
            return
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            address = None
        candidates = [address] if address is not None else []
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        if not any(a in n for a in candidates for n in networks if a.version == n.version):
            raise Forbidden(f"user {user.name!r} may not call from {peer or 'this address'} "
                            "(see its allow list)")


class AuthenticatedXMLRPCResource(XMLRPCResource):
    """An :class:`XMLRPCResource` that authenticates every call, checks the caller's role and
    allow-list, fills :attr:`CallContext.user`, and audits the calls that change something.

    ``audit`` stores an entry (e.g. :meth:`gtx.store.api.Store.audit`); ``clock`` dates it.
    """

    def __init__(
        self,
        users: Mapping[str, ApiUser],
        *,
        clock: IReactorTime,
        audit: Callable[[AuditEntry], Deferred[None]] | None = None,
        max_request_size: int = DEFAULT_MAX_SIZE,
        log: Logger | None = None,
    ) -> None:
        super().__init__(max_request_size=max_request_size, log=log)
        self.authenticator = Authenticator(users)
        self._clock = clock
        self._audit = audit
        self._logger = log if log is not None else Logger()

    def call_context(self, request: Request, method: str) -> CallContext:
        """Authenticate the HTTP request; the outcome goes to :meth:`dispatch` in the context
        (once per request: ``system.multicall``'s inner calls share it)."""
        peer = _peer(request)
        caller: _Caller
        try:
            caller = self.authenticator.authenticate(request.getHeader(b"authorization"), peer)
        except ApiError as refusal:
            self._logger.warn("XML-RPC call from {peer} refused: {reason}", peer=peer,
                              reason=refusal.message)
            caller = refusal
        return replace(super().call_context(request, method), credentials=_Checked(caller))

    def dispatch(self, context: CallContext, method: str, params: list[object]) -> Deferred[Any]:
        """Refuse the call unless the caller may make it; audit it when it changes
        something."""
        checked = context.credentials
        # Fail closed: a context that did not come through call_context is not authenticated.
        caller = checked.caller if isinstance(checked, _Checked) else Unauthorized(
            "credentials required")
        if isinstance(caller, ApiError):
            return fail(caller)
        name = caller.name if caller is not None else None
        context = replace(context, user=name)
        audited = not is_read_only(method)
        at = self._clock.seconds()
        if caller is not None and not role_allows(caller.role, method):
            refusal = Forbidden(f"{method} is not allowed for role {caller.role!r} (user "
                                f"{caller.name!r})")
            if audited:
                self._record(at, context, params, f"fault {refusal.code}")
            return fail(refusal)
        answer = super().dispatch(context, method, params)
        if audited:
            def record(result: object) -> object:
                code = result.value.code if isinstance(result, Failure) and isinstance(
                    result.value, ApiError) else None
                outcome = "ok" if not isinstance(result, Failure) else (
                    f"fault {code}" if code is not None else "error")
                self._record(at, context, params, outcome)
                return result

            answer.addBoth(record)
        return answer

    def _record(self, at: float, context: CallContext, params: list[object],
                outcome: str) -> None:
        if self._audit is None:
            return
        entry = AuditEntry(at=at, user=context.user or ANONYMOUS, method=context.method,
                           peer=context.peer_host, summary=f"{summarize(params)} -> {outcome}")
        try:
            stored = self._audit(entry)
        except Exception:
            self._logger.failure("audit entry for {method} not stored", method=context.method)
            return
        stored.addErrback(lambda failure: self._logger.failure(
            "audit entry for {method} not stored", failure=failure, method=context.method))


def _local(peer: str) -> bool:
    """A loopback address, or "" (a UNIX socket)."""
    if not peer:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _peer(request: Request) -> str:
    return str(getattr(request.getClientAddress(), "host", "") or "")


def summarize(params: list[object], limit: int = _SUMMARY_LENGTH) -> str:
    """The arguments of a call, shortened for the audit log, without secrets: members whose
    name looks secret (password, token, pin …) and the user info of URLs are masked."""
    text = ", ".join(_brief(value, 0) for value in params)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _brief(value: object, depth: int) -> str:
    if isinstance(value, str):
        value = _URL_USERINFO.sub("***@", value)
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        if depth >= 2:
            return "{…}"
        members = [f"{k}: {'***' if _SECRET_KEY.search(str(k)) else _brief(v, depth + 1)}"
                   for k, v in list(value.items())[:12]]
        more = ", …" if len(value) > 12 else ""
        return "{" + ", ".join(members) + more + "}"
    if isinstance(value, list):
        if len(value) > 3 or depth >= 2:
            return f"[{len(value)} items]"
        return "[" + ", ".join(_brief(v, depth + 1) for v in value) + "]"
    return f"<{len(value)} bytes>" if isinstance(value, bytes) else repr(value)


# ---------------------------------------------------------------------- listening address


def check_listen_address(http_listen_endpoint: str, users: Mapping[str, ApiUser]) -> str | None:
    """An error message when the API would be open to other machines: no user is configured
    and ``[http] listen`` is not loopback-only. None when all is well."""
    if users or _loopback_only(http_listen_endpoint):
        return None
    return (
        f"[http] listen = {http_listen_endpoint} accepts connections from other machines and "
        "no API user is configured: the Dialer API places calls that cost money, so it is "
        "never open. Add a [user:NAME] section (role, and a password or a token), or listen on "
        "loopback only (tcp:8090:interface=127.0.0.1)."
    )


def access_notice(http_listen_endpoint: str, users: Mapping[str, ApiUser]) -> str:
    """The start-up log line that says who may call the API."""
    if not users:
        return ("XML-RPC API /RPC2: no [user:NAME] configured: anonymous calls accepted, from "
                "this machine only (loopback)")
    listing = ", ".join(f"{user.name} ({user.role})" for user in users.values())
    line = f"XML-RPC API /RPC2: credentials required; users: {listing}"
    kind = _split(http_listen_endpoint)[0].lower()
    if kind in ("tcp", "tcp6") and not _loopback_only(http_listen_endpoint):
        line += ("; passwords and tokens cross the network in clear text on "
                 f"{http_listen_endpoint}: prefer a TLS endpoint (ssl:…)")
    return line


def _loopback_only(endpoint: str) -> bool:
    """Whether a server endpoint string listens on loopback only (or on a UNIX socket)."""
    parts = _split(endpoint)
    kind = parts[0].lower() if len(parts) > 1 else "tcp"  # a bare port is tcp on all addresses
    if kind == "unix":
        return True
    if kind not in ("tcp", "tcp6", "ssl"):
        return False  # cannot tell: treat as open
    positional = [p for p in parts[1:] if "=" not in p]
    keywords = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    interface = keywords.get("interface", "")
    if not interface and kind != "ssl" and len(positional) > 1:
        interface = positional[1]
    if interface.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return False  # "" (every address) or a name we do not resolve


def _split(endpoint: str) -> list[str]:
    """Split an endpoint string on its unescaped colons (``interface=\\:\\:1``)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in endpoint:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
