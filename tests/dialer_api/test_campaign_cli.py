"""``gtx campaign`` against a real XML-RPC server on 127.0.0.1 (port 0): the authenticated
resource with the Dialer API over a fake service, on the reactor; the CLI (a blocking client)
runs in a thread."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import endpoints, threads
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Site

from gtx.campaign_cli import (
    Console,
    add_campaign_commands,
    authorization,
    connect,
    main,
    render_status,
)
from gtx.campaign_import import ImportSummary, ProgressBar, bar, import_contacts
from gtx.config import ApiUser, DialerSettings
from gtx.dialer.api import register_dialer_api
from gtx.dialer.model import CampaignState
from gtx.xmlrpc.auth import AuthenticatedXMLRPCResource
from tests.dialer_api.fakes import FakeDialerService

USERS = {"ops": ApiUser("ops", "admin", password="pw", token="tok-ops"),
         "wall": ApiUser("wall", "readonly", password="look")}
ENV = {"GTX_API_USER": "ops", "GTX_API_PASSWORD": "pw"}
SPEC = {"name": "Reminders", "mode": "broadcast", "on_answer": {"app": "menu"}}


@dataclass
class Api:
    service: FakeDialerService
    port: IListeningPort

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}/RPC2"

    def run(self, *argv: str, env: dict[str, str] | None = None,
            console: Console | None = None):
        """Run ``gtx campaign ARGV`` in a thread; fires with (exit code, out, err)."""
        console = console or Console(io.StringIO(), io.StringIO(), ENV if env is None else env)

        def command() -> tuple[int, str, str]:
            code = main(["--url", self.url, *argv], console)
            return code, console.out.getvalue(), console.err.getvalue()

        return threads.deferToThread(command)


@pytest_twisted.async_yield_fixture
async def api() -> AsyncIterator[Api]:
    from twisted.internet import reactor

    service = FakeDialerService()
    rpc = AuthenticatedXMLRPCResource(USERS, clock=reactor)
    register_dialer_api(rpc, service, DialerSettings(channel="PJSIP/{number}@trunk"))
    root = Resource()
    root.putChild(b"RPC2", rpc)
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        Site(root))
    try:
        yield Api(service, port)
    finally:
        stopping = port.stopListening()
        if stopping is not None:  # None: the test stopped it already
            await stopping


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def contacts_csv(rows: int) -> Iterator[str]:
    """A header and ``rows`` rows; rows 250, 750, 1250 … have a bad number, row 1000 a missing
    column, row 2000 a bad priority, row 3000 a bad time zone, row 4000 repeats row 3999's
    number."""
    yield "number,timezone,priority,first_name,order\r\n"
    for n in range(1, rows + 1):
        number = f"+1555{n:07d}"
        if n % 500 == 250:
            number = "12"
        if n == 4000:
            number = f"+1555{3999:07d}"
        zone = "Mars/Olympus" if n == 3000 else "America/New_York"
        priority = "high" if n == 2000 else str(n % 3)
        line = f'{number},{zone},{priority},"Ann, {n}",A-{n}'
        yield (f"{number},{zone}" if n == 1000 else line) + "\r\n"


@pytest_twisted.ensureDeferred
async def test_create_start_pause_stop_list(api: Api, spec_file: Path) -> None:
    code, out, err = await api.run("create", "--spec", str(spec_file))
    assert (code, out, err) == (0, "created campaign 1: Reminders (broadcast, draft)\n", "")
    assert api.service.campaigns[1].spec.name == "Reminders"
    for command, state in [("start", "running"), ("pause", "paused"), ("resume", "running"),
                           ("stop", "stopped")]:
        assert await api.run(command, "1") == (0, f"campaign 1: {state}\n", "")
    code, out, _ = await api.run("list")
    assert out.splitlines() == ["   id  state      mode         name",
                                "    1  stopped    broadcast    Reminders"]


@pytest_twisted.ensureDeferred
async def test_faults_and_credentials(api: Api, spec_file: Path) -> None:
    assert await api.run("start", "9") == (0 + 1, "", "gtx campaign start: fault 404: "
                                           "no campaign 9\n")
    code, _, err = await api.run("list", env={"GTX_API_USER": "ops",
                                               "GTX_API_PASSWORD": "nope"})
    assert (code, err) == (1, "gtx campaign list: fault 401: wrong user or password\n")
    assert (await api.run("list", env={"GTX_API_TOKEN": "tok-ops"}))[0] == 0
    assert (await api.run("--token", "tok-ops", "list", env={}))[0] == 0
    code, _, err = await api.run("create", "--spec", str(spec_file),
                                 env={"GTX_API_USER": "wall", "GTX_API_PASSWORD": "look"})
    assert (code, err) == (1, "gtx campaign create: fault 403: dialer.campaign.create is not "
                              "allowed for role 'readonly' (user 'wall')\n")
    assert (await api.run("list", env={}))[2].endswith("fault 401: credentials required: "
                                                       "HTTP Basic (user and password) or "
                                                       "'Authorization: Bearer TOKEN'\n")


@pytest_twisted.ensureDeferred
async def test_an_unreachable_api(api: Api) -> None:
    url = api.url
    await api.port.stopListening()
    console = Console(io.StringIO(), io.StringIO(), ENV)
    code = await threads.deferToThread(main, ["--url", url, "list"], console)
    assert code == 2
    assert console.err.getvalue().startswith(f"gtx campaign list: cannot reach {url}: ")


@pytest_twisted.ensureDeferred
async def test_import_of_5000_rows_in_batches(api: Api, tmp_path: Path) -> None:
    api.service.campaigns.clear()
    await api.service.create_campaign(replace_spec())
    path = tmp_path / "contacts.csv"
    with path.open("w", newline="") as out:
        out.writelines(contacts_csv(5000))
    code, out, err = await api.run("import", "1", str(path), "--show-rejected", "3")
    assert code == 0
    # local rejects (columns, priority) are never sent; the API refuses the others
    assert len(api.service.batches) == 5
    assert sum(api.service.batches) == 5000 - 2 - 11
    lines = out.splitlines()
    assert lines[0] == (f"imported {path} into campaign 1: 5,000 rows: 4,986 added, "
                        "1 duplicates, 0 on the do-not-call list, 13 rejected")
    bad_number = "number: '12' is not a phone number: 2 digits; a phone number has 3 to 20"
    assert lines[1:] == [
        "rejected rows (first 3 of 13):",
        f"  line 251: {bad_number}",
        f"  line 751: {bad_number}",
        "  line 1001: expected 5 columns, got 2",
    ]
    code, out, err = await api.run("import", "1", str(path))
    assert out.splitlines()[0].endswith("5,000 rows: 0 added, 4,987 duplicates, 0 on the "
                                        "do-not-call list, 13 rejected")
    assert "  line 2001: priority: expected an integer, got 'high'" in out
    assert "  line 3001: timezone: unknown time zone 'Mars/Olympus'" in out
    stored = api.service.contacts[1]
    assert len(stored) == 4986
    assert stored[0].vars == {"first_name": "Ann, 1", "order": "A-1"}
    assert (stored[0].timezone, stored[1].priority) == ("America/New_York", 2)
    assert err.endswith("  done\n")
    assert "[##############################] 100%  5,000 rows" in err


def replace_spec():
    from gtx.dialer.validate import campaign_spec

    return campaign_spec(SPEC, DialerSettings(channel="PJSIP/{number}@trunk"))


@pytest_twisted.ensureDeferred
async def test_import_reads_the_file_lazily(api: Api) -> None:
    await api.service.create_campaign(replace_spec())
    consumed = [0]
    seen_at_batch: list[int] = []
    add = api.service.add_contacts

    async def watching(campaign_id, contacts):
        seen_at_batch.append(consumed[0])
        return await add(campaign_id, contacts)

    api.service.add_contacts = watching  # type: ignore[method-assign]

    def lines() -> Iterator[str]:
        for line in contacts_csv(5000):
            consumed[0] += 1
            yield line

    def run() -> ImportSummary:
        proxy = connect(api.url, authorization("ops", "pw", None))
        try:
            return import_contacts(proxy.dialer.campaign.add_contacts, 1, lines(), batch=1000)
        finally:
            proxy("close")()

    summary = await threads.deferToThread(run)
    assert summary.batches == 5
    # When batch k is sent, at most k * 1000 rows (+ header and rows refused locally) were read.
    for k, seen in enumerate(seen_at_batch, start=1):
        assert k * 1000 < seen <= k * 1000 + 1 + 3, (k, seen)


@pytest_twisted.ensureDeferred
async def test_import_of_a_file_without_a_number_column(api: Api, tmp_path: Path) -> None:
    await api.service.create_campaign(replace_spec())
    path = tmp_path / "bad.csv"
    path.write_text("phone,name\n5550100,Ann\n")
    code, out, err = await api.run("import", "1", str(path))
    assert (code, out) == (1, "")
    assert err == (f"gtx campaign import: {path}: the header row has no 'number' column "
                   "(columns: phone, name)\n")
    path.write_text("number,first name\n5550100,Ann\n")
    assert "column 'first name' cannot name a contact variable" in (
        await api.run("import", "1", str(path)))[2]
    path.write_text("")
    assert "the file is empty" in (await api.run("import", "1", str(path)))[2]
    assert api.service.batches == []


@pytest_twisted.ensureDeferred
async def test_status_watch_refreshes_until_the_campaign_ends(api: Api) -> None:
    from twisted.internet import reactor

    campaign = await api.service.create_campaign(replace_spec())
    service = api.service
    steps = [
        ({"pending": 3, "dialing": 1, "done": 0}, CampaignState.RUNNING),
        ({"pending": 1, "dialing": 1, "done": 2, "answered": 1, "busy": 1},
         CampaignState.RUNNING),
        ({"pending": 0, "dialing": 0, "done": 4, "answered": 3, "busy": 1},
         CampaignState.COMPLETED),
    ]
    slept: list[float] = []

    def advance(step: int) -> None:
        counters, state = steps[step]
        service.counters[1] = counters
        service.campaigns[1] = replace(campaign, state=state)

    advance(0)

    def sleep(seconds: float) -> None:  # in the CLI's thread: move the campaign on
        slept.append(seconds)
        threads.blockingCallFromThread(reactor, advance, len(slept))

    console = Console(io.StringIO(), io.StringIO(), ENV, sleep=sleep)
    code, out, _ = await api.run("status", "1", "--watch", "--interval", "0.5",
                                 console=console)
    assert code == 0
    assert slept == [0.5, 0.5]
    blocks = out.split("campaign 1 ")[1:]
    assert len(blocks) == 3
    assert "[" + "-" * 30 + "]   0%  0 of 4 contacts" in blocks[0]
    assert "[" + "#" * 15 + "-" * 15 + "]  50%  2 of 4 contacts" in blocks[1]
    assert blocks[2].startswith("'Reminders' (broadcast): completed")
    assert "pending 0  dialing 0  done 4  dnc 0" in blocks[2]
    assert "answered 3  busy 1  no_answer 0" in blocks[2]
    assert "abandon rate 1.0%  dial ratio 1.50  agents free 2" in blocks[2]


@pytest_twisted.ensureDeferred
async def test_status_without_watch_shows_once(api: Api) -> None:
    await api.service.create_campaign(replace_spec())
    code, out, _ = await api.run("status", "1")
    assert code == 0
    assert out.splitlines()[:2] == ["campaign 1 'Reminders' (broadcast): draft",
                                    "[" + "." * 30 + "]  no contacts"]


def test_progress_bar_draws_rate_and_throttles() -> None:
    now = [0.0]
    stream = io.StringIO()
    meter = ProgressBar(stream, clock=lambda: now[0], width=10)
    now[0] = 2.0
    meter.update(1000, 0.25)
    now[0] = 2.05
    meter.update(1500, 0.3)  # within 0.1 s: not drawn
    now[0] = 4.0
    meter.update(4000, 1.0, final=True)
    assert stream.getvalue() == ("\r[##--------]  25%  1,000 rows  500 rows/s"
                                 "\r[##########] 100%  4,000 rows  1,000 rows/s  done\n")
    assert bar(None, 4) == "[....]"
    assert bar(1.7, 4) == "[####]"


def test_the_hook_for_the_gtx_command() -> None:
    parser = argparse.ArgumentParser(prog="gtx")
    add_campaign_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["campaign", "--url", "http://h:1/RPC2", "status", "3", "--watch"])
    assert (args.command, args.campaign_command, args.campaign, args.watch) == (
        "campaign", "status", 3, True)
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["campaign", "import", "x", "file.csv"])  # the id is an int


def test_render_status_without_counters() -> None:
    lines = render_status({"campaign_id": 4, "state": "draft"})
    assert lines[0] == "campaign 4 '' (?): draft"
    assert authorization(None, None, None) is None
    assert authorization("a", None, None) == "Basic YTo="
