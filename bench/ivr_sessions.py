"""Benchmark: N concurrent IVR sessions through gtx and two baselines, side by side.

Every system runs the same 3-step IVR (bench/stub_service.py) for the same emulated calls: step 1
plays a prompt and reads one digit (the emulated caller presses 1), step 2 says a number, step 3
has no ``next`` and the call is hung up. Playback takes no time (the emulator's zero-duration
mode), so what is measured is the system, not audio.

Systems:
  gtx         ``gtx serve -c <generated ini>``, FastAGI on a free port of 127.0.0.1
  gtx-ari     the same ``gtx serve`` driving the calls over ARI: its ``[asterisk:bench]``
              ``ari_url`` points at an emulated ARI server inside this process, and the calls
              enter ``Stasis(gtx,bench)`` there (bench/ivr_ari.py)
  pyst2       bench/baselines/pyst2_agi.py: one process per call (process AGI over stdio)
  panoramisk  bench/baselines/panoramisk_fastagi.py: an asyncio FastAGI server

Reported per system: calls/s; p50/p99 of the latency between steps (from Asterisk's reply to the
last command of step N to the first command of step N+1, as the emulated Asterisk sees it; it
includes the web-service round trip); p50 of the time from the AGI environment to step 1's first
command; peak RSS of the server process(es) and RSS per session; commands per call (AGI commands,
or REST requests over ARI); errors (calls that did not run the 3 steps correctly). The run exits
with status 1 when any system has errors.

    python bench/ivr_sessions.py [--calls 1000] [--concurrency N] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from children import HERE, Child, free_port, start_stub
from ivr_ari import ARI_PASSWORD, ARI_USER, ari_step_timings, call_over_ari, emulated_ari
from ivr_calls import (
    DIGIT_PROMPT,
    WELCOME_PROMPT,
    CallRecord,
    RssSampler,
    StepTimings,
    call_over_process,
    call_over_tcp,
    run_calls,
    step_timings,
)
from ivr_report import cpu_seconds, format_table, percentile, ratios

SYSTEMS = ("gtx", "gtx-ari", "pyst2", "panoramisk")

@dataclass
class System:
    """One system under test, ready to take calls."""

    label: str
    concurrency: int
    stub: Child
    place_call: Callable[[int], Any]
    pids: Callable[[], list[int]]
    per_process_rss: bool = False  # RSS summed over one process per call (no idle server)
    children: list[Child] = field(default_factory=list)
    #: Reads a call's step timings (AGI lines by default).
    timings: Callable[[Any], StepTimings] = step_timings
    #: A running count of the commands sent (None: each call's own count, from its timings).
    commands_sent: Callable[[], int] | None = None
    #: Stops what runs inside this process for the system (the emulated ARI server).
    close: Callable[[], Any] | None = None

    def service_problems(self, expected_calls: int) -> tuple[int, list[str]]:
        """Calls the web service saw go wrong: refused requests, calls that never reached
        step 3 (a cross-check of what the emulated Asterisk saw)."""
        url = f"http://127.0.0.1:{self.stub.port}/RPC2"
        stats = xmlrpc.client.ServerProxy(url).bench.stats()
        missing = max(0, expected_calls - stats["served"].get("bench.step3", 0))
        problems = []
        if stats["refused"]:
            problems.append(f"the web service refused {stats['refused']} request(s)")
        if missing:
            problems.append(f"{missing} of {expected_calls} calls never reached step 3")
        return stats["refused"] + missing, problems

    def stop(self) -> None:
        for child in self.children:
            child.stop()


def emulated_asterisk(reactor: Any) -> Callable[[str, list[str]], Any]:
    """A factory of emulated Asterisk channels: zero-duration playback, a caller who presses 1
    while the digit prompt plays."""
    from gtx.testing.agi_emulator import AGIEmulatorProtocol
    from gtx.testing.caller import ScriptedCaller
    from gtx.testing.pbx import CallSpec, EmulatedAsterisk
    from gtx.testing.sounds import SoundCatalogue

    sounds = SoundCatalogue()
    sounds.add(WELCOME_PROMPT, seconds=1.0)
    sounds.add(DIGIT_PROMPT, seconds=1.0)
    asterisk = EmulatedAsterisk(reactor, time_scale=0, sounds=sounds)
    # The caller presses 1 while the digit prompt plays, whichever command plays it (gtx plays
    # it with STREAM FILE then waits for digits; the baselines use GET DATA).
    caller = ScriptedCaller.parse(f"press 1 during STREAM FILE {DIGIT_PROMPT}; "
                                  f"press 1 during GET DATA {DIGIT_PROMPT}")

    def channel(request: str, args: list[str]) -> AGIEmulatorProtocol:
        spec = CallSpec(request=request, args=tuple(args), caller_number="5551234",
                        caller_name="Bench", dnid="100", context="from-bench", extension="100")
        return AGIEmulatorProtocol(asterisk, spec, caller)

    return channel


async def start_system(reactor: Any, name: str, args: argparse.Namespace, stub: Child,
                       workdir: Path) -> System:
    """Start ``name`` against ``stub``; the returned System places calls to it."""
    service = f"http://127.0.0.1:{stub.port}/RPC2"
    channel = emulated_asterisk(reactor)
    timeout = args.call_timeout
    if name == "gtx-ari":
        return await start_gtx_ari(reactor, args, stub, workdir)
    if name == "gtx":
        port = free_port()
        config = workdir / "gtx.ini"
        config.write_text(GTX_INI.format(port=port, http=free_port(), service=service,
                                         store=workdir / "gtx.db", timeout=timeout))
        child = Child("gtx", [sys.executable, "-m", "gtx", "serve", "-c", str(config),
                              "--log-level", "warn"], workdir, port=port)
        request = f"agi://127.0.0.1:{port}/bench"
        return System("gtx", args.concurrency, stub,
                      lambda i: call_over_tcp(reactor, port, lambda: channel(request, []),
                                              CallRecord(i), timeout),
                      lambda: [child.pid], children=[child])
    if name == "panoramisk":
        child = Child("panoramisk", [sys.executable, str(HERE / "baselines/panoramisk_fastagi.py"),
                                     "--url", service, "--method", "bench.start", "--app", "bench"],
                      workdir)
        request = f"agi://127.0.0.1:{child.port}/bench"
        return System("panoramisk FastAGI", args.concurrency, stub,
                      lambda i: call_over_tcp(reactor, child.port, lambda: channel(request, []),
                                              CallRecord(i), timeout),
                      lambda: [child.pid], children=[child])
    script = str(HERE / "baselines/pyst2_agi.py")
    live: set[int] = set()

    def track(pid: int, alive: bool) -> None:
        (live.add if alive else live.discard)(pid)

    argv = [sys.executable, script, service, "bench.start", "bench"]
    return System("pyst2 process AGI", min(args.concurrency, args.process_concurrency), stub,
                  lambda i: call_over_process(reactor, argv, channel(script, argv[2:]),
                                              CallRecord(i), timeout, track),
                  lambda: list(live), per_process_rss=True)


async def start_gtx_ari(reactor: Any, args: argparse.Namespace, stub: Child,
                        workdir: Path) -> System:
    """gtx serve with an ``[asterisk:bench]`` whose ari_url is the emulated ARI server started
    here; ready once gtx's Stasis application is registered on it."""
    from twisted.internet.task import deferLater

    service = f"http://127.0.0.1:{stub.port}/RPC2"
    server = emulated_ari(reactor)
    await server.start()
    config = workdir / "gtx-ari.ini"
    port = free_port()
    config.write_text(GTX_INI.format(port=port, http=free_port(), service=service,
                                     store=workdir / "gtx-ari.db", timeout=args.call_timeout)
                      + GTX_ARI_INI.format(url=server.url, user=ARI_USER,
                                           password=ARI_PASSWORD))
    try:
        child = Child("gtx-ari", [sys.executable, "-m", "gtx", "serve", "-c", str(config),
                                  "--log-level", "warn"], workdir, port=port)
        deadline = time.monotonic() + 30
        while not server.app_connected("gtx"):
            if time.monotonic() > deadline:
                child.stop()
                raise RuntimeError(f"gtx never registered its Stasis application: "
                                   f"{child.log.read_text()[-2000:]}")
            await deferLater(reactor, 0.05, lambda: None)
    except BaseException:
        await server.stop()
        raise
    return System("gtx-ari", args.concurrency, stub,
                  lambda i: call_over_ari(reactor, server, i, args.call_timeout),
                  lambda: [child.pid], children=[child],
                  timings=lambda call: ari_step_timings(server, call),
                  commands_sent=lambda: server.rest_requests, close=server.stop)


GTX_INI = """\
[gtx]
node = bench
shutdown_timeout = 5
[fastagi]
listen = tcp:{port}:interface=127.0.0.1:backlog=1024
[http]
listen = tcp:{http}:interface=127.0.0.1
[store]
url = sqlite:///{store}
[ivr:bench]
url = {service}
method = bench.start
;; the stub only answers slowly when the machine is saturated: wait as long as a call may take
timeout = {timeout:g}
"""
GTX_ARI_INI = """\
[asterisk:bench]
ari_url = {url}
ari_user = {user}
ari_password = {password}
ari_app = gtx
"""


# --- measuring and reporting ------------------------------------------------------------------


async def measure(reactor: Any, system: System, calls: int, warmup: int) -> dict[str, Any]:
    """Warm the system up, note its idle RSS, then run the calls and measure them."""
    await run_calls(warmup, max(1, warmup), system.place_call)
    sampler = RssSampler(reactor, system.pids)
    idle = sampler.sample()
    sampler.start()
    sent_before = system.commands_sent() if system.commands_sent else 0
    cpu_before = cpu_seconds(system.pids()), cpu_seconds([os.getpid()])
    started = time.perf_counter()
    records = await run_calls(calls, system.concurrency, system.place_call)
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(system.pids()), cpu_seconds([os.getpid()])
    sampler.stop()
    between: list[float] = []
    firsts: list[float] = []
    commands: list[int] = []
    problems: list[str] = []
    for record in records:
        try:
            if record.error:
                raise ValueError(record.error)
            timings = system.timings(record)
        except ValueError as error:
            problems.append(f"call {record.index}: {error}")
            continue
        between.extend(timings.between)
        firsts.append(timings.first)
        commands.append(timings.commands)
    failed_calls = len(problems)
    if system.commands_sent is not None:  # REST requests are not all tied to one channel
        commands = [round((system.commands_sent() - sent_before) / calls)] if calls else []
    service_errors, service_problems = system.service_problems(expected_calls=calls + warmup)
    problems += service_problems
    peak_rss, peak_processes = sampler.peak
    per_session = (peak_rss - (0 if system.per_process_rss else idle)) / max(
        1, peak_processes if system.per_process_rss else system.concurrency)
    return {
        "system": system.label,
        "calls": calls,
        "concurrency": system.concurrency,
        "calls/s": len(firsts) / elapsed if elapsed > 0 else 0.0,  # correct calls only
        "step p50 ms": percentile(between, 0.50) * 1000,
        "step p99 ms": percentile(between, 0.99) * 1000,
        "first p50 ms": percentile(firsts, 0.50) * 1000,
        "peak RSS MB": peak_rss / 2**20,
        "RSS/session KB": per_session / 1024,
        "cmds/call": sum(commands) / len(commands) if commands else 0.0,
        "errors": max(failed_calls, service_errors),
        "idle RSS MB": idle / 2**20,
        # CPU per call of the server process (not for a process per call: they are gone) and
        # of this process (the emulated Asterisk and, for gtx-ari, its ARI server).
        "server CPU ms/call": None if system.per_process_rss else
        (cpu_after[0] - cpu_before[0]) * 1000 / calls,
        "driver CPU ms/call": (cpu_after[1] - cpu_before[1]) * 1000 / calls,
        "seconds": elapsed,
        "problems": problems[:5],
    }


async def main_async(reactor: Any, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    rows = []
    for name in args.systems:
        stub = start_stub(workdir)
        try:
            system = await start_system(reactor, name, args, stub, workdir)
            try:
                print(f"{system.label}: {args.calls} calls, concurrency {system.concurrency} …",
                      file=sys.stderr, flush=True)
                rows.append(await measure(reactor, system, args.calls, args.warmup))
            finally:
                system.stop()
                if system.close is not None:
                    await system.close()
        finally:
            stub.stop()
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per system")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="calls in progress at once (default: --calls, at most 10000)")
    parser.add_argument("--process-concurrency", type=int, default=50,
                        help="cap for the process-per-call baseline (one Python process a call)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated, from {', '.join(SYSTEMS)}")
    parser.add_argument("--warmup", type=int, default=20, help="calls before measuring")
    parser.add_argument("--call-timeout", type=float, default=60.0,
                        help="seconds one call may take before it counts as an error")
    parser.add_argument("--quick", action="store_true", help="100 calls (a CI smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.warmup = min(args.calls, 100), min(args.warmup, 5)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(args.systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown system(s): {', '.join(unknown)}")
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    args.concurrency = min(args.concurrency or args.calls, args.calls, 10_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The asyncio reactor, as gtx serve runs on: the emulated ARI server (aiohttp) shares its
    # loop. Every system of a run is driven by this same reactor.
    from gtx.cli import install_asyncio_reactor

    reactor = install_asyncio_reactor()
    from twisted.internet.defer import Deferred

    outcome: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gtx-bench-") as tmp:
        def done(result: Any) -> None:
            outcome["result"] = result
            reactor.stop()

        def start() -> None:
            Deferred.fromCoroutine(main_async(reactor, args, Path(tmp))).addBoth(done)

        reactor.callWhenRunning(start)
        reactor.run()
    result = outcome.get("result")
    if not isinstance(result, list):
        print(f"the benchmark failed: {getattr(result, 'getTraceback', lambda: result)()}",
              file=sys.stderr)
        return 2
    print(format_table(result))
    for line in ratios(result):
        print(line)
    for row in result:
        server = row["server CPU ms/call"]
        print(f"{row['system']}: CPU per call {'-' if server is None else f'{server:.2f}'} ms "
              f"in the server, {row['driver CPU ms/call']:.2f} ms in the benchmark driver")
    for row in result:
        for problem in row["problems"]:
            print(f"ERROR {row['system']}: {problem}", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    failed = [row["system"] for row in result if row["errors"]]
    if failed:
        print(f"FAILED: errors in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
