"""gtx under load against an Asterisk serving few HTTP sessions (http.conf ``sessionlimit``):
with ``ari_connections`` under the limit, 50 calls at once never open one connection too many.
(With aiohttp's default pool the same calls open more: the connections over the limit are cut
off unanswered, their requests fail, and the sessions are lost, the calls stranded in Stasis.)
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from twisted.internet.defer import DeferredList

from gtx.testing import CallSpec
from tests.asterisk.ari_emulated import Stack, stack

CALLS = 50


async def fifty_calls(s: Stack) -> None:
    s.answer("menu.start", {"actions": [
        {"action": "answer"},
        {"action": "play", "files": ["hello-world"]},
        {"action": "hangup"}]})
    calls = [s.server.stasis_call(
        CallSpec(channel=f"PJSIP/caller-{n:08d}", uniqueid=f"1795304604.{n}",
                 context="gtx", extension="menu", priority=2), "wait 30", args=["menu"])
        for n in range(1, CALLS + 1)]
    await s.run(DeferredList(calls, consumeErrors=True))
    await s.run(s.engine.idle())


@pytest_twisted.ensureDeferred
async def test_fifty_calls_stay_within_the_session_limit(tmp_path: Path) -> None:
    s = await stack(tmp_path, session_limit=12, max_connections=10)
    await fifty_calls(s)
    sessions = s.server.http_sessions
    assert sessions.refused == 0
    assert sessions.peak <= 11  # ten REST connections and the event WebSocket
    assert sessions.peak > 2  # the calls did run side by side
    assert [o.status for o in s.engine.outcomes] == ["DONE"] * CALLS
    await s.close()
