"""What happens to a contact after one of its attempts: done, or dialled again later.

The campaign's rules (``retry``) say, per outcome, how many attempts a contact gets in total
while that outcome repeats, and the delay before the next one; ``max_attempts`` bounds the
attempts of a contact whatever the outcomes.

- ``answered`` and ``machine`` end the contact unless a rule for them says otherwise.
- ``canceled`` (a hang-up through the API, a stopped campaign) ends it as canceled.
- Any other outcome (busy, no_answer, congestion, failed, abandoned) without a rule is tried
  again after :data:`DEFAULT_RETRY_DELAY`, up to ``max_attempts``.

A rule's ``attempts`` is compared with the number of the attempt that just ended: when the same
outcome repeats, that is the number of attempts with that outcome (``busy: {attempts: 3}`` — a
line busy three times is not dialled a fourth time). When outcomes alternate the count is the
contact's attempts in total, which can only stop earlier, never dial more.
"""

from __future__ import annotations

from gtx.dialer.model import CampaignSpec, ContactState, Outcome
from gtx.store.api import ContactOutcome

#: Seconds before an attempt is repeated when the campaign has no rule for its outcome.
DEFAULT_RETRY_DELAY = 300

#: Outcomes that end a contact unless a rule says to retry.
FINAL_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.MACHINE})


def next_step(spec: CampaignSpec, attempt: int, outcome: Outcome, now: float) -> ContactOutcome:
    """How the contact moves on after its attempt number ``attempt`` ended with ``outcome``."""
    if outcome is Outcome.CANCELED:
        return ContactOutcome(ContactState.CANCELED, None, outcome)
    done = ContactOutcome(ContactState.DONE, None, outcome)
    if attempt >= spec.max_attempts:
        return done
    rule = spec.retry.get(outcome)
    if rule is None:
        if outcome in FINAL_OUTCOMES:
            return done
        return ContactOutcome(ContactState.PENDING, now + DEFAULT_RETRY_DELAY, outcome)
    if attempt >= rule.attempts:
        return done
    return ContactOutcome(ContactState.PENDING, now + rule.delay, outcome)
