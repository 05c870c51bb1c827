"""Client ↔ server over a real socket: the resource served by twisted.web, called by the client."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import endpoints
from twisted.internet.defer import DeferredList
from twisted.web import pages
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from gtx.errors import Conflict
from gtx.xmlrpc.client import XMLRPCClient
from gtx.xmlrpc.errors import Fault, HTTPStatusError
from gtx.xmlrpc.server import CallContext, XMLRPCResource, xmlrpc_method

from .conftest import CountingSite


class Root(Resource):
    """A site root whose unknown paths are a plain 404 (Twisted's default one is deprecated)."""

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        return pages.notFound()


class Recorder:
    @xmlrpc_method(signature=[["struct", "string"]])
    async def start(self, ctx: CallContext, channel: str) -> dict[str, object]:
        """Start recording CHANNEL."""
        if channel == "busy":
            raise Conflict(f"{channel} is already being recorded")
        return {"recording": f"rec-{channel}", "peer": ctx.peer_host}


@pytest_twisted.ensureDeferred
async def test_client_calls_the_resource() -> None:
    from twisted.internet import reactor

    rpc = XMLRPCResource()
    rpc.put_sub_handler("recorder", Recorder())
    root = Root()
    root.putChild(b"RPC2", rpc)
    site = CountingSite(root)
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
    url = f"http://127.0.0.1:{port.getHost().port}/RPC2"
    client = XMLRPCClient(reactor)
    try:
        assert await client.call(url, "recorder.start", ["PJSIP/alice-1"], timeout=5) == {
            "recording": "rec-PJSIP/alice-1",
            "peer": "127.0.0.1",
        }
        with pytest.raises(Fault) as caught:
            await client.call(url, "recorder.start", ["busy"], timeout=5)
        assert (caught.value.code, caught.value.message) == (409, "busy is already being recorded")
        assert await client.call(url, "system.methodHelp", ["recorder.start"], timeout=5) == (
            "Start recording CHANNEL."
        )
        with pytest.raises(HTTPStatusError) as status:
            await client.call(url.replace("RPC2", "nowhere"), "recorder.start", ["x"], timeout=5)
        assert status.value.status == 404
        assert site.connections == 1
    finally:
        await client.close()
        await port.stopListening()
        await DeferredList(site.closed).addTimeout(5, reactor)
