"""app_mixmonitor in the emulated AMI server: MixMonitor, MixMonitorMute, StopMixMonitor, and
the recordings they write.

**On the wire** it answers like the Asterisk of ``ami-mixmonitor.txt`` and app_mixmonitor.c:
``MixMonitor`` → ``Response: Success`` (plus ``MixMonitorID`` with ``i(VAR)``), then ``VarSet
MIXMONITOR_FILENAME`` (the absolute path) and ``MixMonitorStart``; ``MixMonitorMute`` →
Success, then ``MixMonitorMute`` with ``Direction`` and ``State``; ``StopMixMonitor`` →
Success, then ``MixMonitorStop``. Errors: ``No channel specified``, ``No such channel``,
``Could not start monitoring channel`` (no file at all), ``Could not stop monitoring
channel`` (nothing recording), and MixMonitorMute's ``No direction specified. Must be read,
write or both``, ``Invalid direction specified. Must be read, write or both``, ``No state
specified``. A hang-up closes the files without an event (app_mixmonitor raises
MixMonitorStop only for StopMixMonitor).

**On disk** it writes real files (:mod:`gtx.testing.wav`): 8 kHz 16-bit mono PCM, a RIFF/WAVE
header for ``.wav`` and headerless signed linear for any other extension (so sizes of
``.gsm``/``.ulaw`` files are not a real Asterisk's). The files are created at once with the
header only, grow every call second with the call's time, and get their header sizes when the
recording stops or the channel hangs up. Relative names go under
``/var/spool/asterisk/monitor``; :attr:`MixMonitors.root`, when set, is where the emulated
host's ``/`` is (the fidelity test writes ``/var/spool/…`` there). A file that cannot be
created is not written, and the action still succeeds, as app_mixmonitor logs "Cannot open"
from its thread after answering.

**What is heard** is a model, set per channel with :meth:`MixMonitors.set_audio`:

- ``talks``: the party on the channel speaks — a 400 Hz tone on the *read* leg (``r()``);
- ``hears``: something plays to the channel — a 500 Hz tone on the *write* leg (``t()``);
- ``bridged``: the channel is in a bridge (option ``b`` writes only then).

The mixed file holds both legs. Defaults: a channel of a real technology (``PJSIP/…``) carries
audio once answered — its scripted destination talks until it hangs up, and counts as bridged
(the emulator has no bridges: the talking destination stands for the bridged peer). A ``Local/``
channel carries no audio by itself: with nothing playing no frame reaches MixMonitor and the
file stays the 44-byte header, as measured on a real Asterisk (PITFALLS.md) and as in the
transcript's situation (``Local/…;1`` running ``Wait()``). Frames that do flow are written
whole: a muted leg (``MixMonitorMute``) is written as silence, and both legs keep time (one
leg silent while the other talks), so ``data bytes / 16000`` is the time audio flowed.
``B(N)`` adds a 0.25 s 1 kHz beep every N seconds to the write leg while audio flows.
``time_scale`` 0 (calls in zero time) writes no samples.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from gtx.testing.ami_events import STATE_UP, AMIChannel, AMIMessage, channel_event, var_set_event
from gtx.testing.ami_events import action_error as error
from gtx.testing.ami_events import action_response as response
from gtx.testing.sounds import SAMPLE_RATE
from gtx.testing.wav import WavWriter, tone

if TYPE_CHECKING:
    from gtx.testing.ami_calls import PlacedCall
    from gtx.testing.ami_server import AMISession, EmulatedAMIServer

_log = Logger()

#: ``ast_config_AST_MONITOR_DIR`` of a default install: where relative file names go.
MONITOR_DIR = "/var/spool/asterisk/monitor"
TALK_HZ = 400
HEAR_HZ = 500
BEEP_HZ = 1000
BEEP_SECONDS = 0.25
#: Call seconds between two appends to the files.
TICK_SECONDS = 1.0
_DIRECTIONS = {"read": (True, False), "write": (False, True), "both": (True, True)}
_OPTION = re.compile(r"([A-Za-z])(?:\(([^)]*)\))?")


def parse_options(text: str) -> dict[str, str]:
    """MixMonitor's option string (``bB(15)r(/in.wav)``) → ``{"b": "", "B": "15", "r": …}``,
    read like ``ast_app_parse_options``: a letter, then its argument in parentheses."""
    return {m.group(1): m.group(2) or "" for m in _OPTION.finditer(text)}


def _true(text: str) -> bool:
    """``ast_true``."""
    return text.strip().lower() in ("yes", "true", "y", "t", "1", "on")


@dataclass
class ChannelAudio:
    """What flows on one channel (see the module docstring); None: the default."""

    talks: bool | None = None
    hears: bool | None = None
    bridged: bool | None = None


@dataclass
class EmulatedMixMonitor:
    """One MixMonitor on a channel: its files and what it has written."""

    monitors: MixMonitors
    channel: AMIChannel
    monitor_id: str
    filename: str  # as MIXMONITOR_FILENAME says (absolute, on the emulated host)
    mixed: WavWriter | None
    read_leg: WavWriter | None
    write_leg: WavWriter | None
    only_bridged: bool
    beep_every: float | None
    started_at: float  # clock seconds
    muted_read: bool = False
    muted_write: bool = False
    samples: int = 0  # samples of call time accounted for (written or not)
    stopped: bool = False
    _timer: IDelayedCall | None = field(default=None, repr=False)

    @property
    def files(self) -> list[WavWriter]:
        """The files it writes."""
        return [w for w in (self.mixed, self.read_leg, self.write_leg) if w is not None]

    def flush(self) -> None:
        """Write what the call has sent since the last flush."""
        if self.stopped:
            return
        scale = self.monitors.server.asterisk.time_scale
        clock = self.monitors.server.asterisk.clock
        target = 0 if scale == 0 else int((clock.seconds() - self.started_at) / scale
                                          * SAMPLE_RATE)
        start, count = self.samples, target - self.samples
        if count <= 0:
            return
        self.samples = target
        talks, hears, bridged, flows = self.monitors.audio_of(self.channel)
        if not flows or (self.only_bridged and not bridged):
            return  # no frame reaches the audiohook (or b: not bridged): nothing written
        read: tuple[int, ...] = (TALK_HZ,) if talks and not self.muted_read else ()
        for piece_start, piece_count, beeping in self._pieces(start, count):
            write: tuple[int, ...] = (HEAR_HZ,) if hears else ()
            write += (BEEP_HZ,) if beeping else ()
            write = () if self.muted_write else write
            if self.mixed is not None:
                self.mixed.write(tone(read + write, piece_start, piece_count))
            if self.read_leg is not None:
                self.read_leg.write(tone(read, piece_start, piece_count))
            if self.write_leg is not None:
                self.write_leg.write(tone(write, piece_start, piece_count))

    def _pieces(self, start: int, count: int) -> list[tuple[int, int, bool]]:
        """[start, start + count) cut where the periodic beep starts or ends."""
        if self.beep_every is None:
            return [(start, count, False)]
        every = max(int(self.beep_every * SAMPLE_RATE), 1)
        length = min(int(BEEP_SECONDS * SAMPLE_RATE), every)
        pieces, position, end = [], start, start + count
        while position < end:
            beat, phase = divmod(position, every)
            beeping = beat >= 1 and phase < length  # beeps start one interval in
            boundary = beat * every + (length if beeping else every)
            piece_end = min(boundary, end)
            pieces.append((position, piece_end - position, beeping))
            position = piece_end
        return pieces

    def schedule(self) -> None:
        """Append to the files every call second."""
        scale = self.monitors.server.asterisk.time_scale
        if scale > 0 and not self.stopped:
            self._timer = self.monitors.server.asterisk.clock.callLater(
                TICK_SECONDS * scale, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.flush()
        self.schedule()

    def close(self) -> None:
        """Write what is left and finalise the files (header sizes)."""
        if self.stopped:
            return
        self.flush()
        self.stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for writer in self.files:
            writer.close()


class MixMonitors:
    """The MixMonitors of one emulated server (its ``mixmonitors`` attribute), with the test
    controls :meth:`set_audio`, :attr:`root`, :attr:`running` and :attr:`finished`."""

    def __init__(self, server: EmulatedAMIServer, root: Path | None = None) -> None:
        self.server = server
        #: Where the emulated host's ``/`` is (None: the real one).
        self.root = root
        #: By channel name: the MixMonitors running on it, newest first (as datastores).
        self.running: dict[str, list[EmulatedMixMonitor]] = {}
        #: Stopped or hung up, in order.
        self.finished: list[EmulatedMixMonitor] = []
        self._audio: dict[str, ChannelAudio] = {}
        self._ids = itertools.count(0x0C001A40, 0x100)

    # -- test controls -------------------------------------------------------------------------

    def set_audio(self, channel: str, *, talks: bool | None = None, hears: bool | None = None,
                  bridged: bool | None = None) -> None:
        """Say what flows on ``channel`` (a name or a Uniqueid) from now on; None keeps the
        current value. What was heard until now is written first."""
        found = self.server.find_channel(channel)
        key = found[0].name if found is not None else channel
        for monitor in self.running.get(key, []):
            monitor.flush()
        audio = self._audio.setdefault(key, ChannelAudio())
        if talks is not None:
            audio.talks = talks
        if hears is not None:
            audio.hears = hears
        if bridged is not None:
            audio.bridged = bridged

    def audio_of(self, channel: AMIChannel) -> tuple[bool, bool, bool, bool]:
        """(talks, hears, bridged, frames flow) for ``channel`` now."""
        audio = self._audio.get(channel.name) or self._audio.get(channel.uniqueid) \
            or ChannelAudio()
        real = not channel.name.startswith("Local/")
        # A hung-up channel is still Up in its last snapshot: its final flush writes the call
        # up to the hang-up.
        up = channel.state == STATE_UP
        talks = audio.talks if audio.talks is not None else real and up
        hears = bool(audio.hears)
        bridged = audio.bridged if audio.bridged is not None else real
        return talks, hears, bridged, (real and up) or talks or hears

    def host_path(self, name: str) -> tuple[str, Path]:
        """(the absolute name Asterisk uses, where the file is written)."""
        absolute = name if name.startswith("/") else f"{MONITOR_DIR}/{name}"
        if self.root is None:
            return absolute, Path(absolute)
        parts = [p for p in PurePosixPath(absolute).parts[1:] if p not in ("", ".", "..")]
        return absolute, self.root.joinpath(*parts)

    def monitors_of(self, channel: AMIChannel) -> list[EmulatedMixMonitor]:
        """The MixMonitors running on ``channel``, newest first."""
        return list(self.running.get(channel.name, []))

    # -- what the actions do -------------------------------------------------------------------

    def start(self, channel: AMIChannel, call: PlacedCall, file: str,
              options: dict[str, str]) -> EmulatedMixMonitor:
        """Start a MixMonitor on ``channel`` (the caller checked there is a file to write)."""
        filename = self.host_path(file)[0] if file else ""
        beep = options.get("B")
        monitor = EmulatedMixMonitor(
            self, channel, f"0x7f83{next(self._ids):08x}", filename,
            mixed=self._open(file), read_leg=self._open(options.get("r")),
            write_leg=self._open(options.get("t")),
            only_bridged="b" in options,
            beep_every=None if beep is None else float(beep or "15"),
            started_at=self.server.asterisk.clock.seconds(),
        )
        self.running.setdefault(channel.name, []).insert(0, monitor)
        listener = _HangupListener(self, channel.name)
        if listener not in call.on_hangup:
            call.on_hangup.append(listener)
        monitor.schedule()
        return monitor

    def stop(self, channel: AMIChannel, monitor_id: str = "") -> EmulatedMixMonitor | None:
        """Stop the newest MixMonitor on ``channel`` (or the one with ``monitor_id``)."""
        monitors = self.running.get(channel.name, [])
        monitor = next((m for m in monitors if not monitor_id or m.monitor_id == monitor_id),
                       None)
        if monitor is None:
            return None
        monitors.remove(monitor)
        if not monitors:
            self.running.pop(channel.name, None)
        monitor.close()
        self.finished.append(monitor)
        return monitor

    def mute(self, channel: AMIChannel, read: bool, write: bool, muted: bool,
             monitor_id: str = "") -> int:
        """Mute or unmute legs of the MixMonitors on ``channel``; how many were set."""
        count = 0
        for monitor in self.running.get(channel.name, []):
            if monitor_id and monitor.monitor_id != monitor_id:
                continue
            monitor.flush()
            if read:
                monitor.muted_read = muted
            if write:
                monitor.muted_write = muted
            count += 1
        return count

    def channel_gone(self, name: str) -> None:
        """The channel hung up: its MixMonitors write their last samples and close."""
        for monitor in list(self.running.get(name, [])):
            self.stop(monitor.channel, monitor.monitor_id)

    def _open(self, name: str | None) -> WavWriter | None:
        if not name:
            return None
        absolute, path = self.host_path(name)
        try:
            return WavWriter(path, raw=not absolute.lower().endswith(".wav"))
        except OSError as e:
            _log.warn("MixMonitor: cannot open {path}: {error}", path=str(path), error=e)
            return None


@dataclass(frozen=True)
class _HangupListener:
    """Closes a channel's MixMonitors when its call ends (equal per channel: added once)."""

    monitors: MixMonitors
    name: str

    def __call__(self) -> None:
        self.monitors.channel_gone(self.name)


# -- the actions -------------------------------------------------------------------------------


def _channel(server: EmulatedAMIServer, session: AMISession,
             action: AMIMessage) -> tuple[AMIChannel, PlacedCall] | None:
    """The action's channel and its call, or None once the real error is sent."""
    name = action.get("Channel")
    if not name:
        session.send(error(action, "No channel specified"))
        return None
    found = server.find_channel(name)
    if found is None:
        session.send(error(action, "No such channel"))
    return found


def _mixmonitor(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    found = _channel(server, session, action)
    if found is None:
        return
    channel, call = found
    file = action.get("File") or ""
    options = parse_options(action.get("Options") or "")
    if not file and not options.get("r") and not options.get("t"):
        session.send(error(action, "Could not start monitoring channel"))
        return
    monitor = server.mixmonitors.start(channel, call, file, options)
    uid_variable = options.get("i")
    extra = [("MixMonitorID", monitor.monitor_id)] if uid_variable else []
    session.send(response(action, "Success", *extra))
    channel.variables["MIXMONITOR_FILENAME"] = monitor.filename
    server.emit(var_set_event(channel, "MIXMONITOR_FILENAME", monitor.filename))
    if uid_variable:
        channel.variables[uid_variable] = monitor.monitor_id
        server.emit(var_set_event(channel, uid_variable, monitor.monitor_id))
    server.emit(channel_event("MixMonitorStart", channel))


def _mixmonitor_mute(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    direction = action.get("Direction") or ""
    if not direction:
        session.send(error(action, "No direction specified. Must be read, write or both"))
        return
    legs = _DIRECTIONS.get(direction.lower())
    if legs is None:
        session.send(error(action, "Invalid direction specified. Must be read, write or both"))
        return
    state = action.get("State")
    if action.get("Channel") and not state:
        session.send(error(action, "No state specified"))
        return
    found = _channel(server, session, action)
    if found is None:
        return
    channel = found[0]
    monitor_id = action.get("MixMonitorID") or ""
    muted = _true(state or "")
    if server.mixmonitors.mute(channel, *legs, muted, monitor_id) == 0 and monitor_id:
        session.send(error(action, "Cannot set mute flag"))
        return
    session.send(response(action, "Success"))
    server.emit(channel_event("MixMonitorMute", channel, ("Direction", direction),
                              ("State", "1" if muted else "0")))


def _stop_mixmonitor(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    found = _channel(server, session, action)
    if found is None:
        return
    channel = found[0]
    if server.mixmonitors.stop(channel, action.get("MixMonitorID") or "") is None:
        session.send(error(action, "Could not stop monitoring channel"))
        return
    session.send(response(action, "Success"))
    server.emit(channel_event("MixMonitorStop", channel))


HANDLERS: dict[str, Callable[[EmulatedAMIServer, AMISession, AMIMessage], None]] = {
    "mixmonitor": _mixmonitor,
    "mixmonitormute": _mixmonitor_mute,
    "stopmixmonitor": _stop_mixmonitor,
}
