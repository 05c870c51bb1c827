"""Live and stored recordings on the emulated ARI server (``channels.record``,
``recordings.*``), written as real files.

``channels.record`` answers ``201`` with the LiveRecording (state ``queued``): Asterisk queues
the recording to the channel and opens its file a moment later (:data:`OPEN_SECONDS`);
meanwhile only a stop or a cancel is accepted, pause and mute (and their undoing) answer 409
``Recording not in session``. With ``beep`` the channel hears ``beep`` first.
``RecordingStarted`` comes when recording starts, then
``RecordingFinished`` (state ``done``, ``duration``, ``talking_duration``,
``silence_duration`` in whole seconds) when it stops: ``recordings.stop``,
``maxDurationSeconds`` of recorded time (paused time does not count), ``maxSilenceSeconds``
of silence in a row, a ``terminateOn`` key (``any``, ``*``, ``#``; ``none`` by default), the
channel hanging up or leaving Stasis. ``recordings.cancel`` ends it with state ``canceled`` and
deletes the file. A file that cannot be created sends ``RecordingFailed`` (state ``failed``).

Files go under the server's ``recording_dir`` (Asterisk's recording spool: names are relative to
it, subdirectories allowed, ``..`` or an absolute name refused with 400 ``Recording name
invalid``), ``NAME.FORMAT``: a RIFF/WAVE header for ``wav``, headerless 8 kHz signed linear for
other formats (:mod:`gtx.testing.wav`). ``ifExists``: ``fail`` (default: 409 when the file
exists or is being recorded), ``overwrite``, ``append``.

**What is heard** is a model. A channel's party speaks (a 400 Hz tone) when ``talks`` is set on
the channel: ``CallSpec.caller_talks`` for :meth:`~EmulatedARIServer.stasis_call`, an answered
dial destination for originated channels, :meth:`ARIRecordings.set_talks` otherwise. A recording
of a channel hears its party; a recording of a snoop channel hears the spied channel per the
snoop's ``spy``: ``in`` its party, ``out`` what is sent to it (a playback: 500 Hz; a bridged
party speaking: 600 Hz), ``both`` the mix. A paused recording writes nothing (a gap: the
file is shorter), a muted one writes silence; otherwise every call second is written, silence
included, so ``data bytes / 16000`` is the recorded time — except on a ``Local/`` channel, which
carries no audio by itself: there only the seconds when something sounds are written (a
recording of a silent Local channel is the 44-byte header, as measured with MixMonitor on a real
Asterisk); ``duration`` still counts the recorded time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from gtx.testing.ari_model import JSON, ARIChannel, ARIFault, event
from gtx.testing.sounds import SAMPLE_RATE
from gtx.testing.timeline import Scheduled
from gtx.testing.wav import BYTES_PER_SECOND, HEADER_BYTES, WavWriter, read_wav_header, tone

if TYPE_CHECKING:
    from gtx.testing.ari_server import EmulatedARIServer

TALK_HZ = 400
HEAR_HZ = 500
PEER_HZ = 600
#: Call seconds between two appends to a file.
TICK_SECONDS = 1.0
#: Call seconds between ``channels.record`` and the recording's start: the channel's thread
#: runs the queued command and opens the file.
OPEN_SECONDS = 0.02
#: Formats Asterisk knows (others: 422).
FORMATS = ("wav", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "wav49")


@dataclass(eq=False)
class LiveRecording:
    """One live recording."""

    name: str
    format: str
    channel: ARIChannel
    path: Path
    max_duration: float  # 0: none
    max_silence: float  # 0: none
    terminate_on: str
    state: str = "queued"
    writer: WavWriter | None = None
    muted: bool = False
    seconds: float = 0.0  # recorded call time (written or muted)
    samples: int = 0  # the same, in samples
    talking: int = 0  # samples with sound
    silent_since: float | None = None
    last: float = 0.0  # timeline time of the last flush
    cause: str | None = None
    timers: list[Scheduled] = field(default_factory=list)

    def to_json(self) -> JSON:
        """The LiveRecording model."""
        body: JSON = {"name": self.name, "format": self.format, "state": self.state,
                      "target_uri": f"channel:{self.channel.id}"}
        if self.state in ("done", "canceled"):
            seconds, talking = self.samples // SAMPLE_RATE, self.talking // SAMPLE_RATE
            body.update(duration=seconds, talking_duration=talking,
                        silence_duration=seconds - talking)
        if self.cause is not None:
            body["cause"] = self.cause
        return body

    def cancel_timers(self) -> None:
        """Cancel the ticks and the limits."""
        timers, self.timers = self.timers, []
        for timer in timers:
            timer.cancel()


class ARIRecordings:
    """The recordings of one server (``server.recordings``)."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        #: Live recordings by name.
        self.live: dict[str, LiveRecording] = {}
        #: Every recording that ended, in order.
        self.finished: list[LiveRecording] = []
        #: How long a new recording stays queued (call seconds).
        self.open_seconds = OPEN_SECONDS

    # -- what is heard ---------------------------------------------------------------------------

    def set_talks(self, channel: ARIChannel, talks: bool) -> None:
        """Say whether the party on ``channel`` speaks from now on."""
        self.flush_all()
        channel.talks = talks
        self.changed()

    def _sound(self, recording: LiveRecording) -> tuple[int, ...]:
        channel = recording.channel
        target, spy = channel, "in"
        if channel.snoop_target is not None:
            target, spy = channel.snoop_target, channel.snoop_spy
        sound: tuple[int, ...] = ()
        if spy in ("in", "both") and target.talks and target.muted not in ("in", "both"):
            sound += (TALK_HZ,)
        if spy in ("out", "both"):
            if self.server.media.playing(target):
                sound += (HEAR_HZ,)
            if any(peer.talks for peer in self.server.bridges.peers(target)):
                sound += (PEER_HZ,)
        return sound

    def _flows(self, recording: LiveRecording) -> bool:
        """Whether frames reach the recording when nothing sounds: always on a real
        technology (RTP carries silence), never on a Local channel."""
        channel = recording.channel.snoop_target or recording.channel
        return not channel.name.startswith("Local/")

    def flush(self, *channels: ARIChannel) -> None:
        """Write what the recordings of ``channels`` (and of their snoops) heard so far."""
        wanted = set(channels)
        for recording in list(self.live.values()):
            target = recording.channel.snoop_target
            if recording.channel in wanted or (target is not None and target in wanted):
                self._flush(recording)

    def flush_all(self) -> None:
        """Write what every live recording heard so far (before what is heard changes)."""
        for recording in list(self.live.values()):
            self._flush(recording)

    def _flush(self, recording: LiveRecording) -> None:
        now = recording.channel.media.timeline.now()
        elapsed, recording.last = now - recording.last, now
        if recording.state != "recording" or elapsed <= 0:
            return
        recording.seconds += elapsed
        start = recording.samples
        recording.samples = round(recording.seconds * SAMPLE_RATE)
        count = recording.samples - start
        sound = () if recording.muted else self._sound(recording)
        if sound:
            recording.talking += count
        if recording.writer is not None and (sound or recording.muted or self._flows(recording)):
            recording.writer.write(tone(sound, start, count))

    def changed(self) -> None:
        """What recordings hear has just changed (a party talks or stops, a playback starts
        or ends, a bridge changes): silence is watched from now on."""
        for recording in list(self.live.values()):
            if recording.state == "recording" and recording.max_silence > 0:
                silent = recording.silent_since is not None
                self._watch_silence(recording)
                if silent != (recording.silent_since is not None):
                    recording.cancel_timers()
                    self._schedule(recording)

    def _watch_silence(self, recording: LiveRecording) -> None:
        """Note when the silence under way started (None: something sounds)."""
        sound = not recording.muted and bool(self._sound(recording))
        if sound or recording.max_silence <= 0 or recording.state != "recording":
            recording.silent_since = None
        elif recording.silent_since is None:
            recording.silent_since = recording.channel.media.timeline.now()

    # -- life cycle ------------------------------------------------------------------------------

    def start(self, channel: ARIChannel, name: str, fmt: str, *, max_duration: float,
              max_silence: float, terminate_on: str, if_exists: str, beep: bool
              ) -> LiveRecording:
        """Start recording ``channel`` (the REST handler checked the parameters)."""
        path = self.path_of(name, fmt)
        if name in self.live or channel.recording is not None:
            raise ARIFault(409, f"Recording '{name}' already exists and can not be overwritten")
        if path.exists() and if_exists == "fail":
            raise ARIFault(409, f"Recording '{name}' already exists and can not be overwritten")
        recording = LiveRecording(name, fmt, channel, path, max_duration, max_silence,
                                  terminate_on)
        self.live[name] = recording
        channel.recording = recording
        keep = path.read_bytes() if path.exists() and if_exists == "append" else b""
        delay = self.open_seconds
        if beep:
            channel.media.played.append("beep")
            delay += (self.server.asterisk.sounds.seconds("beep") or 0.26)
        recording.timers.append(channel.later(delay, lambda: self._begin(recording, keep)))
        return recording

    def _begin(self, recording: LiveRecording, keep: bytes) -> None:
        channel = recording.channel
        try:
            recording.writer = WavWriter(recording.path, raw=recording.format != "wav")
        except OSError as e:
            recording.state, recording.cause = "failed", str(e)
            self._end(recording, "RecordingFailed")
            return
        if keep:
            recording.writer.write(keep if recording.format != "wav" else keep[HEADER_BYTES:])
        recording.state = "recording"
        recording.last = channel.media.timeline.now()
        channel.media.note("media", f"records {recording.name}.{recording.format}")
        self._emit(recording, "RecordingStarted")
        self._watch_silence(recording)
        self._schedule(recording)

    def _schedule(self, recording: LiveRecording) -> None:
        """The next tick: write, then check the limits."""
        recording.timers.append(recording.channel.later(TICK_SECONDS,
                                                        lambda: self._tick(recording)))
        if recording.max_duration > 0:
            left = recording.max_duration - recording.seconds
            if left < TICK_SECONDS:
                recording.timers.append(recording.channel.later(
                    max(left, 0.0), lambda: self.stop(recording)))
        if recording.silent_since is not None:
            now = recording.channel.media.timeline.now()
            left = recording.silent_since + recording.max_silence - now
            if left < TICK_SECONDS:
                recording.timers.append(recording.channel.later(
                    max(left, 0.0), lambda: self.stop(recording)))

    def _tick(self, recording: LiveRecording) -> None:
        if recording.state not in ("recording", "paused"):
            return
        recording.cancel_timers()
        self._flush(recording)
        self._schedule(recording)

    def stop(self, recording: LiveRecording, state: str = "done",
             apps: Iterable[str] | None = None) -> None:
        """End the recording with ``state`` (``done``, ``canceled``)."""
        if recording.name not in self.live or self.live[recording.name] is not recording:
            return
        self._flush(recording)
        recording.state = state
        self._end(recording, "RecordingFinished", apps)

    def _end(self, recording: LiveRecording, kind: str, apps: Iterable[str] | None = None
             ) -> None:
        recording.cancel_timers()
        if recording.writer is not None:
            recording.writer.close()
        if recording.state == "canceled":
            recording.path.unlink(missing_ok=True)
        self.live.pop(recording.name, None)
        if recording.channel.recording is recording:
            recording.channel.recording = None
        self.finished.append(recording)
        self._emit(recording, kind, apps)

    def pause(self, recording: LiveRecording, paused: bool) -> None:
        """Pause (nothing written) or go on."""
        self._flush(recording)
        recording.state = "paused" if paused else "recording"
        recording.silent_since = None
        recording.cancel_timers()
        self._watch_silence(recording)
        self._schedule(recording)

    def mute(self, recording: LiveRecording, muted: bool) -> None:
        """Mute (silence written) or unmute."""
        self._flush(recording)
        recording.muted = muted
        self.changed()

    def dtmf(self, channel: ARIChannel, digit: str) -> None:
        """A key from the caller: a recording with a matching ``terminateOn`` stops."""
        recording = channel.recording
        if recording is None or recording.state != "recording":
            return
        if recording.terminate_on in ("any", digit):
            self.stop(recording)

    def channel_gone(self, channel: ARIChannel, apps: Iterable[str] | None = None) -> None:
        """The channel hangs up or leaves Stasis: its recording ends."""
        recording = channel.recording
        if recording is not None:
            if recording.state == "queued":
                recording.state = "done"
                self._end(recording, "RecordingFinished", apps)
            else:
                self.stop(recording, "done", apps)

    def _emit(self, recording: LiveRecording, kind: str, apps: Iterable[str] | None = None
              ) -> None:
        calls = self.server.calls
        calls.emit(recording.channel, event(kind, calls.ts(recording.channel),
                                            ("recording", recording.to_json())), apps)

    # -- files -----------------------------------------------------------------------------------

    def path_of(self, name: str, fmt: str) -> Path:
        """Where ``name`` in ``fmt`` is stored (400 for a name leaving the spool)."""
        parts = PurePosixPath(name).parts
        if not name or name.startswith("/") or ".." in parts:
            raise ARIFault(400, "Recording name invalid")
        return self.server.recording_dir.joinpath(*parts).with_name(f"{parts[-1]}.{fmt}")

    def stored(self) -> list[tuple[str, str, Path]]:
        """(name, format, path) of every file in the spool that is not being recorded."""
        found = []
        root = self.server.recording_dir
        recording_now = {r.path for r in self.live.values()}
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            fmt = path.suffix[1:]
            if path.is_file() and fmt in FORMATS and path not in recording_now:
                name = path.relative_to(root).with_suffix("").as_posix()
                found.append((name, fmt, path))
        return found

    def find_stored(self, name: str) -> tuple[str, Path]:
        """(format, path) of a stored recording, or 404."""
        for stored_name, fmt, path in self.stored():
            if stored_name == name:
                return fmt, path
        raise ARIFault(404, "Recording not found")

    def stored_seconds(self, name: str) -> float | None:
        """How long a stored recording lasts (None: no such recording)."""
        try:
            fmt, path = self.find_stored(name)
        except ARIFault:
            return None
        data = path.read_bytes()
        size = read_wav_header(data).data_bytes if fmt == "wav" else len(data)
        return size / BYTES_PER_SECOND
