"""The emulated ARI server against the real exchange of ``ari-session.txt``: the same REST
requests get the same answers, and the WebSocket carries the same events (types, order, every
field and its order), timestamps aside."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred

from tests.testing.ari_harness import TRANSCRIPTS, Rig, rig

_TIMESTAMP = re.compile(r'"(timestamp|creationtime|startup_time|last_reload_time)":"[^"]*"')


@dataclass
class Step:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: Any


def read_ari_transcript() -> tuple[list[Step], list[dict[str, Any]]]:
    """The REST exchanges and the WebSocket events of ``ari-session.txt``."""
    steps: list[Step] = []
    events: list[dict[str, Any]] = []
    pending: tuple[str, str, dict[str, Any]] | None = None
    for line in (TRANSCRIPTS / "ari-session.txt").read_text().splitlines():
        if line.startswith(">> "):
            method, path, params = line[3:].split(" ", 2)
            pending = (method, path, json.loads(params))
        elif line.startswith("<< WS "):
            events.append(json.loads(line[6:]))
        elif line.startswith("<< "):
            status, _, body = line[3:].partition(" ")
            assert pending is not None
            steps.append(Step(*pending, int(status), json.loads(body) if body else None))
            pending = None
    return steps, events


def normalised(value: Any) -> str:
    """JSON text with the timestamps blanked (field order kept)."""
    return _TIMESTAMP.sub(r'"\1":"-"', json.dumps(value, separators=(",", ":")))


def _count(r: Rig, n: int) -> Deferred[None]:
    d: Deferred[None] = Deferred()

    def check(_: Any) -> None:
        if len(r.client.received) >= n and not d.called:
            d.callback(None)

    r.client.events.on_every(check)
    check(None)
    return d


@pytest_twisted.ensureDeferred
async def test_the_transcript_replayed_gets_the_same_answers_and_events(tmp_path: Path) -> None:
    steps, expected_events = read_ari_transcript()
    r = await rig(tmp_path)
    r.asterisk.new_channel_number()  # one channel was made on that Asterisk before
    r.server.fail_next("channels.record")  # the transcript's 500 Internal Server Error
    r.server.fail_next("recordings.listStored", 500, {"error": "Allocation failed"})
    replies = []
    for step in steps:
        if step.method == "DELETE" or step.path == "/channels/gtx-ari-1/answer":
            # the transcript's client waited for what came before
            await r.run(_count(r, sum(1 for e in expected_events
                                      if e["timestamp"] < "2026-11-21T23:44:13")))
        if step.path.endswith("/record"):
            await r.run(_count(r, 12))  # after the playback
        reply = await r.run(r.client.call(step.method, step.path, step.params))
        replies.append(reply)
        if step.path == "/channels/gtx-ari-1/play":
            await r.run(_count(r, 12))
    await r.run(_count(r, len(expected_events)))
    for step, reply in zip(steps, replies, strict=True):
        assert (step.method, step.path, reply.status) == (step.method, step.path, step.status)
        assert normalised(reply.body) == normalised(step.body), (step.method, step.path)
    got = [normalised(e) for e in r.client.received]
    want = [normalised(e) for e in expected_events]
    assert [json.loads(e)["type"] for e in got] == [json.loads(e)["type"] for e in want]
    for index, (mine, real) in enumerate(zip(got, want, strict=True)):
        assert mine == real, index
    await r.close()

