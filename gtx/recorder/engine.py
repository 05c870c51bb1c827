"""The recorder: recordings started, paused, resumed and stopped through the Asterisk servers'
:class:`~gtx.recording.RecordingControl`, kept in the store, told to their callbacks.

:class:`Recorder` implements :class:`gtx.recorder.service.RecorderService`. A recording goes

    recording ⇄ paused → stopped → ready | failed → deleted

``stopped``: Asterisk has stopped writing (``recorder.stop``, the channel hung up, the maximum
length); gtx then checks the files — all there: ``ready`` with their ``size`` and (from the
header) ``duration``; one missing: ``failed``. When the recordings directory is not visible
from gtx (Asterisk on another host, nothing shared) gtx cannot check: the recording is
``ready`` with ``size`` and ``duration`` unknown (None), and ``recorder.get`` says the files
are not reachable. ``deleted``: the files are removed, the row is kept.

The operations of one recording run one at a time (a lock per recording), so the updates
Asterisk sends and the API's calls never interleave.

Recordings this process does not follow — left ``recording``/``paused`` by a crash (found at
start-up), or lost with an AMI link (the control reports them STOPPED with cause ``link
lost``: gtx asks Asterisk at once whether the channel is up, when the link is) — are
**watched**: every ``watch_interval`` seconds, once their server is connected, gtx asks
whether their channel is still up; gone, the recording is finalised from what is on the disk;
still up, it goes on (stop, pause and resume still work: they name the channel).

One channel has one recording at a time (Asterisk stops and mutes a channel's MixMonitors all
together): a second ``start`` on it is a Conflict.

A start Asterisk refuses leaves the recording ``failed`` (kept, with the error; no event:
the caller has the fault). With ``keep_days``, :mod:`gtx.recorder.retention` deletes expired
recordings daily.

Wiring (the composition root): ``controls`` by ``[asterisk:NAME]``, ``directory`` and
``keep_days`` from ``[recorder]``, ``sessions`` the IVR engine (``{session}`` targets),
``url_signer`` the signer of recording URLs (:meth:`Recorder.url` is a Conflict without it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.errors import Conflict, InvalidArgument, NotFound
from gtx.ivr.app import SessionChannels
from gtx.outbox import CallbackClient
from gtx.recorder import files
from gtx.recorder.delivery import RecordingEventDelivery
from gtx.recorder.events import RecordingEventKind
from gtx.recorder.keeper import ACTIVE, OPEN, RecordingKeeper
from gtx.recorder.model import (
    PauseMode,
    Recording,
    RecordingOptions,
    RecordingState,
    RecordingTarget,
)
from gtx.recorder.retention import Retention
from gtx.recorder.service import RecordingFilter
from gtx.recorder.targets import ResolvedTarget, control_of, resolve
from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingControl,
    RecordingError,
    RecordingNotSupported,
    RecordingProgress,
    RecordingUnavailable,
    RecordingUpdate,
)
from gtx.store.api import NotFoundError, RecordingChange, Store

_S = RecordingState


class Recorder(RecordingKeeper, Service):
    """The recorder of one gtx node (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        store: Store,
        controls: Mapping[str, RecordingControl],
        node: str,
        directory: str,
        keep_days: float | None,
        callback_client: CallbackClient,
        sessions: SessionChannels | None = None,
        url_signer: Callable[[str, float], str] | None = None,
        log: Logger | None = None,
        new_id: Callable[[], str] | None = None,
        callback_timeout: float = 10.0,
        callback_retry_max: float = 300.0,
        callback_interval: float = 1.0,
        watch_interval: float = 5.0,
        settle: float = 2.0,
        stop_timeout: float = 30.0,
    ) -> None:
        log = log if log is not None else Logger(namespace="gtx.recorder")
        super().__init__(
            clock=clock, store=store, controls=controls, directory=directory,
            delivery=RecordingEventDelivery(
                clock=clock, store=store, client=callback_client, timeout=callback_timeout,
                retry_max=callback_retry_max, interval=callback_interval, log=log),
            log=log, keep_days=keep_days, settle=settle)
        self.node = node
        self.sessions = sessions
        self.url_signer = url_signer
        self.new_id = new_id if new_id is not None else lambda: uuid.uuid4().hex
        self.watch_interval = watch_interval
        self.stop_timeout = stop_timeout
        self.retention = None if keep_days is None else Retention(
            clock=clock, store=store, keep_days=keep_days, delete=self._expire, log=log)
        self._watch: LoopingCall | None = None
        self.ready: Deferred[None] = Deferred()

    # -- life cycle -----------------------------------------------------------------------

    def startService(self) -> None:
        """Reconcile the recordings this node left open, then start the loops; :attr:`ready`
        fires once the first reconciliation pass is done."""
        super().startService()
        Deferred.fromCoroutine(self._start()).chainDeferred(self.ready)

    async def _start(self) -> None:
        if not files.visible(self.directory):
            self.log.warn("[recorder] the recordings directory {dir} is not visible from gtx: "
                          "recordings will be ready with their size and duration unknown",
                          dir=self.directory)
        left = await self.store.open_recordings(self.node)
        self._watched.update(r.recording_id for r in left)
        await self.watch()
        self._watch = LoopingCall(self.watch)
        self._watch.clock = self.clock
        self._watch.start(self.watch_interval, now=False).addErrback(self._loop_failed)
        self.delivery.start()
        if self.retention is not None:
            self.retention.start()
        self.log.info("[recorder] node {node} started: {count} recording(s) left open "
                      "reconciled", node=self.node, count=len(left))

    def stopService(self) -> Deferred[None]:
        """Stop the loops; recordings in progress go on on Asterisk (the next start
        reconciles them)."""
        super().stopService()
        if self._watch is not None and self._watch.running:
            self._watch.stop()
        self._watch = None
        self.delivery.stop()
        if self.retention is not None:
            self.retention.stop()
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        self._live.clear()
        return succeed(None)

    def _loop_failed(self, failure: Failure) -> None:
        self.log.failure("[recorder] watch loop stopped", failure)

    # -- the API --------------------------------------------------------------------------

    async def start(self, target: RecordingTarget, options: RecordingOptions,
                    started_by: str) -> Recording:
        """Start recording ``target``; fire with the recording (state ``recording``)."""
        resolved = await resolve(target, store=self.store, controls=self.controls,
                                 sessions=self.sessions)
        # Asterisk stops and mutes a channel's recordings all together: one at a time
        for other in await self.store.open_recordings():
            if (other.state in ACTIVE and other.asterisk == resolved.asterisk
                    and other.channel == resolved.channel):
                raise Conflict(f"channel {resolved.channel} is already being recorded "
                               f"(recording {other.recording_id})")
        recording_id = self.new_id()
        now = self.clock.seconds()
        paths = self._paths(recording_id, now, resolved, options)
        recording = Recording(
            recording_id=recording_id, target=target, options=options,
            state=_S.RECORDING, files=paths, started=now, started_by=started_by,
            channel=resolved.channel, asterisk=resolved.asterisk, node=self.node,
            campaign_id=resolved.campaign_id)
        control = control_of(self.controls, resolved.asterisk, f"recording {recording_id}")
        await self.store.create_recording(recording)
        command = RecordCommand(
            channel=resolved.channel, file=paths[0],
            receive_file=paths[1] if options.split else None,
            transmit_file=paths[2] if options.split else None,
            beep_seconds=options.beep, max_seconds=options.max_seconds,
            only_bridged=False,  # an IVR or a call waiting in a queue is not bridged
            recording_id=recording_id)
        async with self._serial(recording_id):
            self._live.add(recording_id)
            try:
                await control.start(command, self._on_update)
            except RecordingError as e:
                self._live.discard(recording_id)
                await self._refused(recording, e)
            self.log.info("[{recording_id}] recording {channel} on {asterisk} into {file}",
                          recording_id=recording_id, channel=resolved.channel,
                          asterisk=resolved.asterisk, file=paths[0])
            await self.store.enqueue_recording_event(recording_id, RecordingEventKind.STARTED,
                                                     now)
        self.delivery.kick()
        return await self.store.get_recording(recording_id)

    async def stop(self, recording_id: str) -> Recording:
        """Stop; fire with the recording ``stopped`` (``ready`` follows once the files are
        checked)."""
        async with self._serial(recording_id):
            recording = await self._get(recording_id)
            if recording.state not in ACTIVE:
                raise Conflict(f"recording {recording_id} is {recording.state.value}: "
                               "it is not recording")
            control = control_of(self.controls, recording.asterisk, f"recording {recording_id}")
            try:
                await control.stop(recording.channel or "")
            except NoSuchChannel:
                pass  # hung up meanwhile: it is stopping anyway
            except RecordingError as e:
                raise Conflict(f"recording {recording_id}: Asterisk did not stop it ({e})") from e
            stopped = await self._change(recording_id, _S.STOPPED, ACTIVE, ended=True,
                                         event=RecordingEventKind.STOPPED, cause="stopped")
            # a recording followed gets its STOPPED update once the files are closed; one
            # watched gets none: give Asterisk a moment to close them
            wait = self.stop_timeout if recording_id in self._live else self.settle
            self._finalise_after(recording_id, wait)
            return stopped

    async def pause(self, recording_id: str,
                    mode: PauseMode = PauseMode.SILENCE) -> Recording:
        """Pause until resumed: ``silence`` is written meanwhile (the file keeps the call's
        length), or with ``gap`` nothing is (where the server can: ARI recordings)."""
        return await self._mute(recording_id, True, mode)

    async def resume(self, recording_id: str) -> Recording:
        """Resume a paused recording, whichever way it was paused."""
        return await self._mute(recording_id, False)

    async def get(self, recording_id: str) -> Recording:
        return await self._get(recording_id)

    async def list(self, query: RecordingFilter) -> tuple[Sequence[Recording], str | None]:
        try:
            return await self.store.list_recordings(query)
        except NotFoundError:
            raise InvalidArgument("filter.after", f"no recording {query.after}: not a cursor "
                                  "this list gave") from None

    async def delete(self, recording_id: str) -> None:
        """Remove the files and mark the recording ``deleted`` (a recording in progress must
        be stopped first)."""
        async with self._serial(recording_id):
            recording = await self._get(recording_id)
            if recording.state in OPEN:
                raise Conflict(f"recording {recording_id} is {recording.state.value}: stop it "
                               "and let it become ready first")
            if recording.state is _S.DELETED:
                raise Conflict(f"recording {recording_id} is already deleted")
            await self._remove(recording, "deleted")

    def url(self, recording_id: str, ttl: float) -> str:
        if self.url_signer is None:
            raise Conflict("signed recording URLs are not configured on this node")
        return self.url_signer(recording_id, ttl)

    # -- what Asterisk tells ----------------------------------------------------------------

    def _on_update(self, update: RecordingUpdate) -> None:
        if update.progress is not RecordingProgress.STOPPED or not self.running:
            return
        Deferred.fromCoroutine(self._stopped(update)).addErrback(
            lambda f: self.log.failure("[{recording_id}] could not finalise the recording",
                                       f, recording_id=update.recording_id))

    async def _mute(self, recording_id: str, muted: bool,
                    mode: PauseMode = PauseMode.SILENCE) -> Recording:
        verb = "pause" if muted else "resume"
        async with self._serial(recording_id):
            recording = await self._get(recording_id)
            want = _S.RECORDING if muted else _S.PAUSED
            if recording.state is not want:
                state = recording.state.value
                already = (muted and recording.state is _S.PAUSED) or (
                    not muted and recording.state is _S.RECORDING)
                raise Conflict(f"recording {recording_id} is {state}"
                               + (f": already {'paused' if muted else 'recording'}" if already
                                  else f": cannot {verb}"))
            control = control_of(self.controls, recording.asterisk, f"recording {recording_id}")
            try:
                if muted and mode is PauseMode.GAP:
                    await control.pause(recording.channel or "", True)
                else:  # resuming undoes either kind of pause
                    await control.mute(recording.channel or "", muted)
            except RecordingNotSupported as e:
                raise InvalidArgument("options.mode", f"{mode.value} is not possible on "
                                      f"Asterisk server {recording.asterisk}: {e}") from None
            except NoSuchChannel:
                raise Conflict(f"recording {recording_id}: its channel has hung up; the "
                               "recording is being finalised") from None
            except RecordingError as e:
                raise Conflict(f"recording {recording_id}: Asterisk did not {verb} it "
                               f"({e})") from e
            return await self._change(
                recording_id, _S.PAUSED if muted else _S.RECORDING, {want},
                event=RecordingEventKind.PAUSED if muted else RecordingEventKind.RESUMED)

    def _paths(self, recording_id: str, now: float, resolved: ResolvedTarget,
               options: RecordingOptions) -> tuple[str, ...]:
        try:
            json.dumps(dict(options.metadata))
        except (TypeError, ValueError) as e:
            raise InvalidArgument("options.metadata", f"only strings, numbers, booleans, "
                                  f"arrays and structs can be kept ({e})") from None
        name = files.expand_name(options.name, files.NameValues(
            recording_id=recording_id, started=now, call_id=resolved.call_id,
            session=resolved.session, campaign_id=resolved.campaign_id,
            uniqueid=resolved.uniqueid, asterisk=resolved.asterisk,
            metadata=options.metadata))
        paths = files.recording_paths(self.directory, name, options.format, options.split)
        for path in paths:
            if files.exists(path):
                raise Conflict(f"{path} already exists: another recording has that name; "
                               "choose another options.name")
        return paths

    async def _refused(self, recording: Recording, error: RecordingError) -> None:
        """Asterisk refused to start: the recording is failed (no event: the caller gets the
        fault) and the fault says why."""
        now = self.clock.seconds()
        await self.store.update_recording(recording.recording_id, RecordingChange(
            _S.FAILED, frozenset({_S.RECORDING}), now, ended=now, error=str(error) or
            type(error).__name__))
        what = f"recording {recording.recording_id}"
        if isinstance(error, NoSuchChannel):
            raise NotFound(f"{what}: channel {recording.channel} does not exist on "
                           f"{recording.asterisk}") from None
        if isinstance(error, RecordingUnavailable):
            raise Conflict(f"{what}: the link to Asterisk server {recording.asterisk} is "
                           "down; try again") from None
        if isinstance(error, RecordingNotSupported):  # split or beep on an ARI recording
            options = recording.options
            field = ("options.split" if options.split else "options.beep"
                     if options.beep is not None else "options")
            raise InvalidArgument(field, f"not possible on Asterisk server "
                                  f"{recording.asterisk}: {error}") from None
        raise Conflict(f"{what}: Asterisk refused to record ({error})") from None

