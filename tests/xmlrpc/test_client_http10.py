"""The client against an HTTP/1.0 server that closes the connection after every answer (the
default of Python's xmlrpc.server, and of many simple web services)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from xmlrpc.server import SimpleXMLRPCServer

import pytest
import pytest_twisted
from twisted.internet import reactor

from gtx.xmlrpc.client import XMLRPCClient


@pytest.fixture
def http10_url() -> Iterator[str]:
    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    server.register_function(lambda n: n + 1, "inc")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/RPC2"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest_twisted.ensureDeferred
async def test_sequential_calls_survive_the_server_closing_each_connection(
    http10_url: str,
) -> None:
    client = XMLRPCClient(reactor)
    try:
        results = [await client.call(http10_url, "inc", [n], timeout=5) for n in range(5)]
    finally:
        await client.close()
    assert results == [1, 2, 3, 4, 5]
