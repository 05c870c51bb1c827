"""Pacing as pure functions: calls per mode, the calls-per-second budget, the predictive ratio."""

from __future__ import annotations

import pytest

from gtx.dialer.model import CampaignMode, Outcome
from gtx.dialer.pacing import AnswerWindow, CallRate, PredictiveRatio, calls_wanted


def wanted(mode: CampaignMode, free: int = 0, ratio: float = 1.0, waiting: int = 0,
           in_flight: int = 0, max_concurrent: int = 100) -> int:
    return calls_wanted(mode, free_agents=free, ratio=ratio, waiting=waiting,
                        in_flight=in_flight, max_concurrent=max_concurrent)


def test_preview_never_dials_by_itself() -> None:
    assert wanted(CampaignMode.PREVIEW, free=10) == 0


def test_progressive_one_call_per_free_agent_minus_calls_waiting() -> None:
    assert wanted(CampaignMode.PROGRESSIVE, free=3) == 3
    assert wanted(CampaignMode.PROGRESSIVE, free=3, waiting=2) == 1
    assert wanted(CampaignMode.PROGRESSIVE, free=1, waiting=2) == 0


def test_power_dials_ratio_calls_per_free_agent() -> None:
    assert wanted(CampaignMode.POWER, free=4, ratio=2.5) == 10
    assert wanted(CampaignMode.POWER, free=4, ratio=2.5, waiting=7) == 3
    assert wanted(CampaignMode.POWER, free=0, ratio=3) == 0


def test_broadcast_fills_max_concurrent_without_agents() -> None:
    assert wanted(CampaignMode.BROADCAST, in_flight=7, max_concurrent=10) == 3
    assert wanted(CampaignMode.BROADCAST, in_flight=12, max_concurrent=10) == 0


def test_every_mode_is_bounded_by_max_concurrent() -> None:
    assert wanted(CampaignMode.POWER, free=10, ratio=3, in_flight=5, max_concurrent=8) == 3


@pytest.mark.parametrize(("cps", "per_second"), [(1, 1), (2, 2), (5, 5)])
def test_call_rate_allows_at_most_max_cps_in_any_second(cps: float, per_second: int) -> None:
    rate = CallRate(cps)
    starts: list[float] = []
    t = 0.0
    while t < 10:
        for _ in range(rate.available(t)):
            rate.started(t)
            starts.append(t)
        t = round(t + 0.05, 2)
    for second in range(10):
        assert sum(second <= s < second + 1 for s in starts) == per_second
    for s in starts:  # sliding: no 1-second span holds more either
        assert sum(s <= x < s + 1 for x in starts) <= per_second


def test_call_rate_below_one_per_second_spaces_calls() -> None:
    rate = CallRate(0.5)
    starts = []
    t = 0.0
    while t < 10:
        if rate.available(t):
            rate.started(t)
            starts.append(t)
        t = round(t + 0.25, 2)
    assert starts == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_predictive_ratio_is_one_before_enough_calls() -> None:
    assert PredictiveRatio(0.03).ratio(calls=10, live=2, abandon_rate=0) == 1.0


def test_predictive_ratio_is_one_over_answer_rate_without_abandons() -> None:
    assert PredictiveRatio(0.03).ratio(calls=100, live=40, abandon_rate=0) == pytest.approx(2.5)
    assert PredictiveRatio(0.03, max_ratio=4).ratio(calls=100, live=10, abandon_rate=0) == 4.0


def test_predictive_ratio_backs_off_as_abandons_near_the_target() -> None:
    r = PredictiveRatio(0.05, margin=0.8)  # aims at 4 %
    assert r.ratio(calls=100, live=50, abandon_rate=0.0) == pytest.approx(2.0)
    assert r.ratio(calls=100, live=50, abandon_rate=0.02) == pytest.approx(1.5)
    assert r.ratio(calls=100, live=50, abandon_rate=0.04) == pytest.approx(1.0)
    assert r.ratio(calls=100, live=50, abandon_rate=0.2) == 1.0


def test_answer_window_forgets_old_calls_but_keeps_the_campaign_totals() -> None:
    w = AnswerWindow(seconds=60)
    w.record(0, Outcome.ANSWERED)
    w.record(10, Outcome.NO_ANSWER)
    w.record(20, Outcome.ABANDONED)
    w.record(30, Outcome.CANCELED)
    assert w.counts(30) == (3, 2)
    assert w.counts(65) == (2, 1)
    assert (w.live_total, w.abandoned_total, w.abandon_rate) == (2, 1, 0.5)


def test_call_rate_says_when_it_reopens() -> None:
    rate = CallRate(2.0)
    assert rate.reopens_in(0.0) == 0.0
    rate.started(0.0)
    rate.started(0.3)
    assert rate.available(0.5) == 0
    assert rate.reopens_in(0.5) == pytest.approx(0.5)  # the first start leaves the window at 1.0
    assert rate.available(1.0) == 1
    assert rate.reopens_in(1.0) == 0.0
