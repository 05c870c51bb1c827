"""Fixtures that run an example web service on a real loopback socket and call it like gtx."""

from __future__ import annotations

import importlib.util
import sys
import threading
import xmlrpc.client
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT


def load_example(name: str) -> ModuleType:
    """Import examples/NAME.py (examples/ is a folder of scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def serve() -> Iterator[Callable[[Any], xmlrpc.client.ServerProxy]]:
    """Serve a built server in a thread; answer a ServerProxy on it, as gtx would hold one."""
    running: list[tuple[Any, threading.Thread, xmlrpc.client.ServerProxy]] = []

    def start(server: Any) -> xmlrpc.client.ServerProxy:
        # A short poll interval: shutdown() waits for the loop to notice.
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        host, port = server.server_address[:2]
        proxy = xmlrpc.client.ServerProxy(f"http://{host}:{port}/RPC2", allow_none=True)
        running.append((server, thread, proxy))
        return proxy

    yield start
    for server, thread, proxy in running:
        proxy("close")()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def make_request(
    step: int,
    *,
    app: str,
    vars: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    session: str = "1795304604.1",
    resumed: bool = False,
) -> dict[str, Any]:
    """A request struct with every field of the IVR contract."""
    return {
        "session": session,
        "step": step,
        "app": app,
        "channel": "PJSIP/alice-00000001",
        "uniqueid": session,
        "caller": {"number": "5551234", "name": "Alice"},
        "called": "500",
        "context": "gtx",
        "extension": app,
        "language": "en",
        "args": [],
        "vars": vars or {},
        "result": result or {},
        "node": "gtx1",
        "asterisk": "pbx1",
        "resumed": resumed,
    }


def action_result(action: str, status: str = "ok", name: str | None = None, **fields: Any):
    """One action's outcome, as it appears in result.actions."""
    outcome = {"action": action, "status": status, **fields}
    if name is not None:
        outcome["name"] = name
    return outcome


def step_result(*outcomes: dict[str, Any], status: str = "ok") -> dict[str, Any]:
    """The `result` of a step: its actions, each named one by name, and the last read's digits."""
    result: dict[str, Any] = {"status": status, "actions": list(outcomes)}
    for outcome in outcomes:
        if "name" in outcome:
            result[outcome["name"]] = outcome
        if outcome["action"] == "read":
            result["digits"] = outcome.get("digits", "")
    return result


def read_result(name: str, digits: str, status: str = "ok", attempts: int = 1) -> dict[str, Any]:
    """The result of a step whose last action was a read called ``name``."""
    outcome = action_result("read", status, name, digits=digits, attempts=attempts)
    return step_result(outcome)


class Call:
    """Drives a service step by step the way gtx does: vars merged, `next` followed."""

    def __init__(self, proxy: xmlrpc.client.ServerProxy, app: str, method: str) -> None:
        self.proxy = proxy
        self.app = app
        self.next: str | None = method
        self.vars: dict[str, Any] = {}
        self.steps = 0

    def step(self, result: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
        """Call the next method with ``result``; return the response."""
        assert self.next is not None, "the session has ended"
        self.steps += 1
        sent = make_request(self.steps, app=self.app, vars=dict(self.vars), result=result)
        sent.update(request)
        response: dict[str, Any] = getattr(self.proxy, self.next)(sent)
        self.vars.update(response.get("vars", {}))
        self.next = response.get("next")
        return response


def kinds(response: dict[str, Any]) -> list[str]:
    """The action names of a response, in order."""
    return [action["action"] for action in response.get("actions", [])]
