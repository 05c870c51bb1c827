"""Reading typed values from gtx.ini: the problems found, and one converter per kind of value.

A converter takes the text of a value and returns it typed, or raises ``ValueError`` whose
message (when not empty) says what is wrong; :meth:`Reader.get` turns that into a
:class:`ConfigProblem` naming the section and the key.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in gtx.ini."""

    section: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
        return f"{where}: {self.message}"


class Reader:
    """Reads typed values from one parsed file, collecting problems instead of stopping."""

    def __init__(self, parser: configparser.ConfigParser) -> None:
        self.parser = parser
        self.problems: list[ConfigProblem] = []

    def problem(self, section: str, key: str | None, message: str) -> None:
        """Record one problem of ``[section] key``."""
        self.problems.append(ConfigProblem(section, key, message))

    def raw(self, section: str, key: str) -> str | None:
        """The value as written (stripped), None when absent."""
        if not self.parser.has_section(section) or not self.parser.has_option(section, key):
            return None
        return self.parser.get(section, key).strip()

    def get(
        self, section: str, key: str, default: T, convert: Callable[[str], T], expected: str
    ) -> T:
        """The value converted, or ``default`` when absent or empty (or wrong: a problem)."""
        value = self.raw(section, key)
        if not value:  # absent or empty: the default
            return default
        try:
            return convert(value)
        except ValueError as e:
            detail = f" ({e})" if str(e) else ""
            self.problem(section, key, f"expected {expected}, got {value!r}{detail}")
            return default


def number(low: float, high: float) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return value
    return convert


def integer(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return convert


def boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"yes", "true", "on", "1"}:
        return True
    if lowered in {"no", "false", "off", "0"}:
        return False
    raise ValueError("")


def choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text
    return convert


def matching(pattern: re.Pattern[str]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not pattern.match(text):
            raise ValueError("")
        return text
    return convert


def listing(item: re.Pattern[str]) -> Callable[[str], tuple[str, ...]]:
    def convert(text: str) -> tuple[str, ...]:
        items = tuple(part.strip() for part in re.split(r"[,\s]+", text) if part.strip())
        for part in items:
            if not item.match(part):
                raise ValueError(f"{part!r} is not valid")
        return items
    return convert


def http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host")
    return text


def server_endpoint(text: str) -> str:
    try:
        serverFromString(MemoryReactor(), text)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a Twisted server endpoint string: {e}") from None
    return text


def client_endpoint(text: str) -> str:
    try:
        clientFromString(MemoryReactor(), text)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a Twisted client endpoint string: {e}") from None
    return text


def dial_template(text: str) -> str:
    if "{number}" not in text or not re.match(r"^[A-Za-z0-9]+/\S+$", text):
        raise ValueError("")
    return text


def endpoint_host(endpoint: str) -> str | None:
    """The host of a client endpoint string (``tcp:HOST:PORT``, ``tcp:host=HOST:port=PORT``)."""
    match = re.match(r"^(?:tcp|tls|ssl):(?:host=)?([^:]+)", endpoint)
    return match.group(1) if match else None


def store_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme == "sqlite":  # sqlite:///PATH, or sqlite:// in memory (tests, demos)
        return text
    if parts.scheme in {"postgresql", "postgres"} and parts.hostname and parts.path.strip("/"):
        return text
    raise ValueError("sqlite:///PATH, sqlite:// (in memory) or "
                     "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")
