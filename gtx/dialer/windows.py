"""Calling windows: when a contact may be called, in its own time zone.

A :class:`~gtx.dialer.model.Window` is local time on some days of the week. A window whose
``end`` is not after its ``start`` runs past midnight (``22:00``-``02:00`` on Friday also
covers the first two hours of Saturday). Times are epoch seconds, as everywhere in the dialer.
Across a daylight-saving jump a window keeps its local hours (a window opening at a time the
clock skips opens at the first instant after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gtx.dialer.model import Window


class UnknownTimeZone(ValueError):
    """A time zone name that the system's tz database does not know."""


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The time zone called ``name`` (IANA, e.g. ``Europe/Paris``); UnknownTimeZone if none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise UnknownTimeZone(f"unknown time zone {name!r}") from e


def is_open(windows: Sequence[Window], tz: ZoneInfo, at: float) -> bool:
    """True when one of ``windows`` is open at ``at`` in time zone ``tz``."""
    local = datetime.fromtimestamp(at, tz)
    now, today = local.time().replace(tzinfo=None), local.weekday()
    yesterday = (today - 1) % 7
    for window in windows:
        if window.start < window.end:
            if today in window.days and window.start <= now < window.end:
                return True
        elif (today in window.days and now >= window.start) or (
            yesterday in window.days and now < window.end
        ):
            return True
    return False


def _at(day: date, clock: time, tz: ZoneInfo) -> float:
    """Epoch seconds of a local wall-clock time (a skipped time maps to just after the jump)."""
    return datetime.combine(day, clock, tzinfo=tz).timestamp()


def next_opening(windows: Sequence[Window], tz: ZoneInfo, at: float) -> float | None:
    """When one of ``windows`` next opens after ``at`` (``at`` itself if one is open now);
    None when no window ever opens (no days)."""
    if is_open(windows, tz, at):
        return at
    first = datetime.fromtimestamp(at, tz).date()
    best: float | None = None
    for offset in range(8):  # within a week and a day, every weekly window opens once
        day = first + timedelta(days=offset)
        for window in windows:
            if day.weekday() not in window.days:
                continue
            opening = _at(day, window.start, tz)
            if opening > at and (best is None or opening < best):
                best = opening
        if best is not None:
            return best
    return best
