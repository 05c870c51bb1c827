"""How the end of a placed call reads as one of the dialer's outcomes, over AMI or ARI alike.

Pure functions, no I/O. The outcomes are the dialer's: answered, busy, no_answer, congestion,
failed, machine, abandoned, canceled (:class:`gtx.origination.OriginateUpdate`). What is
specific to one protocol stays with it (:mod:`gtx.asterisk.ami_outcomes` reads an
``OriginateResponse`` Reason); what both see is here:

- a Q.850 hangup cause (AMI ``Hangup`` ``Cause``, ARI ``ChannelDestroyed`` ``cause``);
- the status of the dial (``DIALSTATUS``: ARI's ``Dial`` event ``dialstatus``);
- the reports of the ``[gtx-dialer]`` dialplan (``dialplan/extensions_gtx.conf``):
  ``UserEvent(GtxAmd,…)`` and ``UserEvent(GtxAbandoned,…)``, an AMI ``UserEvent`` or an ARI
  ``ChannelUserevent``, which give an answered call its verdict (machine, abandoned);
- the final outcome of an answered call, and of a call found gone after the link was down.
"""

from __future__ import annotations

#: Q.850 hangup causes that say more than "failed".
CAUSE_OUTCOMES: dict[int, str] = {
    17: "busy",  # user busy
    18: "no_answer",  # no user responding
    19: "no_answer",  # user alerting, no answer
    21: "no_answer",  # call rejected
    34: "congestion",  # no circuit/channel available
    38: "congestion",  # network out of order
    41: "congestion",  # temporary failure
    42: "congestion",  # switching equipment congestion
    44: "congestion",  # requested channel not available
}

#: DIALSTATUS values that end an attempt, with their outcome. ``CANCEL`` is the dial given up
#: by the calling side: gtx's own hang-up (canceled) or, otherwise, a failure.
DIAL_STATUS_OUTCOMES: dict[str, str] = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "failed",
    "CANCEL": "failed",
    "DONTCALL": "failed",
    "TORTURE": "failed",
    "INVALIDARGS": "failed",
}

#: The dialplan's user events that say a call was answered (each may carry a verdict).
AMD_EVENT = "GtxAmd"
ABANDONED_EVENT = "GtxAbandoned"
ANSWER_EVENTS = frozenset({AMD_EVENT, ABANDONED_EVENT})


def as_int(text: str) -> int | None:
    """``text`` as an integer (surrounding blanks allowed), else None."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def hangup_cause_text(cause: str, cause_txt: str = "") -> str:
    """``cause 17 (User busy)`` for a hangup cause and its text."""
    return f"cause {cause} ({cause_txt})" if cause_txt else f"cause {cause}"


def outcome_for_cause(cause: str) -> str | None:
    """The outcome a Q.850 cause says clearly, else None."""
    number = as_int(cause)
    return CAUSE_OUTCOMES.get(number) if number is not None else None


def dial_status_outcome(status: str) -> str | None:
    """The outcome of a dial that ended with ``status`` (None: not an end, e.g. RINGING)."""
    return DIAL_STATUS_OUTCOMES.get(status.strip().upper())


def dialplan_verdict(kind: str, status: str | None = None,
                     cause: str | None = None) -> tuple[str, str] | None:
    """The (verdict, detail) of a ``[gtx-dialer]`` user event: ``GtxAmd`` with ``Status:
    MACHINE`` → machine, ``GtxAbandoned`` → abandoned; None for any other (a person, or an
    event that is no verdict). Whether it is an answer at all: :data:`ANSWER_EVENTS`."""
    if kind == AMD_EVENT and status == "MACHINE":
        return "machine", f"AMD {status} {cause or ''}".strip()
    if kind == ABANDONED_EVENT:
        return "abandoned", "no agent in time"
    return None


def answered_end(*, canceled: bool, verdict: str | None, verdict_cause: str | None,
                 hangup: str) -> tuple[str, str]:
    """(outcome, detail) of an answered call that hung up: ``canceled`` when gtx hung it up,
    else its verdict (machine, abandoned) or ``answered``; ``hangup`` describes the hang-up
    (its cause), the detail when no verdict says more."""
    if canceled:
        return "canceled", hangup
    if verdict is not None:
        return verdict, verdict_cause or hangup
    return "answered", hangup


def gone_outcome(*, canceled: bool, answered: bool, verdict: str | None) -> str:
    """The outcome of a call found gone when the link came back: ``canceled`` if gtx was
    hanging it up, its verdict or ``answered`` if it had been answered, else ``failed``."""
    if canceled:
        return "canceled"
    if answered:
        return verdict or "answered"
    return "failed"
