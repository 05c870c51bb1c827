"""The recorder's test rig: a Recorder on a Clock, a real SQLite store (its answers come from
a thread, so waits advance the clock in small steps and let the reactor run), fake Asterisk
servers that write real WAV files, a callback receiver, and the log the recorder writes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock, deferLater
from twisted.logger import Logger, formatEvent

from gtx.ivr.app import SessionChannel
from gtx.recorder.engine import Recorder
from gtx.store import open_store
from gtx.store.api import Store
from tests.recorder.fakes import FakeRecordingControl, Receiver

T0 = 1_800_000_000.0
#: The clock's step while waiting: a power of two, so that times stay exact (T0 + 1.0, not
#: T0 + 0.9999999).
STEP = 0.0625
HOOK = "http://crm.example/RPC2"


class Sessions:
    """IVR sessions running on this node, by id."""

    def __init__(self) -> None:
        self.running: dict[str, SessionChannel] = {}

    def channel_of(self, session: str) -> SessionChannel | None:
        return self.running.get(session)


class Rig:
    def __init__(self, store: Store, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.directory = tmp_path / "recordings"
        self.directory.mkdir()
        self.clock = Clock()
        self.clock.advance(T0)
        self.pbx1 = FakeRecordingControl(self.clock, "pbx1")
        self.pbx2 = FakeRecordingControl(self.clock, "pbx2")
        self.receiver = Receiver()
        self.sessions = Sessions()
        self.ids = itertools.count(1)
        self.logged: list[str] = []
        self.recorders: list[Recorder] = []

    def log_line(self, event: dict[str, Any]) -> None:
        self.logged.append(formatEvent(event))

    async def recorder(self, *, directory: str | None = None, start: bool = True,
                       **options: Any) -> Recorder:
        recorder = Recorder(
            clock=self.clock, store=self.store,
            controls={"pbx1": self.pbx1, "pbx2": self.pbx2}, node="gtx1",
            directory=str(self.directory) if directory is None else directory,
            keep_days=options.pop("keep_days", None), callback_client=self.receiver,
            sessions=self.sessions,
            log=Logger(namespace="gtx.recorder", observer=self.log_line),
            new_id=lambda: f"r{next(self.ids)}", **options)
        if start:
            recorder.startService()
            await recorder.ready
        self.recorders.append(recorder)
        return recorder

    async def until(self, condition: Callable[[], Awaitable[bool]], limit: int = 2000) -> None:
        """Advance the clock a little at a time, letting the store answer, until
        ``condition``."""
        from twisted.internet import reactor

        for _ in range(limit):
            if await condition():
                return
            self.clock.advance(STEP)
            await deferLater(reactor, 0.001)
        raise AssertionError("condition not met")

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` of the clock pass, the store answering in between."""
        from twisted.internet import reactor

        for _ in range(round(seconds / STEP)):
            self.clock.advance(STEP)
            await deferLater(reactor, 0.001)

    async def state_of(self, recording_id: str) -> str:
        return (await self.store.get_recording(recording_id)).state.value

    def outside(self) -> list[str]:
        """Every file under the test's directory but outside the recordings directory (the
        database aside)."""
        return sorted(str(p.relative_to(self.tmp_path)) for p in self.tmp_path.rglob("*")
                      if p.is_file() and not p.is_relative_to(self.directory)
                      and not p.name.startswith("gtx.db"))

    async def stop(self) -> None:
        for recorder in self.recorders:
            if recorder.running:
                await recorder.stopService()


@pytest_twisted.async_yield_fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    from twisted.internet import reactor

    store = open_store(f"sqlite://{tmp_path}/gtx.db", reactor=reactor)
    await store.upgrade()
    setup = Rig(store, tmp_path)
    yield setup
    await setup.stop()
    await store.close()
