"""Baseline "process AGI": one Python process per call, the way IVRs are often written by hand.

Asterisk runs ``AGI(pyst2_agi.py,URL,METHOD)``: it forks this script for every call, writes the
AGI environment on its stdin and reads commands from its stdout. The script follows the IVR API
contract with pyst2's ``asterisk.agi.AGI`` and the standard library's ``xmlrpc.client``: call
the service's method with a request struct, run the actions it returns, call ``next``, until
there is no ``next``; then hang up. It implements the actions the benchmark uses (play, read,
say, hangup) and refuses the others.

    python bench/baselines/pyst2_agi.py URL METHOD [APP]   (stdin/stdout: AGI)
"""

from __future__ import annotations

import sys
import xmlrpc.client
from typing import Any

from asterisk.agi import AGI, AGIAppError
from ivr_contract import build_request, files_of, step_result


def run_action(agi: AGI, action: dict[str, Any]) -> dict[str, Any]:
    """Run one action with AGI commands; return its outcome for the next request."""
    kind = action["action"]
    outcome: dict[str, Any] = {"action": kind, "status": "ok"}
    if action.get("name"):
        outcome["name"] = action["name"]
    if kind == "play":
        played, missing, digit = 0, [], ""
        for name in files_of(action.get("files")):
            try:
                digit = agi.stream_file(name, escape_digits=action.get("interrupt", ""))
            except AGIAppError:
                missing.append(name)
                continue
            played += 1
            if digit:
                break
        outcome.update(digit=digit, played=played, missing=missing)
    elif kind == "read":
        prompt = (files_of(action.get("prompt")) or ["silence/1"])[0]
        timeout_ms = int(action.get("timeout", 5) * 1000)
        digits = ""
        attempts = 0
        while attempts < int(action.get("attempts", 3)):
            attempts += 1
            digits = agi.get_data(prompt, timeout_ms, int(action.get("max_digits", 1)))
            if len(digits) >= int(action.get("min_digits", 1)):
                break
        outcome.update(digits=digits, attempts=attempts,
                       status="ok" if digits else "timeout")
    elif kind == "say" and action.get("type") == "number":
        outcome["digit"] = agi.say_number(action["value"], action.get("interrupt", ""))
    elif kind == "hangup":
        agi.hangup()
        outcome["status"] = "hangup"
    else:
        raise ValueError(f"action {kind!r} is not implemented by this baseline")
    return outcome


def main() -> int:
    url, method = sys.argv[1], sys.argv[2]
    app = sys.argv[3] if len(sys.argv) > 3 else "bench"
    agi = AGI()
    service = xmlrpc.client.ServerProxy(url, allow_none=True)
    session = agi.env.get("agi_uniqueid", "")
    session_vars: dict[str, Any] = {}
    result: dict[str, Any] = {}
    step = 1
    while method:
        request = build_request(agi.env, app=app, session=session, step=step,
                                session_vars=session_vars, result=result)
        response = getattr(service, method)(request)
        session_vars.update(response.get("vars", {}))
        outcomes = [run_action(agi, action) for action in response.get("actions", [])]
        if any(o["status"] == "hangup" for o in outcomes):
            return 0
        result = step_result(outcomes)
        method = response.get("next")
        step += 1
    if response.get("end", "hangup") == "hangup":
        agi.hangup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
