"""HTTP details of the emulated ARI server: authentication, the listings' documents, request
bodies, JSON answers, and the faults a test asks for."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from twisted.internet.defer import Deferred

from gtx.testing.ari_listings import ListingError, declaration, resources_json


def authorized(request: web.Request, user: str, password: str) -> bool:
    """``api_key=user:password`` in the query, or HTTP Basic, as ari.conf's user."""
    expected = f"{user}:{password}"
    api_key = request.query.get("api_key")
    if api_key is not None:
        return api_key == expected
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            return base64.b64decode(header[6:]).decode("utf-8") == expected
        except (binascii.Error, UnicodeDecodeError):
            return False
    return False


def api_docs(path: str, host: str | None) -> web.Response:
    """``/api-docs/resources.json`` or a listing, with ``basePath`` built as Asterisk builds it
    (``ast_ari_get_docs``): ``http://`` + the request's ``Host`` header + ``/ari`` — always
    http, whatever the request came over — and no ``basePath`` without a ``Host``."""
    name = path[len("/api-docs/"):]
    base_path = f"http://{host}/ari" if host else ""
    if name == "resources.json":
        doc: dict[str, Any] | None = resources_json(base_path)
    else:
        doc = declaration(name.removesuffix(".json"), base_path) \
            if name.endswith(".json") else None
    if doc is None:
        return json_response(404, {"message": "Resource not found"})
    if not host:
        del doc["basePath"]
    return json_response(200, doc)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """An answer: no body (None), a file (bytes) or compact JSON, as Asterisk writes it."""
    if body is None:
        return web.Response(status=status, headers=headers)
    if isinstance(body, bytes):  # a stored recording's file
        return web.Response(status=status, body=body, content_type="audio/wav",
                            headers=headers)
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return web.Response(status=status, text=text, content_type="application/json",
                        headers=headers)


async def read_body(request: web.Request) -> dict[str, Any] | None:
    """The JSON object of the request body (None when there is none); 400 otherwise."""
    if not request.can_read_body:
        return None
    text = await request.text()
    if not text.strip():
        return None
    try:
        body = json.loads(text)
    except ValueError:
        raise ListingError(400, "Invalid JSON in the request body") from None
    if not isinstance(body, dict):
        raise ListingError(400, "The request body must be a JSON object")
    return body


def run_on_loop(coroutine: Coroutine[Any, Any, None]) -> Deferred[None]:
    """Run an asyncio coroutine as a task of the reactor's loop."""
    return Deferred.fromFuture(asyncio.ensure_future(coroutine))


@dataclass
class _Fault:
    nickname: str | None  # "record" or "channels.record"
    method: str | None
    pattern: re.Pattern[str] | None
    status: int
    body: Any
    times: int

    def matches(self, operation: str, method: str, path: str) -> bool:
        if self.nickname is not None:
            return self.nickname in (operation, operation.split(".", 1)[1])
        assert self.pattern is not None
        return method == self.method and self.pattern.fullmatch(path) is not None


class Faults:
    """Answers a test asked for (``EmulatedARIServer.fail_next``)."""

    def __init__(self) -> None:
        self._faults: list[_Fault] = []

    def add(self, target: str | tuple[str, str], status: int, body: Any, times: int) -> None:
        """Answer the next ``times`` requests for ``target`` with ``status`` and ``body``."""
        if body is None:
            body = {"message": "Internal Server Error"}
        if isinstance(target, str):
            self._faults.append(_Fault(target, None, None, status, body, times))
        else:
            method, pattern = target
            self._faults.append(_Fault(None, method.upper(), re.compile(pattern), status, body,
                                       times))

    def take(self, operation: str, method: str, path: str) -> tuple[int, Any] | None:
        """The answer for this request if a fault matches it (used up once)."""
        for fault in self._faults:
            if fault.matches(operation, method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault.status, fault.body
        return None
