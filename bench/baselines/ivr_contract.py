"""The part of the IVR API contract both baselines share: the request and the step result.

Hand-written IVR scripts usually carry this logic inline; it is kept in one place here so the two
baselines send exactly the same requests as gtx does and differ only in how they talk to
Asterisk (a process per call with pyst2, or FastAGI with panoramisk).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Node and server names the baselines put in their requests (gtx puts its own).
NODE = "baseline"


def build_request(
    env: Mapping[str, str],
    *,
    app: str,
    session: str,
    step: int,
    session_vars: Mapping[str, Any],
    result: Mapping[str, Any],
) -> dict[str, Any]:
    """The struct sent to the web service for one step, from the AGI environment."""
    args = [value for key, value in sorted(env.items(), key=_arg_order) if key.startswith(
        "agi_arg_")]
    return {
        "session": session,
        "step": step,
        "app": app,
        "channel": env.get("agi_channel", ""),
        "uniqueid": env.get("agi_uniqueid", ""),
        "caller": {"number": _known(env.get("agi_callerid")),
                   "name": _known(env.get("agi_calleridname"))},
        "called": _known(env.get("agi_dnid")),
        "context": env.get("agi_context", ""),
        "extension": env.get("agi_extension", ""),
        "language": env.get("agi_language", ""),
        "args": args,
        "vars": dict(session_vars),
        "result": dict(result),
        "node": NODE,
        "asterisk": "",
        "resumed": False,
    }


def step_result(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``result`` of a step: every action's outcome, named ones by name, the last digits."""
    result: dict[str, Any] = {"status": "ok", "actions": outcomes}
    for outcome in outcomes:
        if outcome.get("name"):
            result[outcome["name"]] = outcome
        if outcome["action"] == "read":
            result["digits"] = outcome.get("digits", "")
    return result


def files_of(value: Any) -> list[str]:
    """A ``files`` parameter: one name or a list of names."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _known(value: str | None) -> str:
    return "" if value in (None, "unknown") else value


def _arg_order(item: tuple[str, str]) -> int:
    key = item[0]
    return int(key[len("agi_arg_"):]) if key.startswith("agi_arg_") and key[8:].isdigit() else 0
