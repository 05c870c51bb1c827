"""Fakes for the recorder's tests: an Asterisk server as the recorder sees it, which writes
real WAV files the way MixMonitor does, and a callback receiver.

``FakeRecordingControl`` keeps the channels that are up; a test hangs one up, drops the link,
or makes a command fail. Files are written when a recording ends (8 kHz, 16-bit mono: 16,000
bytes a second of the clock, silence), as MixMonitor closes them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingError,
    RecordingNotSupported,
    RecordingProgress,
    RecordingSink,
    RecordingUnavailable,
    RecordingUpdate,
)

BYTE_RATE = 16_000


def wav_bytes(seconds: float) -> bytes:
    """A WAV file of ``seconds`` of 8 kHz 16-bit mono silence."""
    data = b"\0" * int(seconds * BYTE_RATE)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, BYTE_RATE, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


@dataclass
class Active:
    command: RecordCommand
    sink: RecordingSink | None  # None once the link that carried it was lost
    started: float
    muted: list[bool] = field(default_factory=list)
    paused: list[bool] = field(default_factory=list)


class FakeRecordingControl:
    """A :class:`gtx.recording.RecordingControl` (see the module docstring)."""

    def __init__(self, clock: Clock, name: str = "pbx1", *, write_files: bool = True) -> None:
        self.clock = clock
        self._name = name
        self.connected_now = True
        self.write_files = write_files
        self.channels: set[str] = set()
        self.active: dict[str, Active] = {}  # by the channel given in the command
        self.refuse: RecordingError | None = None  # the next start fails with it
        self.stopped_after = 0.1  # seconds between the StopMixMonitor reply and the update
        self.commands: list[tuple[str, ...]] = []
        self.gaps = False  # whether pause can leave a gap (ARI) or not (MixMonitor)

    @property
    def name(self) -> str:
        return self._name

    @property
    def connected(self) -> bool:
        return self.connected_now

    # -- the interface ------------------------------------------------------------------

    def start(self, command: RecordCommand, on_update: RecordingSink) -> Deferred[None]:
        self.commands.append(("start", command.channel, command.file))
        if not self.connected_now:
            return fail(RecordingUnavailable(f"{self._name}: not connected"))
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            return fail(error)
        if command.channel not in self.channels:
            return fail(NoSuchChannel("No such channel"))
        self.active[command.channel] = Active(command, on_update, self.clock.seconds())
        on_update(RecordingUpdate(command.recording_id, RecordingProgress.STARTED))
        return succeed(None)

    def mute(self, channel: str, muted: bool) -> Deferred[None]:
        self.commands.append(("mute" if muted else "unmute", channel))
        if not self.connected_now:
            return fail(RecordingUnavailable(f"{self._name}: not connected"))
        if channel not in self.channels:
            return fail(NoSuchChannel("No such channel"))
        self.active[channel].muted.append(muted)
        return succeed(None)

    def pause(self, channel: str, paused: bool) -> Deferred[None]:
        """A gap where ``gaps`` (ARI), else RecordingNotSupported (MixMonitor)."""
        self.commands.append(("pause" if paused else "unpause", channel))
        if not self.connected_now:
            return fail(RecordingUnavailable(f"{self._name}: not connected"))
        if paused and not self.gaps:
            return fail(RecordingNotSupported("MixMonitor cannot leave a gap: pause writes "
                                              "silence"))
        if channel not in self.channels:
            return fail(NoSuchChannel("No such channel"))
        self.active[channel].paused.append(paused)
        return succeed(None)

    def stop(self, channel: str) -> Deferred[None]:
        self.commands.append(("stop", channel))
        if not self.connected_now:
            return fail(RecordingUnavailable(f"{self._name}: not connected"))
        if channel not in self.channels:
            return fail(NoSuchChannel("No such channel"))
        active = self.active.pop(channel, None)
        if active is None:
            return fail(RecordingError("Could not stop MixMonitor"))
        self._close(active)
        if active.sink is not None:
            sink, rid = active.sink, active.command.recording_id
            self.clock.callLater(self.stopped_after, sink,
                                 RecordingUpdate(rid, RecordingProgress.STOPPED, "stopped"))
        return succeed(None)

    def channel_exists(self, channel: str) -> Deferred[bool]:
        if not self.connected_now:
            return fail(RecordingUnavailable(f"{self._name}: not connected"))
        return succeed(channel in self.channels)

    # -- control handles ----------------------------------------------------------------

    def hang_up(self, channel: str) -> None:
        """The channel hangs up: its recording ends (files closed, then STOPPED)."""
        self.channels.discard(channel)
        active = self.active.pop(channel, None)
        if active is not None:
            self._close(active)
            if active.sink is not None:
                active.sink(RecordingUpdate(active.command.recording_id,
                                            RecordingProgress.STOPPED, "hangup"))

    def lose_link(self) -> None:
        """The AMI link drops: every recording followed is reported STOPPED (link lost), and
        goes on on Asterisk."""
        self.connected_now = False
        for active in self.active.values():
            sink, active.sink = active.sink, None
            if sink is not None:
                sink(RecordingUpdate(active.command.recording_id, RecordingProgress.STOPPED,
                                     "link lost"))

    def missed_hang_up(self, channel: str) -> None:
        """The channel hung up while the link was down, and the control finds out after the
        login (as the AMI adapter does): files closed, then STOPPED with cause link lost."""
        self.channels.discard(channel)
        active = self.active.pop(channel)
        self._close(active)
        if active.sink is not None:
            active.sink(RecordingUpdate(active.command.recording_id, RecordingProgress.STOPPED,
                                        "link lost"))

    def forget(self) -> None:
        """gtx restarted: the recordings go on on Asterisk, no update is sent any more."""
        for active in self.active.values():
            active.sink = None

    def _close(self, active: Active) -> None:
        if not self.write_files:
            return
        seconds = self.clock.seconds() - active.started
        command = active.command
        for path in (command.file, command.receive_file, command.transmit_file):
            if path is not None:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(wav_bytes(seconds))


class Receiver:
    """A callback receiver: records what it accepted; ``down`` refuses everything."""

    def __init__(self) -> None:
        self.down = False
        self.received: list[tuple[str, str, dict[str, object]]] = []
        self.refused = 0

    def call(self, url: str, method: str, params: Sequence[object], *,
             timeout: float) -> Deferred[object]:
        if self.down:
            self.refused += 1
            return fail(ConnectionRefusedError("receiver down"))
        event = params[0]
        assert isinstance(event, dict)
        self.received.append((url, method, event))
        return succeed(True)

    def events(self, recording_id: str) -> list[tuple[int, str]]:
        """(seq, event) of the events received for ``recording_id``, in arrival order."""
        return [(int(str(e["seq"])), str(e["event"])) for _, _, e in self.received
                if e["recording_id"] == recording_id]
