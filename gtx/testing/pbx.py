"""The emulated Asterisk server: what all its calls share, and how a call is described.

:class:`EmulatedAsterisk` holds the sound catalogue, the AstDB, the scripted dial destinations,
queues and conferences, and the clock; :class:`CallSpec` describes one call handed to
``AGI(agi://…)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from gtx.testing.emulated_channel import STATE_RINGING, STATE_UP, EmulatedChannel
from gtx.testing.sounds import SoundCatalogue
from gtx.testing.timeline import InstantTimeline, PacedTimeline, Timeline

#: The version string of the Asterisk the reference transcripts were taken from.
ASTERISK_VERSION = "GIT-master-f0c1c1a7b7"


#: Runs the call another server answers (see :meth:`DialDestination.server`): given the dialled
#: target, the values that cross with the call (keyed like :attr:`CallSpec.inherited`) and the
#: calling channel; fires when that call ends.
RemoteCall = Callable[[str, Mapping[str, str], EmulatedChannel], "Deferred[object]"]


@dataclass(frozen=True)
class DialDestination:
    """How a dial target behaves when Dial() rings it.

    ``outcome`` is ANSWER, BUSY, NOANSWER, CONGESTION or CHANUNAVAIL. An answered target picks up
    after ``ring_seconds`` and hangs up after ``talk_seconds`` (None: talks until the caller
    hangs up). BUSY and CONGESTION are signalled after ``ring_seconds``; NOANSWER rings until
    Dial's timeout; CHANUNAVAIL fails at once.

    ``amd_status``/``amd_cause`` are what AMD() concludes on the answered call (the emulated
    AMI dialplan reports them): HUMAN by default, MACHINE for :meth:`machine`.
    """

    outcome: str = "ANSWER"
    ring_seconds: float = 2.0
    talk_seconds: float | None = 10.0
    amd_status: str = "HUMAN"
    amd_cause: str = "HUMAN-500-500"
    remote: RemoteCall | None = None

    @classmethod
    def server(cls, call: RemoteCall, after: float = 0.5) -> DialDestination:
        """Another Asterisk server (an IAX2 or PJSIP trunk): it answers after ``after``
        seconds and runs ``call`` — e.g. an AGI call on a second :class:`EmulatedAsterisk`,
        :func:`gtx.testing.handoff.remote_asterisk` — with the IAXVAR()/PJSIP_HEADER(add,…)
        values set on the caller's channel; Dial lasts until that call ends."""
        return cls("ANSWER", after, None, remote=call)

    @classmethod
    def answer(cls, after: float = 2.0, talk: float | None = 10.0) -> DialDestination:
        """Picks up after ``after`` seconds and talks for ``talk`` seconds."""
        return cls("ANSWER", after, talk)

    @classmethod
    def machine(
        cls, after: float = 2.0, talk: float | None = 20.0, cause: str = "LONGGREETING-1500-1500"
    ) -> DialDestination:
        """An answering machine: picks up after ``after`` seconds and plays its greeting for
        ``talk`` seconds; AMD() says MACHINE with ``cause``."""
        return cls("ANSWER", after, talk, "MACHINE", cause)

    @classmethod
    def busy(cls, after: float = 1.0) -> DialDestination:
        """Signals busy after ``after`` seconds."""
        return cls("BUSY", after, None)

    @classmethod
    def no_answer(cls) -> DialDestination:
        """Rings until Dial gives up."""
        return cls("NOANSWER", 0.0, None)

    @classmethod
    def congestion(cls, after: float = 0.5) -> DialDestination:
        """Signals congestion after ``after`` seconds."""
        return cls("CONGESTION", after, None)

    @classmethod
    def unavailable(cls) -> DialDestination:
        """The channel cannot be created (unknown endpoint, unreachable peer)."""
        return cls("CHANUNAVAIL", 0.0, None)


@dataclass(frozen=True)
class QueueBehaviour:
    """How a queue treats a caller: an agent answers after ``wait_seconds`` and talks
    ``talk_seconds`` (``status`` None), or the caller leaves with that QUEUESTATUS
    (TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL) after ``wait_seconds``."""

    status: str | None = None
    wait_seconds: float = 5.0
    talk_seconds: float = 10.0


@dataclass(frozen=True)
class CallSpec:
    """One call entering ``AGI()``: the channel as Asterisk describes it in the environment.

    ``request`` is the AGI() URL (``agi://host:port/script?query``, kept URL-encoded), ``args``
    the AGI() arguments after it. ``variables`` are set on the channel before AGI() runs (e.g.
    ``GTX_URL``); ``inherited`` holds values that crossed from another server, keyed the way
    dialplan functions read them (``{"IAXVAR(GTX_SESSION)": "…"}``). Empty ``channel`` and
    ``uniqueid`` are filled in by the :class:`EmulatedAsterisk` like Asterisk numbers them.
    """

    request: str = "agi://127.0.0.1:4573/ivr"
    args: Sequence[str] = ()
    channel: str = ""
    uniqueid: str = ""
    caller_number: str | None = None  # None: no caller id ("unknown")
    caller_name: str | None = None
    dnid: str | None = None
    rdnis: str | None = None
    context: str = "gtx-test"
    extension: str = "agi"
    priority: int = 3
    language: str = "en"
    accountcode: str = ""
    answered: bool = True  # the dialplan ran Answer() before AGI()
    variables: Mapping[str, str] = field(default_factory=dict)
    inherited: Mapping[str, str] = field(default_factory=dict)
    peer: str = ""  # CHANNEL(peername), for SIP/IAX2 channels
    calling_pres: int | None = None  # None: 0 with a caller number, 67 (unavailable) without
    thread_id: int = 140200822597312
    caller_talks: bool = False  # RECORD FILE receives audio (endpos grows) when True

    @classmethod
    def from_environment(cls, environment: Mapping[str, str], **overrides: object) -> CallSpec:
        """The call an AGI environment describes (e.g. a recorded transcript's), so that the
        emulator sends the very same environment block. ``overrides`` set other fields."""

        def known(key: str) -> str | None:
            value = environment.get(key, "unknown")
            return None if value == "unknown" else value

        args = [v for k, v in environment.items() if k.startswith("agi_arg_")]
        fields: dict[str, object] = {
            "request": environment["agi_request"],
            "args": tuple(args),
            "channel": environment["agi_channel"],
            "uniqueid": environment["agi_uniqueid"],
            "caller_number": known("agi_callerid"),
            "caller_name": known("agi_calleridname"),
            "dnid": known("agi_dnid"),
            "rdnis": known("agi_rdnis"),
            "context": environment["agi_context"],
            "extension": environment["agi_extension"],
            "priority": int(environment["agi_priority"]),
            "language": environment.get("agi_language", "en"),
            "accountcode": environment.get("agi_accountcode", ""),
            "calling_pres": int(environment.get("agi_callingpres", "0")),
            "thread_id": int(environment.get("agi_threadid", "0")),
        }
        fields.update(overrides)
        return cls(**fields)  # type: ignore[arg-type]  # keys are CallSpec's own field names

    @property
    def script(self) -> str:
        """``agi_network_script``: what follows ``host:port/`` in the request, still encoded."""
        rest = self.request.split("://", 1)[-1]
        return rest.partition("/")[2]

    @property
    def host(self) -> str:
        """The FastAGI server host of the request."""
        return urlsplit(self.request).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The FastAGI server port of the request (4573 by default, as in Asterisk)."""
        return urlsplit(self.request).port or 4573


class EmulatedAsterisk:
    """What the calls of one emulated Asterisk share (see the module docstring).

    ``clock`` drives time (a ``Clock`` in tests, the reactor otherwise). ``time_scale`` is
    reactor seconds per call second; 0 runs calls in zero time (see
    :class:`~gtx.testing.timeline.InstantTimeline`). ``epoch`` is the wall-clock time of the
    clock's zero, for ``${EPOCH}`` and unique ids.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        time_scale: float = 1.0,
        sounds: SoundCatalogue | None = None,
        destinations: Mapping[str, DialDestination] | None = None,
        queues: Mapping[str, QueueBehaviour] | None = None,
        conference_seconds: float = 10.0,
        epoch: float = 1795304604.0,
        name: str = "pbx1",
    ) -> None:
        self.clock = clock
        self.time_scale = time_scale
        self.sounds = sounds if sounds is not None else SoundCatalogue()
        self.destinations: dict[str, DialDestination] = dict(destinations or {})
        self.queues: dict[str, QueueBehaviour] = dict(queues or {})
        self.conference_seconds = conference_seconds
        self.db: dict[tuple[str, str], str] = {}
        self.name = name
        self._epoch = epoch - clock.seconds()
        self._unique = itertools.count(1)
        self._local = itertools.count(0)

    def epoch(self) -> float:
        """Wall-clock seconds now, as the emulated Asterisk sees them."""
        return self._epoch + self.clock.seconds()

    def new_uniqueid(self) -> str:
        """A channel Uniqueid as Asterisk numbers them (``EPOCH.N``, N counting channels)."""
        return f"{int(self.epoch())}.{next(self._unique)}"

    def new_channel_number(self) -> str:
        """The sequence part of a channel name (``Local/x@ctx-0000000a;1``), in hex."""
        return f"{next(self._local):08x}"

    def timeline(self) -> Timeline:
        """A new call clock."""
        if self.time_scale == 0:
            return InstantTimeline()
        return PacedTimeline(self.clock, self.time_scale)

    def new_channel(self, spec: CallSpec, timeline: Timeline) -> EmulatedChannel:
        """The channel of a new call, named and numbered like Asterisk does."""
        number = next(self._unique)
        uniqueid = spec.uniqueid or f"{int(self.epoch())}.{number}"
        name = spec.channel or f"Local/{spec.extension}@{spec.context}-{next(self._local):08x};2"
        channel = EmulatedChannel(
            timeline=timeline,
            name=name,
            uniqueid=uniqueid,
            caller_number=spec.caller_number,
            caller_name=spec.caller_name,
            dnid=spec.dnid,
            rdnis=spec.rdnis,
            context=spec.context,
            extension=spec.extension,
            priority=spec.priority,
            language=spec.language,
            accountcode=spec.accountcode,
            state=STATE_UP if spec.answered else STATE_RINGING,
            peer=spec.peer,
        )
        channel.variables.update(spec.variables)
        channel.inherited.update(spec.inherited)
        return channel

    def environment(self, spec: CallSpec, channel: EmulatedChannel) -> list[tuple[str, str]]:
        """The AGI environment block, key by key, in Asterisk's order."""
        pres = spec.calling_pres
        if pres is None:
            pres = 0 if spec.caller_number is not None else 67
        env = [("agi_network", "yes")]
        if spec.script:
            env.append(("agi_network_script", spec.script))
        env += [
            ("agi_request", spec.request),
            ("agi_channel", channel.name),
            ("agi_language", channel.language),
            ("agi_type", channel.name.split("/", 1)[0]),
            ("agi_uniqueid", channel.uniqueid),
            ("agi_version", ASTERISK_VERSION),
            ("agi_callerid", _or_unknown(channel.caller_number)),
            ("agi_calleridname", _or_unknown(channel.caller_name)),
            ("agi_callingpres", str(pres)),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", _or_unknown(channel.dnid)),
            ("agi_rdnis", _or_unknown(channel.rdnis)),
            ("agi_context", channel.context),
            ("agi_extension", channel.extension),
            ("agi_priority", str(channel.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", channel.accountcode),
            ("agi_threadid", str(spec.thread_id)),
        ]
        env += [(f"agi_arg_{n}", arg) for n, arg in enumerate(spec.args, start=1)]
        return env


def _or_unknown(value: str | None) -> str:
    return value if value else "unknown"
