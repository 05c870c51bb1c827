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
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.internet.task import deferLater

from gtx.config import parse_config
from gtx.tap import GtxNode
from gtx.testing import (
    AnySoundCatalogue,
    ARICallRecord,
    CallRecord,
    CallSpec,
    DialDestination,
    EmulatedAMIServer,
    EmulatedAsterisk,
    ScriptedCaller,
    connect_emulated_call,
    render_call,
)
from gtx.testing.ari_server import EmulatedARIServer
from gtx.xmlrpc.client import XMLRPCClient

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


#: The demo campaign's contacts: number → what the emulated called party does.
CAMPAIGN = {
    "5553000": DialDestination.answer(after=2, talk=40),
    "5553001": DialDestination.answer(after=4, talk=40),
    "5553002": DialDestination.busy(),
    "5553003": DialDestination.answer(after=1, talk=40),
    "5553004": DialDestination.no_answer(),
    "5553005": DialDestination.machine(after=3, talk=20),
    "5553006": DialDestination.answer(after=6, talk=40),
    "5553007": DialDestination.congestion(),
}
CAMPAIGN_EXPECTED = {"answered": 4, "busy": 1, "no_answer": 1, "machine": 1, "congestion": 1}


async def run_calls(reactor: Any, args: argparse.Namespace, out: TextIO) -> int:
    menu, menu_port = start_example("menu_service")
    prepaid, prepaid_port = start_example("prepaid_service")
    # The Asterisk the campaign dials through: AMI over TCP, call time 100 times faster.
    pbx = EmulatedAsterisk(reactor, time_scale=0.01, sounds=AnySoundCatalogue(),
                           destinations={f"PJSIP/{n}@trunk": d for n, d in CAMPAIGN.items()})
    ami = EmulatedAMIServer(pbx, users={"gtx": "demo"}, reactor=reactor)
    ami_port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(ami)
    recordings = tempfile.mkdtemp(prefix="gtx-demo-recordings-")
    # A second Asterisk, driven over ARI: calls enter Stasis(gtx,APP) there.
    ari = EmulatedARIServer(EmulatedAsterisk(reactor, time_scale=0.01,
                                             sounds=AnySoundCatalogue()),
                            password="demo")  # noqa: S106 - the emulator's account
    await ari.start()
    config = parse_config(
        "[gtx]\nnode = demo\nshutdown_timeout = 5\n"
        "[fastagi]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[http]\nlisten = tcp:0:interface=127.0.0.1\n"
        "[store]\nurl = sqlite://\n"
        f"[asterisk:pbx1]\nami = tcp:127.0.0.1:{ami_port.getHost().port}\n"
        "ami_user = gtx\nami_secret = demo\n"
        f"[asterisk:pbx2]\nari_url = {ari.url}\nari_user = gtx\nari_password = demo\n"
        "[dialer]\nchannel = PJSIP/{number}@trunk\ntick = 0.05\n"
        f"[recorder]\ndir = {recordings}\n"
        f"[ivr:menu]\nurl = http://127.0.0.1:{menu_port}/RPC2\nmethod = menu.start\n"
        "hangup_method = menu.hangup\n"
        f"[ivr:prepaid]\nurl = http://127.0.0.1:{prepaid_port}/RPC2\nmethod = prepaid.start\n"
        "hangup_method = prepaid.hangup\n",
        "<demo>",
    )
    node = GtxNode(config, reactor)
    agi = await serverFromString(reactor, config.fastagi_listen).listen(node.fastagi)
    http = await serverFromString(reactor, config.http_listen).listen(node.site)
    agi_port, http_port = agi.getHost().port, http.getHost().port
    node.http_listening_on(http_port)
    ami.fastagi = ("127.0.0.1", agi_port)
    await node.start()
    while not node.ari["pbx2"].connected:
        await deferLater(reactor, 0.01, lambda: None)
    print(f"gtx node 'demo': FastAGI on 127.0.0.1:{agi_port}, HTTP on 127.0.0.1:{http_port}",
          file=out)
    print(f"example services: menu on :{menu_port}, prepaid on :{prepaid_port}\n", file=out)

    failures = await ivr_calls(reactor, args, agi_port, out)
    failures += await ari_call(ari, out)
    failures += await broadcast_campaign(reactor, node, f"http://127.0.0.1:{http_port}/RPC2", out)

    print("\n/health: " + json.dumps(node.health(), sort_keys=True), file=out)
    for line in node.metrics.render().decode().splitlines():
        if line.startswith(("gtx_ivr_sessions_total", "gtx_ivr_steps_total", "gtx_errors")):
            print(f"  {line}", file=out)
    print(f"prepaid balances: {prepaid.service.accounts.balance('1001')} cents on card 1001",
          file=out)
    await node.drain()
    for port in (agi, http, ami_port):
        await port.stopListening()
    ami.disconnect_all()
    await ari.stop()
    menu.shutdown()
    prepaid.shutdown()
    shutil.rmtree(recordings, ignore_errors=True)
    print(f"\ndemo {'passed' if failures == 0 else 'FAILED'}: {args.calls} call(s) over "
          f"FastAGI, one over ARI and a campaign, {failures} unexpected", file=out)
    return 1 if failures else 0


async def ivr_calls(reactor: Any, args: argparse.Namespace, agi_port: int, out: TextIO) -> int:
    """Inbound calls straight into the IVR apps; returns how many ended unexpectedly."""
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
    return failures


async def ari_call(ari: EmulatedARIServer, out: TextIO) -> int:
    """The menu again, on the Asterisk driven over ARI: same web service, same session."""
    # The welcome prompt cannot be interrupted (the 9 is lost); the menu's prompts can.
    caller = "press 9 during play; press 1 during play"
    record: ARICallRecord = await ari.stasis_call(
        CallSpec(caller_number="5553333", context="gtx-ari", extension="menu", priority=2),
        caller, args=["menu"])
    status = record.variables.get("GTX_STATUS", "")
    ok = status == "DONE" and record.continued_at is not None
    print("=== ARI call: the same menu over Stasis(gtx,menu) on pbx2", file=out)
    print(f"    caller 5553333, script {caller!r}", file=out)
    print(f"    heard: {', '.join(record.played)}", file=out)
    where = ",".join(map(str, record.continued_at)) if record.continued_at else "-"
    verdict = "as expected" if ok else "UNEXPECTED (wanted DONE and a transfer)"
    print(f"--- GTX_STATUS={status}, continued at {where} ({verdict})\n", file=out)
    return 0 if ok else 1


async def broadcast_campaign(reactor: Any, node: GtxNode, api: str, out: TextIO) -> int:
    """A broadcast campaign through the Dialer API whose answered calls enter the menu app;
    returns 0 when every contact ended as its emulated called party behaves."""
    client = XMLRPCClient(reactor)

    async def rpc(method: str, *params: object) -> Any:
        return await client.call(api, method, list(params), timeout=5)

    try:
        print("=== a broadcast campaign: answered calls enter the menu app", file=out)
        campaign = await rpc("dialer.campaign.create", {
            "name": "demo reminders", "mode": "broadcast", "on_answer": {"app": "menu"},
            "amd": True, "max_concurrent": 3, "max_cps": 5, "timeout": 20, "max_attempts": 1,
            "record": True,
            "windows": [{"days": "mon-sun", "start": "00:00", "end": "23:59"}],
        })
        campaign_id = campaign["campaign_id"]
        added = await rpc("dialer.campaign.add_contacts", campaign_id,
                          [{"number": n, "vars": {"customer": f"C-{n[-2:]}"}} for n in CAMPAIGN])
        print(f"    campaign {campaign_id}: {added['added']} contacts added; started", file=out)
        await rpc("dialer.campaign.start", campaign_id)
        shown = ""
        status: dict[str, Any] = {}
        for _ in range(3000):  # at most a minute
            status = await rpc("dialer.campaign.status", campaign_id)
            counters = {k: v for k, v in sorted(status["counters"].items()) if v}
            line = f"    {status['state']:<9} {counters}"
            if line != shown:
                print(line, file=out)
                shown = line
            if status["state"] == "completed":
                break
            await deferLater(reactor, 0.02, lambda: None)
        results = await rpc("dialer.campaign.results", campaign_id, {"limit": 100})
        listed: dict[str, Any] = {"recordings": []}
        for _ in range(500):  # the recordings of the last calls are being finalised
            listed = await rpc("recorder.list", {"limit": 100})
            if all(r["state"] in ("ready", "failed") for r in listed["recordings"]):
                break
            await deferLater(reactor, 0.02, lambda: None)
    finally:
        await client.close()
    print("    results:", file=out)
    for call in results["calls"]:
        print(f"      {call['number']}  {call.get('outcome', '-'):<10} {call.get('cause', '')}",
              file=out)
    print("    recordings (the campaign records every answered call; an answering machine's "
          "too when it stays on long enough: recording starts on answer, before AMD's "
          "verdict hangs it up):", file=out)
    for rec in listed["recordings"]:
        print(f"      {rec['recording_id']}  {rec['state']:<6} {rec.get('size', '?'):>8} bytes "
              f"{rec.get('duration', '?')} s  {', '.join(rec['files'])}", file=out)
    ready = [r for r in listed["recordings"] if r["state"] == "ready" and r.get("size", 0) > 44]
    outcomes = {k: v for k, v in status.get("counters", {}).items() if k in CAMPAIGN_EXPECTED}
    ok = (status.get("state") == "completed" and outcomes == CAMPAIGN_EXPECTED
          and len(ready) >= CAMPAIGN_EXPECTED["answered"])
    print(f"--- campaign {status.get('state')} "
          f"({'as expected' if ok else f'UNEXPECTED (wanted {CAMPAIGN_EXPECTED})'})", file=out)
    return 0 if ok else 1


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
