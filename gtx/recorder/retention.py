"""Retention: with ``[recorder] keep_days``, recordings older than that are deleted (their
files removed, their state ``deleted``, their metadata kept), once at start-up and then once
a day, each deletion logged. Only ``ready`` and ``failed`` recordings expire: one still being
recorded or checked waits for the next round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.recorder.model import Recording
from gtx.store.api import Store

DAY = 86_400.0


class Retention:
    """Deletes expired recordings with ``delete`` (which fires True when it deleted one)."""

    def __init__(self, *, clock: IReactorTime, store: Store, keep_days: float,
                 delete: Callable[[Recording], Awaitable[bool]], log: Logger,
                 interval: float = DAY, batch: int = 100) -> None:
        if keep_days <= 0:
            raise ValueError(f"keep_days must be positive, not {keep_days!r}")
        self.clock = clock
        self.store = store
        self.keep_days = keep_days
        self.delete = delete
        self.log = log
        self.interval = interval
        self.batch = batch
        self._loop: LoopingCall | None = None

    def start(self) -> None:
        self._loop = LoopingCall(self.purge)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(self._loop_failed)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("[recorder] retention loop stopped", failure)

    def purge(self) -> Deferred[int]:
        """Delete every recording that expired by now; fire with how many were deleted."""
        return Deferred.fromCoroutine(self._purge())

    async def _purge(self) -> int:
        before = self.clock.seconds() - self.keep_days * DAY
        deleted = 0
        try:
            while True:
                expired = await self.store.expired_recordings(before, self.batch)
                done = 0
                for recording in expired:
                    done += bool(await self.delete(recording))
                deleted += done
                # a short batch is the last; a batch where nothing could be deleted would
                # come back the same: leave it to the next round
                if len(expired) < self.batch or done == 0:
                    break
        except Exception:
            self.log.failure("[recorder] retention: could not delete expired recordings")
        if deleted:
            self.log.info("[recorder] retention: {count} recording(s) older than {days:g} "
                          "day(s) deleted", count=deleted, days=self.keep_days)
        return deleted
