"""``gtx simulate``: run a web service through a simulated call, with no Asterisk.

The call goes through the real gtx stack — the IVR engine, the FastAGI server, the XML-RPC
client — against the emulated Asterisk of :mod:`gtx.testing`, wired in memory. Call time is
simulated (prompts, timeouts and the caller's script take no real time); the web service is
called for real, over HTTP.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from twisted.internet.defer import Deferred, ensureDeferred

from gtx.asterisk.agi_server import FastAGIFactory
from gtx.ivr.app import IvrApp
from gtx.ivr.engine import IvrEngine
from gtx.metrics import Metrics
from gtx.testing import (
    AnySoundCatalogue,
    CallerScriptError,
    CallRecord,
    CallSpec,
    EmulatedAsterisk,
    ScriptedCaller,
    SoundCatalogue,
    connect_emulated_call,
    render_call,
)
from gtx.xmlrpc.client import XMLRPCClient

#: The app name the simulated call asks for: AGI(agi://127.0.0.1:4573/simulate).
APP = "simulate"


def caller_script(dtmf: str, hangup_after: float | None) -> ScriptedCaller:
    """The scripted caller of ``--dtmf`` and ``--hangup-after``."""
    script = dtmf.strip()
    if hangup_after is not None:
        script = f"{script}; hangup@{hangup_after:g}" if script else f"hangup@{hangup_after:g}"
    return ScriptedCaller.parse(script) if script else ScriptedCaller.silent()


async def simulate_call(
    reactor: Any,
    app: IvrApp,
    spec: CallSpec,
    caller: ScriptedCaller,
    *,
    asterisk: EmulatedAsterisk | None = None,
) -> CallRecord:
    """Run one simulated call of ``app`` and return what happened on it."""
    client = XMLRPCClient(reactor)
    engine = IvrEngine(
        clock=reactor, webservice=client, apps={app.name: app}, url_app_defaults=None,
        node="simulate", metrics=Metrics(),
    )
    factory = FastAGIFactory(engine.run, clock=reactor)
    emulated = asterisk if asterisk is not None else EmulatedAsterisk(
        reactor, time_scale=0, sounds=AnySoundCatalogue())
    try:
        return await connect_emulated_call(factory, spec, caller, asterisk=emulated)
    finally:
        await client.close()


def run_simulation(reactor: Any, args: argparse.Namespace, out: TextIO) -> int:
    """The ``gtx simulate`` command: print the call's transcript; 0 unless the session failed."""
    try:
        caller = caller_script(args.dtmf, args.hangup_after)
    except CallerScriptError as e:
        print(f"gtx simulate: --dtmf: {e}", file=out)
        return 2
    app = IvrApp(name=APP, url=args.url, method=args.method, timeout=args.timeout, retries=0)
    spec = CallSpec(
        request=f"agi://127.0.0.1:4573/{APP}",
        args=tuple(args.arg),
        caller_number=args.caller or None,
        caller_name=args.caller_name or None,
        dnid=args.called or None,
    )
    sounds = SoundCatalogue() if args.strict_sounds else AnySoundCatalogue()
    emulated = EmulatedAsterisk(reactor, time_scale=0, sounds=sounds)
    outcome: dict[str, int] = {}

    def done(record: CallRecord) -> None:
        print(render_call(record), file=out)
        status = record.variables.get("GTX_STATUS", "")
        error = record.variables.get("GTX_ERROR", "")
        print(f"\nGTX_STATUS={status}" + (f"  GTX_ERROR={error}" if error else ""), file=out)
        outcome["code"] = 1 if status in {"ERROR", "RUNNING", ""} else 0

    def failed(failure: Any) -> None:
        print(f"gtx simulate: {failure.getErrorMessage()}", file=out)
        outcome["code"] = 1

    def run() -> Deferred[Any]:
        d = ensureDeferred(simulate_call(reactor, app, spec, caller, asterisk=emulated))
        d.addCallbacks(done, failed)
        d.addBoth(lambda _: reactor.stop())
        return d

    reactor.callWhenRunning(run)
    reactor.run()
    return outcome.get("code", 1)
