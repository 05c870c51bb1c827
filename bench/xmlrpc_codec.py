"""Benchmark: gtx's XML-RPC codec against the standard library's, on typical IVR payloads.

Encodes and decodes an IVR step request (gtx → web service) and a step response (web service →
gtx) N times with each codec in the same run, and prints operations per second and the ratio
gtx/stdlib (above 1.0 means gtx is faster).

    python bench/xmlrpc_codec.py [-n 5000]
"""

from __future__ import annotations

import argparse
import time
import xmlrpc.client
from collections.abc import Callable

from gtx.xmlrpc import codec

#: A step request as the IVR engine sends it (step 3 of a menu, after a `read`).
REQUEST: dict[str, object] = {
    "session": "3f1c9a0e-8b1d-4c55-9a57-0c5d2f6a9e11",
    "step": 3,
    "app": "menu",
    "channel": "PJSIP/alice-00000012",
    "uniqueid": "1795000000.42",
    "caller": {"number": "+33123456789", "name": "Alice & Bob <Ltd>"},
    "called": "0800123456",
    "context": "from-trunk",
    "extension": "s",
    "language": "fr",
    "args": ["sales", "priority=2"],
    "vars": {"customer": "C-000123", "attempts": 1, "balance": 12.5, "vip": True},
    "result": {
        "status": "ok",
        "actions": [
            {"action": "play", "status": "ok", "digit": "", "played": 2, "missing": []},
            {"action": "read", "status": "ok", "digits": "2", "attempts": 1, "name": "choice"},
        ],
        "choice": {"action": "read", "status": "ok", "digits": "2", "attempts": 1},
        "digits": "2",
    },
    "node": "gtx-a",
    "asterisk": "pbx1",
    "resumed": False,
}

#: A step response from the web service.
RESPONSE: dict[str, object] = {
    "actions": [
        {"action": "play", "files": ["custom/welcome", "digits/2"], "interrupt": "#"},
        {
            "action": "read",
            "name": "account",
            "prompt": "custom/enter-account",
            "max_digits": 8,
            "timeout": 5,
            "terminator": "#",
            "attempts": 3,
        },
    ],
    "next": "menu.account",
    "vars": {"customer": "C-000123", "menu": "sales", "tries": 2},
}


_STDLIB_CALL = xmlrpc.client.dumps((REQUEST,), "menu.step", allow_none=True).encode("utf-8")
_STDLIB_RESPONSE = xmlrpc.client.dumps((RESPONSE,), methodresponse=True, allow_none=True).encode()
_GTX_CALL = codec.dumps_call("menu.step", [REQUEST])
_GTX_RESPONSE = codec.dumps_response(RESPONSE)

#: (payload, stdlib operation, gtx operation): the gtx → service call, then the answer.
CASES: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
    (
        "request encode",
        lambda: xmlrpc.client.dumps((REQUEST,), "menu.step", allow_none=True).encode("utf-8"),
        lambda: codec.dumps_call("menu.step", [REQUEST]),
    ),
    (
        "request decode",
        lambda: xmlrpc.client.loads(_STDLIB_CALL, use_builtin_types=True),
        lambda: codec.loads_call(_GTX_CALL),
    ),
    (
        "response encode",
        lambda: xmlrpc.client.dumps((RESPONSE,), methodresponse=True, allow_none=True).encode(),
        lambda: codec.dumps_response(RESPONSE),
    ),
    (
        "response decode",
        lambda: xmlrpc.client.loads(_STDLIB_RESPONSE, use_builtin_types=True),
        lambda: codec.loads_response(_GTX_RESPONSE),
    ),
    (
        "round trip (all four)",
        lambda: (
            xmlrpc.client.loads(
                xmlrpc.client.dumps((REQUEST,), "m", allow_none=True).encode(),
                use_builtin_types=True,
            ),
            xmlrpc.client.loads(
                xmlrpc.client.dumps((RESPONSE,), methodresponse=True, allow_none=True).encode(),
                use_builtin_types=True,
            ),
        ),
        lambda: (
            codec.loads_call(codec.dumps_call("m", [REQUEST])),
            codec.loads_response(codec.dumps_response(RESPONSE)),
        ),
    ),
]


def _rate(operation: Callable[[], object], count: int) -> float:
    """Operations per second, best of three rounds (the least disturbed one)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(count):
            operation()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="operations per round")
    count = parser.parse_args().n
    assert codec.loads_call(codec.dumps_call("menu.step", [REQUEST])) == ("menu.step", [REQUEST])
    print(f"XML-RPC encode+decode, {count} operations per round, best of 3")
    print(f"{'IVR step payload':<24}{'stdlib ops/s':>14}{'gtx ops/s':>14}{'gtx/stdlib':>12}")
    for name, stdlib, ours in CASES:
        base, mine = _rate(stdlib, count), _rate(ours, count)
        print(f"{name:<24}{base:>14,.0f}{mine:>14,.0f}{mine / base:>11.2f}x")


if __name__ == "__main__":
    main()
