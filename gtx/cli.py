"""The ``gtx`` command: serve, check-config, simulate, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from gtx import __version__
from gtx.config import ConfigError, GtxConfig, describe, load_config


def install_asyncio_reactor() -> Any:
    """Install Twisted's asyncio reactor the way that lets asyncio libraries share its loop:
    create the loop, make it current, install it, and only then import the reactor."""
    import asyncio

    if "twisted.internet.reactor" not in sys.modules:
        from twisted.internet import asyncioreactor

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
    from twisted.internet import reactor

    return reactor


def start_logging(stream: TextIO, level: str = "info") -> None:
    """Send twisted.logger events to ``stream``, one line per event."""
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(stream), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def _config(path: str) -> GtxConfig | None:
    """The configuration at ``path``, or None once its problems are printed."""
    try:
        return load_config(path)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if config is None:
        return 1
    print(f"{args.config}: OK")
    for line in describe(config):
        print(f"  {line}")
    status = 0
    for value in args.asterisk_dir:
        if not _check_asterisk_dir(config, value):
            status = 1
    return status


def _check_asterisk_dir(config: GtxConfig, value: str) -> bool:
    """``--asterisk-dir [NAME=]DIR``: compare gtx.ini with that Asterisk configuration; print
    what was found; True when nothing is wrong."""
    from pathlib import Path

    from gtx.asterisk_check import check_asterisk

    name, sep, directory = value.partition("=")
    if not sep:
        name, directory = "", value
    if name and name not in config.asterisk:
        known = ", ".join(config.asterisk) or "none"
        print(f"--asterisk-dir {value}: no [asterisk:{name}] in {config.path} (known: {known})",
              file=sys.stderr)
        return False
    if not Path(directory).is_dir():
        print(f"--asterisk-dir {value}: {directory} is not a directory", file=sys.stderr)
        return False
    servers = [name] if name else [n for n, s in config.asterisk.items() if s.ami or s.ari_url]
    if not servers:
        print(f"{directory}: nothing to compare: no [asterisk:NAME] has ami or ari_url")
        return True
    check = check_asterisk(config, Path(directory), servers)
    sections = ", ".join(f"[asterisk:{n}]" for n in servers)
    read = ", ".join(p.name for p in check.files) or "nothing"
    if check.problems:
        print(f"{directory}: {len(check.problems)} problem(s) with {sections} "
              f"(read {read}):", file=sys.stderr)
        for problem in check.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"{directory}: OK for {sections} (read {read})")
    for warning in check.warnings:
        print(f"  warning: {warning}")
    for note in check.notes:
        print(f"  note: {note}")
    return not check.problems


def cmd_serve(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if config is None:
        return 1
    reactor = install_asyncio_reactor()
    from gtx.tap import GtxNode

    start_logging(sys.stdout, args.log_level)
    service = GtxNode(config, reactor).service()
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gtx.store.cli import run_db_upgrade

    return run_db_upgrade(install_asyncio_reactor(), args.config, sys.stdout)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gtx.simulate import run_simulation

    reactor = install_asyncio_reactor()
    return run_simulation(reactor, args, sys.stdout)


def cmd_demo(args: argparse.Namespace) -> int:
    from gtx.demo import run_demo

    reactor = install_asyncio_reactor()
    return run_demo(reactor, args, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtx", description="gtx: IVR, dialer and recorder APIs for Asterisk over XML-RPC."
    )
    parser.add_argument("--version", action="version", version=f"gtx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run a gtx node")
    serve.add_argument("-c", "--config", default="/etc/gtx/gtx.ini", help="the gtx.ini file")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warn", "error", "critical"])
    serve.set_defaults(func=cmd_serve)

    check = commands.add_parser("check-config", help="validate a gtx.ini file")
    check.add_argument("-c", "--config", default="/etc/gtx/gtx.ini", help="the gtx.ini file")
    check.add_argument(
        "--asterisk-dir", action="append", default=[], metavar="[NAME=]DIR",
        help="also compare gtx.ini with the Asterisk configuration in DIR (/etc/asterisk): "
             "ARI and AMI users, passwords, ports; NAME= limits it to [asterisk:NAME] "
             "(repeat for several servers)")
    check.set_defaults(func=cmd_check_config)

    simulate = commands.add_parser(
        "simulate", help="run a web service through a simulated call (no Asterisk needed)")
    simulate.add_argument("--url", required=True, help="the web service's XML-RPC URL")
    simulate.add_argument("--method", required=True, help="the method called for step 1")
    simulate.add_argument("--dtmf", default="",
                          help="what the caller presses, e.g. 'wait 2; press 1; wait 1; press 23#'")
    simulate.add_argument("--caller", default="", help="the caller's number")
    simulate.add_argument("--caller-name", default="", help="the caller's name")
    simulate.add_argument("--called", default="", help="the dialled number")
    simulate.add_argument("--hangup-after", type=float, default=None, metavar="S",
                          help="the caller hangs up after S seconds")
    simulate.add_argument("--arg", action="append", default=[], help="an AGI argument (repeat)")
    simulate.add_argument("--timeout", type=float, default=5.0,
                          help="seconds to wait for each answer of the web service")
    simulate.add_argument("--strict-sounds", action="store_true",
                          help="only Asterisk's core sounds exist (others play as missing files)")
    simulate.set_defaults(func=cmd_simulate)

    db = commands.add_parser("db", help="the store's database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="apply the pending schema migrations")
    upgrade.add_argument("-c", "--config", default="/etc/gtx/gtx.ini", help="the gtx.ini file")
    upgrade.set_defaults(func=cmd_db_upgrade)

    from gtx.campaign_cli import add_campaign_commands

    add_campaign_commands(commands)

    demo = commands.add_parser("demo", help="run the whole product on this machine, emulated")
    demo.add_argument("--calls", type=int, default=4, help="how many emulated calls to run")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
