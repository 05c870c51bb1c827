"""The ARI link against the emulated ARI server: an application taken over by another
connection (ApplicationReplaced), and an Asterisk behind a proxy whose listings name an
address gtx cannot reach (the basePath Asterisk builds from the Host header)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest_twisted
from twisted.internet.task import Clock

from gtx.asterisk.ari_api import AriUnavailable
from gtx.testing import EmulatedARIServer, EmulatedAsterisk
from tests.asterisk.ari_loopback import Link, aio
from tests.asterisk.ari_proxy import PrefixProxy


async def _registered(server: EmulatedARIServer, app: str = "gtx") -> None:
    """The server registers the application just after the client's upgrade is done."""
    for _ in range(100):
        if server.app_connected(app):
            return
        await aio(asyncio.sleep(0))
    raise AssertionError(f"{app} never registered")


@pytest_twisted.ensureDeferred
async def test_an_application_taken_over_by_another_connection(tmp_path: Path) -> None:
    """A second node with the same ari_app: Asterisk gives it the application and tells the
    first one ApplicationReplaced. The first link is down (its sessions end LOST), says why,
    closes its WebSocket and tries again only after the longest back-off."""
    clock = Clock()
    server = EmulatedARIServer(EmulatedAsterisk(clock), recording_dir=tmp_path / "recordings")
    await server.start()
    first = Link(server.url, delays=lambda n: 0.0 if n < 100 else 30.0, clock=clock)
    second = Link(server.url, clock=clock)
    try:
        await first.start()
        await _registered(server)
        taken = first.failures(1)
        await second.start()
        await taken
        assert not first.client.connected
        assert first.attempts == [100]  # the back-off's longest delay, not the next one
        assert first.client.last_error == ("Stasis application 'gtx' taken over by another "
                                           "connection")
        (error,) = first.messages("error")
        assert "ARI pbx1: Stasis application 'gtx' taken over by another connection" in error
        assert "each gtx node needs its own ari_app in [asterisk:pbx1]" in error
        assert "Trying again in 30.0 s" in error
        failures: list[Any] = []
        first.client.call("channels", "list").addErrback(failures.append)
        assert failures[0].check(AriUnavailable)
        for _ in range(100):  # the first link closes its WebSocket
            if server.websockets_open == 1:
                break
            await aio(asyncio.sleep(0.01))
        assert server.websockets_open == 1
        assert second.client.connected
        retries = [c for c in clock.getDelayedCalls()
                   if getattr(c.func, "__self__", None) is first.client]
        assert [c.getTime() for c in retries] == [30.0]
        # 30 s later it takes the application back, and the second node hears it.
        lost = second.failures(1)
        back = first.ready()
        clock.advance(30)
        await back
        await lost
        assert first.client.connected
        assert not second.client.connected
        assert first.client.last_error == ""
    finally:
        await first.client.stopService()
        await second.client.stopService()
        await server.stop()
    assert [c for c in clock.getDelayedCalls()
            if getattr(c.func, "__self__", None) in (first.client, second.client)] == []


async def _get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, \
            session.get(url, params={"api_key": "gtx:gtxsecret"}) as answer:
        return await answer.json()


@pytest_twisted.ensureDeferred
async def test_an_asterisk_behind_a_proxy_with_a_prefix_and_its_own_host(
        tmp_path: Path) -> None:
    """Asterisk builds each listing's basePath from the Host it was sent (always http://),
    here an address gtx cannot reach: the link uses ari_url, its scheme, host and prefix,
    for the listings, every request and the WebSocket (as it must for an https:// ari_url)."""
    clock = Clock()
    server = EmulatedARIServer(EmulatedAsterisk(clock), recording_dir=tmp_path / "recordings")
    await server.start()
    proxy = PrefixProxy(server.url)
    await aio(proxy.start())
    link = Link(proxy.url, delays=lambda n: 3600.0)
    try:
        listing = await aio(_get_json(f"{proxy.url}ari/api-docs/channels.json"))
        assert listing["basePath"] == "http://asterisk.invalid:8088/ari"
        await link.start()
        await _registered(server)
        assert link.client.connected
        assert await link.client.call("channels", "list") == []
        assert "/ari/events" in proxy.relayed
        assert "/ari/channels" in proxy.relayed
        assert "/ari/api-docs/resources.json" in proxy.relayed
    finally:
        await link.client.stopService()
        await aio(proxy.stop())
        await server.stop()
