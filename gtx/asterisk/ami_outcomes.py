"""How Asterisk's AMI reports the end of an originated call, read as the dialer's outcomes.

Pure functions, no I/O. The outcomes are the dialer's: answered, busy, no_answer, congestion,
failed, machine, abandoned, canceled (:class:`gtx.origination.OriginateUpdate`).

``OriginateResponse`` carries a ``Reason``: the last control frame the dialled channel sent
before the attempt ended (include/asterisk/frame.h, ``AST_CONTROL_*``). Seen on a real
Asterisk (tests/fixtures/asterisk/transcripts/ami-originate-outcomes.txt): 4 answered, 5 busy,
0 nonexistent destination, 3 no answer within ``Timeout``. A ``Hangup`` event carries a Q.850
``Cause`` (17 User busy, 19 User alerting, no answer …), which refines a vague reason; the
cause table, shared with ARI, is in :mod:`gtx.asterisk.call_outcomes`.
"""

from __future__ import annotations

from gtx.asterisk.call_outcomes import (
    CAUSE_OUTCOMES,
    as_int,
    hangup_cause_text,
    outcome_for_cause,
)

__all__ = [
    "CAUSE_OUTCOMES",
    "ENDED_WHILE_DOWN",
    "REASON_OUTCOMES",
    "hangup_cause_text",
    "outcome_for_cause",
    "unanswered_outcome",
]

#: OriginateResponse Reason → outcome.
REASON_OUTCOMES: dict[int, tuple[str, str]] = {
    0: ("failed", "the call could not be placed"),
    1: ("no_answer", "hung up before answering"),
    3: ("no_answer", "rang without answer until the timeout"),
    4: ("answered", "answered"),
    5: ("busy", "busy"),
    8: ("congestion", "congestion"),
}

#: The cause given to calls found gone by a resynchronisation.
ENDED_WHILE_DOWN = "ended while the AMI link was down"


def unanswered_outcome(
    reason: str | None, cause: str | None = None, cause_txt: str = ""
) -> tuple[str, str]:
    """(outcome, detail) of an attempt that ended before any answer.

    ``reason`` is the OriginateResponse's Reason (None when it never came); ``cause`` and
    ``cause_txt`` those of the call's Hangup event when one was seen. A definite reason (busy,
    no answer, congestion) wins; a vague one (0 failed, 1 hung up, none) is refined by the
    hangup cause."""
    number = as_int(reason) if reason is not None else None
    if number is None:
        outcome, detail = "failed", "no OriginateResponse"
    else:
        outcome, why = REASON_OUTCOMES.get(number, ("failed", "unknown reason"))
        detail = f"Reason {number}: {why}"
        if outcome == "answered":  # cannot end an unanswered call: keep the detail honest
            outcome = "failed"
    if cause is not None:
        detail = f"{detail}, hangup {hangup_cause_text(cause, cause_txt)}"
        refined = outcome_for_cause(cause)
        if refined is not None and number not in (3, 5, 8):
            outcome = refined
    return outcome, detail
