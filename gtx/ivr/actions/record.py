"""The ``record`` action: the caller speaks into a file (see :mod:`.recording` for recording
a whole call in the background)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Final, Self

from gtx.channel import Channel
from gtx.ivr.actions.base import (
    FAILED,
    HANGUP,
    OK,
    Action,
    ActionOutcome,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.fields import Fields

#: Asterisk records at 8000 samples per second whatever the format; ``endpos`` counts samples.
SAMPLE_RATE: Final = 8000
DEFAULT_NAME: Final = "gtx-{session}-{step}"
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_\-.{}/]{1,200}")
_FORMAT_RE: Final = re.compile(r"[a-z0-9]{1,10}")
_PLACEHOLDERS: Final = re.compile(r"\{(session|step)\}")


def recording_path(record_dir: str, name: str, session: str, step: int) -> str:
    """The absolute path (without extension) of a recording named ``name``."""
    name = name.replace("{session}", session).replace("{step}", str(step))
    return posixpath.normpath(posixpath.join(record_dir, name))


@register
@dataclass(frozen=True)
class Record(Action):
    """Record the caller into a file under the app's ``record_dir``."""

    kind = "record"
    parameters = ("file", "format", "max_seconds", "silence_seconds", "beep", "terminator")
    file: str = DEFAULT_NAME
    format: str = "wav"
    max_seconds: int = 60
    silence_seconds: int = 5
    beep: bool = True
    terminator: str = "#"
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        file = fields.string(
            "file", DEFAULT_NAME, pattern=_NAME_RE,
            expected="a file name relative to the record directory (letters, digits, _ - . /, "
            "{session} and {step})",
        )
        # Placeholders are the only braces allowed; then the path must stay inside record_dir.
        if "{" in _PLACEHOLDERS.sub("", file) or "}" in _PLACEHOLDERS.sub("", file):
            raise fields.error("file", "expected only {session} and {step} between braces", file)
        if file.startswith("/"):
            raise fields.error("file", "expected a relative name: absolute paths are refused "
                               "(recordings go to the app's record_dir)", file)
        if ".." in file.split("/"):
            raise fields.error("file", "expected a name without '..' (recordings stay in the "
                               "app's record_dir)", file)
        return cls(
            file=file,
            format=fields.string("format", "wav", pattern=_FORMAT_RE,
                                 expected="a sound format such as wav, gsm or ulaw"),
            max_seconds=fields.integer("max_seconds", 60, low=1, high=3600),
            silence_seconds=fields.integer("silence_seconds", 5, low=0, high=60),
            beep=fields.boolean("beep", True),
            terminator=fields.dtmf("terminator", "#"),
        )

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        path = recording_path(ctx.app.record_dir, self.file, ctx.session, ctx.step)
        if not path.startswith(posixpath.normpath(ctx.app.record_dir) + "/"):
            # Only a session id read back from the channel could do this: never write outside.
            return ActionOutcome(status=FAILED, fields={"error": "the recording path leaves "
                                                        "the record directory"})
        result = await channel.record(
            path,
            self.format,
            self.terminator,
            float(self.max_seconds),
            self.silence_seconds or None,
            self.beep,
        )
        fields: dict[str, object] = {
            "file": f"{path}.{self.format}",
            "reason": result.reason,
            "digit": result.digit or "",
            "duration": round(result.endpos / SAMPLE_RATE, 3),
        }
        status = {"hangup": HANGUP, "error": FAILED}.get(result.reason, OK)
        return ActionOutcome(status=status, fields=fields)
