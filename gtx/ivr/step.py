"""One step of a session: the request gtx sends, and running the answer's actions.

The result of a step is what the next request carries as ``result``::

    {"status": "ok", "actions": [{"action": "read", "status": "ok", "digits": "12",
     "attempts": 1, "name": "choice"}], "choice": {…the same struct…}, "digits": "12"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gtx.channel import CallInfo, Channel, ChannelGone, ChannelHangup, CommandFailed
from gtx.ivr.actions import (
    FAILED,
    HANGUP,
    SKIPPED,
    Action,
    ActionOutcome,
    EndSession,
    GotoTarget,
    HandOff,
    RunContext,
)
from gtx.ivr.state import SessionState, Target

#: ``result.status`` values.
RESULT_OK = "ok"
RESULT_HANGUP = "hangup"
RESULT_RESUMED = "resumed"


def build_request(
    info: CallInfo,
    state: SessionState,
    *,
    node: str,
    result: Mapping[str, object],
) -> dict[str, object]:
    """The struct sent to the web service for ``state.step``."""
    return {
        "session": state.session,
        "step": state.step,
        "app": state.app,
        "channel": info.channel,
        "uniqueid": info.uniqueid,
        "caller": {"number": info.caller_number, "name": info.caller_name},
        "called": info.called,
        "context": info.context,
        "extension": info.extension,
        "language": info.language,
        "args": list(info.args),
        "vars": dict(state.vars),
        "result": dict(result),
        "node": node,
        "asterisk": info.asterisk,
        "resumed": state.resumed,
    }


@dataclass
class StepOutcome:
    """What running a step's actions did."""

    actions: list[dict[str, object]] = field(default_factory=list)
    named: dict[str, dict[str, object]] = field(default_factory=dict)
    digits: str | None = None  # digits of the step's last `read`
    hung_up: bool = False  # the caller hung up during the step
    end: EndSession | None = None  # an action ended the session (hangup, transfer)
    goto: Target | None = None  # a `goto` action chose the next method
    handoff: HandOff | None = None  # a `transfer` to another server: the session runs it

    def result(self) -> dict[str, object]:
        """The ``result`` struct of the next request (or of the hang-up call)."""
        result: dict[str, object] = {
            "status": RESULT_HANGUP if self.hung_up else RESULT_OK,
            "actions": self.actions,
        }
        result.update(self.named)
        if self.digits is not None:
            result["digits"] = self.digits
        return result


async def _run_one(action: Action, channel: Channel, ctx: RunContext) -> ActionOutcome:
    try:
        outcome = await action.run(channel, ctx)
    except ChannelGone:
        raise  # the connection to Asterisk is lost: the session cannot report anything
    except ChannelHangup:
        return ActionOutcome(status=HANGUP)
    except CommandFailed as e:
        return ActionOutcome(status=FAILED, fields={"error": str(e)})
    ending = isinstance(outcome.effect, EndSession) and outcome.effect.hangup
    if channel.hung_up and not ending:
        # Dial, queue and record return normally when the caller hangs up: keep their fields.
        outcome.status = HANGUP
    return outcome


async def run_actions(
    actions: Sequence[Action], channel: Channel, ctx: RunContext
) -> StepOutcome:
    """Run ``actions`` in order until one hangs up, ends the session or jumps elsewhere; the
    ones not run are reported as ``skipped``."""
    step = StepOutcome()
    for action in actions:
        entry: dict[str, object] = {"action": action.kind}
        if action.name is not None:
            entry["name"] = action.name
        if step.hung_up or step.end is not None or step.goto is not None or step.handoff:
            entry["status"] = SKIPPED
        else:
            outcome = await _run_one(action, channel, ctx)
            entry["status"] = outcome.status
            entry.update(outcome.fields)
            if outcome.status == HANGUP:
                step.hung_up = True
            if isinstance(outcome.effect, EndSession):
                step.end = outcome.effect
            elif isinstance(outcome.effect, GotoTarget):
                step.goto = outcome.effect.target
            elif isinstance(outcome.effect, HandOff):
                step.handoff = outcome.effect
            if action.kind == "read":
                digits = outcome.fields.get("digits", "")
                step.digits = digits if isinstance(digits, str) else ""
        step.actions.append(entry)
        if action.name is not None:
            step.named[action.name] = entry
    return step


__all__ = ["RESULT_HANGUP", "RESULT_OK", "RESULT_RESUMED", "StepOutcome", "build_request",
           "run_actions"]
