"""``gtx campaign …``: operator tools over the Dialer API (XML-RPC at ``/RPC2``).

::

    gtx campaign create --spec spec.json
    gtx campaign import CAMPAIGN contacts.csv
    gtx campaign start|pause|resume|stop CAMPAIGN
    gtx campaign status CAMPAIGN [--watch] [--interval S]
    gtx campaign list

Every command takes ``--url`` (default ``$GTX_API_URL`` or ``http://127.0.0.1:8090/RPC2``) and
credentials: ``--user`` (or ``$GTX_API_USER``) with ``$GTX_API_PASSWORD`` (asked for on a
terminal when unset), or ``--token`` (or ``$GTX_API_TOKEN``). It is an XML-RPC *client*: it
blocks, as a command-line tool may; the gtx service itself never does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import getpass
import http.client
import io
import json
import os
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

from gtx.campaign_import import DEFAULT_BATCH, CsvError, ProgressBar, bar, import_contacts

DEFAULT_URL: Final = "http://127.0.0.1:8090/RPC2"
FINAL_STATES: Final = frozenset({"completed", "stopped"})
_CONTACT_STATES: Final = ("pending", "dialing", "done", "dnc")


class _Bounded:
    """Sends ``Authorization`` with every request, and bounds every wait (mixed into the
    standard library's transports, plain and TLS)."""

    auth: str | None
    timeout: float

    def send_headers(self, connection: http.client.HTTPConnection,
                     headers: list[tuple[str, str]]) -> None:
        super().send_headers(connection, _with_auth(headers, self.auth))  # type: ignore[misc]

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection = super().make_connection(host)  # type: ignore[misc]
        connection.timeout = self.timeout
        return connection


class _Transport(_Bounded, xmlrpc.client.Transport):
    def __init__(self, auth: str | None, timeout: float) -> None:
        super().__init__()
        self.auth, self.timeout = auth, timeout


class _SafeTransport(_Bounded, xmlrpc.client.SafeTransport):  # type: ignore[misc]  # HTTPS is an HTTPConnection
    def __init__(self, auth: str | None, timeout: float) -> None:
        super().__init__()
        self.auth, self.timeout = auth, timeout


def _with_auth(headers: list[tuple[str, str]], auth: str | None) -> list[tuple[str, str]]:
    return [*headers, ("Authorization", auth)] if auth else headers


def authorization(user: str | None, password: str | None, token: str | None) -> str | None:
    """The ``Authorization`` header value for these credentials (a token wins)."""
    if token:
        return f"Bearer {token}"
    if user:
        pair = f"{user}:{password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


def connect(url: str, auth: str | None, timeout: float = 60.0) -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy to ``url`` that sends ``auth`` as the Authorization header."""
    transport: _Transport | _SafeTransport = (
        _SafeTransport(auth, timeout) if url.lower().startswith("https:")
        else _Transport(auth, timeout))
    return xmlrpc.client.ServerProxy(url, transport=transport)


@dataclass
class Console:
    """Where a command writes, what it reads from the environment, and how it waits."""

    out: TextIO
    err: TextIO
    env: Mapping[str, str]
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


# -------------------------------------------------------------------------------- commands


def cmd_create(api: Any, args: argparse.Namespace, console: Console) -> int:
    spec = _read_json(args.spec)
    campaign = api.dialer.campaign.create(spec)
    console.out.write(f"created campaign {campaign['campaign_id']}: {campaign['name']} "
                      f"({campaign['mode']}, {campaign['state']})\n")
    return 0


def cmd_import(api: Any, args: argparse.Namespace, console: Console) -> int:
    with contextlib.ExitStack() as stack:
        if args.file == "-":
            binary, size = sys.stdin.buffer, 0
        else:
            binary, size = stack.enter_context(open(args.file, "rb")), os.path.getsize(args.file)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
        stack.callback(text.detach)  # leave closing the file to its owner
        meter = ProgressBar(console.err, clock=console.clock)

        def progress(rows: int, final: bool) -> None:
            fraction = min(binary.tell() / size, 1.0) if size else None
            meter.update(rows, 1.0 if final and size else fraction, final=final)

        try:
            summary = import_contacts(api.dialer.campaign.add_contacts, args.campaign, text,
                                      batch=args.batch, keep=args.show_rejected,
                                      progress=progress)
        except CsvError as error:
            console.err.write(f"gtx campaign import: {args.file}: {error}\n")
            return 1
    console.out.write(f"imported {args.file} into campaign {args.campaign}: ")
    console.out.write("\n".join(summary.lines()) + "\n")
    return 0


def _transition(method: str) -> Callable[[Any, argparse.Namespace, Console], int]:
    def command(api: Any, args: argparse.Namespace, console: Console) -> int:
        campaign = getattr(api.dialer.campaign, method)(args.campaign)
        console.out.write(f"campaign {campaign['campaign_id']}: {campaign['state']}\n")
        return 0

    return command


def cmd_status(api: Any, args: argparse.Namespace, console: Console) -> int:
    while True:
        status = api.dialer.campaign.status(args.campaign)
        if args.watch and console.out.isatty():
            console.out.write("\x1b[H\x1b[2J")  # redraw in place on a terminal
        console.out.write("\n".join(render_status(status)) + "\n")
        console.out.flush()
        if not args.watch or status["state"] in FINAL_STATES:
            return 0
        console.sleep(args.interval)


def cmd_list(api: Any, args: argparse.Namespace, console: Console) -> int:
    campaigns = api.dialer.campaign.list()
    if not campaigns:
        console.out.write("no campaign\n")
        return 0
    console.out.write(f"{'id':>5}  {'state':<9}  {'mode':<11}  name\n")
    for c in campaigns:
        console.out.write(f"{c['campaign_id']:>5}  {c['state']:<9}  {c['mode']:<11}  "
                          f"{c['name']}\n")
    return 0


def render_status(status: Mapping[str, Any], width: int = 30) -> list[str]:
    """A campaign's status for the operator: state, progress over its contacts, counters."""
    counters: Mapping[str, int] = status.get("counters", {})
    total = sum(int(counters.get(key, 0)) for key in _CONTACT_STATES)
    finished = total - int(counters.get("pending", 0)) - int(counters.get("dialing", 0))
    fraction = finished / total if total else None
    shown = f" {fraction:4.0%}  {finished:,} of {total:,} contacts" if fraction is not None \
        else "  no contacts"
    outcomes = [f"{key} {value:,}" for key, value in counters.items()
                if key not in _CONTACT_STATES]
    return [
        f"campaign {status['campaign_id']} {status.get('name', '')!r} "
        f"({status.get('mode', '?')}): {status['state']}",
        bar(fraction, width) + shown,
        "  ".join(f"{key} {int(counters.get(key, 0)):,}" for key in _CONTACT_STATES),
        "  ".join(outcomes),
        f"abandon rate {float(status.get('abandon_rate', 0.0)):.1%}  dial ratio "
        f"{float(status.get('dial_ratio', 0.0)):.2f}  agents free "
        f"{int(status.get('agents_free', 0))}",
    ]


def _read_json(path: str) -> object:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as spec:
        return json.load(spec)


# ---------------------------------------------------------------------------------- parser

_COMMANDS: Final[dict[str, Callable[[Any, argparse.Namespace, Console], int]]] = {
    "create": cmd_create, "import": cmd_import, "start": _transition("start"),
    "pause": _transition("pause"), "resume": _transition("resume"),
    "stop": _transition("stop"), "status": cmd_status, "list": cmd_list,
}


def add_campaign_commands(commands: Any) -> argparse.ArgumentParser:
    """Add ``campaign`` and its sub-commands to the ``gtx`` command's sub-parsers."""
    campaign: argparse.ArgumentParser = commands.add_parser(
        "campaign", help="run dialer campaigns over the XML-RPC API",
        description="Operator tools over the Dialer API (XML-RPC at /RPC2).")
    configure_parser(campaign)
    return campaign


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options and sub-commands of ``gtx campaign``."""
    parser.add_argument("--url", default=None,
                        help=f"the API's XML-RPC URL (default $GTX_API_URL or {DEFAULT_URL})")
    parser.add_argument("--user", default=None, help="API user (default $GTX_API_USER); the "
                        "password comes from $GTX_API_PASSWORD or is asked for")
    parser.add_argument("--token", default=None, help="API token (default $GTX_API_TOKEN)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait per call")
    sub = parser.add_subparsers(dest="campaign_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create a campaign from a JSON spec")
    create.add_argument("--spec", required=True, help="the spec as a JSON file (- for stdin)")
    load = sub.add_parser("import", help="add the contacts of a CSV file (streamed)")
    load.add_argument("campaign", type=int, help="the campaign id")
    load.add_argument("file", help="CSV with a header: number[,timezone][,priority][,vars...]")
    load.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="contacts per call")
    load.add_argument("--show-rejected", type=int, default=20, metavar="N",
                      help="print the first N rejected rows")
    for name, what in [("start", "start dialing"), ("pause", "pause"), ("resume", "resume"),
                       ("stop", "stop for good")]:
        sub.add_parser(name, help=f"{what} a campaign").add_argument("campaign", type=int)
    status = sub.add_parser("status", help="a campaign's counters and progress")
    status.add_argument("campaign", type=int)
    status.add_argument("--watch", action="store_true", help="refresh until the campaign ends")
    status.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    sub.add_parser("list", help="every campaign")
    parser.set_defaults(func=lambda args: run_command(
        args, Console(sys.stdout, sys.stderr, os.environ)))


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Run a parsed ``gtx campaign`` command; faults and connection errors become messages."""
    env = console.env
    url = args.url or env.get("GTX_API_URL") or DEFAULT_URL
    user = args.user or env.get("GTX_API_USER")
    token = args.token or env.get("GTX_API_TOKEN")
    password = env.get("GTX_API_PASSWORD")
    if user and not token and password is None:
        password = getpass.getpass(f"password of {user}: ") if sys.stdin.isatty() else ""
    api = connect(url, authorization(user, password, token), args.timeout)
    name = args.campaign_command
    try:
        return _COMMANDS[name](api, args, console)
    except xmlrpc.client.Fault as fault:
        console.err.write(f"gtx campaign {name}: fault {fault.faultCode}: {fault.faultString}\n")
        return 1
    except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException) as error:
        console.err.write(f"gtx campaign {name}: cannot reach {url}: {error}\n")
        return 2
    finally:
        api("close")()  # the kept-alive connection


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """``gtx campaign`` on its own (``python -m gtx.campaign_cli``)."""
    parser = argparse.ArgumentParser(prog="gtx campaign")
    configure_parser(parser)
    args = parser.parse_args(argv)
    return run_command(args, console or Console(sys.stdout, sys.stderr, os.environ))


if __name__ == "__main__":
    raise SystemExit(main())
