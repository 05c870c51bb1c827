"""Reading an Asterisk configuration file the way Asterisk does, for ``gtx check-config``.

pyst2 (``asterisk.config``) parses the ``[section]`` and ``key = value`` lines; this module adds
what pyst2 leaves out and Asterisk applies: ``#include`` / ``#tryinclude`` (relative to the
configuration directory, globs allowed), section options ``[name](!)`` (a template, not an
object), ``[name](base)`` (inherit base's settings) and ``[name](+)`` (add to an earlier
section of that name). Values are stripped (pyst2 keeps the space after ``=``). Every setting
remembers the file and line it comes from, so a problem can say where to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asterisk.config import Config, ParseError

#: How deep ``#include`` may nest (Asterisk refuses include loops too).
MAX_INCLUDE_DEPTH = 10
_INCLUDE = re.compile(r"^#\s*(include|tryinclude)\s+(.+?)\s*$")
_HEADER_OPTIONS = re.compile(r"^(\[[^\]]+\])\s*\(([^)]*)\)\s*(;.*)?$")
#: Asterisk's ast_true(): the values that mean yes.
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})


class AsteriskConfError(Exception):
    """A configuration file cannot be read or parsed (the message names the file)."""


def is_true(value: str) -> bool:
    """Whether Asterisk reads ``value`` as yes."""
    return value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Origin:
    """Where a line comes from."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Setting:
    """One ``key = value`` line."""

    value: str
    origin: Origin


@dataclass
class Section:
    """One ``[name]`` section with its settings (a repeated key keeps its last value)."""

    name: str
    origin: Origin
    template: bool = False
    settings: dict[str, Setting] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        """The value of ``key``, or ``default`` when the section does not set it."""
        setting = self.settings.get(key)
        return setting.value if setting is not None else default

    def where(self, key: str) -> str:
        """Where to fix ``key``: the line that sets it, or the section that could."""
        setting = self.settings.get(key)
        if setting is not None:
            return f"{setting.origin.file} [{self.name}] {key} (line {setting.origin.line})"
        return f"{self.origin.file} [{self.name}] {key} (not set)"


@dataclass
class AsteriskFile:
    """A configuration file and the files it includes, as one list of sections."""

    path: Path
    sections: list[Section]
    included: list[Path]

    def first(self, name: str) -> Section | None:
        """The first section named ``name`` that is not a template: the one Asterisk reads
        for ``[general]``, and the object of that name."""
        return next((s for s in self.sections if s.name == name and not s.template), None)


class _Lines(Config):  # type: ignore[misc]  # pyst2 is untyped
    """pyst2's parser fed with lines already read (it would otherwise open the file itself,
    and leave it open)."""

    def __init__(self, name: str, lines: list[str]) -> None:
        self._given = lines
        super().__init__(name)

    def load(self) -> None:
        self.raw_lines = self._given


def _expand(path: Path, base: Path, depth: int = 0) -> Iterator[tuple[str, Origin]]:
    """The lines of ``path`` with every ``#include`` replaced by the included lines."""
    if depth > MAX_INCLUDE_DEPTH:
        raise AsteriskConfError(f"{path}: #include nested over {MAX_INCLUDE_DEPTH} deep (a loop?)")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise AsteriskConfError(f"{path}: cannot read: {e.strerror}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        include = _INCLUDE.match(line.strip())
        if include is None:
            yield line, Origin(path, number)
            continue
        kind, target = include.groups()
        target = target.strip("\"<>")
        candidate = Path(target) if Path(target).is_absolute() else base / target
        matches = sorted(candidate.parent.glob(candidate.name)) if "*" in target else (
            [candidate] if candidate.exists() else [])
        if not matches and kind == "include":
            raise AsteriskConfError(f"{path}:{number}: #include {target}: no such file "
                                    "(Asterisk refuses to load the file then)")
        for included in matches:
            yield f";#{kind} {included}", Origin(path, number)  # marks the inclusion
            yield from _expand(included, base, depth + 1)


def read(path: Path) -> AsteriskFile:
    """Read ``path`` (and what it includes, relative to its directory) like Asterisk."""
    lines: list[str] = []
    origins: list[Origin] = []
    options: dict[int, list[str]] = {}  # line number (1-based, in `lines`) -> header options
    included: list[Path] = []
    for text, origin in _expand(path, path.parent):
        if origin.file != path and origin.file not in included:
            included.append(origin.file)
        header = _HEADER_OPTIONS.match(text.strip())
        if header is not None:  # pyst2 does not know "[name](options)": it gets "[name]"
            options[len(lines) + 1] = [o.strip() for o in header.group(2).split(",") if o.strip()]
        lines.append((header.group(1) if header is not None else text) + "\n")
        origins.append(origin)
    try:
        parsed: Any = _Lines(str(path), lines)
    except ParseError as e:
        number, message = e.args[0], e.args[1] if len(e.args) > 1 else "cannot parse"
        known = isinstance(number, int) and 0 < number <= len(lines)
        where = origins[number - 1] if known else path
        raise AsteriskConfError(f"{where}: {message}") from None
    sections: list[Section] = []
    for category in parsed.categories:
        opts = options.get(category.number, [])
        section = Section(category.name.strip(), origins[category.number - 1], "!" in opts)
        for parent in (o for o in opts if o not in ("!", "+")):
            base = next((s for s in sections if s.name == parent), None)
            if base is None:
                raise AsteriskConfError(f"{section.origin}: [{section.name}] inherits from "
                                        f"[{parent}], which is not defined above it")
            section.settings.update(base.settings)
        for item in category.items:
            name = item.name.strip()
            section.settings[name] = Setting(item.value.strip(), origins[item.number - 1])
        earlier = next((s for s in reversed(sections) if s.name == section.name), None)
        if "+" in opts and earlier is not None:
            earlier.settings.update(section.settings)
        else:
            sections.append(section)
    return AsteriskFile(path, sections, included)
