"""Typed reading of the structs a web service answers, with errors that say where and what.

:class:`Fields` wraps one struct (the response, an action, a ``next`` struct) and reads its
members one by one; every problem becomes an :class:`~gtx.ivr.errors.InvalidResponse` whose
message names the step, the path of the member and what was expected::

    step 3: actions[1].max_digits: expected an int from 1 to 64, got 'abc'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from gtx.channel import DTMF_DIGITS
from gtx.ivr.errors import InvalidResponse
from gtx.xmlrpc.describe import describe

#: Names of variables, action results and set() targets.
NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Sound file names: no spaces, quotes or control characters (paths are allowed).
SOUND_RE: Final = re.compile(r"[A-Za-z0-9_\-./+]{1,255}")
#: Method names of XML-RPC web services.
METHOD_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]{0,127}")
#: Dialplan names: contexts, queues, MOH classes, conference and profile names.
DIALPLAN_NAME_RE: Final = re.compile(r"[A-Za-z0-9_\-.]{1,80}")

_MISSING: Final = object()


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a newline, a tab or another control character."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


class Fields:
    """The members of one struct of a response, read with their expected types."""

    def __init__(self, struct: Mapping[str, object], path: str, step: int) -> None:
        self.struct = struct
        self.path = path
        self.step = step

    def where(self, key: str | None = None) -> str:
        """The dotted path of a member (or of the struct itself)."""
        if key is None:
            return self.path or "response"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, expected: str, got: object = _MISSING) -> InvalidResponse:
        """An InvalidResponse for member ``key``: ``step N: PATH.KEY: expected …, got …``."""
        message = f"step {self.step}: {self.where(key)}: {expected}"
        if got is not _MISSING:
            message += f", got {describe(got)}"
        return InvalidResponse(message)

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse members this struct does not know (most often a misspelt parameter)."""
        known = set(allowed)
        for key in self.struct:
            if key not in known:
                listing = ", ".join(sorted(known)) or "none"
                raise self.error(key, f"unknown parameter (known: {listing})")

    def has(self, key: str) -> bool:
        return key in self.struct

    def _get(self, key: str, default: object) -> object:
        if key in self.struct:
            return self.struct[key]
        if default is _MISSING:
            raise self.error(key, "missing (required)")
        return default

    def string(
        self,
        key: str,
        default: object = _MISSING,
        *,
        pattern: re.Pattern[str] | None = None,
        expected: str = "a string",
        max_length: int = 1024,
    ) -> str:
        """A string member; with ``pattern`` it must fully match it."""
        value = self._get(key, default)
        if (
            not isinstance(value, str)
            or len(value) > max_length
            or has_control_characters(value)
            or (pattern is not None and not pattern.fullmatch(value))
        ):
            raise self.error(key, f"expected {expected}", value)
        return value

    def optional_string(
        self, key: str, *, pattern: re.Pattern[str] | None = None, expected: str = "a string"
    ) -> str | None:
        if key not in self.struct:
            return None
        return self.string(key, pattern=pattern, expected=expected)

    def integer(self, key: str, default: object = _MISSING, *, low: int, high: int) -> int:
        """An int member from ``low`` to ``high`` (booleans are not ints here)."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"expected an int from {low} to {high}", value)
        return value

    def optional_integer(self, key: str, *, low: int, high: int) -> int | None:
        if key not in self.struct:
            return None
        return self.integer(key, low=low, high=high)

    def seconds(self, key: str, default: object = _MISSING, *, low: float, high: float) -> float:
        """A duration in seconds: an int or a double, ``low`` < value <= ``high``."""
        value = self._get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low < value <= high
        ):
            raise self.error(key, f"expected a number of seconds over {low:g} and up to "
                             f"{high:g}", value)
        return float(value)

    def boolean(self, key: str, default: object = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "expected a boolean", value)
        return value

    def dtmf(self, key: str, default: object = _MISSING, *, extra: str = "") -> str:
        """A string of DTMF digits (0-9 * # A-D, plus ``extra``)."""
        allowed = DTMF_DIGITS + extra
        value = self._get(key, default)
        if not isinstance(value, str) or any(c not in allowed for c in value) or len(value) > 64:
            raise self.error(key, f"expected a string of DTMF digits from {allowed!r}", value)
        return value

    def files(self, key: str, default: object = _MISSING) -> tuple[str, ...]:
        """Sound files: one name or an array of names (no extension)."""
        value = self._get(key, default)
        items = [value] if isinstance(value, str) else value
        expected = "expected a sound file name or an array of 1 to 50 of them"
        if not isinstance(items, list | tuple) or not 1 <= len(items) <= 50:
            raise self.error(key, expected, value)
        for index, item in enumerate(items):
            if not isinstance(item, str) or not SOUND_RE.fullmatch(item) or ".." in item:
                where = key if isinstance(value, str) else f"{key}[{index}]"
                raise self.error(
                    where, "expected a sound file name (letters, digits, _ - . / +; "
                    "no extension, no '..')", item
                )
        return tuple(items)

    def struct_member(self, key: str) -> Fields:
        """A member that is itself a struct."""
        value = self._get(key, _MISSING)
        if not isinstance(value, dict):
            raise self.error(key, "expected a struct", value)
        return Fields(value, self.where(key), self.step)

    def choice(self, key: str, choices: Iterable[str], default: object = _MISSING) -> str:
        options = tuple(choices)
        value = self._get(key, default)
        if value not in options:
            listing = ", ".join(repr(option) for option in options)
            raise self.error(key, f"expected one of {listing}", value)
        assert isinstance(value, str)  # every choice is a string
        return value
