"""AMI messages: pure parsing and formatting, no I/O.

An AMI message is a block of ``Key: Value`` lines ended by an empty line; every line ends in
``\\r\\n`` on the wire. Asterisk sends three kinds: the banner (one line, once, at connect:
``Asterisk Call Manager/13.0.0`` — the protocol's version, not Asterisk's), *responses*
(``Response: Success|Error|Goodbye``, carrying the ActionID of the action they answer) and
*events* (``Event: Name``; list actions' events carry their ActionID too). gtx sends
*actions* (``Action: Name`` … ``ActionID: id``).

A header may repeat (``Variable:`` lines of an Originate): :class:`AMIMessage` keeps every
header in order and looks them up case-insensitively, as Asterisk does.

Errors (all :class:`AMIError`)::

    AMIError
    ├── AMIProtocolError      the peer broke the framing (a too long line, too many headers)
    ├── AMIFormatError        an action gtx was about to send is malformed (CR/LF in a value)
    ├── AMINotConnected       the link is down or not logged in: nothing was sent
    ├── AMIConnectionLost     the link dropped before the answer came (the action may have run)
    ├── AMITimeout            no answer within the action's bound (the action may have run)
    └── AMIActionError        Asterisk answered ``Response: Error``
        └── AMILoginRefused   ... to the Login action
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: The banner's prefix: ``Asterisk Call Manager/13.0.0``.
BANNER_PREFIX = "Asterisk Call Manager/"
EOL = "\r\n"

#: Bounds of what is accepted from Asterisk (the longest real lines are event headers).
MAX_LINE_BYTES = 64 * 1024
MAX_HEADERS = 1024

_HEADER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

#: Produces the ActionID of each action sent; inject a deterministic one in tests.
ActionIdGenerator = Callable[[], str]


class AMIError(Exception):
    """Anything that went wrong talking AMI."""


class AMIProtocolError(AMIError):
    """The peer broke AMI's framing: the connection is dropped."""


class AMIFormatError(AMIError, ValueError):
    """An action could not be written: a header name or value that AMI cannot carry."""


class AMINotConnected(AMIError):
    """The link is down (or not logged in yet): nothing was sent."""


class AMIConnectionLost(AMIError):
    """The link dropped while an action was waiting for its answer."""


class AMITimeout(AMIError):
    """An action's answer did not come within its bound."""


class AMIActionError(AMIError):
    """Asterisk answered an action with ``Response: Error``; ``message`` says why."""

    def __init__(self, action: str, response: AMIMessage) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message")
        super().__init__(f"{action}: {self.message or 'Error'}")


class AMILoginRefused(AMIActionError):
    """The Login action was refused (wrong user or secret, or an address not permitted)."""


@dataclass(frozen=True)
class AMIMessage:
    """One message from Asterisk: its headers in order (names as sent)."""

    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """The first value of header ``name`` (case-insensitive), or ``default``."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self.headers)

    @property
    def event(self) -> str | None:
        """The event's name, or None for a response."""
        return self.get("Event") or None

    @property
    def response(self) -> str | None:
        """``Success``, ``Error``, ``Goodbye``, … or None for an event."""
        return None if "Event" in self else (self.get("Response") or None)

    @property
    def action_id(self) -> str | None:
        """The ActionID this message carries, if any."""
        return self.get("ActionID") or None

    def __str__(self) -> str:
        return " | ".join(f"{k}: {v}" for k, v in self.headers)


def parse_header(line: str) -> tuple[str, str]:
    """``Key: Value`` → (key, value). The value may be empty (``AccountCode: ``)."""
    key, sep, value = line.partition(":")
    if not sep or not key:
        # Not a header: the output of a ``Response: Follows`` command. Kept whole, unnamed.
        return "", line
    return key, value[1:] if value.startswith(" ") else value


def parse_message(lines: Sequence[str]) -> AMIMessage:
    """The lines of one message (without their EOL and the closing empty line)."""
    return AMIMessage(tuple(parse_header(line) for line in lines))


def _check(text: str, what: str) -> str:
    if "\r" in text or "\n" in text:
        raise AMIFormatError(f"{what} contains a line break: {text[:40]!r}")
    return text


def format_action(action: str, action_id: str, fields: Iterable[tuple[str, str]] = ()) -> bytes:
    """An action as written on the wire: ``Action`` first, ``ActionID`` last, then the empty
    line. A header repeats when ``fields`` names it more than once (``Variable``).

    Raises :class:`AMIFormatError` on a line break anywhere (it would inject headers) or a
    header name AMI cannot carry."""
    lines = [f"Action: {_check(action, 'the action')}"]
    for key, value in fields:
        if not _HEADER_NAME.match(key):
            raise AMIFormatError(f"bad header name {key!r}")
        lines.append(f"{key}: {_check(value, key)}")
    lines.append(f"ActionID: {_check(action_id, 'the ActionID')}")
    return (EOL.join(lines) + EOL + EOL).encode("utf-8")


def sequential_action_ids(prefix: str = "gtx") -> ActionIdGenerator:
    """ActionIDs ``PREFIX-1``, ``PREFIX-2``, … — unique per connection owner, readable in logs."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


# -- Originate variables ----------------------------------------------------------------------

_VARIABLE_NAME = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]*$")
#: Characters Asterisk's argument splitter reads in a ``Variable:`` value: it splits the value
#: on commas (outside quotes and parentheses), drops double quotes and backslashes.
_SPLITTER_SPECIALS = frozenset('\\",()[]')


def escape_variable_value(value: str) -> str:
    """A value for a ``Variable: NAME=VALUE`` header of Originate, escaped so Asterisk sets it
    as given. Asterisk splits each ``Variable:`` value with its application-argument parser
    (main/manager.c, ``AST_STANDARD_APP_ARGS``): an unescaped comma would cut a JSON value into
    several variables, quotes would vanish. A backslash makes the next character literal."""
    return "".join("\\" + c if c in _SPLITTER_SPECIALS else c for c in value)


def variable_header(name: str, value: str) -> tuple[str, str]:
    """One ``Variable:`` header of an Originate; raises AMIFormatError on a bad name."""
    if not _VARIABLE_NAME.match(name):
        raise AMIFormatError(f"bad channel variable name {name!r}")
    return "Variable", f"{name}={escape_variable_value(_check(value, name))}"
