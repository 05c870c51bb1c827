"""The objects of the emulated ARI server and their JSON, shaped like a real Asterisk's.

Every JSON object and event here has the fields, order and formats seen in
``tests/fixtures/asterisk/transcripts/ari-session.txt``: channels (``id``, ``name``, ``state``,
``protocol_id``, ``caller``, ``connected``, ``accountcode``, ``dialplan``, ``creationtime``,
``language``), timestamps like ``2026-11-21T23:44:12.422+0000``, events that put their own
fields before ``type`` when Asterisk builds them from a blob (``ChannelVarset``,
``ChannelHangupRequest``) and after it otherwise; the server appends ``asterisk_id`` and
``application``.

An :class:`ARIChannel` is the ARI face of an :class:`~gtx.testing.emulated_channel
.EmulatedChannel` (``media``), which keeps the variables, the timeline, what the caller heard
(``played``) and the readable log, exactly as for FastAGI calls.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from gtx.testing.emulated_channel import STATE_RINGING, STATE_UP, EmulatedChannel, TimedEvent
from gtx.testing.timeline import Scheduled

if TYPE_CHECKING:
    from gtx.testing.ari_bridges import Bridge
    from gtx.testing.ari_media import Playback
    from gtx.testing.ari_recording import LiveRecording
    from gtx.testing.ari_server import EmulatedARIServer
    from gtx.testing.pbx import CallSpec, DialDestination

#: One JSON object as it goes on the wire (dicts keep their insertion order).
JSON = dict[str, Any]

#: ``ast_cause2str`` for the causes the emulator uses.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    28: "Invalid number format (addr incomplete)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}
#: ``reason`` of ``DELETE /channels/{id}`` → hang-up cause (resource_channels.c).
HANGUP_REASONS = {
    "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18,
    "rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
    "codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}
#: The soft hang-up flag ``DELETE /channels/{id}`` raises (AST_SOFTHANGUP_EXPLICIT): it is
#: what ``ChannelHangupRequest`` reports as ``cause`` with ``soft: true``.
SOFTHANGUP_EXPLICIT = 32
#: The soft hang-up flag seen on the other half of a Local pair as the pair tears down.
SOFTHANGUP_APPUNLOAD = 16
#: ``ast_eid_default`` of the reference Asterisk.
ASTERISK_ID = "02:fc:00:00:00:01"


def ari_timestamp(epoch: float) -> str:
    """``2026-11-21T23:44:12.422+0000``: UTC, milliseconds."""
    whole = math.floor(epoch)
    millis = round((epoch - whole) * 1000)
    if millis >= 1000:
        whole, millis = whole + 1, millis - 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}+0000"


def cause_text(cause: int) -> str:
    """The ``cause_txt`` of a hang-up cause."""
    return CAUSE_TEXT.get(cause, "Unknown")


@dataclass(eq=False)
class ARIChannel:
    """One channel of the emulated ARI server (see the module docstring).

    ``subscribers`` are the applications that follow it whatever it does (``originate`` with
    ``app``, ``applications.subscribe``); ``stasis_app`` is the application it is in, if any.
    """

    id: str
    media: EmulatedChannel
    state: str  # Down, Ring, Ringing, Up, Busy
    epoch0: float  # epoch at the channel's timeline zero (timestamps follow the timeline)
    caller: tuple[str, str] = ("", "")  # (name, number)
    connected: tuple[str, str] = ("", "")
    app_name: str = ""
    app_data: str = ""
    stasis_app: str | None = None
    stasis_args: list[str] = field(default_factory=list)
    subscribers: set[str] = field(default_factory=set)
    local_peer: ARIChannel | None = None
    bridge: Bridge | None = None
    playbacks: list[Playback] = field(default_factory=list)  # queued + playing, in order
    recording: LiveRecording | None = None
    snoops: list[ARIChannel] = field(default_factory=list)
    snoop_target: ARIChannel | None = None
    snoop_spy: str = ""  # in, out, both
    destination: DialDestination | None = None  # what an originated channel dialled
    home_app: tuple[str, str] | None = None  # the application shown once it leaves Stasis
    dialstring: str = ""  # for channels.dial of a channels.create channel
    talks: bool = False  # the party on this channel speaks (recordings hear it)
    moh: str | None = None
    silence: bool = False
    on_hold: bool = False
    muted: str = ""  # "", in, out, both
    hanging_up: bool = False
    gone: bool = False
    cause: int = 16
    hangup_source: str = ""
    spec: CallSpec | None = None
    continues: list[tuple[str, str, int]] = field(default_factory=list)
    exec_runs: list[tuple[str, str, str]] = field(default_factory=list)
    stasis_statuses: list[str] = field(default_factory=list)
    events: list[JSON] = field(default_factory=list)  # every event sent about it
    timers: list[Scheduled] = field(default_factory=list)
    commands: int = 0  # REST operations on it (caller scripts count them)
    on_destroyed: list[Callable[[], None]] = field(default_factory=list)
    finished: Deferred[ARICallRecord] = field(default_factory=Deferred)
    stasis_waiter: Deferred[tuple[str, str, int]] | None = None
    stasis_return: tuple[str, str, int] | None = None
    #: Emulated dialplan routines whose Stasis() the channel left for another place (an
    #: excursion), by the location right after that Stasis(): continued there, one resumes.
    suspended: dict[tuple[str, str, int], Deferred[tuple[str, str, int]]] = field(
        default_factory=dict)

    # -- identity ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The channel name (``PJSIP/alice-00000001``, ``Local/x@ctx-00000001;1``)."""
        return self.media.name

    @property
    def location(self) -> tuple[str, str, int]:
        """(context, extension, priority) of its dialplan position."""
        return self.media.context, self.media.extension, self.media.priority

    def set_location(self, context: str, exten: str, priority: int) -> None:
        """Move the channel's dialplan position."""
        self.media.context, self.media.extension, self.media.priority = context, exten, priority

    def set_state(self, state: str) -> None:
        """Change the channel state (and the media channel's numeric one)."""
        self.state = state
        if state == "Up":
            self.media.state = STATE_UP
        elif state == "Ringing":
            self.media.state = STATE_RINGING

    def epoch(self) -> float:
        """The channel's time now, in seconds since 1970."""
        return self.epoch0 + self.media.timeline.now()

    def later(self, seconds: float, action: Callable[[], None]) -> Scheduled:
        """Run ``action`` after ``seconds`` call seconds; cancelled when the channel goes."""
        scheduled = self.media.timeline.call_later(seconds, action)
        self.timers.append(scheduled)
        return scheduled

    def cancel_timers(self) -> None:
        """Cancel every pending timer of the channel."""
        timers, self.timers = self.timers, []
        for scheduled in timers:
            scheduled.cancel()

    # -- JSON --------------------------------------------------------------------------------

    def to_json(self) -> JSON:
        """The Channel model, as Asterisk sends it."""
        context, exten, priority = self.location
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": {"name": self.caller[0], "number": self.caller[1]},
            "connected": {"name": self.connected[0], "number": self.connected[1]},
            "accountcode": self.media.accountcode,
            "dialplan": {
                "context": context,
                "exten": exten,
                "priority": priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": ari_timestamp(self.epoch0),
            "language": self.media.language,
        }


class ARIFault(Exception):
    """An error answer of a REST operation: ``{"message": …}`` with ``status``."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key  # ast_ari_response_alloc_failed answers {"error": …}

    @property
    def body(self) -> JSON:
        """The JSON answer."""
        return {self.key: self.message}


@dataclass
class RestCall:
    """One REST operation being answered: its path and query/body parameters."""

    server: EmulatedARIServer
    nickname: str
    path: dict[str, str]
    params: dict[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        """A parameter (query, body or path), or ``default``."""
        if name in self.path:
            return self.path[name]
        return self.params.get(name, default)

    def channel(self, key: str = "channelId", message: str = "Channel not found") -> ARIChannel:
        """The channel the operation names, or 404."""
        found = self.server.channels.get(str(self.get(key)))
        if found is None or found.gone:
            raise ARIFault(404, message)
        return found

    def controlled(self, key: str = "channelId") -> ARIChannel:
        """The channel, which must be in a Stasis application (404, else 409)."""
        channel = self.channel(key)
        if channel.stasis_app is None or channel.hanging_up:
            raise ARIFault(409, "Channel not in Stasis application")
        return channel

    def live(self, key: str = "channelId") -> ARIChannel:
        """A controlled channel in a state that allows media and dialplan moves (412 for an
        outbound channel still Down or Ringing, as resource_channels.c answers)."""
        channel = self.controlled(key)
        if channel.state in ("Down", "Ringing"):
            raise ARIFault(412, "Channel in invalid state")
        return channel


#: What a REST operation answers: the status and the JSON body (None: no body).
Reply = tuple[int, Any]
Handler = Callable[[RestCall], Reply]


def event(kind: str, timestamp: str, *fields: tuple[str, Any]) -> JSON:
    """An event whose own fields follow ``type`` and ``timestamp``."""
    message: JSON = {"type": kind, "timestamp": timestamp}
    message.update(fields)
    return message


def blob_event(kind: str, timestamp: str, blob: list[tuple[str, Any]],
               *fields: tuple[str, Any]) -> JSON:
    """An event Asterisk builds from a blob: the blob's fields come first."""
    message: JSON = dict(blob)
    message["type"] = kind
    message["timestamp"] = timestamp
    message.update(fields)
    return message


@dataclass
class ARICallRecord:
    """What happened to one channel of the emulated ARI server, once it is gone.

    ``continued_at`` is where the dialplan went when the application let the channel go
    (``continueInDialplan``), the last such place (None: it never left Stasis that way);
    ``continues`` lists every continue in order (excursions included). ``stasis_status`` is the
    last ``STASISSTATUS`` (``SUCCESS``, or ``FAILED`` when no application was connected).
    ``played`` uses the FastAGI emulator's spelling: sound file names (``hello-world``), and for
    ``digits:``/``number:``/``characters:`` media the files Asterisk says them with
    (``digits/4``…), so backend-neutral tests read both alike. ``hangup_source`` is
    ``caller`` (the script, or the called party), ``ari`` (``DELETE /channels``),
    ``dialplan`` (the call ended in the dialplan) or ``test`` (:meth:`hangup` of the server).
    """

    channel_id: str
    channel: str
    spec: CallSpec | None
    variables: dict[str, str]
    continued_at: tuple[str, str, int] | None
    continues: list[tuple[str, str, int]]
    stasis_status: str
    stasis_statuses: list[str]
    hangup_cause: int
    hangup_source: str
    hangup_time: float | None
    duration: float
    played: list[str] = field(default_factory=list)
    digits: str = ""
    dropped_digits: str = ""
    dtmf_sent: str = ""
    exec_runs: list[tuple[str, str, str]] = field(default_factory=list)
    events: list[JSON] = field(default_factory=list)
    log: list[TimedEvent] = field(default_factory=list)

    @property
    def uniqueid(self) -> str:
        """The channel's Uniqueid (the same as its ARI id)."""
        return self.channel_id

    @property
    def hung_up(self) -> bool:
        """Whether the caller (or the called party) hung up, rather than gtx or the dialplan."""
        return self.hangup_source == "caller"

    @property
    def continues_at(self) -> tuple[str, str, int] | None:
        """Alias of :attr:`continued_at` (the FastAGI record's name)."""
        return self.continued_at

    @property
    def event_types(self) -> list[str]:
        """The types of :attr:`events`, in order."""
        return [str(e.get("type")) for e in self.events]


def record_of(channel: ARIChannel) -> ARICallRecord:
    """The record of a channel (see :class:`ARICallRecord`)."""
    media = channel.media
    statuses = channel.stasis_statuses
    return ARICallRecord(
        channel_id=channel.id,
        channel=channel.name,
        spec=channel.spec,
        variables=dict(media.variables),
        continued_at=channel.continues[-1] if channel.continues else None,
        continues=list(channel.continues),
        stasis_status=statuses[-1] if statuses else "",
        stasis_statuses=list(statuses),
        hangup_cause=channel.cause,
        hangup_source=channel.hangup_source,
        hangup_time=media.hangup_time,
        duration=media.timeline.now(),
        played=list(media.played),
        digits="".join(media.digits_consumed),
        dropped_digits="".join(media.digits_dropped),
        dtmf_sent="".join(media.dtmf_sent),
        exec_runs=list(channel.exec_runs),
        events=list(channel.events),
        log=list(media.log),
    )
