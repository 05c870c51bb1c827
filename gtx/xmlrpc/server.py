"""The XML-RPC server side: one resource at ``/RPC2``, handlers composed by domain.

::

    class DialerHandler:
        @xmlrpc_method(name="call", signature=[["struct", "string", "struct"]],
                       help="Place one call to NUMBER; returns {call_id}.")
        async def call(self, ctx: CallContext, number: str, options: dict) -> dict: ...

    rpc = XMLRPCResource()
    rpc.put_sub_handler("dialer", DialerHandler(...))        # dialer.call
    root.putChild(b"RPC2", rpc)

A handler method takes a :class:`CallContext` then the call's parameters, and returns a value, a
``Deferred`` or a coroutine. Errors become faults in one place (:meth:`XMLRPCResource.fault_for`):
a :class:`gtx.errors.ApiError` keeps its code and message; anything else is logged with its
traceback and answered as a generic ``-32603 internal error`` that leaks nothing.

A request body over ``max_request_size`` is answered with fault ``-32600`` (HTTP 200, like every
fault, so any XML-RPC client shows the message). Other HTTP methods than POST get ``405``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from gtx.errors import (
    ApiError,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
)
from gtx.xmlrpc.codec import DEFAULT_MAX_SIZE, dumps_fault, dumps_response, loads_call
from gtx.xmlrpc.errors import BodyTooLarge, CodecError

__all__ = ["CallContext", "MethodSpec", "XMLRPCResource", "xmlrpc_method"]

#: A method signature in the introspection convention: [return type, parameter types…].
Signature = Sequence[Sequence[str]]
_Func = TypeVar("_Func", bound=Callable[..., object])
_MARK = "__gtx_xmlrpc_method__"
_INTERNAL = "internal error"


@dataclass(frozen=True)
class CallContext:
    """What a handler knows about a call besides its parameters.

    ``user`` is who made the call once authentication is in place (``None``: anonymous); the
    authentication layer fills it before dispatch, so handlers never change for it.
    """

    peer_host: str
    method: str
    user: str | None = None
    #: What the resource's authentication found for the HTTP request (see
    #: :meth:`XMLRPCResource.call_context`); handlers do not read it.
    credentials: object = None


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its full name, function, signatures and help text."""

    name: str
    func: Callable[..., object]
    signature: Signature | None
    help: str
    parameters: inspect.Signature

    def usage(self) -> str:
        """How to call it, e.g. ``dialer.call(string, struct) -> struct``."""
        if self.signature:
            return " or ".join(
                f"{self.name}({', '.join(types[1:])}) -> {types[0]}" for types in self.signature
            )
        names = list(self.parameters.parameters)[1:]  # after the CallContext
        return f"{self.name}({', '.join(names)})"


@dataclass(frozen=True)
class _Mark:
    name: str | None
    signature: Signature | None
    help: str | None


def xmlrpc_method(
    *, name: str | None = None, signature: Signature | None = None, help: str | None = None
) -> Callable[[_Func], _Func]:
    """Mark a handler method as an XML-RPC method (named after the function by default).

    ``help`` defaults to the function's docstring.
    """

    def mark(func: _Func) -> _Func:
        setattr(func, _MARK, _Mark(name, signature, help))
        return func

    return mark


class XMLRPCResource(Resource):
    """Serves XML-RPC calls by POST, dispatching on the full method name."""

    isLeaf = True

    def __init__(self, *, max_request_size: int = DEFAULT_MAX_SIZE, log: Logger | None = None):
        super().__init__()
        self.max_request_size = max_request_size
        self._log = log if log is not None else Logger()
        self._methods: dict[str, MethodSpec] = {}
        self.put_sub_handler("system", _SystemMethods(self))

    # ------------------------------------------------------------------------ registration

    def register(
        self,
        name: str,
        func: Callable[..., object],
        signature: Signature | None = None,
        help: str = "",
    ) -> None:
        """Register ``func(ctx, *params)`` under the full method ``name``."""
        if name in self._methods:
            raise ValueError(f"XML-RPC method {name!r} is already registered")
        parameters = inspect.signature(func)
        if not parameters.parameters:
            raise TypeError(f"{name}: the handler must take a CallContext first")
        self._methods[name] = MethodSpec(name, func, signature, help, parameters)

    def put_sub_handler(self, prefix: str, handler: object) -> None:
        """Register every ``@xmlrpc_method`` of ``handler`` as ``prefix.name``."""
        for attribute in dir(type(handler)):
            mark = getattr(getattr(type(handler), attribute, None), _MARK, None)
            if isinstance(mark, _Mark):
                func = getattr(handler, attribute)
                self.register(
                    f"{prefix}.{mark.name or attribute}",
                    func,
                    mark.signature,
                    mark.help if mark.help is not None else inspect.getdoc(func) or "",
                )

    def methods(self) -> dict[str, MethodSpec]:
        """The registered methods by name (a copy)."""
        return dict(self._methods)

    def method(self, name: str) -> MethodSpec:
        """The method called ``name``; :class:`MethodNotFound` if there is none."""
        spec = self._methods.get(name)
        if spec is None:
            raise MethodNotFound(f"no method {name!r}; see system.listMethods")
        return spec

    # ------------------------------------------------------------------------------ HTTP

    def render(self, request: Request) -> bytes | int:
        """POST only: anything else is ``405 Method Not Allowed`` with ``Allow: POST``."""
        if request.method != b"POST":
            request.setResponseCode(405)
            request.setHeader(b"allow", b"POST")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"XML-RPC: use POST\n"
        return self.render_POST(request)

    def render_POST(self, request: Request) -> int:
        """Answer the call in ``request`` (now or when its handler's Deferred fires)."""
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        answer = Deferred.fromCoroutine(self._answer(request))

        def write(body: bytes) -> None:
            if gone:
                return  # the client left: nobody to answer
            request.setHeader(b"content-type", b"text/xml")
            request.setHeader(b"content-length", str(len(body)).encode("ascii"))
            request.write(body)
            request.finish()

        answer.addCallback(write)
        return NOT_DONE_YET

    async def _answer(self, request: Request) -> bytes:
        """The response body: the method's value, or a fault. Never fails."""
        method = "?"
        try:
            body = self._read_body(request)
            try:
                method, params = loads_call(body, max_size=self.max_request_size)
            except BodyTooLarge as error:
                raise InvalidRequest(str(error)) from None
            except CodecError as error:
                raise ParseError(str(error)) from None
            value = await self.dispatch(self.call_context(request, method), method, params)
            try:
                return dumps_response(value)
            except CodecError as error:
                raise RuntimeError(f"{method} returned a value XML-RPC cannot carry") from error
        except Exception:
            return dumps_fault(*self.fault_for(Failure(), method))

    def _read_body(self, request: Request) -> bytes:
        limit = self.max_request_size
        announced = request.getHeader(b"content-length")
        if announced is not None and announced.strip().isdigit() and int(announced) > limit:
            raise InvalidRequest(
                f"request body of {int(announced)} bytes exceeds the limit of {limit} bytes"
            )
        if request.content is None:
            return b""
        body: bytes = request.content.read(limit + 1)
        if len(body) > limit:
            raise InvalidRequest(f"request body exceeds the limit of {limit} bytes")
        return body

    # -------------------------------------------------------------------------- dispatch

    def call_context(self, request: Request, method: str) -> CallContext:
        """The context of one HTTP request's call; a subclass that authenticates adds what it
        found (``credentials``) for its :meth:`dispatch` to check."""
        return CallContext(peer_host=_peer_host(request), method=method)

    def dispatch(self, context: CallContext, method: str, params: list[object]) -> Deferred[Any]:
        """Run ``method`` with ``params``; fail with an :class:`ApiError` for a bad call."""
        return Deferred.fromCoroutine(self._run(context, method, params))

    async def _run(self, context: CallContext, method: str, params: list[object]) -> object:
        spec = self.method(method)
        try:
            spec.parameters.bind(context, *params)
        except TypeError:
            raise InvalidParams(
                f"{method} takes {_count(spec)}, got {len(params)}: {spec.usage()}"
            ) from None
        result = spec.func(context, *params)
        if isinstance(result, Deferred) or inspect.isawaitable(result):
            result = await result
        return result

    def fault_for(self, failure: Failure, method: str) -> tuple[int, str]:
        """The one place where errors become faults: ``(faultCode, faultString)``."""
        if isinstance(failure.value, ApiError):
            return failure.value.code, failure.value.message
        self._log.failure("XML-RPC method {method} failed", failure=failure, method=method)
        return InternalError.code, _INTERNAL


def _count(spec: MethodSpec) -> str:
    parameters = list(spec.parameters.parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return "a variable number of parameters"
    required = sum(1 for p in parameters if p.default is p.empty)
    if required == len(parameters):
        return f"{required} parameter{'s' if required != 1 else ''}"
    return f"{required} to {len(parameters)} parameters"


def _peer_host(request: Request) -> str:
    address = request.getClientAddress()
    return str(getattr(address, "host", "") or "")


class _SystemMethods:
    """The introspection methods and ``system.multicall``."""

    def __init__(self, resource: XMLRPCResource) -> None:
        self._resource = resource

    @xmlrpc_method(name="listMethods", signature=[["array"]], help="The names of all methods.")
    def list_methods(self, context: CallContext) -> list[str]:
        return sorted(self._resource.methods())

    @xmlrpc_method(
        name="methodHelp", signature=[["string", "string"]], help="The help text of a method."
    )
    def method_help(self, context: CallContext, name: str) -> str:
        return self._resource.method(name).help

    @xmlrpc_method(
        name="methodSignature",
        signature=[["array", "string"]],
        help='The signatures of a method: [[return type, parameter types...]], or "undef".',
    )
    def method_signature(self, context: CallContext, name: str) -> object:
        signature = self._resource.method(name).signature
        return [list(types) for types in signature] if signature else "undef"

    @xmlrpc_method(
        name="multicall",
        signature=[["array", "array"]],
        help="Run several calls in order: [{methodName, params}, ...]. Each result is [value], "
        "or {faultCode, faultString} for a call that failed.",
    )
    async def multicall(self, context: CallContext, calls: object) -> list[object]:
        if not isinstance(calls, list):
            raise InvalidParams("system.multicall takes an array of {methodName, params}")
        results: list[object] = []
        for call in calls:
            method = call.get("methodName") if isinstance(call, dict) else None
            try:
                results.append([await self._one(context, call, method)])
            except Exception:
                code, message = self._resource.fault_for(Failure(), str(method))
                results.append({"faultCode": code, "faultString": message})
        return results

    async def _one(self, context: CallContext, call: object, method: object) -> object:
        if not isinstance(call, dict) or not isinstance(method, str):
            raise InvalidRequest("each call is a struct {methodName: string, params: array}")
        params = call.get("params", [])
        if not isinstance(params, list):
            raise InvalidRequest(f"{method}: params must be an array")
        if method == "system.multicall":
            raise InvalidRequest("system.multicall cannot be nested")
        inner = replace(context, method=method)
        return await self._resource.dispatch(inner, method, params)
