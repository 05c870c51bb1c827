"""Placing calls on an Asterisk server: the interface the dialer drives.

An :class:`Originator` is one configured Asterisk server seen from the dialer. The AMI adapter
(:mod:`gtx.asterisk.ami_originator`) implements it today; an ARI adapter will implement the same
interface. Nothing under :mod:`gtx.dialer` knows AMI actions or events.

The answered call is originated into the dialplan at ``gtx-dialer,answered,1``
(``dialplan/extensions_gtx.conf``), which runs AMD when asked, then hands the call on (an IVR
app, a dialplan location or a queue of agents) as the channel variables the dialer set say.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from twisted.internet.defer import Deferred

#: Where answered calls enter the dialplan.
ANSWERED_CONTEXT = "gtx-dialer"
ANSWERED_EXTENSION = "answered"


class OriginateError(Exception):
    """The Originate could not be placed."""


class OriginateRefused(OriginateError):
    """Asterisk refused the Originate at once (``Response: Error``), e.g. "Extension does not
    exist." — no event about this call will ever come."""


class OriginatorUnavailable(OriginateError):
    """The link to that Asterisk server is down: nothing was sent. Safe to try again later."""


@dataclass(frozen=True)
class OriginateRequest:
    """One call to place."""

    call_id: str  # given to Asterisk as the channel's ChannelId (its Uniqueid)
    dial_string: str  # e.g. PJSIP/5551234@trunk
    timeout: int  # seconds of ringing before no_answer
    caller_id: str | None = None  # "Name" <number> or a number
    variables: Mapping[str, str] = field(default_factory=dict)  # set on the answered channel
    context: str = ANSWERED_CONTEXT
    extension: str = ANSWERED_EXTENSION
    priority: int = 1


class Progress(StrEnum):
    """What an originator reports about a call it placed."""

    RINGING = "ringing"
    ANSWERED = "answered"  # the called party answered (AMD, if any, still to come)
    ENDED = "ended"  # final: ``outcome`` says how


@dataclass(frozen=True)
class OriginateUpdate:
    """A change in a placed call. ``outcome`` (on ENDED) is one of the dialer's outcomes:
    answered, busy, no_answer, congestion, failed, machine, abandoned, canceled."""

    call_id: str
    progress: Progress
    outcome: str | None = None
    cause: str | None = None  # the detail behind it (Reason 5, Hangup cause 17, AMD cause …)
    channel: str | None = None  # Asterisk's channel name, once known


#: Receives the updates of one call, in order; ENDED comes exactly once, last.
UpdateSink = Callable[[OriginateUpdate], None]


class Originator(Protocol):
    """One Asterisk server, as the dialer uses it."""

    @property
    def name(self) -> str:
        """The server's name in gtx.ini (``[asterisk:NAME]``)."""

    @property
    def connected(self) -> bool:
        """True while the link is up and logged in."""

    def originate(self, request: OriginateRequest, on_update: UpdateSink) -> Deferred[None]:
        """Place the call. Fires once Asterisk has queued it; ``on_update`` then gets its
        progress. Fails with :class:`OriginateRefused` (refused at once: no update will come)
        or :class:`OriginatorUnavailable` (link down: nothing was sent)."""

    def hangup(self, call_id: str) -> Deferred[None]:
        """Hang up a placed call (its ENDED update then says ``canceled``)."""

    def track(self, call_id: str, on_update: UpdateSink) -> None:
        """Follow a call placed earlier (by this process before a restart, or before the link
        dropped): its updates go to ``on_update``; a call no longer on the server is reported
        ENDED at the next resynchronisation."""
