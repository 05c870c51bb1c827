"""Parse and validate a web service's answer into a :class:`Response`.

Everything is checked before the first action runs, so a caller never hears half a step of a
broken answer. Problems raise :class:`~gtx.ivr.errors.InvalidResponse` naming the step, the
place in the response and what was expected.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from gtx.ivr.actions import REGISTRY, Action, ValidationContext
from gtx.ivr.actions.calls import Transfer
from gtx.ivr.actions.control import parse_target
from gtx.ivr.errors import InvalidResponse
from gtx.ivr.fields import METHOD_RE, NAME_RE, Fields
from gtx.ivr.state import Target
from gtx.xmlrpc.describe import describe

MAX_ACTIONS: Final = 100
MAX_VAR_DEPTH: Final = 8


@dataclass(frozen=True)
class Response:
    """A validated answer: actions to run, variables to merge, where to go next."""

    actions: tuple[Action, ...] = ()
    next: Target | None = None
    vars: Mapping[str, object] = field(default_factory=dict)
    end: str = "hangup"


def _check_value(value: object, where: str, step: int, depth: int = 0) -> None:
    """A session variable value: string, int, double, boolean, nil, array or struct."""
    if depth > MAX_VAR_DEPTH:
        raise InvalidResponse(f"step {step}: {where}: expected at most {MAX_VAR_DEPTH} levels of "
                              "arrays and structs")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidResponse(f"step {step}: {where}: expected a finite number, got {value}")
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]", step, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_value(item, f"{where}.{key}", step, depth + 1)
        return
    # xmlrpc.client's DateTime/Binary wrappers, or the datetime/bytes a codec may produce.
    type_name = type(value).__name__
    if isinstance(value, datetime.datetime) or type_name == "DateTime":
        kind = "dateTime"
    elif isinstance(value, bytes | bytearray) or type_name == "Binary":
        kind = "base64"
    else:
        kind = type_name
    raise InvalidResponse(
        f"step {step}: {where}: {kind} values cannot be kept in session variables "
        f"(use a string), got {describe(value)}"
    )


def parse_vars(fields: Fields) -> dict[str, object]:
    members = fields.struct_member("vars")
    for key, value in members.struct.items():
        if not NAME_RE.fullmatch(key):
            raise members.error(key, "expected a variable name of letters, digits and _, not "
                                "starting with a digit")
        _check_value(value, members.where(key), fields.step)
    return dict(members.struct)


def parse_actions(fields: Fields, ctx: ValidationContext) -> tuple[Action, ...]:
    raw = fields.struct["actions"]
    if not isinstance(raw, list):
        raise fields.error("actions", "expected an array of action structs", raw)
    if len(raw) > MAX_ACTIONS:
        raise fields.error("actions", f"expected at most {MAX_ACTIONS} actions, got {len(raw)}")
    actions: list[Action] = []
    for index, item in enumerate(raw):
        where = f"actions[{index}]"
        if not isinstance(item, dict):
            raise fields.error(where, "expected an action struct", item)
        action_fields = Fields(item, where, ctx.step)
        kind = item.get("action")
        cls = REGISTRY.get(kind) if isinstance(kind, str) else None
        if cls is None:
            listing = ", ".join(sorted(REGISTRY))
            raise action_fields.error("action", f"expected one of {listing}", kind)
        action = cls.validate(action_fields, ctx)
        if cls.must_be_last and index != len(raw) - 1:
            raise action_fields.error(
                "action", f"{kind} ends the step, so it must be the last action"
            )
        actions.append(action)
    names = [action.name for action in actions if action.name is not None]
    for name in names:
        if names.count(name) > 1:
            raise fields.error("actions", f"two actions are named {name!r}: result names must "
                               "be unique in a step")
    return tuple(actions)


def parse_next(fields: Fields, ctx: ValidationContext) -> Target:
    value = fields.struct["next"]
    if isinstance(value, str):
        if not METHOD_RE.fullmatch(value):
            raise fields.error("next", "expected a method name, {url, method} or {app}", value)
        return Target(ctx.url, value)
    if not isinstance(value, dict):
        raise fields.error("next", "expected a method name, {url, method} or {app}", value)
    return parse_target(Fields(value, "next", ctx.step), ctx)


def parse_response(value: object, ctx: ValidationContext) -> Response:
    """Validate a web service's answer for step ``ctx.step``."""
    if not isinstance(value, dict):
        raise InvalidResponse(
            f"step {ctx.step}: response: expected a struct with actions, next, vars and end, "
            f"got {describe(value)}"
        )
    for key in value:
        if not isinstance(key, str):
            raise InvalidResponse(f"step {ctx.step}: response: struct keys must be strings")
    fields = Fields(value, "", ctx.step)
    fields.only(("actions", "next", "vars", "end"))
    if "next" in value and not value.get("next"):
        next_target = None  # "" or an empty struct: the same as no next
    else:
        next_target = parse_next(fields, ctx) if "next" in value else None
    actions = parse_actions(fields, ctx) if "actions" in value else ()
    for index, action in enumerate(actions):
        if isinstance(action, Transfer) and action.dial is not None and next_target is None:
            raise InvalidResponse(
                f"step {ctx.step}: actions[{index}]: a transfer with dial hands the session to "
                "another server, which continues at the response's next: give next")
        if isinstance(action, Transfer) and action.handoff and next_target is None:
            raise InvalidResponse(
                f"step {ctx.step}: actions[{index}].handoff: the session continues at the "
                "response's next wherever the call goes: give next")
    return Response(
        actions=actions,
        next=next_target,
        vars=parse_vars(fields) if "vars" in value else {},
        end=fields.choice("end", ("hangup", "continue"), "hangup"),
    )
