"""Recording files: their names (from a template, never outside the recordings directory),
what gtx can read of them (size, and duration from the header), and their removal.

Names come from ``options.name``, a template of placeholders in braces — ``{recording_id}``,
``{call_id}``, ``{session}``, ``{campaign_id}``, ``{uniqueid}``, ``{asterisk}``, ``{date}``
(``YYYYMMDD``, UTC, at the start), ``{time}`` (``HHMMSS``) and ``{metadata.KEY}`` (a string
or number of the recording's metadata) — plus ``.FORMAT``; split legs add ``-in`` (what the
channel hears) and ``-out`` (what it says). A template or a value that could reach outside the
directory is refused before anything is sent to Asterisk: no path separator, no ``..``, no
leading dot, no control character, no ``$`` (Asterisk would expand it), and the final path
must be a file directly in the directory.

The functions that touch the disk read at most a WAV header (a few hundred bytes) or stat a
file: they are cheap on a local disk. Nothing here writes a file; MixMonitor does, on the
Asterisk host.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gtx.errors import InvalidArgument

#: The longest file name accepted (before the leg suffix and the extension).
MAX_NAME = 200

#: Bytes per second of the raw formats Asterisk writes (a WAV file says its own).
_BYTE_RATES = {
    "ulaw": 8000, "ul": 8000, "pcm": 8000, "alaw": 8000, "al": 8000,
    "sln": 16000, "raw": 16000, "sln16": 32000,
    "gsm": 1650,  # 33-byte frames of 20 ms
    "g722": 8000, "g729": 1000,
}

_WAV_FORMATS = {"wav", "wav16", "wav49"}
_FORMAT = re.compile(r"[A-Za-z0-9]{1,16}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELDS = ("recording_id", "call_id", "session", "campaign_id", "uniqueid", "asterisk",
           "date", "time")
_FORBIDDEN = re.compile(r"[/\\$\x00-\x1f\x7f]")

#: How much of a WAV file is read to find its ``data`` chunk.
_HEADER_BYTES = 4096


@dataclass(frozen=True)
class NameValues:
    """What a name template may use."""

    recording_id: str
    started: float
    call_id: str | None = None
    session: str | None = None
    campaign_id: int | None = None
    uniqueid: str | None = None
    asterisk: str | None = None
    metadata: Mapping[str, object] | None = None


def _check_name(name: str, what: str) -> None:
    """InvalidArgument (field ``options.name``) when ``name`` could leave the directory."""
    if _FORBIDDEN.search(name):
        raise InvalidArgument("options.name", f"{what} contains a path separator, '$' or a "
                              f"control character: {name!r}")
    if ".." in name:
        raise InvalidArgument("options.name", f"{what} contains '..': {name!r}")
    if name.startswith("."):
        raise InvalidArgument("options.name", f"{what} starts with a dot: {name!r}")


def expand_name(template: str, values: NameValues) -> str:
    """The file name (without extension) ``template`` gives for ``values``."""
    _check_name(template, "the template")
    at = datetime.fromtimestamp(values.started, UTC)
    fields: dict[str, object | None] = {
        "recording_id": values.recording_id, "call_id": values.call_id,
        "session": values.session, "campaign_id": values.campaign_id,
        "uniqueid": values.uniqueid, "asterisk": values.asterisk,
        "date": at.strftime("%Y%m%d"), "time": at.strftime("%H%M%S"),
    }
    metadata = values.metadata or {}

    def value_of(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("metadata."):
            item = metadata.get(key.removeprefix("metadata."))
            if item is None:
                raise InvalidArgument("options.name", f"{{{key}}}: no such metadata")
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise InvalidArgument("options.name",
                                      f"{{{key}}}: only a string or a number can name a file")
            text = str(item)
            _check_name(text, f"{{{key}}}")
            return text
        if key not in fields:
            known = ", ".join("{" + f + "}" for f in _FIELDS)
            raise InvalidArgument("options.name", f"unknown placeholder {{{key}}}; known: "
                                  f"{known}, {{metadata.KEY}}")
        value = fields[key]
        return "" if value is None else str(value).replace("/", "_")

    name = _PLACEHOLDER.sub(value_of, template)
    if "{" in name or "}" in name:
        raise InvalidArgument("options.name", f"unbalanced braces in {template!r}")
    if not name:
        raise InvalidArgument("options.name", f"{template!r} gives an empty name")
    if len(name) > MAX_NAME:
        raise InvalidArgument("options.name", f"the name is longer than {MAX_NAME} characters")
    _check_name(name, "the name")
    return name


def inside(directory: str, path: str) -> bool:
    """Whether ``path`` is a file directly in ``directory`` (lexically: nothing resolved)."""
    return (os.path.isabs(path)
            and os.path.dirname(os.path.normpath(path)) == os.path.normpath(directory)
            and os.path.normpath(path) == path)


def recording_paths(directory: str, name: str, format_: str, split: bool) -> tuple[str, ...]:
    """The files of a recording: the mixed one, then ``-in`` and ``-out`` when split."""
    if not _FORMAT.fullmatch(format_):
        raise InvalidArgument("options.format", f"not a file format: {format_!r}")
    if not os.path.isabs(directory):
        raise ValueError(f"the recordings directory must be absolute: {directory!r}")
    stems = (name, f"{name}-in", f"{name}-out") if split else (name,)
    paths = tuple(os.path.join(os.path.normpath(directory), f"{stem}.{format_}")
                  for stem in stems)
    for path in paths:
        if not inside(directory, path):  # _check_name makes this impossible; be sure
            raise InvalidArgument("options.name", f"{path!r} is outside the recordings "
                                  "directory")
    return paths


# -- what gtx can see of the files ------------------------------------------------------


@dataclass(frozen=True)
class FilesCheck:
    """What gtx saw of a recording's files. ``reachable`` False: the recordings directory is
    not visible from gtx (Asterisk on another host, nothing shared), so nothing is known."""

    reachable: bool
    size: int | None = None  # all the files, in bytes
    duration: float | None = None  # seconds, of the mixed file
    missing: tuple[str, ...] = ()


def wav_duration(header: bytes, file_size: int) -> float | None:
    """The duration of a RIFF/WAVE file from its first bytes, or None when it is not one.

    A header Asterisk did not finish (the data size still 0, or past the end of the file)
    is read as "the data runs to the end of the file"."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(header):
        chunk, size = struct.unpack_from("<4sI", header, offset)
        body = offset + 8
        if chunk == b"fmt " and body + 12 <= len(header):
            byte_rate = struct.unpack_from("<I", header, body + 8)[0]
        elif chunk == b"data":
            if byte_rate <= 0:
                return None
            available = max(file_size - body, 0)
            data = available if size == 0 or size > available else size
            return data / byte_rate
        offset = body + size + (size & 1)
    return None


def visible(directory: str) -> bool:
    """Whether gtx sees the recordings directory (it runs on the Asterisk host, or the
    directory is shared)."""
    return os.path.isdir(directory)


def check_files(directory: str, paths: Sequence[str], format_: str) -> FilesCheck:
    """Stat the files and read the duration of the first (see the module docstring)."""
    if not visible(directory):
        return FilesCheck(reachable=False)
    size, missing = 0, []
    for path in paths:
        try:
            size += os.stat(path).st_size
        except FileNotFoundError:
            missing.append(path)
    duration = None
    if paths and paths[0] not in missing:
        duration = file_duration(paths[0], format_)
    return FilesCheck(reachable=True, size=size, duration=duration, missing=tuple(missing))


def file_duration(path: str, format_: str) -> float | None:
    """Seconds of audio in ``path`` (None: a format whose length gtx cannot tell)."""
    try:
        file_size = os.stat(path).st_size
        if format_.lower() in _WAV_FORMATS:
            with open(path, "rb") as f:
                return wav_duration(f.read(_HEADER_BYTES), file_size)
    except OSError:
        return None
    rate = _BYTE_RATES.get(format_.lower())
    return None if rate is None else file_size / rate


def exists(path: str) -> bool:
    """Whether anything (even a dangling link) has that path."""
    return os.path.lexists(path)


def remove_files(directory: str, paths: Sequence[str]) -> list[str]:
    """Remove the files that are there and return those removed. A path outside
    ``directory`` is never touched (ValueError)."""
    removed = []
    for path in paths:
        if not inside(directory, path):
            raise ValueError(f"{path!r} is not in the recordings directory {directory!r}")
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed
