"""Actions on the dialplan and the session flow: set, exec, goto."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Self

from gtx.channel import Channel, UnknownApplication
from gtx.ivr.actions.base import (
    FAILED,
    Action,
    ActionOutcome,
    GotoTarget,
    RunContext,
    ValidationContext,
    register,
)
from gtx.ivr.fields import METHOD_RE, NAME_RE, Fields, has_control_characters
from gtx.ivr.state import Target

_APPLICATION_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_URL_RE: Final = re.compile(r"https?://[^\s\x00-\x1f\x7f]{1,2000}")
MAX_EXEC_ARGS: Final = 32
MAX_SET_VARS: Final = 50


def parse_target(fields: Fields, ctx: ValidationContext) -> Target:
    """``{app}``, ``{url, method}`` or ``{method}`` (same url) — used by ``goto`` and ``next``."""
    if fields.has("app"):
        fields.only(("app", "action", "name"))
        app = fields.string("app", expected="the name of a configured app")
        config = ctx.apps.get(app)
        if config is None:
            listing = ", ".join(sorted(ctx.apps)) or "none"
            raise fields.error("app", f"expected a configured app (configured: {listing})", app)
        return Target(config.url, config.method, app)
    fields.only(("url", "method", "action", "name"))
    method = fields.string("method", pattern=METHOD_RE, expected="a method name")
    if not fields.has("url"):
        return Target(ctx.url, method)
    return Target(fields.string("url", pattern=_URL_RE, expected="an http:// or https:// url",
                                max_length=2000), method)


@register
@dataclass(frozen=True)
class SetVariables(Action):
    """Set channel variables (for the dialplan after the session, or for CDRs)."""

    kind = "set"
    parameters = ("vars",)
    values: tuple[tuple[str, str], ...] = ()
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        members = fields.struct_member("vars")
        if not 1 <= len(members.struct) <= MAX_SET_VARS:
            raise fields.error("vars", f"expected a struct of 1 to {MAX_SET_VARS} variables")
        values = []
        for key, value in members.struct.items():
            if not NAME_RE.fullmatch(key):
                raise members.error(key, "expected a variable name of letters, digits and _, "
                                    "not starting with a digit")
            if key.upper().startswith("GTX_"):
                raise members.error(key, "GTX_* variables are reserved for gtx")
            if isinstance(value, int) and not isinstance(value, bool):
                text = str(value)
            elif isinstance(value, str) and len(value) <= 1024 and not has_control_characters(
                value
            ):
                text = value
            else:
                raise members.error(key, "expected a string (one line, at most 1024 characters) "
                                    "or an int", value)
            values.append((key, text))
        return cls(values=tuple(values))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        for key, text in self.values:
            await channel.set_variable(key, text)
        return ActionOutcome()


@register
@dataclass(frozen=True)
class Exec(Action):
    """Run a dialplan application from the app's ``exec_allowed`` list."""

    kind = "exec"
    parameters = ("application", "args")
    application: str = ""
    args: tuple[str, ...] = ()
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        application = fields.string("application", pattern=_APPLICATION_RE,
                                    expected="a dialplan application name")
        allowed = {name.lower() for name in ctx.app.exec_allowed}
        if application.lower() not in allowed:
            listing = ", ".join(sorted(ctx.app.exec_allowed)) or "none"
            raise fields.error(
                "application",
                f"{application!r} is not allowed for app {ctx.app.name!r} "
                f"(exec_allowed: {listing})",
            )
        raw = fields.struct.get("args", [])
        if not isinstance(raw, list) or len(raw) > MAX_EXEC_ARGS:
            raise fields.error("args", f"expected an array of at most {MAX_EXEC_ARGS} strings", raw)
        for index, arg in enumerate(raw):
            if not isinstance(arg, str) or has_control_characters(arg) or "," in arg:
                raise fields.error(f"args[{index}]", "expected a string without commas or "
                                   "control characters (each argument is one element)", arg)
        return cls(application=application, args=tuple(raw))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        try:
            value = await channel.exec(self.application, self.args)
        except UnknownApplication as e:
            return ActionOutcome(status=FAILED, fields={"value": -2, "error": str(e)})
        return ActionOutcome(fields={"value": value})


@register
@dataclass(frozen=True)
class Goto(Action):
    """Send the next step to another method or app; ends the step's actions."""

    kind = "goto"
    parameters = ("app", "url", "method")
    must_be_last = True
    target: Target = field(default_factory=lambda: Target("", ""))
    name: str | None = None

    @classmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        return cls(target=parse_target(fields, ctx))

    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        return ActionOutcome(effect=GotoTarget(self.target))
