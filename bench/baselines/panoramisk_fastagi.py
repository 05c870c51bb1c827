"""Baseline "panoramisk FastAGI": an asyncio FastAGI server written by hand with panoramisk.

A ``panoramisk.fast_agi.Application`` with one route; each call runs the IVR API contract: call
the service's method with a request struct, run the actions it returns with AGI commands, call
``next``, until there is no ``next``; then hang up. The web service is called with the standard
library's ``xmlrpc.client`` in the loop's default thread pool (``loop.run_in_executor``), as is
usual when the XML-RPC client is blocking; each pool thread keeps its own ServerProxy, so HTTP
connections are reused. It implements the actions the benchmark uses (play, read, say, hangup).

    python bench/baselines/panoramisk_fastagi.py --url URL --method METHOD [--port 0]

It prints ``listening on PORT`` once ready and stops when stdin closes or after --max-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import threading
import xmlrpc.client
from typing import Any

from ivr_contract import build_request, files_of, step_result
from panoramisk.fast_agi import Application, Request


class AGIFailed(Exception):
    """A command failed, or the channel hung up."""


class ServiceClient:
    """Blocking XML-RPC calls, run in the event loop's default executor."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def _call(self, method: str, request: dict[str, Any]) -> Any:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:  # ServerProxy is not thread-safe: one per pool thread
            proxy = self._local.proxy = xmlrpc.client.ServerProxy(self.url, allow_none=True)
        return getattr(proxy, method)(request)

    async def call(self, method: str, request: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._call, method, request)


async def command(request: Request, line: str) -> str:
    """Send one AGI command; return its ``result=`` value."""
    reply = await request.send_command(line)
    if "error" in reply:
        raise AGIFailed(f"{line}: {reply['error']} {reply.get('msg', '')}")
    return str(reply["result"][0])


def _digit(result: str) -> str:
    return chr(int(result)) if result not in ("", "0") else ""


async def run_action(request: Request, action: dict[str, Any]) -> dict[str, Any]:
    """Run one action with AGI commands; return its outcome for the next request."""
    kind = action["action"]
    outcome: dict[str, Any] = {"action": kind, "status": "ok"}
    if action.get("name"):
        outcome["name"] = action["name"]
    if kind == "play":
        played, missing, digit = 0, [], ""
        interrupt = action.get("interrupt", "")
        for name in files_of(action.get("files")):
            try:
                digit = _digit(await command(request, f'STREAM FILE {name} "{interrupt}"'))
            except AGIFailed:
                missing.append(name)
                continue
            played += 1
            if digit:
                break
        outcome.update(digit=digit, played=played, missing=missing)
    elif kind == "read":
        prompt = (files_of(action.get("prompt")) or ["silence/1"])[0]
        timeout_ms = int(action.get("timeout", 5) * 1000)
        max_digits = int(action.get("max_digits", 1))
        digits, attempts = "", 0
        while attempts < int(action.get("attempts", 3)):
            attempts += 1
            digits = await command(request, f"GET DATA {prompt} {timeout_ms} {max_digits}")
            if len(digits) >= int(action.get("min_digits", 1)):
                break
        outcome.update(digits=digits, attempts=attempts, status="ok" if digits else "timeout")
    elif kind == "say" and action.get("type") == "number":
        interrupt = action.get("interrupt", "")
        said = await command(request, f'SAY NUMBER {int(action["value"])} "{interrupt}"')
        outcome["digit"] = _digit(said)
    elif kind == "hangup":
        await command(request, "HANGUP")
        outcome["status"] = "hangup"
    else:
        raise ValueError(f"action {kind!r} is not implemented by this baseline")
    return outcome


def ivr_route(service: ServiceClient, first_method: str, app: str) -> Any:
    """The FastAGI route: one IVR session per connection."""

    async def session(request: Request) -> None:
        env = dict(request.headers)
        method: str | None = first_method
        session_vars: dict[str, Any] = {}
        result: dict[str, Any] = {}
        response: dict[str, Any] = {}
        step = 1
        while method:
            response = await service.call(method, build_request(
                env, app=app, session=env.get("agi_uniqueid", ""), step=step,
                session_vars=session_vars, result=result))
            session_vars.update(response.get("vars", {}))
            outcomes = [await run_action(request, action)
                        for action in response.get("actions", [])]
            if any(o["status"] == "hangup" for o in outcomes):
                return
            result = step_result(outcomes)
            method = response.get("next")
            step += 1
        if response.get("end", "hangup") == "hangup":
            await command(request, "HANGUP")

    return session


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    app = Application(loop=loop)
    app.add_route(args.app, ivr_route(ServiceClient(args.url), args.method, args.app))
    server = await asyncio.start_server(app.handler, "127.0.0.1", args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening on {port}\n")
    sys.stdout.flush()
    # Stop when the parent closes our stdin (no server outlives a benchmark), or on time.
    stdin_closed = asyncio.Event()
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            stdin_closed.set()

    loop.add_reader(fd, on_stdin)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stdin_closed.wait(), args.max_seconds)
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the web service's XML-RPC URL")
    parser.add_argument("--method", required=True, help="the method called for step 1")
    parser.add_argument("--app", default="bench", help="the FastAGI route (agi://HOST/APP)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
