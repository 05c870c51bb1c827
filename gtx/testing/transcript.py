"""The FastAGI transcript format: read and write recorded Asterisk ↔ FastAGI exchanges.

One protocol line per transcript line, prefixed by its direction::

    << agi_network: yes          Asterisk sent this line
    << agi_accountcode:          (an empty value keeps its trailing space)
    <<                           the empty line that ends the environment block
    >> STREAM FILE hello-world "#"
    << 200 result=0 endpos=11234

On the wire every AGI line ends in ``\\n``; the transcript drops it. Several sessions may follow
one another in one file: an environment line (``agi_…: …``) seen outside an environment block
starts a new session. Lines Asterisk sends after a command and before the next one (its reply,
an asynchronous ``HANGUP``) belong to that command's :class:`Exchange`; the ``HANGUP`` line that
real Asterisk sends between commands therefore appears at the head of the next exchange's
replies, exactly where a FastAGI server reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Direction markers of the transcript format.
FROM_ASTERISK = "<<"
FROM_CLIENT = ">>"

_ENV_LINE = re.compile(r"^(agi_[a-z0-9_]+): ?(.*)$")


class TranscriptError(ValueError):
    """A transcript line could not be understood."""


@dataclass
class Exchange:
    """One command sent by the FastAGI server and the lines Asterisk sent until the next one.

    ``command`` is None for lines Asterisk sent after the environment and before any command.
    """

    command: str | None
    replies: list[str] = field(default_factory=list)


@dataclass
class TranscriptSession:
    """One FastAGI connection: the environment block, then the exchanges."""

    environment: list[tuple[str, str]] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The environment as a mapping (the order is kept in :attr:`environment`)."""
        return dict(self.environment)

    @property
    def args(self) -> list[str]:
        """The ``agi_arg_N`` values, in order."""
        return [value for key, value in self.environment if key.startswith("agi_arg_")]

    @property
    def commands(self) -> list[str]:
        """The commands the FastAGI server sent, in order."""
        return [x.command for x in self.exchanges if x.command is not None]

    def lines(self) -> list[tuple[str, str]]:
        """Every line as (direction, text), in transcript order."""
        out = [(FROM_ASTERISK, f"{key}: {value}") for key, value in self.environment]
        out.append((FROM_ASTERISK, ""))
        for exchange in self.exchanges:
            if exchange.command is not None:
                out.append((FROM_CLIENT, exchange.command))
            out.extend((FROM_ASTERISK, reply) for reply in exchange.replies)
        return out

    def environment_bytes(self) -> bytes:
        """The environment block exactly as Asterisk writes it on the wire."""
        block = "".join(f"{key}: {value}\n" for key, value in self.environment) + "\n"
        return block.encode("utf-8")

    def asterisk_bytes(self) -> bytes:
        """Everything Asterisk wrote on the socket, in order."""
        replies = "".join(f"{r}\n" for x in self.exchanges for r in x.replies)
        return self.environment_bytes() + replies.encode("utf-8")

    def client_bytes(self) -> bytes:
        """Everything the FastAGI server wrote on the socket, in order."""
        return "".join(f"{c}\n" for c in self.commands).encode("utf-8")


def parse_transcript(text: str) -> list[TranscriptSession]:
    """Parse a transcript into its sessions. Blank lines and lines without a marker are ignored
    (comments); a marker line must be ``<< text``, ``>> text``, or a bare marker."""
    sessions: list[TranscriptSession] = []
    current: TranscriptSession | None = None
    in_environment = False
    for number, raw in enumerate(text.splitlines(), start=1):
        direction, line = _split_marker(raw, number)
        if direction is None:
            continue
        if direction == FROM_ASTERISK and not in_environment and _ENV_LINE.match(line):
            current = TranscriptSession()
            sessions.append(current)
            in_environment = True
        if current is None:
            raise TranscriptError(f"line {number}: exchange before any environment block")
        if in_environment:
            if direction != FROM_ASTERISK:
                raise TranscriptError(f"line {number}: command inside the environment block")
            if line == "":
                in_environment = False
                continue
            match = _ENV_LINE.match(line)
            if match is None:
                raise TranscriptError(f"line {number}: not an environment line: {line!r}")
            current.environment.append((match.group(1), match.group(2)))
        elif direction == FROM_CLIENT:
            current.exchanges.append(Exchange(line))
        else:
            if not current.exchanges:
                current.exchanges.append(Exchange(None))
            current.exchanges[-1].replies.append(line)
    return sessions


def _split_marker(raw: str, number: int) -> tuple[str | None, str]:
    for marker in (FROM_ASTERISK, FROM_CLIENT):
        if raw == marker:
            return marker, ""
        if raw.startswith(marker + " "):
            return marker, raw[len(marker) + 1 :]
    if raw.strip() == "" or not raw.startswith(("<", ">")):
        return None, raw
    raise TranscriptError(f"line {number}: unknown marker in {raw!r}")


def format_lines(lines: Iterable[tuple[str, str]]) -> str:
    """Write (direction, text) lines in the transcript format."""
    return "".join(f"{direction} {text}\n" for direction, text in lines)


def format_transcript(sessions: Sequence[TranscriptSession]) -> str:
    """Write sessions in the transcript format (the inverse of :func:`parse_transcript`)."""
    return "".join(format_lines(session.lines()) for session in sessions)
