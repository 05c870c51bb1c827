"""Recording a live channel on an Asterisk server: the interface the Recorder API drives.

A :class:`RecordingControl` is one configured Asterisk server seen from the recorder. The AMI
adapter (:mod:`gtx.asterisk.ami_recorder`, MixMonitor) implements it today; an ARI adapter will
implement the same interface. Nothing under :mod:`gtx.recorder` knows AMI actions or events.

Two ways to pause: :meth:`RecordingControl.mute` writes silence (``MixMonitorMute``, ARI's
recording mute), so a file's length stays true to the call; :meth:`RecordingControl.pause`
leaves a gap (ARI's recording pause: nothing is written meanwhile, the file is shorter).
MixMonitor cannot leave a gap: over AMI ``pause`` fails with :class:`RecordingNotSupported` —
see docs/recorder-api.md. Errors::

    RecordingError              Asterisk refused or failed a recording command
    ├── NoSuchChannel           the channel is not (any more) on that server
    ├── RecordingUnavailable    the link is down: nothing was sent
    └── RecordingNotSupported   the server's way of recording cannot do what was asked
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from twisted.internet.defer import Deferred


class RecordingError(Exception):
    """Asterisk refused or failed a recording command."""


class NoSuchChannel(RecordingError):
    """The channel does not exist (any more) on that server (``Message: No such channel``)."""


class RecordingUnavailable(RecordingError):
    """The link to that Asterisk server is down: nothing was sent."""


class RecordingNotSupported(RecordingError):
    """The way this server records cannot do what was asked (ARI recordings: split legs,
    periodic beeps; MixMonitor: a pause that leaves a gap). Nothing was sent; the message says
    what to use instead."""


@dataclass(frozen=True)
class RecordCommand:
    """Start recording a channel into files on the Asterisk host."""

    channel: str  # the channel name, or its Uniqueid (AMI accepts both)
    file: str  # the mixed file (absolute path on the Asterisk host, with extension)
    receive_file: str | None = None  # split legs: what is read from the channel, i.e. what
    #                                  its party says (MixMonitor r())
    transmit_file: str | None = None  # split legs: what is written to the channel, i.e. what
    #                                   its party hears (MixMonitor t())
    beep_seconds: int | None = None  # a periodic beep every N seconds (MixMonitor B())
    max_seconds: int | None = None  # stop by itself after N seconds
    only_bridged: bool = True  # record only while bridged (MixMonitor b) — False for IVRs
    recording_id: str = ""  # set on the channel (GTX_RECORDING_ID) to match events


class RecordingProgress(StrEnum):
    STARTED = "started"
    STOPPED = "stopped"  # the recording ended (stop, hang-up, max length): files are closed


@dataclass(frozen=True)
class RecordingUpdate:
    recording_id: str
    progress: RecordingProgress
    cause: str | None = None  # "stopped", "hangup", "max_seconds", "link lost" …


#: Receives the updates of one recording, in order; STOPPED comes once, last.
RecordingSink = Callable[[RecordingUpdate], None]


class RecordingControl(Protocol):
    """One Asterisk server, as the recorder uses it."""

    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    def start(self, command: RecordCommand, on_update: RecordingSink) -> Deferred[None]:
        """Start recording; fails with NoSuchChannel, RecordingUnavailable or RecordingError."""

    def mute(self, channel: str, muted: bool) -> Deferred[None]:
        """Pause (write silence) or resume a channel's recording; resuming undoes either kind
        of pause."""

    def pause(self, channel: str, paused: bool) -> Deferred[None]:
        """Pause leaving a gap (nothing written meanwhile) or resume a channel's recording;
        resuming undoes either kind of pause. Fails with :class:`RecordingNotSupported` where
        the recording cannot leave a gap (MixMonitor)."""

    def stop(self, channel: str) -> Deferred[None]:
        """Stop a channel's recording (its STOPPED update follows)."""

    def channel_exists(self, channel: str) -> Deferred[bool]:
        """Whether the channel is still up (reconciliation after a restart or reconnect)."""
