"""The benchmark's IVR web service: a small, fast Twisted XML-RPC server in its own process.

Every system under test (gtx and the baselines) calls the same three methods with one request
struct, as the IVR API contract says, and runs the actions they return:

    bench.start   step 1: play a prompt, then read one digit (named "choice")
    bench.step2   step 2: say the number 40 + the digit read in step 1
    bench.step3   step 3: no actions and no ``next`` → the session ends with a hang-up

Each method checks what it was sent (the step number, the digit of the previous step, the
session variables set so far) and answers an XML-RPC fault when something is wrong, so a system
that does not carry a call through the three steps correctly shows up as an error in the report.
``bench.stats`` returns how many requests each method served and how many were refused.

    python bench/stub_service.py [--port 0]

It prints ``listening on PORT`` on stdout once ready, and stops when stdin closes (its parent
died or closed the pipe), on SIGTERM, or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from twisted.internet import reactor, stdio
from twisted.internet.protocol import Protocol
from twisted.web import server, xmlrpc

#: The digit the emulated caller presses in step 1; step 2 says 40 + that digit.
EXPECTED_DIGIT = "1"
#: Sound files of step 1, so the benchmark driver can find the step's commands.
WELCOME_PROMPT = "bench-welcome"
DIGIT_PROMPT = "bench-press-a-digit"
#: Fault code of a request the stub refuses (a system under test got a step wrong).
BAD_REQUEST = 4000


class BenchService(xmlrpc.XMLRPC):
    """The three steps of the benchmark IVR, under the ``bench.`` prefix."""

    def __init__(self) -> None:
        super().__init__(allowNone=True)
        self.served: Counter[str] = Counter()
        self.refused = 0

    def lookupProcedure(self, procedurePath: str) -> Any:
        # Dotted names without sub-handlers: "bench.start" → xmlrpc_bench_start.
        return super().lookupProcedure(procedurePath.replace(".", "_"))

    def _check(self, method: str, request: Any, step: int) -> dict[str, Any]:
        self.served[method] += 1
        problems = []
        if not isinstance(request, dict):
            problems.append(f"the request is not a struct: {request!r}")
        elif request.get("step") != step:
            problems.append(f"expected step {step}, got {request.get('step')!r}")
        if problems:
            self.refused += 1
            raise xmlrpc.Fault(BAD_REQUEST, f"{method}: {'; '.join(problems)}")
        return request

    def _refuse(self, method: str, message: str) -> xmlrpc.Fault:
        self.refused += 1
        return xmlrpc.Fault(BAD_REQUEST, f"{method}: {message}")

    def xmlrpc_bench_start(self, request: Any) -> dict[str, Any]:
        """Step 1: a prompt, then one digit."""
        self._check("bench.start", request, 1)
        return {
            "actions": [
                {"action": "play", "files": WELCOME_PROMPT},
                {"action": "read", "name": "choice", "prompt": DIGIT_PROMPT, "max_digits": 1,
                 "timeout": 5, "terminator": "", "attempts": 1},
            ],
            "vars": {"menu": "main"},
            "next": "bench.step2",
        }

    def xmlrpc_bench_step2(self, request: Any) -> dict[str, Any]:
        """Step 2: say 40 + the digit read in step 1."""
        request = self._check("bench.step2", request, 2)
        result = request.get("result") or {}
        digits = result.get("digits")
        if digits != EXPECTED_DIGIT:
            raise self._refuse("bench.step2", f"expected result.digits {EXPECTED_DIGIT!r}, "
                                              f"got {digits!r}")
        if (request.get("vars") or {}).get("menu") != "main":
            raise self._refuse("bench.step2", f"vars lost: {request.get('vars')!r}")
        return {
            "actions": [{"action": "say", "type": "number", "value": 40 + int(digits)}],
            "vars": {"choice": digits},
            "next": "bench.step3",
        }

    def xmlrpc_bench_step3(self, request: Any) -> dict[str, Any]:
        """Step 3: nothing more to do; without ``next`` the session ends with a hang-up."""
        request = self._check("bench.step3", request, 3)
        session_vars = request.get("vars") or {}
        if session_vars.get("choice") != EXPECTED_DIGIT or session_vars.get("menu") != "main":
            raise self._refuse("bench.step3", f"vars lost: {session_vars!r}")
        return {"actions": []}

    def xmlrpc_bench_stats(self) -> dict[str, Any]:
        """How many requests each method served, and how many were refused."""
        return {"served": dict(self.served), "refused": self.refused}


class _StopOnStdinClose(Protocol):
    """Stops the reactor when the parent closes our stdin (so no stub outlives a benchmark)."""

    def connectionLost(self, reason: object = None) -> None:
        if reactor.running:
            reactor.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="stop by itself after this long")
    args = parser.parse_args(argv)
    site = server.Site(BenchService())
    site.noisy = False
    port = reactor.listenTCP(args.port, site, backlog=1024, interface="127.0.0.1")
    sys.stdout.write(f"listening on {port.getHost().port}\n")
    sys.stdout.flush()
    stdio.StandardIO(_StopOnStdinClose())
    reactor.callLater(args.max_seconds, reactor.stop)
    reactor.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
