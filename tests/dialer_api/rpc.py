"""Calling an XML-RPC resource in memory (DummyRequest), as a client over HTTP would."""

from __future__ import annotations

import base64
from io import BytesIO
from typing import Any

import pytest
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from gtx.xmlrpc.codec import dumps_call, loads_response
from gtx.xmlrpc.errors import Fault
from gtx.xmlrpc.server import XMLRPCResource


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


def post(resource: XMLRPCResource, method: str, params: tuple[object, ...], *,
         authorization: str | None = None, peer: str = "127.0.0.1") -> DummyRequest:
    request = DummyRequest([b""])
    request.client = (IPv6Address("TCP", peer, 40000) if ":" in peer
                      else IPv4Address("TCP", peer, 40000))
    request.method = b"POST"
    request.content = BytesIO(dumps_call(method, params))
    if authorization is not None:
        request.requestHeaders.setRawHeaders(b"authorization", [authorization.encode()])
    assert resource.render(request) == NOT_DONE_YET
    return request


def call(resource: XMLRPCResource, method: str, *params: object,
         authorization: str | None = None, peer: str = "127.0.0.1") -> Any:
    request = post(resource, method, params, authorization=authorization, peer=peer)
    assert request.finished == 1, f"{method} did not answer"
    return loads_response(b"".join(request.written))


def fault(resource: XMLRPCResource, method: str, *params: object,
          authorization: str | None = None, peer: str = "127.0.0.1") -> tuple[int, str]:
    with pytest.raises(Fault) as caught:
        call(resource, method, *params, authorization=authorization, peer=peer)
    return caught.value.code, caught.value.message
