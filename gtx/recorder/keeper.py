"""What keeps a recording's state true to Asterisk and the disk, whoever changed it: the base
of :class:`gtx.recorder.engine.Recorder`.

- **Finalising**: a recording Asterisk stopped (``recorder.stop``, hang-up, maximum length)
  becomes ``stopped``, then ``ready`` or ``failed`` from its files (see the engine's module
  docstring).
- **Watching**: a recording nobody sends updates for (left open by a crash, or lost with an
  AMI link) is checked every ``watch_interval`` seconds once its server is connected; its
  channel gone, it is finalised.
- **Deleting**: files removed (only inside the recordings directory), state ``deleted``.

The operations on one recording run one at a time (:meth:`RecordingKeeper._serial`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from gtx.errors import Conflict, NotFound
from gtx.recorder import files
from gtx.recorder.delivery import RecordingEventDelivery
from gtx.recorder.events import RecordingEventKind
from gtx.recorder.model import Recording, RecordingState
from gtx.recording import RecordingControl, RecordingError, RecordingUpdate
from gtx.store.api import ConflictError, NotFoundError, RecordingChange, Store

#: The cause of the STOPPED update a control sends for a recording its lost link took away.
LINK_LOST = "link lost"

_S = RecordingState
ACTIVE = frozenset({_S.RECORDING, _S.PAUSED})
OPEN = ACTIVE | {_S.STOPPED}


class RecordingKeeper:
    """See the module docstring."""

    def __init__(self, *, clock: IReactorTime, store: Store,
                 controls: Mapping[str, RecordingControl], directory: str,
                 delivery: RecordingEventDelivery, log: Logger, keep_days: float | None,
                 settle: float) -> None:
        self.clock = clock
        self.store = store
        self.controls = dict(controls)
        self.directory = directory
        self.delivery = delivery
        self.log = log
        self.keep_days = keep_days
        self.settle = settle
        self._locks: dict[str, DeferredLock] = {}
        self._live: set[str] = set()  # recordings whose updates this process receives
        self._watched: set[str] = set()  # recordings nobody sends updates for
        self._timers: dict[str, IDelayedCall] = {}  # finalise if no update comes

    async def _stopped(self, update: RecordingUpdate) -> None:
        recording_id = update.recording_id
        async with self._serial(recording_id):
            self._live.discard(recording_id)
            if update.cause == LINK_LOST:
                # the control lost track of it: whether it ended is for Asterisk to say, now
                # if the link is back, else when the watch finds it back
                self.log.info("[{recording_id}] Asterisk link lost: reconciling the recording",
                              recording_id=recording_id)
                self._watched.add(recording_id)
                await self._reconcile(recording_id, LINK_LOST)
                return
            await self._finalise(recording_id, update.cause)

    # -- finalising --------------------------------------------------------------------------

    async def _finalise(self, recording_id: str, cause: str | None) -> None:
        """Stopped (if it was not), then ready or failed from the files. Under the lock."""
        timer = self._timers.pop(recording_id, None)
        if timer is not None and timer.active():
            timer.cancel()
        self._watched.discard(recording_id)
        recording = await self.store.get_recording(recording_id)
        if recording.state in ACTIVE:
            recording = await self._change(recording_id, _S.STOPPED, ACTIVE, ended=True,
                                           event=RecordingEventKind.STOPPED, cause=cause)
        if recording.state is not _S.STOPPED:
            return
        check = files.check_files(self.directory, recording.files, recording.options.format)
        if check.missing:
            error = "Asterisk wrote no file " + ", ".join(check.missing)
            await self._change(recording_id, _S.FAILED, {_S.STOPPED}, error=error,
                               files_reachable=True, event=RecordingEventKind.FAILED)
            self.log.warn("[{recording_id}] failed: {error}", recording_id=recording_id,
                          error=error)
            return
        await self._change(recording_id, _S.READY, {_S.STOPPED}, size=check.size,
                           duration=check.duration, files_reachable=check.reachable,
                           event=RecordingEventKind.READY)
        self.log.info("[{recording_id}] ready: {size} bytes, {duration} s",
                      recording_id=recording_id, size=check.size, duration=check.duration)

    def _finalise_after(self, recording_id: str, delay: float) -> None:
        def due() -> None:
            self._timers.pop(recording_id, None)
            Deferred.fromCoroutine(self._finalise_now(recording_id)).addErrback(
                lambda f: self.log.failure("[{recording_id}] could not finalise", f,
                                           recording_id=recording_id))

        self._timers[recording_id] = self.clock.callLater(delay, due)

    async def _finalise_now(self, recording_id: str) -> None:
        async with self._serial(recording_id):
            self._live.discard(recording_id)
            await self._finalise(recording_id, None)

    def watch(self) -> Deferred[None]:
        """One pass over the watched recordings (the loop runs it every ``watch_interval``)."""
        return Deferred.fromCoroutine(self._watch_pass())

    async def _watch_pass(self) -> None:
        for recording_id in sorted(self._watched):
            try:
                async with self._serial(recording_id):
                    await self._reconcile(recording_id)
            except Exception:
                self.log.failure("[{recording_id}] could not reconcile the recording",
                                 recording_id=recording_id)

    async def _reconcile(self, recording_id: str, cause: str = "hangup") -> None:
        """Finalise a watched recording (with ``cause``) once its channel is known gone."""
        if recording_id not in self._watched or recording_id in self._live:
            self._watched.discard(recording_id)
            return
        recording = await self.store.get_recording(recording_id)
        if recording.state not in ACTIVE:
            await self._finalise(recording_id, None)  # stopped: check the files; else done
            return
        control = self.controls.get(recording.asterisk or "")
        if control is None:
            self._watched.discard(recording_id)
            await self._change(recording_id, _S.FAILED, ACTIVE, ended=True,
                               error=f"Asterisk server {recording.asterisk!r} is not "
                               "configured any more", event=RecordingEventKind.FAILED)
            return
        if not control.connected:
            return  # the next pass, once the link is back
        try:
            up = await control.channel_exists(recording.channel or "")
        except RecordingError:
            return
        if not up:
            self.log.info("[{recording_id}] its channel {channel} is gone: finalising",
                          recording_id=recording_id, channel=recording.channel)
            await self._finalise(recording_id, cause)

    # -- helpers ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _serial(self, recording_id: str) -> AsyncIterator[None]:
        """Run the block alone among the operations on ``recording_id``."""
        lock = self._locks.setdefault(recording_id, DeferredLock())
        await lock.acquire()
        try:
            yield
        finally:
            lock.release()
            if not lock.locked and not lock.waiting:
                self._locks.pop(recording_id, None)

    async def _get(self, recording_id: str) -> Recording:
        try:
            return await self.store.get_recording(recording_id)
        except NotFoundError:
            raise NotFound(f"no recording {recording_id}") from None

    async def _change(self, recording_id: str, state: RecordingState,
                      allowed_from: frozenset[RecordingState] | set[RecordingState], *,
                      ended: bool = False, event: RecordingEventKind | None = None,
                      cause: str | None = None, error: str | None = None,
                      size: int | None = None, duration: float | None = None,
                      files_reachable: bool | None = None) -> Recording:
        now = self.clock.seconds()
        try:
            changed = await self.store.update_recording(recording_id, RecordingChange(
                state=state, allowed_from=frozenset(allowed_from), at=now,
                ended=now if ended else None, duration=duration, size=size, error=error,
                files_reachable=files_reachable, event=event, cause=cause))
        except ConflictError as e:
            raise Conflict(str(e)) from None
        if event is not None:
            self.delivery.kick()
        return changed

    async def _remove(self, recording: Recording, why: str) -> None:
        """Remove the files (when gtx sees them) and mark the recording deleted. Under the
        recording's lock."""
        recording_id = recording.recording_id
        if files.visible(self.directory):
            removed = files.remove_files(self.directory, recording.files)
        else:
            removed = []
            self.log.warn("[{recording_id}] its files are not reachable from gtx: remove "
                          "{files} on the Asterisk host", recording_id=recording_id,
                          files=", ".join(recording.files))
        await self._change(recording_id, _S.DELETED, {_S.READY, _S.FAILED})
        self.log.info("[{recording_id}] {why}: recording started {started} by {by}; files "
                      "removed: {removed}", recording_id=recording_id, why=why,
                      started=recording.started, by=recording.started_by,
                      removed=", ".join(removed) or "none")

    async def _expire(self, recording: Recording) -> bool:
        """Retention's deletion of one expired recording; False when it changed meanwhile."""
        async with self._serial(recording.recording_id):
            current = await self.store.get_recording(recording.recording_id)
            if current.state not in (_S.READY, _S.FAILED):
                return False
            await self._remove(current, f"expired (kept {self.keep_days:g} days)")
            return True
