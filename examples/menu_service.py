"""A phone menu as an XML-RPC web service for gtx — written the way an integrator would.

Only the standard library: gtx speaks plain XML-RPC, so any language and any server works.
The service keeps nothing between requests: where the caller is in the menu travels in the
request's ``vars``, so any number of copies can run behind a load balancer.

The call flow (sound names are Asterisk's)::

    menu.start       answer, "welcome", read 1 digit: 1 sales, 2 support, 0 operator
    menu.choice      main menu:    1 → transfer to gtx-examples,sales
                                   2 → the support menu (1 → support queue, * → back)
                                   0 → dial the operator, then menu.after_call
                     invalid or no input → read again, at most MAX_RETRIES times, then goodbye
    menu.after_call  nobody answered (dial failed, queue timed out) → apology, goodbye
    menu.hangup      the caller hung up (gtx's hangup_method): the call is logged

Run it with ``python examples/menu_service.py --port 8000`` and point gtx.ini at it::

    [ivr:menu]
    url = http://127.0.0.1:8000/RPC2
    method = menu.start
    hangup_method = menu.hangup
"""

from __future__ import annotations

import argparse
import contextlib
import socketserver
import threading
from typing import Any
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCServer

#: XML-RPC fault code for "invalid method parameters" (the fault code interop convention).
INVALID_REQUEST = -32602

#: How many times a failed menu is offered again before the caller is let go.
MAX_RETRIES = 2

MAIN_MENU = ["for", "sales", "press-1", "for", "support", "press-2", "to-reach-operator", "press-0"]
SUPPORT_MENU = ["to-reach-first-rep", "press-1", "vm-starmain"]
INVALID = ["option-is-invalid"]
NO_INPUT = ["please-try-again"]
NOBODY = ["nbdy-avail-to-take-call"]
GOODBYE = ["goodbye"]

#: The queue statuses that mean the caller never reached an agent (Asterisk's QUEUESTATUS).
QUEUE_MISSED = {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}


def fault(message: str) -> Fault:
    """The fault answered for a request this service cannot make sense of."""
    return Fault(INVALID_REQUEST, message)


def field(struct: Any, name: str, kind: type, where: str) -> Any:
    """``struct[name]``, checked to be of ``kind`` (a bool is not an int here)."""
    if not isinstance(struct, dict):
        raise fault(f"{where}: expected a struct, got {type(struct).__name__}")
    value = struct.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise fault(f"{where}.{name}: expected {kind.__name__}, got {value!r}")
    return value


def check_request(request: Any) -> dict[str, Any]:
    """The fields every step needs, validated; the request itself is returned."""
    field(request, "session", str, "request")
    if field(request, "step", int, "request") < 1:
        raise fault(f"request.step: expected 1 or more, got {request['step']}")
    field(request, "vars", dict, "request")
    field(request, "result", dict, "request")
    return dict(request)


def read(name: str, prompt: list[str], pattern: str) -> dict[str, Any]:
    """A one-digit menu read; gtx itself re-prompts once on a wrong or missing digit."""
    return {
        "action": "read",
        "name": name,
        "prompt": prompt,
        "max_digits": 1,
        "timeout": 5,
        "attempts": 2,
        "pattern": pattern,
        "invalid_prompt": INVALID,
        "timeout_prompt": NO_INPUT,
    }


def menu(level: str, retries: int = 0) -> dict[str, Any]:
    """Offer the menu of ``level`` and come back to menu.choice with the digit."""
    if level == "main":
        action = read("choice", MAIN_MENU, "[120]")
    else:
        action = read("choice", SUPPORT_MENU, "[1*]")
    state = {"level": level, "retries": retries}
    return {"actions": [action], "next": "menu.choice", "vars": state}


def goodbye(*prompts: str) -> dict[str, Any]:
    """Play the prompts, say goodbye and hang up (no `next`: the session ends)."""
    return {
        "actions": [{"action": "play", "files": [*prompts, *GOODBYE]}, {"action": "hangup"}],
    }


class MenuService:
    """The menu's steps. ``ended_calls`` collects what menu.hangup was told."""

    def __init__(
        self,
        sales: tuple[str, str] = ("gtx-examples", "sales"),
        operator: str = "Local/operator@gtx-examples",
        support_queue: str = "support",
    ) -> None:
        self.sales = sales
        self.operator = operator
        self.support_queue = support_queue
        self.ended_calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # requests run in threads

    def start(self, request: Any) -> dict[str, Any]:
        """Step 1: answer, welcome the caller, offer the main menu."""
        check_request(request)
        response = menu("main")
        response["actions"][:0] = [{"action": "answer"}, {"action": "play", "files": ["welcome"]}]
        return response

    def choice(self, request: Any) -> dict[str, Any]:
        """A digit was read (or not): branch on it."""
        request = check_request(request)
        level = request["vars"].get("level")
        if level not in ("main", "support"):
            raise fault(f"vars.level: expected 'main' or 'support', got {level!r}")
        retries = field(request["vars"], "retries", int, "vars")
        outcome = field(request["result"], "choice", dict, "result")
        status = field(outcome, "status", str, "result.choice")
        if status in ("hangup", "skipped"):
            return {}  # the caller is gone: nothing left to do
        digits = request["result"].get("digits", "") if status == "ok" else ""
        branches = {
            ("main", "1"): self.to_sales,
            ("main", "2"): self.to_support,
            ("main", "0"): self.to_operator,
            ("support", "1"): self.to_queue,
            ("support", "*"): lambda: menu("main"),
        }
        branch = branches.get((level, digits))
        if branch is not None:
            return branch()
        # Nothing usable: offer the same menu again, a bounded number of times.
        if retries >= MAX_RETRIES:
            return goodbye()
        return menu(level, retries + 1)

    def to_sales(self) -> dict[str, Any]:
        """Hand the call to the sales extension of the dialplan: the session ends there."""
        context, extension = self.sales
        return {
            "actions": [
                {"action": "play", "files": ["pls-hold-while-try"]},
                {"action": "transfer", "context": context, "extension": extension},
            ],
        }

    def to_support(self) -> dict[str, Any]:
        """Name the department, then offer the support menu."""
        response = menu("support")
        response["actions"].insert(0, {"action": "play", "files": ["support"]})
        return response

    def to_operator(self) -> dict[str, Any]:
        """Ring the operator; menu.after_call hears how it went."""
        dial = {"action": "dial", "target": self.operator, "timeout": 30}
        return {"actions": [dial], "next": "menu.after_call"}

    def to_queue(self) -> dict[str, Any]:
        """Wait in the support queue; menu.after_call hears how it went."""
        queue = {"action": "queue", "name": "support", "queue": self.support_queue, "timeout": 300}
        return {"actions": [queue], "next": "menu.after_call"}

    def after_call(self, request: Any) -> dict[str, Any]:
        """Back from the operator or the queue: apologise if nobody took the call."""
        request = check_request(request)
        actions = field(request["result"], "actions", list, "result")
        if not actions or not isinstance(actions[-1], dict):
            raise fault("result.actions: expected the outcome of a dial or queue action")
        outcome = actions[-1]
        if outcome.get("action") == "dial":
            missed = outcome.get("status") == "failed"
        elif outcome.get("action") == "queue":
            missed = outcome.get("queuestatus") in QUEUE_MISSED
        else:
            raise fault(f"result.actions[-1].action: expected dial or queue, got {outcome!r}")
        if missed:
            return goodbye(*NOBODY)
        return {"actions": [{"action": "hangup"}]}

    def hangup(self, request: Any) -> dict[str, Any]:
        """gtx's hangup_method: the caller hung up; keep a record of where they were."""
        request = check_request(request)
        record = {
            "session": request["session"],
            "step": request["step"],
            "level": request["vars"].get("level"),
            "status": request["result"].get("status"),
        }
        with self._lock:
            self.ended_calls.append(record)
        return {}


class ThreadedXMLRPCServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """One thread per request: a slow call never holds up the others."""

    daemon_threads = True
    service: Any = None  # the object whose methods are served, for tests and callers


def build_server(
    host: str = "127.0.0.1", port: int = 8000, service: MenuService | None = None
) -> ThreadedXMLRPCServer:
    """The bound (not yet serving) XML-RPC server; ``server.service`` is the MenuService."""
    service = service or MenuService()
    server = ThreadedXMLRPCServer((host, port), allow_none=True, logRequests=False)
    server.register_introspection_functions()
    server.register_function(service.start, "menu.start")
    server.register_function(service.choice, "menu.choice")
    server.register_function(service.after_call, "menu.after_call")
    server.register_function(service.hangup, "menu.hangup")
    server.service = service
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve the menu until interrupted."""
    parser = argparse.ArgumentParser(description="The gtx example menu, as an XML-RPC service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    args = parser.parse_args(argv)
    with build_server(args.host, args.port) as server:
        host, port = server.server_address[:2]
        print(f"menu service on http://{host}:{port}/RPC2")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
