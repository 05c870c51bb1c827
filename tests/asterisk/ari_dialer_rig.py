"""The ARI originator and recorder end to end: an EmulatedARIServer over an EmulatedAsterisk, the
real ARIClient connected to it over loopback, an ARIOriginator and an ARIRecorder on it — all
on one task.Clock, driven by ``gtx.testing.run_until``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater

from gtx.asterisk.ari_link import ARIClient
from gtx.asterisk.ari_originator import ARIOriginator
from gtx.asterisk.ari_recorder import ARIRecorder
from gtx.origination import OriginateRequest, OriginateUpdate, Progress
from gtx.recording import RecordCommand, RecordingProgress, RecordingUpdate
from gtx.testing import (
    ARICallRecord,
    CallSpec,
    DialDestination,
    EmulatedARIServer,
    EmulatedAsterisk,
    check_against_listings,
    run_until,
)

T = TypeVar("T")
#: Seconds (of the Clock) before the link tries to connect again.
RETRY = 1.0
#: Where the dialer's answered test calls go on: a place where they talk until they hang up.
AFTER_ANSWER = {"GTX_DIALER_GOTO": "gtx-test,talk,1"}


@dataclass
class Rig:
    """Everything of one test (see the module docstring)."""

    clock: Clock
    asterisk: EmulatedAsterisk
    server: EmulatedARIServer
    link: ARIClient
    originator: ARIOriginator
    recorder: ARIRecorder
    calls: dict[str, list[OriginateUpdate]] = field(default_factory=dict)
    recordings: dict[str, list[RecordingUpdate]] = field(default_factory=dict)
    _ended: dict[str, Deferred[OriginateUpdate]] = field(default_factory=dict)
    _stopped: dict[str, Deferred[RecordingUpdate]] = field(default_factory=dict)

    def run(self, d: Deferred[T]) -> Deferred[T]:
        """Drive the server, the link and the Clock until ``d`` fires."""
        return run_until(d, clock=self.clock, reactor=reactor, server=self.server,
                         links=[self.link])

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` of call time pass."""
        await self.run(deferLater(self.clock, seconds, lambda: None))

    # -- calls --------------------------------------------------------------------------

    def originate(self, call_id: str, number: str, *, timeout: int = 20,
                  variables: Mapping[str, str] = AFTER_ANSWER) -> Deferred[None]:
        """Place a call to ``PJSIP/<number>@trunk``; its updates go to :attr:`calls`."""
        self._ended[call_id] = Deferred()
        request = OriginateRequest(call_id, f"PJSIP/{number}@trunk", timeout,
                                   variables=dict(variables))
        return self.originator.originate(request, self.on_call_update)

    def on_call_update(self, update: OriginateUpdate) -> None:
        self.calls.setdefault(update.call_id, []).append(update)
        ended = self._ended.setdefault(update.call_id, Deferred())
        if update.progress is Progress.ENDED:
            assert not ended.called, f"a second ENDED for {update.call_id}"
            ended.callback(update)

    def ended(self, call_id: str) -> Deferred[OriginateUpdate]:
        """Fires with the ENDED update of ``call_id`` (once the Rig has driven it)."""
        return self.run(self._ended.setdefault(call_id, Deferred()))

    def progress(self, call_id: str) -> list[tuple[str, str | None]]:
        return [(u.progress.value, u.outcome) for u in self.calls.get(call_id, [])]

    # -- recordings ---------------------------------------------------------------------

    def stasis_call(self, uniqueid: str, caller: str) -> Deferred[ARICallRecord]:
        """A call that waits in Stasis (nobody runs an IVR on it) as ``caller`` says."""
        spec = CallSpec(channel=f"PJSIP/{uniqueid}-00000001", uniqueid=uniqueid)
        return self.server.stasis_call(spec, caller, args=["menu"])

    def record(self, recording_id: str, channel: str, **options: Any) -> Deferred[None]:
        self._stopped[recording_id] = Deferred()
        command = RecordCommand(channel=channel, file=self.file(recording_id),
                                only_bridged=False, recording_id=recording_id, **options)
        return self.recorder.start(command, self.on_recording_update)

    def file(self, recording_id: str) -> str:
        return f"{self.server.recording_dir}/{recording_id}.wav"

    def on_recording_update(self, update: RecordingUpdate) -> None:
        self.recordings.setdefault(update.recording_id, []).append(update)
        if update.progress is RecordingProgress.STOPPED:
            stopped = self._stopped.setdefault(update.recording_id, Deferred())
            assert not stopped.called, f"a second STOPPED for {update.recording_id}"
            stopped.callback(update)

    def stopped(self, recording_id: str) -> Deferred[RecordingUpdate]:
        return self.run(self._stopped.setdefault(recording_id, Deferred()))

    def size(self, recording_id: str) -> int:
        return Path(self.file(recording_id)).stat().st_size

    # -- the end ------------------------------------------------------------------------

    async def close(self) -> None:
        await self.link.stopService()
        await self.server.stop()
        assert self.link.events.watched == 0, "something is still watched"
        assert self.originator.calls == frozenset()
        assert self.recorder.recordings == frozenset()
        assert check_against_listings(self.server.requests) == []


async def rig(tmp_path: Path, destinations: Mapping[str, DialDestination] | None = None,
              **server_args: Any) -> Rig:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        f"PJSIP/{number}@trunk": destination
        for number, destination in (destinations or {}).items()})
    server = EmulatedARIServer(asterisk, recording_dir=tmp_path / "recordings", **server_args)
    await server.start()
    link = ARIClient(name="pbx1", url=server.url, user="gtx", password="gtxsecret",
                     clock=clock, retry_policy=lambda attempt: RETRY)
    originator = ARIOriginator(link, clock, margin=30)
    recorder = ARIRecorder(link, clock, recording_dir=str(server.recording_dir), event_grace=5)
    ready: Deferred[None] = Deferred()
    stop = link.on_ready(lambda: None if ready.called else ready.callback(None))
    link.startService()
    await ready.addTimeout(10, reactor)
    stop()
    return Rig(clock, asterisk, server, link, originator, recorder)


async def dropped(r: Rig) -> None:
    """Close the event WebSocket and wait (in real time, the Clock stands still) until the link
    has noticed: it reconnects once the Clock has moved :data:`RETRY` seconds."""
    r.server.drop_websockets()
    for _ in range(10_000):
        if not r.link.connected and r.link.last_error:  # said once the retry is scheduled
            return
        await deferLater(reactor, 0, lambda: None)
    raise AssertionError("the link did not notice the dropped WebSocket")


async def reconnected(r: Rig) -> None:
    """Move the Clock to the link's next attempt and wait (in real time: nothing else moves the
    Clock meanwhile, so no bound of the attempt runs out) until it is connected again."""
    ready: Deferred[None] = Deferred()
    stop = r.link.on_ready(lambda: None if ready.called else ready.callback(None))
    r.clock.advance(RETRY)
    await ready.addTimeout(10, reactor)
    stop()
