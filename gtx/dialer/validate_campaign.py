"""Validation of campaign specs (``dialer.campaign.create`` / ``.update``) into a
:class:`~gtx.dialer.model.CampaignSpec`. Used through :mod:`gtx.dialer.validate`.

Rules across keys (documented in docs/dialer-api.md):

- ``queue`` is required in the agent modes (preview, progressive, power, predictive), where
  answered calls go to the agents' queue, and refused in broadcast mode (no agents);
  ``on_answer`` is required in broadcast mode and refused in the agent modes.
- a ``retry`` rule may not allow more attempts than ``max_attempts``.
- a window does not cross midnight (split it in two); ``end`` is at most ``23:59``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import time
from typing import Any, Final

from gtx.config import DialerSettings
from gtx.dialer import arguments as a
from gtx.dialer import validate_call as c
from gtx.dialer.model import CampaignMode, CampaignSpec, Outcome, RetryRule, Window
from gtx.errors import InvalidArgument

#: Outcomes a campaign may retry (an answered or canceled call is never retried).
RETRYABLE: Final = frozenset(Outcome) - {Outcome.ANSWERED, Outcome.CANCELED}
AGENT_MODES: Final = frozenset(CampaignMode) - {CampaignMode.BROADCAST}
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPEC_KEYS: Final = frozenset(f.name for f in fields(CampaignSpec))

_HHMM_RE: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_REQUIRED: Final = {
    "name": "missing: a campaign needs a name",
    "mode": "missing: one of " + ", ".join(m.value for m in CampaignMode),
}

Read = Callable[[object, str], Any]


def campaign_spec(
    spec: object,
    defaults: DialerSettings,
    partial: bool = False,
    *,
    base: CampaignSpec | None = None,
    configured: c.Configured = c.NOTHING,
) -> CampaignSpec:
    """``dialer.campaign.create(spec)`` (``partial=False``: name and mode required) or
    ``dialer.campaign.update(campaign_id, spec)`` (``partial=True``: the keys given replace
    those of ``base``, the campaign's current spec; a key sent as nil goes back to its
    default). The rules across keys are checked on the result."""
    given = a.struct(spec, "spec", SPEC_KEYS)
    if partial:
        if base is None:
            raise ValueError("a partial spec needs the base spec it updates")
        assert isinstance(spec, dict)  # a.struct checked it
        start = _reset(base, {key for key, value in spec.items() if value is None}, defaults)
    else:
        for key in ("name", "mode"):
            if key not in given:
                raise InvalidArgument(f"spec.{key}", _REQUIRED[key])
        channel = c.channel(given.get("channel"), "spec.channel", defaults)
        start = CampaignSpec(name="-", mode=CampaignMode.BROADCAST, channel=channel)
    readers = _readers(configured)
    changes: dict[str, Any] = {
        key: readers[key](value, f"spec.{key}") for key, value in given.items()
    }
    result = replace(start, **changes)
    _check_across(result)
    return result


def _reset(base: CampaignSpec, keys: set[str], defaults: DialerSettings) -> CampaignSpec:
    """``base`` with ``keys`` back to their defaults."""
    for key in ("name", "mode", "channel"):
        if key in keys and (key != "channel" or defaults.channel is None):
            raise InvalidArgument(f"spec.{key}", "cannot be reset to nil: give a value")
    template = CampaignSpec(name=base.name, mode=base.mode,
                            channel=defaults.channel or base.channel)
    return replace(base, **{key: getattr(template, key) for key in keys})


def _readers(configured: c.Configured) -> dict[str, Read]:
    """How each key of a spec is read."""

    def ranged(low: int, high: int, unit: str) -> Read:
        return lambda value, path: a.integer(value, path, low, high, unit)

    no_defaults = DialerSettings()  # a channel given in the spec is always read
    return {
        "name": lambda value, path: a.text(value, path, what="a campaign name", longest=100),
        "mode": lambda value, path: CampaignMode(
            a.choice(value, path, [m.value for m in CampaignMode])),
        "channel": lambda value, path: c.channel(value, path, no_defaults),
        "caller_id": c.caller_id,
        "max_concurrent": ranged(1, 10_000, "calls at once"),
        "max_cps": lambda value, path: a.number(value, path, 0, 1000, open_low=True,
                                                unit="calls started per second"),
        "ratio": lambda value, path: a.number(value, path, 1, 10, unit="calls per free agent"),
        "abandon_target": lambda value, path: a.number(
            value, path, 0, 1, open_low=True, open_high=True, unit="a rate: 0.03 is 3 %"),
        "queue": c.queue,
        "timeout": ranged(1, 600, "seconds of ringing"),
        "on_answer": lambda value, path: c.on_answer(value, path, configured),
        "amd": a.boolean,
        "retry": retry,
        "max_attempts": ranged(1, 100, "attempts per contact"),
        "windows": windows,
        "timezone": a.timezone,
        "callback": c.callback,
        "priority": ranged(-1000, 1000, "higher is dialled first"),
        "asterisk": lambda value, path: c.asterisk(value, path, configured),
        "record": record,
    }


def record(value: object, path: str) -> float:
    """``record``: true (every answered call), false, or ``{percent: 0 to 100}`` (a sample)."""
    if isinstance(value, bool):
        return 100.0 if value else 0.0
    if not isinstance(value, dict):
        raise a.wrong(path, "true, false or {percent: 0 to 100}", value)
    parts = a.struct(value, path, {"percent"})
    if "percent" not in parts:
        raise InvalidArgument(a.member(path, "percent"),
                              "missing: record is true, false or {percent: 0 to 100}")
    return a.number(parts["percent"], a.member(path, "percent"), 0, 100,
                    unit="percent of answered calls recorded")


def retry(value: object, path: str) -> dict[Outcome, RetryRule]:
    """Retry rules per outcome: ``{busy: {attempts, delay}, no_answer: {…}, …}``."""
    if isinstance(value, dict):
        for final in ("answered", "canceled"):
            if final in value:
                raise InvalidArgument(a.member(path, final), f"{final} calls are never retried")
    given = a.struct(value, path, {o.value for o in RETRYABLE})
    rules: dict[Outcome, RetryRule] = {}
    for key, rule in given.items():
        where = a.member(path, key)
        parts = a.struct(rule, where, {"attempts", "delay"})
        for name in ("attempts", "delay"):
            if name not in parts:
                raise InvalidArgument(a.member(where, name),
                                      "missing: a retry rule is {attempts, delay}")
        rules[Outcome(key)] = RetryRule(
            attempts=a.integer(parts["attempts"], a.member(where, "attempts"), 1, 100,
                               "attempts in total while this outcome repeats"),
            delay=a.integer(parts["delay"], a.member(where, "delay"), 0, 7 * 86400,
                            "seconds between two attempts"),
        )
    return rules


def windows(value: object, path: str) -> tuple[Window, ...]:
    """Calling windows: ``[{days: "mon-fri", start: "09:00", end: "20:00"}, …]``."""
    items = a.array(value, path, most=28)
    if not items:
        raise InvalidArgument(path, "at least one window; leave windows out for the "
                              "default, every day 08:00-21:00")
    return tuple(window(item, a.item(path, i)) for i, item in enumerate(items))


def window(value: object, path: str) -> Window:
    """One calling window; ``days`` defaults to every day."""
    given = a.struct(value, path, {"days", "start", "end"})
    for key in ("start", "end"):
        if key not in given:
            raise InvalidArgument(a.member(path, key), "missing: a time such as '09:00'")
    days = days_of_week(given["days"], a.member(path, "days")) if "days" in given else set(
        range(7))
    start = _hhmm(given["start"], a.member(path, "start"))
    end = _hhmm(given["end"], a.member(path, "end"))
    if start >= end:
        raise InvalidArgument(
            a.member(path, "end"),
            f"{end:%H:%M} is not after start {start:%H:%M}: a window does not cross midnight, "
            "split it in two (e.g. 20:00-23:59 and 00:00-06:00)")
    return Window(frozenset(days), start, end)


def days_of_week(value: object, path: str) -> set[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"mon-wed,fri"``, ``"fri-mon"`` (wraps) → 0 = Monday …"""
    how = "days such as 'mon-fri', 'sat,sun' or 'mon-wed,fri' (mon tue wed thu fri sat sun)"
    spec = a.text(value, path, what=how, longest=100).lower().replace(" ", "")
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidArgument(path, f"{part!r} is not a day or a range of days: "
                                  f"expected {how}")
        begin, finish = DAYS.index(first), DAYS.index(last or first)
        span = (finish - begin) % 7  # fri-mon wraps over the week-end
        days.update((begin + step) % 7 for step in range(span + 1))
    return days


def format_days(days: frozenset[int]) -> str:
    """The inverse of :func:`days_of_week`: ``{0, 1, 2, 3, 4}`` → ``"mon-fri"``."""
    runs: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        first, last = DAYS[ordered[i]], DAYS[ordered[j]]
        runs.append(first if i == j else f"{first}-{last}")
        i = j + 1
    return ",".join(runs)


def _hhmm(value: object, path: str) -> time:
    what = "a time HH:MM from 00:00 to 23:59, e.g. '09:00'"
    match = _HHMM_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise a.wrong(path, what, value)
    return time(int(match[1]), int(match[2]))


def _check_across(spec: CampaignSpec) -> None:
    """The rules that tie keys together, checked on the whole spec."""
    mode = spec.mode.value
    if spec.mode in AGENT_MODES:
        if spec.queue is None:
            raise InvalidArgument("spec.queue", f"required in {mode} mode: the agents' "
                                  "Asterisk queue, where answered calls go")
        if spec.on_answer is not None:
            raise InvalidArgument("spec.on_answer", f"not used in {mode} mode: answered "
                                  "calls go to the agents' queue (spec.queue); on_answer is "
                                  "for broadcast campaigns")
    else:
        if spec.queue is not None:
            raise InvalidArgument("spec.queue", "broadcast campaigns have no agents: send "
                                  "answered calls with on_answer (e.g. {queue: …})")
        if spec.on_answer is None:
            raise InvalidArgument("spec.on_answer", "required in broadcast mode: give one "
                                  f"of {c.ON_ANSWER_FORMS}")
    for outcome, rule in spec.retry.items():
        if rule.attempts > spec.max_attempts:
            raise InvalidArgument(
                f"spec.retry.{outcome.value}.attempts",
                f"{rule.attempts} is more than max_attempts ({spec.max_attempts}): raise "
                "max_attempts or lower this")
