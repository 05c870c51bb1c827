"""Calling windows in the contact's time zone, and the next opening."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from gtx.dialer.model import DEFAULT_WINDOWS, Window
from gtx.dialer.windows import UnknownTimeZone, is_open, next_opening, zone

WEEKDAYS = (Window(frozenset(range(5)), time(9), time(20)),)
PARIS, NEW_YORK, TOKYO = zone("Europe/Paris"), zone("America/New_York"), zone("Asia/Tokyo")


def at(text: str, tz: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone(tz)).timestamp()


def test_open_in_the_contacts_own_time_zone() -> None:
    now = at("2025-01-06T15:00", "UTC")  # Monday: 16:00 Paris, 10:00 New York, 00:00 Tokyo
    assert is_open(WEEKDAYS, PARIS, now)
    assert is_open(WEEKDAYS, NEW_YORK, now)
    assert not is_open(WEEKDAYS, TOKYO, now)


def test_end_is_exclusive_start_inclusive() -> None:
    assert is_open(WEEKDAYS, PARIS, at("2025-01-06T09:00", "Europe/Paris"))
    assert not is_open(WEEKDAYS, PARIS, at("2025-01-06T20:00", "Europe/Paris"))


def test_next_opening_is_tomorrow_morning_after_closing() -> None:
    now = at("2025-01-06T21:30", "Europe/Paris")  # Monday evening
    assert next_opening(WEEKDAYS, PARIS, now) == at("2025-01-07T09:00", "Europe/Paris")


def test_next_opening_skips_the_weekend() -> None:
    now = at("2025-01-10T20:30", "Europe/Paris")  # Friday evening
    assert next_opening(WEEKDAYS, PARIS, now) == at("2025-01-13T09:00", "Europe/Paris")


def test_next_opening_later_today() -> None:
    now = at("2025-01-06T07:00", "America/New_York")
    assert next_opening(WEEKDAYS, NEW_YORK, now) == at("2025-01-06T09:00", "America/New_York")


def test_next_opening_is_now_when_open() -> None:
    now = at("2025-01-06T12:00", "Asia/Tokyo")
    assert next_opening(DEFAULT_WINDOWS, TOKYO, now) == now


def test_window_over_midnight() -> None:
    night = (Window(frozenset({4}), time(22), time(2)),)  # Friday 22:00 to Saturday 02:00
    assert is_open(night, PARIS, at("2025-01-10T23:00", "Europe/Paris"))
    assert is_open(night, PARIS, at("2025-01-11T01:30", "Europe/Paris"))
    assert not is_open(night, PARIS, at("2025-01-11T02:00", "Europe/Paris"))
    assert not is_open(night, PARIS, at("2025-01-11T23:00", "Europe/Paris"))  # Saturday


def test_local_hours_kept_across_daylight_saving() -> None:
    # Paris moves to summer time on Sunday 30 March 2025: 09:00 is then 07:00 UTC, not 08:00.
    now = at("2025-03-29T21:00", "Europe/Paris")
    daily = (Window(frozenset(range(7)), time(9), time(20)),)
    assert next_opening(daily, PARIS, now) == at("2025-03-30T07:00", "UTC")


def test_no_days_never_opens() -> None:
    assert next_opening((Window(frozenset(), time(9), time(17)),), PARIS, 0.0) is None


def test_unknown_time_zone() -> None:
    with pytest.raises(UnknownTimeZone):
        zone("Mars/Olympus_Mons")
