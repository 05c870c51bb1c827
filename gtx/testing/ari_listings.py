"""The ARI resource listings (Swagger 1.2) of the reference Asterisk, and what they allow.

The listings in ``gtx/testing/ari_api_docs`` are the real Asterisk's. The emulated server serves
them (with ``basePath`` pointing at itself) and a synthesized ``resources.json`` naming them,
so that aioari's ``client.init()`` builds its operations from them, and routes every request
through them: a path or method they do not declare answers 404/405, a parameter they do not
declare, or a required one that is missing, answers 400 — unlike a real Asterisk, which ignores
unknown parameters, so that gtx cannot rely on one silently.

:func:`check_against_listings` checks a request log (``EmulatedARIServer.requests``) against
the listings after the fact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

LISTINGS_DIR = Path(__file__).resolve().parent / "ari_api_docs"
#: The resources in the order a real ``resources.json`` lists them, with its descriptions.
RESOURCES: tuple[tuple[str, str], ...] = (
    ("asterisk", "Asterisk resources"),
    ("endpoints", "Endpoint resources"),
    ("channels", "Channel resources"),
    ("bridges", "Bridge resources"),
    ("recordings", "Recording resources"),
    ("sounds", "Sound resources"),
    ("playbacks", "Playback control resources"),
    ("deviceStates", "Device state resources"),
    ("mailboxes", "Mailboxes resources"),
    ("events", "WebSocket resource"),
    ("applications", "Stasis application resources"),
)
#: What Asterisk answers for a value its listing does not allow ("terminateOn invalid"…).
_INVALID = {
    "direction": "Invalid direction specified",
    "spy": "Invalid direction specified for spy",
    "whisper": "Invalid direction specified for whisper",
    "reason": "Invalid reason for hangup reason provided",
}
_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


class ListingError(ValueError):
    """A request the listings do not allow: ``status`` and ``message`` are the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Parameter:
    """One declared parameter of an operation."""

    name: str
    kind: str  # path, query, body
    required: bool
    data_type: str
    allow_multiple: bool
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One declared REST operation (``resource.nickname``)."""

    resource: str
    nickname: str
    method: str
    path: str  # e.g. /channels/{channelId}/play
    parameters: Mapping[str, Parameter] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``channels.play``."""
        return f"{self.resource}.{self.nickname}"

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments (``{name}`` for parameters)."""
        return tuple(self.path.strip("/").split("/"))


@dataclass(frozen=True)
class ARIRequest:
    """One request the server received: ``operation`` is ``resource.nickname`` (None when the
    listings know no such path), ``params`` its query and body parameters."""

    method: str
    path: str
    operation: str | None
    params: Mapping[str, Any]
    status: int = 0


@cache
def listing(resource: str) -> Mapping[str, Any]:
    """A resource's API declaration, as shipped (parsed once)."""
    with (LISTINGS_DIR / f"{resource}.json").open(encoding="utf-8") as f:
        loaded: Mapping[str, Any] = json.load(f)
        return loaded


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation of every listing."""
    found: list[Operation] = []
    for resource, _ in RESOURCES:
        for api in listing(resource)["apis"]:
            for op in api["operations"]:
                params = {p["name"]: _parameter(p) for p in op.get("parameters", [])}
                found.append(Operation(resource, op["nickname"], op["httpMethod"].upper(),
                                       api["path"], params))
    return tuple(found)


def _parameter(raw: Mapping[str, Any]) -> Parameter:
    allowed = raw.get("allowableValues") or {}
    values = tuple(allowed.get("values", ())) if allowed.get("valueType") == "LIST" else ()
    kind = raw["paramType"]
    return Parameter(raw["name"], kind, kind == "path" or bool(raw.get("required")),
                     raw.get("dataType", "string"), bool(raw.get("allowMultiple")), values)


def resources_json(base_path: str) -> dict[str, Any]:
    """The synthesized resource listing (``/ari/api-docs/resources.json``)."""
    apis = [{"path": f"/api-docs/{name}.{{format}}", "description": text}
            for name, text in RESOURCES]
    first = listing("asterisk")
    return {
        "_copyright": first.get("_copyright", ""),
        "_author": first.get("_author", ""),
        "_svn_revision": "$Revision$",
        "apiVersion": first["apiVersion"],
        "swaggerVersion": "1.1",
        "basePath": base_path,
        "apis": apis,
    }


def declaration(resource: str, base_path: str) -> dict[str, Any] | None:
    """A listing with ``basePath`` rewritten (None: no such resource)."""
    if resource not in dict(RESOURCES):
        return None
    declared = dict(listing(resource))
    declared["basePath"] = base_path
    return declared


def path_segments(raw_path: str) -> list[str]:
    """The decoded segments of a path below ``/ari`` (``%2F`` stays inside its segment)."""
    return [unquote(s) for s in raw_path.strip("/").split("/")]


def match(method: str, segments: list[str]) -> tuple[Operation, dict[str, str]]:
    """The operation for ``method`` on ``segments`` and its path parameters; raises
    :class:`ListingError` 404 (no such path) or 405 (no such method on it)."""
    best: tuple[int, Operation, dict[str, str]] | None = None
    path_known = False
    for op in operations():
        bound = _bind(op.segments, segments)
        if bound is None:
            continue
        path_known = True
        if op.method != method:
            continue
        static = sum(1 for s in op.segments if not s.startswith("{"))
        if best is None or static > best[0]:
            best = (static, op, bound)
    if best is not None:
        return best[1], best[2]
    if path_known:
        raise ListingError(405, "Invalid method")
    raise ListingError(404, "Resource not found")


def _bind(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    bound: dict[str, str] = {}
    for part, value in zip(template, segments, strict=True):
        if part.startswith("{"):
            if not value:
                return None
            bound[part[1:-1]] = value
        elif part != value:
            return None
    return bound


def parse_params(op: Operation, query: Iterable[tuple[str, str]],
                 body: Mapping[str, Any] | None) -> dict[str, Any]:
    """The operation's query and body parameters, converted to their declared types
    (``boolean`` → bool, ``int``/``long`` → int, ``allowMultiple`` → list of str); raises
    :class:`ListingError` 400 for an undeclared, repeated-but-single, missing or bad one."""
    raw: dict[str, Any] = {}
    for name, value in query:
        param = op.parameters.get(name)
        if param is None or param.kind == "path":
            raise ListingError(400, f"Unknown parameter '{name}' for {op.name}")
        if name in raw and not param.allow_multiple:
            raise ListingError(400, f"Parameter '{name}' given twice")
        raw[name] = f"{raw[name]},{value}" if name in raw else value
    for name, value in (body or {}).items():
        param = op.parameters.get(name)
        if param is None or param.kind == "path":
            raise ListingError(400, f"Unknown parameter '{name}' in the body of {op.name}")
        raw[name] = value
    params = {name: _convert(op.parameters[name], value) for name, value in raw.items()}
    for param in op.parameters.values():
        if param.kind != "path" and param.required and param.name not in params:
            raise ListingError(400, f"Required parameter '{param.name}' not provided.")
    return params


def _convert(param: Parameter, value: Any) -> Any:
    if param.kind == "body":
        if param.data_type == "containers" and not isinstance(value, Mapping):
            raise ListingError(400, f"'{param.name}' must be a JSON object")
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    if param.data_type == "boolean":
        lowered = text.strip().lower()
        if lowered not in _TRUE + _FALSE:
            raise ListingError(400, f"'{text}' is not a boolean for '{param.name}'")
        return lowered in _TRUE
    if param.data_type in ("int", "long"):
        try:
            return int(text)
        except ValueError:
            raise ListingError(400, f"'{text}' is not an integer for '{param.name}'") from None
    if param.allow_multiple:
        return [v for v in text.split(",") if v]
    if param.allowed and text not in param.allowed:
        raise ListingError(400, _INVALID.get(param.name, f"{param.name} invalid"))
    return text


def check_against_listings(requests: Iterable[ARIRequest]) -> list[str]:
    """Problems with ``requests`` (a server's request log): paths, methods and parameters the
    listings do not declare, required parameters missing. Requests for the listings
    themselves are fine. An empty list means every request was a declared operation."""
    problems: list[str] = []
    for request in requests:
        if request.path.startswith("/api-docs/"):
            continue
        where = f"{request.method} {request.path}"
        try:
            op, _ = match(request.method, path_segments(request.path))
        except ListingError as e:
            problems.append(f"{where}: {e.message}")
            continue
        if request.operation is not None and request.operation != op.name:
            problems.append(f"{where}: logged as {request.operation}, declared as {op.name}")
        for name in request.params:
            param = op.parameters.get(name)
            if param is None or param.kind == "path":
                problems.append(f"{where}: {op.name} declares no parameter '{name}'")
        for param in op.parameters.values():
            if param.kind != "path" and param.required and param.name not in request.params:
                problems.append(f"{where}: {op.name} needs '{param.name}'")
    return problems
