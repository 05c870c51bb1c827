"""The dialer's domain: calls (attempts), campaigns, contacts, and the events sent about them.

These are plain values. :mod:`gtx.dialer.validate` builds them from XML-RPC arguments (and
refuses bad input with faults naming the field); :mod:`gtx.store` keeps them; the dialer engine
(:mod:`gtx.dialer.engine`) moves them through their states.

A **call** is one origination: a single call placed with ``dialer.call``, or one attempt of a
campaign at one contact. Its ``state`` goes queued → dialing → ringing → answered → completed
(a call can skip states: a busy line goes dialing → completed), and it ends with exactly one
final ``outcome``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum


class CallState(StrEnum):
    """Where a call is. Only ``completed`` is final."""

    QUEUED = "queued"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"


class Outcome(StrEnum):
    """How a call ended: exactly one per completed call."""

    ANSWERED = "answered"  # answered (by a person, or AMD was off / not sure) and handed on
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang for the whole timeout
    CONGESTION = "congestion"  # the network could not route it
    FAILED = "failed"  # refused or broken (no such extension, channel unavailable, AMI error)
    MACHINE = "machine"  # answered by an answering machine (AMD)
    ABANDONED = "abandoned"  # answered, but no agent was free within 2 s (predictive/power)
    CANCELED = "canceled"  # hung up by dialer.hangup, a stopped campaign, or a shutdown


class CampaignMode(StrEnum):
    PREVIEW = "preview"  # an agent asks for the next contact and decides to dial it
    PROGRESSIVE = "progressive"  # one call per free agent
    POWER = "power"  # a fixed ratio of calls per free agent
    PREDICTIVE = "predictive"  # a ratio adapted to keep the abandon rate under a target
    BROADCAST = "broadcast"  # no agents: every answered call goes to on_answer


class CampaignState(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class ContactState(StrEnum):
    PENDING = "pending"  # waiting to be dialled (now, or at next_attempt_at)
    DIALING = "dialing"  # claimed by a node (lease) and being called
    DONE = "done"  # reached a final result: answered, or retries exhausted
    DNC = "dnc"  # on the do-not-call list: never dialled
    CANCELED = "canceled"  # the campaign was stopped before it was reached


@dataclass(frozen=True)
class OnAnswer:
    """Where an answered call goes: exactly one of the four forms is set."""

    app: str | None = None  # an [ivr:APP] of gtx.ini
    url: str | None = None  # a web service named directly (with method)
    method: str | None = None
    context: str | None = None  # a dialplan location (with extension; priority 1)
    extension: str | None = None
    queue: str | None = None  # an Asterisk queue of agents


@dataclass(frozen=True)
class Callback:
    """An XML-RPC method of the customer's that receives a call's events."""

    url: str
    method: str


@dataclass(frozen=True)
class Window:
    """A calling window: on ``days`` (0 = Monday … 6 = Sunday), from ``start`` to ``end``, in
    the contact's time zone."""

    days: frozenset[int]
    start: time
    end: time


#: The default calling window: every day, 08:00-21:00.
DEFAULT_WINDOWS = (Window(frozenset(range(7)), time(8, 0), time(21, 0)),)


@dataclass(frozen=True)
class RetryRule:
    """For one outcome: how many attempts in total while it repeats, and the delay between."""

    attempts: int
    delay: int  # seconds


@dataclass(frozen=True)
class CallRequest:
    """A single call (``dialer.call``) — also what a campaign attempt is built from."""

    destination: str  # the number
    channel: str  # the dial string template, with {number}
    caller_id: str | None = None
    timeout: int = 30  # seconds of ringing before no_answer
    vars: Mapping[str, object] = field(default_factory=dict)  # channel / session variables
    on_answer: OnAnswer | None = None  # None: the dialplan's gtx-dialer default
    callback: Callback | None = None
    amd: bool = False
    asterisk: str | None = None  # a configured server; None: the first one
    # A scheduled call: not dialled before this time (epoch seconds); None: at once.
    not_before: float | None = None
    # The same, relative: seconds from when the dialer takes the request. The dialer turns it
    # into ``not_before`` before it stores the call, so a stored request never has it.
    delay: float | None = None


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a campaign is created or updated with (``dialer.campaign.create``)."""

    name: str
    mode: CampaignMode
    channel: str
    caller_id: str | None = None
    max_concurrent: int = 10
    max_cps: float = 1.0  # calls started per second, at most
    ratio: float = 1.0  # power: calls per free agent
    abandon_target: float = 0.03  # predictive: the abandon rate to stay under
    queue: str | None = None  # the agents' Asterisk queue (all modes but broadcast)
    timeout: int = 30
    on_answer: OnAnswer | None = None
    amd: bool = False
    retry: Mapping[Outcome, RetryRule] = field(default_factory=dict)
    max_attempts: int = 3  # attempts per contact in total, whatever the outcomes
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    timezone: str = "UTC"  # for contacts without one
    callback: Callback | None = None
    priority: int = 0  # higher is dialled first, across campaigns
    asterisk: str | None = None
    record: float = 0.0  # percent of answered calls recorded: 0 none, 100 all (option record)


@dataclass(frozen=True)
class Campaign:
    """A stored campaign."""

    id: int
    spec: CampaignSpec
    state: CampaignState
    created: float  # epoch seconds
    updated: float


@dataclass(frozen=True)
class ContactInput:
    """A contact as given to ``dialer.campaign.add_contacts``."""

    number: str
    timezone: str | None = None
    vars: Mapping[str, object] = field(default_factory=dict)
    priority: int = 0


@dataclass(frozen=True)
class Contact:
    """A stored contact of a campaign."""

    id: int
    campaign_id: int
    number: str
    timezone: str | None
    vars: Mapping[str, object]
    priority: int
    state: ContactState
    attempts: int  # attempts made so far
    next_attempt_at: float | None  # epoch seconds; None: as soon as possible
    last_outcome: Outcome | None
    lease_owner: str | None  # the node dialling it
    lease_until: float | None


@dataclass(frozen=True)
class Call:
    """One origination, single or of a campaign."""

    call_id: str  # stable from the start: also the ChannelId given to Asterisk
    request: CallRequest
    state: CallState
    created: float
    node: str  # the gtx node that owns it
    campaign_id: int | None = None
    contact_id: int | None = None
    attempt: int = 1  # the attempt number at this contact
    outcome: Outcome | None = None
    cause: str | None = None  # why: Asterisk's hang-up cause, OriginateResponse reason, AMD…
    dialing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    asterisk: str | None = None  # the server it was placed on
    channel: str | None = None  # Asterisk's channel name once known
    recording_id: str | None = None  # the recording started on answer (campaign option record)


@dataclass(frozen=True)
class CallEvent:
    """A state change of a call, as delivered to its callback (at least once, in order).

    ``seq`` counts the events of one call from 1, so a receiver can drop duplicates."""

    call_id: str
    seq: int
    state: CallState
    at: float
    outcome: Outcome | None = None
    data: Mapping[str, object] = field(default_factory=dict)  # campaign, contact, number, cause…
