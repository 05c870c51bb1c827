"""The contact's next step after an attempt: retry rules per outcome and max_attempts."""

from __future__ import annotations

from gtx.dialer.model import CampaignMode, CampaignSpec, ContactState, Outcome, RetryRule
from gtx.dialer.retry import DEFAULT_RETRY_DELAY, next_step

SPEC = CampaignSpec(name="c", mode=CampaignMode.BROADCAST, channel="PJSIP/{number}",
                    max_attempts=5,
                    retry={Outcome.BUSY: RetryRule(attempts=3, delay=60),
                           Outcome.MACHINE: RetryRule(attempts=2, delay=3600)})


def test_busy_retried_until_its_rule_attempts() -> None:
    first = next_step(SPEC, 1, Outcome.BUSY, 1000.0)
    assert (first.state, first.next_attempt_at) == (ContactState.PENDING, 1060.0)
    assert next_step(SPEC, 2, Outcome.BUSY, 0.0).state is ContactState.PENDING
    assert next_step(SPEC, 3, Outcome.BUSY, 0.0).state is ContactState.DONE


def test_answered_is_done() -> None:
    step = next_step(SPEC, 1, Outcome.ANSWERED, 0.0)
    assert (step.state, step.last_outcome) == (ContactState.DONE, Outcome.ANSWERED)


def test_machine_retried_when_a_rule_says_so() -> None:
    assert next_step(SPEC, 1, Outcome.MACHINE, 0.0).next_attempt_at == 3600.0
    assert next_step(SPEC, 2, Outcome.MACHINE, 0.0).state is ContactState.DONE


def test_outcome_without_rule_retried_after_default_delay_up_to_max_attempts() -> None:
    step = next_step(SPEC, 4, Outcome.NO_ANSWER, 100.0)
    assert step.next_attempt_at == 100.0 + DEFAULT_RETRY_DELAY
    assert next_step(SPEC, 5, Outcome.NO_ANSWER, 0.0).state is ContactState.DONE


def test_max_attempts_bounds_every_rule() -> None:
    spec = CampaignSpec(name="c", mode=CampaignMode.BROADCAST, channel="x", max_attempts=2,
                        retry={Outcome.BUSY: RetryRule(attempts=10, delay=1)})
    assert next_step(spec, 2, Outcome.BUSY, 0.0).state is ContactState.DONE


def test_canceled_contact_is_canceled() -> None:
    assert next_step(SPEC, 1, Outcome.CANCELED, 0.0).state is ContactState.CANCELED
