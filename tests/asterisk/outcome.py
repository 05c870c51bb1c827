"""Read the outcome of a Deferred that must already have fired (no reactor involved)."""

from __future__ import annotations

from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

T = TypeVar("T")


def result_of(deferred: Deferred[T]) -> T:
    """The value ``deferred`` fired with; fails the test if it has not fired or failed."""
    outcome: list[Any] = []
    deferred.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]  # type: ignore[no-any-return]


def failure_of(deferred: Deferred[Any], *expected: type[BaseException]) -> BaseException:
    """The exception ``deferred`` failed with, checked against ``expected``."""
    outcome: list[Any] = []
    deferred.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    assert isinstance(outcome[0], Failure), f"expected a failure, got {outcome[0]!r}"
    assert outcome[0].check(*expected), f"unexpected failure {outcome[0].value!r}"
    return outcome[0].value


def pending(deferred: Deferred[Any]) -> bool:
    """True when ``deferred`` has not fired yet."""
    return not deferred.called
