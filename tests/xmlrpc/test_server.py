"""The XML-RPC resource with DummyRequest: dispatch, errors as faults, introspection, multicall."""

from __future__ import annotations

import xmlrpc.client
from io import BytesIO
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.logger import LogEvent, Logger
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from gtx.errors import InvalidArgument, NotFound
from gtx.xmlrpc.codec import dumps_call, loads_response
from gtx.xmlrpc.errors import Fault
from gtx.xmlrpc.server import CallContext, XMLRPCResource, xmlrpc_method


class Dialer:
    """A small domain handler: the shapes real ones take."""

    def __init__(self) -> None:
        self.pending: Deferred[dict[str, object]] = Deferred()
        self.contexts: list[CallContext] = []

    @xmlrpc_method(name="call", signature=[["struct", "string", "struct"]], help="Place a call.")
    def place_call(self, ctx: CallContext, number: str, options: dict[str, object]) -> object:
        self.contexts.append(ctx)
        if not number.isdigit():
            raise InvalidArgument("number", f"expected digits, got {number!r}")
        return {"call_id": f"c-{number}", "options": options}

    @xmlrpc_method(signature=[["struct", "string"]])
    def status(self, ctx: CallContext, call_id: str) -> Deferred[dict[str, object]]:
        """The state of a call."""
        if call_id == "later":
            return self.pending
        if call_id != "c-1":
            return Deferred.fromCoroutine(self._missing(call_id))
        return succeed({"state": "ringing"})

    async def _missing(self, call_id: str) -> dict[str, object]:
        raise NotFound(f"no call {call_id!r}")

    @xmlrpc_method()
    async def hangup(self, ctx: CallContext, call_id: str, cause: int = 16) -> bool:
        return cause == 16

    @xmlrpc_method()
    def crash(self, ctx: CallContext) -> None:
        raise KeyError("secret-internal-detail")

    @xmlrpc_method()
    def unencodable(self, ctx: CallContext) -> object:
        return {"when": float("nan")}

    def not_exposed(self, ctx: CallContext) -> None:
        raise AssertionError("never called")


@pytest.fixture
def events() -> list[LogEvent]:
    return []


@pytest.fixture
def dialer() -> Dialer:
    return Dialer()


@pytest.fixture
def resource(dialer: Dialer, events: list[LogEvent]) -> XMLRPCResource:
    rpc = XMLRPCResource(max_request_size=4096, log=Logger(observer=events.append))
    rpc.put_sub_handler("dialer", dialer)
    rpc.put_sub_handler("dialer.campaign", Dialer())
    return rpc


def post(resource: XMLRPCResource, body: bytes, **headers: str) -> DummyRequest:
    request = DummyRequest([b""])
    request.client = IPv4Address("TCP", "10.1.2.3", 40000)  # the constructor ignores client=
    request.method = b"POST"
    request.content = BytesIO(body)
    for name, value in headers.items():
        request.requestHeaders.setRawHeaders(name.replace("_", "-"), [value])
    assert resource.render(request) == NOT_DONE_YET
    return request


def answer(request: DummyRequest) -> Any:
    assert request.finished == 1
    assert request.responseHeaders.getRawHeaders("content-type") == ["text/xml"]
    body = b"".join(request.written)
    assert request.responseHeaders.getRawHeaders("content-length") == [str(len(body))]
    return loads_response(body)


def call(resource: XMLRPCResource, method: str, *params: object) -> Any:
    return answer(post(resource, dumps_call(method, params)))


def fault_of(resource: XMLRPCResource, method: str, *params: object) -> tuple[int, str]:
    with pytest.raises(Fault) as caught:
        call(resource, method, *params)
    return caught.value.code, caught.value.message


def test_dispatches_by_full_name_with_a_context(resource: XMLRPCResource, dialer: Dialer) -> None:
    assert call(resource, "dialer.call", "100", {"timeout": 30}) == {
        "call_id": "c-100",
        "options": {"timeout": 30},
    }
    assert dialer.contexts == [CallContext(peer_host="10.1.2.3", method="dialer.call")]
    assert call(resource, "dialer.campaign.call", "7", {})["call_id"] == "c-7"


def test_handlers_may_return_deferreds_and_coroutines(
    resource: XMLRPCResource, dialer: Dialer
) -> None:
    assert call(resource, "dialer.status", "c-1") == {"state": "ringing"}
    assert call(resource, "dialer.hangup", "c-1") is True
    assert call(resource, "dialer.hangup", "c-1", 17) is False
    request = post(resource, dumps_call("dialer.status", ["later"]))
    assert request.finished == 0
    dialer.pending.callback({"state": "up"})
    assert answer(request) == {"state": "up"}


def test_api_errors_keep_their_code_and_message(resource: XMLRPCResource) -> None:
    assert fault_of(resource, "dialer.call", "abc", {}) == (
        400,
        "number: expected digits, got 'abc'",
    )
    assert fault_of(resource, "dialer.status", "c-9") == (404, "no call 'c-9'")


def test_unknown_method(resource: XMLRPCResource) -> None:
    assert fault_of(resource, "dialer.nope") == (
        -32601,
        "no method 'dialer.nope'; see system.listMethods",
    )
    assert fault_of(resource, "dialer.not_exposed")[0] == -32601


def test_wrong_number_of_arguments_names_the_signature(resource: XMLRPCResource) -> None:
    assert fault_of(resource, "dialer.call", "100") == (
        -32602,
        "dialer.call takes 2 parameters, got 1: dialer.call(string, struct) -> struct",
    )
    assert fault_of(resource, "dialer.hangup") == (
        -32602,
        "dialer.hangup takes 1 to 2 parameters, got 0: dialer.hangup(call_id, cause)",
    )


def test_unexpected_errors_are_logged_and_leak_nothing(
    resource: XMLRPCResource, events: list[LogEvent]
) -> None:
    assert fault_of(resource, "dialer.crash") == (-32603, "internal error")
    assert fault_of(resource, "dialer.unencodable") == (-32603, "internal error")
    assert [event["method"] for event in events] == ["dialer.crash", "dialer.unencodable"]
    assert events[0]["log_failure"].check(KeyError)
    assert "secret-internal-detail" in events[0]["log_failure"].getTraceback()


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"<methodCall><methodName>x</methodName>", -32700, "not well-formed XML"),
        (b"<!DOCTYPE x><methodCall/>", -32700, "DOCTYPE is refused"),
        (b"<methodResponse/>", -32700, "expected a <methodCall> document"),
        (b"<methodCall>" + b" " * 5000 + b"</methodCall>", -32600, "exceeds the limit of 4096"),
    ],
)
def test_bad_requests(resource: XMLRPCResource, body: bytes, code: int, message: str) -> None:
    with pytest.raises(Fault) as caught:
        answer(post(resource, body))
    assert caught.value.code == code
    assert message in caught.value.message


def test_announced_oversize_is_refused_before_reading(resource: XMLRPCResource) -> None:
    request = post(resource, b"", content_length="999999")
    with pytest.raises(Fault) as caught:
        answer(request)
    assert caught.value.code == -32600
    assert "999999 bytes exceeds the limit of 4096 bytes" in caught.value.message


@pytest.mark.parametrize("method", [b"GET", b"PUT", b"HEAD"])
def test_only_post(resource: XMLRPCResource, method: bytes) -> None:
    request = DummyRequest([b""])
    request.method = method
    body = resource.render(request)
    assert request.responseCode == 405
    assert request.responseHeaders.getRawHeaders("allow") == ["POST"]
    assert body == b"XML-RPC: use POST\n"


def test_client_gone_before_the_answer(resource: XMLRPCResource, dialer: Dialer) -> None:
    request = post(resource, dumps_call("dialer.status", ["later"]))
    request.processingFailed(Exception("connection lost"))
    dialer.pending.callback({"state": "up"})
    assert request.written == []
    assert request.finished == 0


def test_introspection(resource: XMLRPCResource) -> None:
    names = call(resource, "system.listMethods")
    assert names == sorted(names)
    assert {"dialer.call", "dialer.status", "dialer.campaign.call", "system.multicall"} <= set(
        names
    )
    assert "dialer.not_exposed" not in names
    assert call(resource, "system.methodHelp", "dialer.call") == "Place a call."
    assert call(resource, "system.methodHelp", "dialer.status") == "The state of a call."
    assert call(resource, "system.methodSignature", "dialer.call") == [
        ["struct", "string", "struct"]
    ]
    assert call(resource, "system.methodSignature", "dialer.crash") == "undef"
    assert fault_of(resource, "system.methodHelp", "x.y")[0] == -32601


def test_multicall_reports_faults_in_place(resource: XMLRPCResource) -> None:
    results = call(
        resource,
        "system.multicall",
        [
            {"methodName": "dialer.call", "params": ["100", {}]},
            {"methodName": "dialer.status", "params": ["c-9"]},
            {"methodName": "dialer.crash", "params": []},
            {"methodName": "dialer.nope"},
            {"methodName": "system.multicall", "params": [[]]},
            {"params": []},
            "not a struct",
            {"methodName": "dialer.status", "params": "c-1"},
            {"methodName": "dialer.status", "params": ["c-1"]},
        ],
    )
    assert results == [
        [{"call_id": "c-100", "options": {}}],
        {"faultCode": 404, "faultString": "no call 'c-9'"},
        {"faultCode": -32603, "faultString": "internal error"},
        {"faultCode": -32601, "faultString": "no method 'dialer.nope'; see system.listMethods"},
        {"faultCode": -32600, "faultString": "system.multicall cannot be nested"},
        {"faultCode": -32600, "faultString": "each call is a struct {methodName: string, "
         "params: array}"},
        {"faultCode": -32600, "faultString": "each call is a struct {methodName: string, "
         "params: array}"},
        {"faultCode": -32600, "faultString": "dialer.status: params must be an array"},
        [{"state": "ringing"}],
    ]
    assert fault_of(resource, "system.multicall", "x")[0] == -32602


def test_the_standard_library_client_understands_the_answers(resource: XMLRPCResource) -> None:
    request = post(resource, xmlrpc.client.dumps(("100", {}), "dialer.call").encode())
    (value,), _ = xmlrpc.client.loads(b"".join(request.written))
    assert value == {"call_id": "c-100", "options": {}}


def test_registration_rules(resource: XMLRPCResource) -> None:
    with pytest.raises(ValueError, match="already registered"):
        resource.put_sub_handler("dialer", Dialer())
    with pytest.raises(TypeError, match="must take a CallContext first"):
        resource.register("x.y", lambda: None)
    resource.register("x.add", lambda ctx, a, b: a + b, [["int", "int", "int"]], "Add.")
    assert call(resource, "x.add", 2, 3) == 5
