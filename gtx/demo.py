"""``gtx demo`` (``make demo``): the whole product on one machine, with no Asterisk.

It starts the example IVR web services (``examples/``), a gtx node on free loopback ports with
the embedded defaults, and the emulated Asterisk of :mod:`gtx.testing`, then places a few calls
through FastAGI over TCP — exactly as a real Asterisk would — and prints their transcripts, the
node's /health and a few of its metrics. Call time is simulated, so the demo takes seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString

from gtx.config import parse_config
from gtx.tap import GtxNode
from gtx.testing import (
    AnySoundCatalogue,
    CallRecord,
    CallSpec,
    DialDestination,
    EmulatedAsterisk,
    ScriptedCaller,
    connect_emulated_call,
    render_call,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class DemoCall:
    """One scripted call of the demo, and how it should end."""

    title: str
    app: str
    caller: str
    script: str
    expect: str  # the GTX_STATUS it should end with


CALLS = (
    DemoCall("A caller picks sales in the menu and is transferred", "menu", "5551234",
             "press 1 during WAIT FOR DIGIT", "DONE"),
    DemoCall("A prepaid card: PIN, balance, a call of 90 s, the new balance", "prepaid",
             "5559876", "1234#@1.6, 4155550100#@8.2", "DONE"),
    DemoCall("A caller hangs up in the middle of the menu", "menu", "5550000",
             "wait 4; hangup", "HANGUP"),
    DemoCall("A caller enters a wrong digit, then asks for support", "menu", "5552222",
             "press 7 during WAIT FOR DIGIT; wait 8; press 2", "DONE"),
)


def load_example(name: str) -> ModuleType:
    """Import ``examples/NAME.py`` (the demo runs from a checkout of gtx)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"gtx_example_{name}", path)
    if spec is None or spec.loader is None or not path.exists():
        raise SystemExit(f"gtx demo: {path} is missing (run the demo from a checkout of gtx)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def start_example(name: str) -> tuple[Any, int]:
    """Serve an example web service on a free loopback port, in a thread of its own (the
    examples are plain blocking stdlib servers, as an integrator would write them)."""
    server = load_example(name).build_server(port=0)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, server.server_address[1]


async def run_calls(reactor: Any, args: argparse.Namespace, out: TextIO) -> int:
    menu, menu_port = start_example("menu_service")
    prepaid, prepaid_port = start_example("prepaid_service")
    config = parse_config(
        "[gtx]\nnode = demo\nshutdown_timeout = 5\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[store]\nurl = sqlite://\n"
        f"[ivr:menu]\nurl = http://127.0.0.1:{menu_port}/RPC2\nmethod = menu.start\n"
        "hangup_method = menu.hangup\n"
        f"[ivr:prepaid]\nurl = http://127.0.0.1:{prepaid_port}/RPC2\nmethod = prepaid.start\n"
        "hangup_method = prepaid.hangup\n",
        "<demo>",
    )
    node = GtxNode(config, reactor)
    await node.start()
    agi = await serverFromString(reactor, config.fastagi_listen).listen(node.fastagi)
    http = await serverFromString(reactor, config.http_listen).listen(node.site)
    agi_port, http_port = agi.getHost().port, http.getHost().port
    print(f"gtx node 'demo': FastAGI on 127.0.0.1:{agi_port}, HTTP on 127.0.0.1:{http_port}",
          file=out)
    print(f"example services: menu on :{menu_port}, prepaid on :{prepaid_port}\n", file=out)

    asterisk = EmulatedAsterisk(
        reactor, time_scale=0, sounds=AnySoundCatalogue(),
        destinations={"Local/4155550100@gtx-outbound": DialDestination.answer(after=3, talk=90),
                      "PJSIP/operator": DialDestination.answer(after=2, talk=20)},
    )
    failures = 0
    for number, call in enumerate(CALLS[: args.calls], 1):
        spec = CallSpec(request=f"agi://127.0.0.1:{agi_port}/{call.app}",
                        caller_number=call.caller, context="gtx", extension=call.app,
                        priority=2)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", agi_port)
        record: CallRecord = await connect_emulated_call(
            endpoint, spec, ScriptedCaller.parse(call.script), asterisk=asterisk)
        status = record.variables.get("GTX_STATUS", "")
        ok = status == call.expect
        failures += not ok
        print(f"=== call {number}: {call.title}", file=out)
        print(f"    caller {call.caller}, app {call.app}, script {call.script!r}", file=out)
        print(render_call(record), file=out)
        verdict = "as expected" if ok else f"UNEXPECTED (wanted {call.expect})"
        print(f"--- GTX_STATUS={status} {record.variables.get('GTX_ERROR', '')} ({verdict})\n",
              file=out)

    print("/health: " + json.dumps(node.health(), sort_keys=True), file=out)
    for line in node.metrics.render().decode().splitlines():
        if line.startswith(("gtx_ivr_sessions_total", "gtx_ivr_steps_total", "gtx_errors")):
            print(f"  {line}", file=out)
    print(f"prepaid balances: {prepaid.service.accounts.balance('1001')} cents on card 1001",
          file=out)
    await node.drain()
    await agi.stopListening()
    await http.stopListening()
    menu.shutdown()
    prepaid.shutdown()
    print(f"\ndemo {'passed' if failures == 0 else 'FAILED'}: {args.calls} call(s), "
          f"{failures} unexpected", file=out)
    return 1 if failures else 0


def run_demo(reactor: Any, args: argparse.Namespace, out: TextIO) -> int:
    """The ``gtx demo`` command."""
    outcome: dict[str, int] = {}

    def run() -> Deferred[Any]:
        d = ensureDeferred(run_calls(reactor, args, out))
        d.addCallback(lambda code: outcome.__setitem__("code", code))
        d.addErrback(lambda f: print(f"gtx demo failed: {f.getTraceback()}", file=out))
        d.addBoth(lambda _: reactor.stop())
        return d

    reactor.callWhenRunning(run)
    reactor.run()
    return outcome.get("code", 1)
