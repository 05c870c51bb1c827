"""The emulated ARI server's HTTP sessions: counted, and with a ``session_limit`` (http.conf's
``sessionlimit``) each connection over it is closed unanswered, idle kept-alive ones counting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_twisted

from gtx.testing.ari_sessions import HttpSessions
from tests.testing.ari_harness import on_loop, rig

REQUEST = b"GET /ari/asterisk/info?api_key=gtx:gtxsecret HTTP/1.1\r\nHost: pbx\r\n\r\n"
WAIT = 10.0  # a bound on each read over loopback (they take milliseconds)


async def _answered(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Send a request on a kept-alive connection; the status line of its answer (b"" when
    the connection was closed instead)."""
    writer.write(REQUEST)
    status = await asyncio.wait_for(reader.readline(), WAIT)
    if status:
        length = 0
        while (line := await asyncio.wait_for(reader.readline(), WAIT)) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await asyncio.wait_for(reader.readexactly(length), WAIT)
    return status


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


@pytest_twisted.ensureDeferred
async def test_connections_over_the_limit_are_closed_unanswered(tmp_path: Path) -> None:
    r = await rig(tmp_path, connect=False, session_limit=2)
    sessions = r.server.http_sessions

    async def scenario() -> list[bytes]:
        first, second = await _connect(r.server.port), await _connect(r.server.port)
        statuses = [await _answered(*first), await _answered(*second)]
        # Both stay open, idle: a third connection is one too many.
        third = await _connect(r.server.port)
        statuses.append(await _answered(*third))
        statuses.append(await _answered(*first))  # the admitted ones still work
        first[1].close()
        await first[1].wait_closed()
        for _ in range(100):  # until the server has seen it go (loop turns, no sleep)
            if sessions.open == 1:
                break
            await asyncio.sleep(0)
        fourth = await _connect(r.server.port)
        statuses.append(await _answered(*fourth))
        for _, writer in (second, third, fourth):
            writer.close()
        return statuses

    statuses = await on_loop(scenario())
    assert [s.split(b" ")[1] if s else b"" for s in statuses] == [
        b"200", b"200", b"", b"200", b"200"]
    assert (sessions.peak, sessions.refused) == (2, 1)
    await r.close()


@pytest_twisted.ensureDeferred
async def test_without_a_limit_connections_are_only_counted(tmp_path: Path) -> None:
    r = await rig(tmp_path, connect=False)

    async def scenario() -> list[bytes]:
        connections = [await _connect(r.server.port) for _ in range(5)]
        statuses = [await _answered(*c) for c in connections]
        for _, writer in connections:
            writer.close()
        return statuses

    statuses = await on_loop(scenario())
    assert all(s.startswith(b"HTTP/1.1 200") for s in statuses)
    assert (r.server.http_sessions.peak, r.server.http_sessions.refused) == (5, 0)
    assert r.server.http_sessions.limit is None
    await r.close()


def test_a_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HttpSessions(0)
