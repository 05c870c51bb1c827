"""A RecorderService in memory, recording what the API asked of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gtx.errors import Conflict, NotFound
from gtx.recorder.model import (
    PauseMode,
    Recording,
    RecordingOptions,
    RecordingState,
    RecordingTarget,
)
from gtx.recorder.service import RecordingFilter
from gtx.recorder.validate import file_name

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z
RUNNING = {RecordingState.RECORDING, RecordingState.PAUSED}


@dataclass
class FakeRecorderService:
    """Enough of a recorder for the API: recordings written (as given) under ``directory``."""

    directory: Path
    recordings: dict[str, Recording] = field(default_factory=dict)
    filters: list[RecordingFilter] = field(default_factory=list)
    log: list[tuple[str, object]] = field(default_factory=list)
    pause_modes: list[PauseMode] = field(default_factory=list)

    def add(self, recording: Recording) -> Recording:
        self.recordings[recording.recording_id] = recording
        return recording

    async def start(self, target: RecordingTarget, options: RecordingOptions,
                    started_by: str) -> Recording:
        if target.channel == "PJSIP/gone-00000001":
            raise NotFound("no channel 'PJSIP/gone-00000001' on asterisk pbx1")
        rid = f"rec-{len(self.recordings) + 1}"
        name = file_name(options.name, recording_id=rid, at=T0, call_id=target.call_id,
                         session=target.session, format=options.format)
        self.log.append(("start", (target, options, started_by)))
        return self.add(Recording(
            recording_id=rid, target=target, options=options,
            state=RecordingState.RECORDING, files=(str(self.directory / name),),
            started=T0, started_by=started_by, channel=target.channel or "PJSIP/a-00000001",
            asterisk=target.asterisk or "pbx1", node="gtx1"))

    async def get(self, recording_id: str) -> Recording:
        if recording_id not in self.recordings:
            raise NotFound(f"no recording {recording_id!r}")
        return self.recordings[recording_id]

    async def _move(self, recording_id: str, allowed: set[RecordingState],
                    to: RecordingState, **changes: object) -> Recording:
        recording = await self.get(recording_id)
        if recording.state not in allowed:
            raise Conflict(f"recording {recording_id} is {recording.state.value}")
        self.log.append((to.value, recording_id))
        return self.add(replace(recording, state=to, **changes))

    async def stop(self, recording_id: str) -> Recording:
        return await self._move(recording_id, RUNNING, RecordingState.STOPPED, ended=T0 + 30)

    async def pause(self, recording_id: str,
                    mode: PauseMode = PauseMode.SILENCE) -> Recording:
        self.pause_modes.append(mode)
        return await self._move(recording_id, {RecordingState.RECORDING},
                                RecordingState.PAUSED)

    async def resume(self, recording_id: str) -> Recording:
        return await self._move(recording_id, {RecordingState.PAUSED},
                                RecordingState.RECORDING)

    async def list(self, query: RecordingFilter) -> tuple[Sequence[Recording], str | None]:
        self.filters.append(query)
        chosen = [r for r in sorted(self.recordings.values(), key=lambda r: r.recording_id)
                  if query.states is None or r.state in query.states]
        if query.after is not None:
            chosen = [r for r in chosen if r.recording_id > query.after]
        page = chosen[: query.limit]
        more = len(chosen) > query.limit
        return page, page[-1].recording_id if more else None

    async def delete(self, recording_id: str) -> None:
        await self._move(recording_id, set(RecordingState) - RUNNING - {RecordingState.DELETED},
                         RecordingState.DELETED)

    def url(self, recording_id: str, ttl: float) -> str:
        raise AssertionError("the API signs URLs itself")
