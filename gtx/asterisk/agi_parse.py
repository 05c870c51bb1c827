"""Pure parsers and formatters of the FastAGI protocol (no I/O).

What Asterisk sends (``res_agi.c``):

- first an environment block, ``agi_NAME: value`` lines ended by an empty line;
- then one reply per command: ``200 result=N``, ``200 result=N (data)``,
  ``200 result=N (data) endpos=M`` or ``200 result=N endpos=M``; ``510 Invalid or unknown
  command``; ``511 Command Not Permitted on a dead channel…``; ``520 Invalid command syntax…`` or
  the multi-line ``520-…`` usage block closed by ``520 End of proper usage.``;
- and, at any time, the asynchronous notice ``HANGUP``.

What gtx sends: one command per line, arguments separated by spaces; Asterisk's argument parser
treats ``"`` as a quote toggle and ``\\`` as an escape, so :func:`quote_arg` wraps an argument in
double quotes and escapes those two characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from gtx.channel import CallInfo, ChannelGone

#: The notice Asterisk sends when the channel hangs up (``AGISIGHUP`` on a FastAGI socket).
HANGUP_NOTICE = "HANGUP"
#: First line of a multi-line ``520`` usage reply, and its last line.
USAGE_START = "520-"
USAGE_END = "520 End of proper usage."

#: Longest command line Asterisk reads whole (``AGI_BUF_LEN`` 2048 with ``fgets``, counting the
#: newline and the terminating NUL); a longer line would be cut and its tail run as a command.
MAX_COMMAND_BYTES = 2046

#: Environment values Asterisk uses for "not known".
_UNKNOWN = "unknown"
_ENDPOS = re.compile(r" endpos=(-?\d+)$")
_CODE = re.compile(r"^(\d{3})(?: (.*))?$")
# A bare token needs no quoting: no whitespace, no quote, no backslash.
_BARE_TOKEN = re.compile(r'^[^\s"\\]+$')


class AGIProtocolError(ChannelGone):
    """Asterisk sent something that is not FastAGI; gtx drops the connection."""


@dataclass(frozen=True)
class AGIReply:
    """One reply line (or one ``520`` usage block) from Asterisk.

    ``result`` is the raw text after ``result=`` (GET DATA answers the digits, e.g. ``12``, or
    nothing at all on a timeout without input); ``data`` is the text between the parentheses;
    ``endpos`` the ``endpos=`` value; ``text`` whatever else the line said (the message of
    ``510``/``511``, the usage text of ``520``).
    """

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    text: str = ""

    @property
    def result_int(self) -> int:
        """``result`` as an integer; a protocol error when it is not one."""
        try:
            return int(self.result)
        except ValueError:
            raise AGIProtocolError(f"expected an integer result, got {self.result!r}") from None


def parse_reply(line: str) -> AGIReply:
    """Parse one reply line (without its line ending).

    >>> parse_reply("200 result=1 (step=2;x=y)")
    AGIReply(code=200, result='1', data='step=2;x=y', endpos=None, text='')
    """
    match = _CODE.match(line)
    if match is None:
        raise AGIProtocolError(f"not an AGI reply: {line!r}")
    code = int(match.group(1))
    rest = match.group(2) or ""
    if code not in (100, 200):
        return AGIReply(code=code, text=rest)
    if not rest.startswith("result="):
        raise AGIProtocolError(f"AGI reply without result=: {line!r}")
    result, _, tail = rest[len("result=") :].partition(" ")
    endpos: int | None = None
    # endpos is always last; data in parentheses always ends with ")", so a value that merely
    # contains "endpos=" inside the parentheses is never mistaken for it.
    found = _ENDPOS.search(" " + tail)
    if found is not None:
        endpos = int(found.group(1))
        tail = (" " + tail)[: found.start()].strip()
    data: str | None = None
    text = ""
    if tail.startswith("(") and tail.endswith(")"):
        data = tail[1:-1]
    elif tail:
        text = tail  # e.g. "100 result=0 Trying..." or "200 result=0 Gosub complete"
    return AGIReply(code=code, result=result, data=data, endpos=endpos, text=text)


def parse_usage(lines: Iterable[str]) -> AGIReply:
    """Build the ``520`` reply of a multi-line usage block.

    ``lines`` runs from the ``520-…`` line to the line ending in ``520 End of proper usage.``
    (Asterisk may glue that marker to the last usage line when the usage lacks a newline).
    """
    body: list[str] = []
    for index, line in enumerate(lines):
        if index == 0:
            if not line.startswith(USAGE_START):
                raise AGIProtocolError(f"not a usage block: {line!r}")
            continue
        if line.endswith(USAGE_END):
            last = line[: -len(USAGE_END)]
            if last:
                body.append(last)
            break
        body.append(line)
    return AGIReply(code=520, text="\n".join(body).strip())


def parse_environment_line(line: str) -> tuple[str, str]:
    """Split ``agi_NAME: value`` into (``agi_NAME``, ``value``); the value may be empty or
    contain ``": "`` itself."""
    name, sep, value = line.partition(":")
    if not sep or not name.startswith("agi_") or " " in name:
        raise AGIProtocolError(f"not an AGI environment line: {line!r}")
    # "agi_accountcode: " has nothing after the space; "agi_x:" (no space) is accepted too.
    return name, value[1:] if value.startswith(" ") else value


def parse_environment(lines: Iterable[str], asterisk: str = "") -> CallInfo:
    """Turn the environment block (the lines before the empty line) into a :class:`CallInfo`.

    ``asterisk`` is the configured name of the Asterisk server the connection came from.
    """
    environment: dict[str, str] = {}
    for line in lines:
        if line == "":
            break
        name, value = parse_environment_line(line)
        environment[name] = value
    for required in ("agi_channel", "agi_uniqueid"):
        if not environment.get(required):
            raise AGIProtocolError(f"the AGI environment lacks {required}")
    script, query = _script_and_query(environment)
    return CallInfo(
        channel=environment["agi_channel"],
        uniqueid=environment["agi_uniqueid"],
        caller_number=_known(environment.get("agi_callerid", "")),
        caller_name=_known(environment.get("agi_calleridname", "")),
        called=_known(environment.get("agi_dnid", "")),
        context=environment.get("agi_context", ""),
        extension=environment.get("agi_extension", ""),
        priority=environment.get("agi_priority", ""),
        language=environment.get("agi_language", "") or "en",
        accountcode=environment.get("agi_accountcode", ""),
        script=script,
        query=query,
        args=_arguments(environment),
        asterisk=asterisk,
        environment=environment,
    )


def _known(value: str) -> str:
    return "" if value == _UNKNOWN else value


def _arguments(environment: dict[str, str]) -> tuple[str, ...]:
    numbered: list[tuple[int, str]] = []
    for name, value in environment.items():
        if name.startswith("agi_arg_"):
            suffix = name[len("agi_arg_") :]
            if not suffix.isdigit():
                raise AGIProtocolError(f"bad AGI argument name: {name!r}")
            numbered.append((int(suffix), value))
    return tuple(value for _, value in sorted(numbered))


def _script_and_query(environment: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The app name and the decoded query of ``agi://HOST:PORT/SCRIPT?QUERY``.

    ``agi_network_script`` is ``SCRIPT?QUERY`` (query still URL-encoded); ``agi_request`` is the
    whole URL and serves when the former is missing.
    """
    raw = environment.get("agi_network_script")
    if raw is None:
        request = urlsplit(environment.get("agi_request", ""))
        raw = request.path + ("?" + request.query if request.query else "")
    path, _, query = raw.partition("?")
    decoded = dict(parse_qsl(query, keep_blank_values=True))
    return path.lstrip("/"), decoded


# --- formatting commands ------------------------------------------------------------------


class CommandSyntaxError(ValueError):
    """An argument cannot be sent in an AGI command (a command is one line)."""


def check_arg(value: str) -> str:
    """Refuse what cannot travel inside one command line (newlines, NUL)."""
    for forbidden, label in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "NUL")):
        if forbidden in value:
            raise CommandSyntaxError(f"an AGI argument cannot contain {label}: {value!r}")
    return value


def quote_arg(value: str) -> str:
    """Wrap ``value`` in double quotes, escaping ``\\`` and ``"`` for Asterisk's parser.

    >>> quote_arg('say "hi"')
    '"say \\\\"hi\\\\""'
    """
    check_arg(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def token_arg(value: str) -> str:
    """Send ``value`` bare when it is a plain token (as Asterisk's own examples do), quoted
    otherwise (empty, whitespace, quotes or backslashes)."""
    check_arg(value)
    return value if _BARE_TOKEN.match(value) else quote_arg(value)


def format_command(*words: str) -> str:
    """Join already formatted words into one command line (without the line ending)."""
    line = " ".join(words)
    check_arg(line)
    size = len(line.encode("utf-8"))
    if size > MAX_COMMAND_BYTES:
        raise CommandSyntaxError(
            f"an AGI command is at most {MAX_COMMAND_BYTES} bytes, this one has {size}: "
            f"{line[:60]!r}…"
        )
    return line


def digit_from_result(result: int) -> str | None:
    """The DTMF digit of a ``result=<ASCII code>`` (0 → None)."""
    if result <= 0:
        return None
    return chr(result)
