"""ARI REST operations as the Swagger listings describe them, for :mod:`gtx.asterisk.ari_link`.

Pure parts of a REST call: finding an operation in the listings aioari loaded
(:func:`find_operation`), checking and converting its parameters the way Asterisk reads them
(:func:`arguments`), decoding the answer (:func:`send`) and an HTTP error's status and message
(:func:`http_status`); plus the HTTP client handed to aioari (:class:`AriHttpClient`).

Conversions: query and path values are text — ``bool`` as ``true``/``false``, numbers as
digits (``2.0`` as ``2``), lists joined by commas. ``variables`` (``channels.originate``,
``channels.create``, ``bridges``, ``endpoints`` …) is a body parameter: a mapping of channel
variables, which aioswagger11 sends as the JSON body ``{"variables": {NAME: "value"}}`` that
Asterisk expects; values become strings, and a mapping already wrapped as
``{"variables": {…}}`` is unwrapped so it is not sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web_exceptions
from aioswagger11.http_client import ApiKeyAuthenticator, AsynchronousHttpClient

from gtx.asterisk.ari_api import AriError

#: Seconds an idle kept-alive connection stays open: below Asterisk's ``session_keep_alive``
#: (http.conf, 15 s by default), so gtx never sends a POST on a connection Asterisk is
#: closing (aiohttp retries only idempotent requests on such a connection).
KEEPALIVE_TIMEOUT = 5.0


class AriHttpClient(AsynchronousHttpClient):  # type: ignore[misc]
    """aioswagger11's HTTP client with ``api_key`` authentication limited to Asterisk's host,
    and a WebSocket URL whose query is encoded (the original joins it raw) plus a heartbeat,
    so a link whose peer vanished without closing is noticed.

    It opens at most ``max_connections`` connections for REST requests, plus the event
    WebSocket: Asterisk's HTTP server closes, unanswered, any connection over its
    ``sessionlimit`` (http.conf, 100 by default), idle kept-alive ones included, while
    aiohttp's default pool goes up to 100. Requests beyond the limit wait for a free
    connection (each call stays bounded by the link's ``call_timeout``).
    """

    def __init__(self, host: str, api_key: str, *, heartbeat: float, close_timeout: float,
                 max_connections: int = 20):
        # Not the parent's __init__: its session has aiohttp's default pool. The session is
        # made here: build this inside a coroutine, on the running loop.
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.authenticator = ApiKeyAuthenticator(host, api_key)
        self.websockets: set[aiohttp.ClientWebSocketResponse] = set()
        self.max_connections = max_connections
        # The event WebSocket holds one connection of the pool for as long as it is open.
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=max_connections + 1, keepalive_timeout=KEEPALIVE_TIMEOUT))
        self._heartbeat = heartbeat
        self._close_timeout = close_timeout

    async def ws_connect(
        self, url: str, params: Mapping[str, str] | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        query = dict(params or {})
        if self.authenticator.matches(url):
            self.authenticator.apply(query, query)
        ws: aiohttp.ClientWebSocketResponse = await self.session.ws_connect(
            url, params=query, heartbeat=self._heartbeat,
            timeout=aiohttp.ClientWSTimeout(ws_close=self._close_timeout))
        self.websockets.add(ws)
        return ws


def find_operation(client: Any, resource: str, operation: str) -> Any:
    """The aioswagger11 operation ``resource.operation`` of the loaded listings."""
    resources = client.swagger.resources
    found = resources.get(resource)
    if found is None:
        raise AriError(f"ARI has no resource {resource!r} (resources: "
                       f"{', '.join(sorted(resources))})")
    op = found.operations.get(operation)
    if op is None:
        raise AriError(f"ARI resource {resource!r} has no operation {operation!r} "
                       f"(operations: {', '.join(sorted(found.operations))})")
    if op.json.get("is_websocket"):
        raise AriError(f"{resource}.{operation} is the event WebSocket, which the link keeps")
    return op


def arguments(what: str, op_json: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against the operation's Swagger parameters and converted."""
    declared = {p["name"]: p for p in op_json.get("parameters", [])}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise AriError(f"{what} has no parameter {', '.join(unknown)} "
                       f"(parameters: {', '.join(declared) or 'none'})")
    missing = [n for n, p in declared.items() if p.get("required") and params.get(n) is None]
    if missing:
        raise AriError(f"{what}: missing required parameter {', '.join(missing)}")
    args: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if declared[name]["paramType"] == "body":
            args[name] = _variables(what, value) if name == "variables" else value
        else:
            args[name] = _text(what, name, value)
    return args


def _text(what: str, name: str, value: object) -> str:
    """A query or path value as ARI reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(_text(what, name, item) for item in value)
    raise AriError(f"{what}: parameter {name} cannot be a {type(value).__name__}")


def _variables(what: str, value: object) -> dict[str, str]:
    """Channel variables for the body ``{"variables": {…}}`` (values as strings)."""
    if not isinstance(value, Mapping):
        raise AriError(f"{what}: variables must be a mapping, not a {type(value).__name__}")
    inner = value.get("variables")
    if len(value) == 1 and isinstance(inner, Mapping):
        value = inner
    return {str(k): _text(what, f"variables[{k}]", v) for k, v in value.items()}


def http_status(error: web_exceptions.HTTPException) -> tuple[int, str]:
    """The status and the message of an HTTP error answer (ARI bodies are JSON objects with
    a ``message`` or an ``error``)."""
    response = getattr(error, "response", None)
    status = int(getattr(response, "status", error.status_code))
    text = (error.text or "").strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str):
                return status, body[key]
    return status, text or str(error.reason)


async def send(op: Any, args: Mapping[str, Any]) -> Any:
    """Run ``op`` with ``args``; the decoded JSON answer, None when it is empty (204)."""
    response = await op(**args)
    text = await response.text()
    return json.loads(text) if text.strip() else None
