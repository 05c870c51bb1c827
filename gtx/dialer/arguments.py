"""Typed reading of XML-RPC arguments, with faults that name the field and say what to write.

The building blocks of :mod:`gtx.dialer.validate`: each function takes a received value and the
path of the field it came from (``options.timeout``, ``spec.windows[1].start``) and returns the
value in its Python type, or raises :class:`gtx.errors.InvalidArgument`::

    options.timeout: expected an int from 1 to 600 (seconds of ringing), got 900
    spec.windows[0]: unknown key 'strat' (did you mean 'start'?); known keys: days, end, start
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from gtx.errors import InvalidArgument
from gtx.xmlrpc.describe import describe

#: Names of variables (channel / session variables): what the IVR API accepts too.
VAR_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Dialplan names: contexts, queues, IVR apps, Asterisk servers.
DIALPLAN_NAME_RE: Final = re.compile(r"[A-Za-z0-9_\-.]{1,80}")
#: Dialplan extensions: digits, letters, and the characters Asterisk allows in them.
EXTENSION_RE: Final = re.compile(r"[A-Za-z0-9_+*#\-.]{1,80}")
#: XML-RPC method names of web services and call-back receivers.
METHOD_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]{0,127}")
_TIMEZONE_RE: Final = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
#: What a phone number may be written with; separators are dropped by normalisation.
_SEPARATORS: Final = str.maketrans("", "", " -.()/")
_NUMBER_RE: Final = re.compile(r"\+?[0-9]{3,20}")
_MAX_STRING: Final = 1024
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


def wrong(path: str, expected: str, got: object) -> InvalidArgument:
    """``PATH: expected …, got …``."""
    return InvalidArgument(path, f"expected {expected}, got {describe(got)}")


def item(path: str, index: int) -> str:
    """The path of an array element: ``contacts[3]``."""
    return f"{path}[{index}]"


def member(path: str, key: str) -> str:
    """The path of a struct member: ``options.timeout`` (or ``timeout`` at the top)."""
    return f"{path}.{key}" if path else key


def struct(value: object, path: str, known: Iterable[str]) -> dict[str, object]:
    """A struct whose keys are all in ``known``; an unknown key is refused, naming the closest
    known one (most often it is a misspelling)."""
    if not isinstance(value, dict):
        raise wrong(path, "a struct", value)
    allowed = sorted(known)
    for key in value:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listing = ", ".join(allowed) or "none"
            raise InvalidArgument(
                member(path, str(key)), f"unknown key{hint}; known keys: {listing}"
            )
    return {k: v for k, v in value.items() if v is not None}  # nil means "not given"


def array(value: object, path: str, *, most: int) -> list[object]:
    """An array of at most ``most`` elements."""
    if not isinstance(value, list):
        raise wrong(path, "an array", value)
    if len(value) > most:
        raise InvalidArgument(path, f"{len(value)} elements, at most {most} per call")
    return value


def text(
    value: object,
    path: str,
    *,
    pattern: re.Pattern[str] | None = None,
    what: str = "a string",
    longest: int = _MAX_STRING,
) -> str:
    """A non-empty string without control characters (they would break an AMI header),
    matching ``pattern`` when one is given (``what`` then says what is expected)."""
    if not isinstance(value, str):
        raise wrong(path, what, value)
    if not value:
        raise InvalidArgument(path, f"expected {what}, got an empty string")
    if len(value) > longest:
        raise InvalidArgument(path, f"{len(value)} characters, at most {longest}")
    if _CONTROL_RE.search(value):
        raise InvalidArgument(path, "control characters (newline, tab …) are not allowed")
    if pattern is not None and not pattern.fullmatch(value):
        raise wrong(path, what, value)
    return value


def integer(value: object, path: str, low: int, high: int, unit: str = "") -> int:
    """An int from ``low`` to ``high`` (a boolean is not an int here)."""
    what = f"an int from {low} to {high}{f' ({unit})' if unit else ''}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong(path, what, value)
    if not low <= value <= high:
        raise wrong(path, what, value)
    return value


def number(
    value: object, path: str, low: float, high: float, *, open_low: bool = False,
    open_high: bool = False, unit: str = "",
) -> float:
    """A double (or an int) in a range; ``open_*`` excludes that bound."""
    if open_low or open_high:
        lo = f"more than {low:g}" if open_low else f"at least {low:g}"
        hi = f"less than {high:g}" if open_high else f"at most {high:g}"
        span = f"{lo} and {hi}"
    else:
        span = f"from {low:g} to {high:g}"
    what = f"a number {span}{f' ({unit})' if unit else ''}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong(path, what, value)
    below = value <= low if open_low else value < low
    above = value >= high if open_high else value > high
    if below or above:
        raise wrong(path, what, value)
    return float(value)


def boolean(value: object, path: str) -> bool:
    """A boolean (XML-RPC ``<boolean>``: 1 or 0)."""
    if not isinstance(value, bool):
        raise wrong(path, "a boolean (true or false)", value)
    return value


def phone_number(value: object, path: str) -> str:
    """A phone number, normalised: digits with an optional leading ``+``, 3 to 20 digits.
    Spaces, dashes, dots, slashes and parentheses are dropped (``+1 (555) 010-9999``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)  # a number sent as an int lost only leading zeros, say so below
    if not isinstance(value, str):
        raise wrong(path, "a phone number string such as '+15550109999'", value)
    normalised = value.strip().translate(_SEPARATORS)
    if not _NUMBER_RE.fullmatch(normalised):
        digits = sum(c.isdigit() for c in normalised)
        if normalised and all(c.isdigit() for c in normalised.removeprefix("+")):
            problem = f"{digits} digits; a phone number has 3 to 20"
        else:
            problem = "digits only, with an optional leading + (e.g. '+15550109999')"
        raise InvalidArgument(path, f"{describe(value)} is not a phone number: {problem}")
    return normalised


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    if not _TIMEZONE_RE.fullmatch(name) or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def timezone(value: object, path: str) -> str:
    """An IANA time zone name (``Europe/Paris``), checked against the system's database."""
    what = "an IANA time zone such as 'Europe/Paris' or 'UTC'"
    name = text(value, path, what=what, longest=64)
    if _known_zone(name):
        return name
    close = difflib.get_close_matches(name, sorted(_timezones()), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidArgument(path, f"unknown time zone {name!r}{hint}: expected {what}")


def http_url(value: object, path: str) -> str:
    """An absolute http:// or https:// URL with a host."""
    what = "an http:// or https:// URL"
    url = text(value, path, what=what, longest=2048)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        raise wrong(path, what, url) from None
    if parts.scheme not in ("http", "https") or not host or " " in url:
        raise wrong(path, what, url)
    return url


def choice(value: object, path: str, choices: Mapping[str, object] | Iterable[str]) -> str:
    """One of ``choices``; a near miss is named."""
    allowed = sorted(choices)
    what = "one of " + ", ".join(allowed)
    if not isinstance(value, str):
        raise wrong(path, what, value)
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidArgument(path, f"{describe(value)} is not {what}{hint}")
    return value


def variables(value: object, path: str, *, most: int = 100) -> dict[str, object]:
    """Variables: a struct of names ``[A-Za-z_][A-Za-z0-9_]*`` to scalars (string, int, double,
    boolean). Strings carry no control characters: the values become channel variables."""
    if not isinstance(value, dict):
        raise wrong(path, "a struct of variables", value)
    if len(value) > most:
        raise InvalidArgument(path, f"{len(value)} variables, at most {most}")
    result: dict[str, object] = {}
    for name, var in value.items():
        if not VAR_NAME_RE.fullmatch(name):
            raise InvalidArgument(
                member(path, name),
                "a variable name is a letter or _ then letters, digits or _ (at most 64)",
            )
        where = member(path, name)
        if isinstance(var, str):
            result[name] = var if var == "" else text(var, where)
        elif isinstance(var, bool | int | float):
            result[name] = var
        else:
            raise wrong(where, "a string, int, double or boolean", var)
    return result
