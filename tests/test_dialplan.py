"""The Asterisk-side files: their structure (parsed with pyst2) and the failover behaviour.

The behaviour tests run ``dialplan/extensions_gtx.conf`` in tests/dialplan_sim.py, a small
interpreter of the dialplan subset the file uses, with each gtx node's AGI scripted. The ARI
side (``extensions_gtx_ari.conf``: Stasis failover, the exec excursion, the dialer's hand-off
over ARI) is in tests/test_dialplan_ari.py.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asterisk.config import Config

from tests.conftest import ROOT
from tests.dialplan_sim import (
    Channel,
    Dialplan,
    DialplanError,
    Simulator,
    evaluate,
    load,
)

DIALPLAN = ROOT / "dialplan" / "extensions_gtx.conf"
ASTERISK_CONF = ROOT / "asterisk-conf"

#: Real Asterisk dialplan applications (a subset of `core show applications`).
KNOWN_APPLICATIONS = {
    "AGI", "AMD", "Answer", "Background", "Busy", "Congestion", "Dial", "EAGI", "EndWhile",
    "ExecIf", "ExitWhile", "Gosub", "GosubIf", "Goto", "GotoIf", "Hangup", "Log", "MixMonitor",
    "MSet", "NoOp", "Playback", "Progress", "Queue", "Read", "Return", "Ringing", "SayDigits",
    "SayNumber", "Set", "StackPop", "Stasis", "StopMixMonitor", "TryExec", "UserEvent",
    "Verbose", "Wait", "WaitExten", "While",
}  # fmt: skip
#: Real Asterisk dialplan functions.
KNOWN_FUNCTIONS = {"CALLERID", "CUT", "FIELDQTY", "IAXVAR", "IF", "LEN", "LOCAL", "PJSIP_HEADER"}


def read_config(path: Path) -> Config:
    """Parse with pyst2, which leaves its file open: its ResourceWarning is not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return Config(str(path))


def items(config: Config, section: str) -> dict[str, str]:
    """A section's keys and values, stripped (pyst2 keeps the space after ``=``)."""
    matches = [c for c in config.categories if c.name == section]
    assert matches, f"no [{section}] in {config.filename}"
    return {item.name: item.value.strip() for item in matches[0].items}


@pytest.fixture(scope="module")
def plan() -> Dialplan:
    return load(read_config(DIALPLAN))


def priorities(plan: Dialplan):
    for context, extensions in plan.contexts.items():
        for exten, prios in extensions.items():
            for priority in prios:
                yield context, exten, priority


# -- structure -------------------------------------------------------------------------------


def test_contexts_and_globals_exist(plan: Dialplan) -> None:
    assert {"gtx-ivr", "gtx", "gtx-dialer", "gtx-examples", "gtx-outbound"} <= set(plan.contexts)
    assert plan.contexts["gtx-ivr"].keys() == {"s"}
    assert {"menu", "prepaid", "ivr"} <= set(plan.contexts["gtx"])
    assert "answered" in plan.contexts["gtx-dialer"]
    assert plan.globals == {
        "GTX_NODES": "127.0.0.1",
        "GTX_ROUNDS": "2",
        "GTX_ON_ERROR": "hangup",
        "GTX_FALLBACK": "an-error-has-occured",
        "GTX_ARI_APPS": "gtx",
        "GTX_IVR_VIA": "agi",
    }


def test_extension_names_are_plain(plan: Dialplan) -> None:
    # Asterisk treats dashes in extensions as fluff: "menu-vip" may not match as written.
    for extensions in plan.contexts.values():
        for exten in extensions:
            assert re.fullmatch(r"[a-z0-9]+|_[X.]+", exten), exten


def test_priorities_are_numbered_from_one(plan: Dialplan) -> None:
    for context, exten, prios in (
        (c, e, p) for c, exts in plan.contexts.items() for e, p in exts.items()
    ):
        assert [p.number for p in prios] == list(range(1, len(prios) + 1)), (context, exten)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exten => s,2,NoOp()\n", "priority 2, expected 1"),
        ("exten => s,1,NoOp()\n same => n(a),NoOp()\n same => n(a),NoOp()\n", "label 'a'"),
        ("same => n,NoOp()\n", "`same` before any `exten`"),
        ("exten => s,1,No Op()\n", "bad application"),
        ("exten => s,x,NoOp()\n", "bad priority"),
    ],
)
def test_malformed_extensions_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.conf"
    path.write_text("[ctx]\n" + text)
    with pytest.raises(DialplanError, match=re.escape(message)):
        load(read_config(path))


def test_every_application_is_a_real_asterisk_application(plan: Dialplan) -> None:
    used = {p.app for _, _, p in priorities(plan)}
    assert used - KNOWN_APPLICATIONS == set()
    # ExecIf runs an application too.
    nested = {
        m for _, _, p in priorities(plan) if p.app == "ExecIf"
        for m in re.findall(r"\?(\w+)\(", p.data)
    }  # fmt: skip
    assert nested <= KNOWN_APPLICATIONS


def test_every_function_is_a_real_asterisk_function(plan: Dialplan) -> None:
    used = {m for _, _, p in priorities(plan) for m in re.findall(r"\$\{([A-Z_]+)\(", p.data)}
    assert used
    assert used - KNOWN_FUNCTIONS == set()


def test_every_static_goto_target_exists(plan: Dialplan) -> None:
    sim = Simulator(plan, agi=lambda *_: "SUCCESS")
    for context, exten, p in priorities(plan):
        if p.app == "GotoIf":
            targets = p.data.partition("?")[2].split(":")
        elif p.app == "Goto":
            targets = [p.data]
        else:
            continue
        for target in filter(None, targets):
            if "$" in target:
                continue  # computed at run time (Goto(${GTX_ON_ERROR}))
            parts = target.split(",")
            if len(parts) == 3:
                where = (parts[0], parts[1], parts[2])
            elif len(parts) == 2:
                where = (context, parts[0], parts[1])
            else:
                where = (context, exten, parts[0])
            sim.resolve(*where)  # raises if the extension or the label is missing


def test_failover_tests_agistatus_failure_and_gtx_status_running(plan: Dialplan) -> None:
    ivr = plan.contexts["gtx-ivr"]["s"]
    jumps = {p.data for p in ivr if p.app == "GotoIf" and p.data.endswith("?failover")}
    assert '$["${AGISTATUS}" = "FAILURE"]?failover' in jumps
    assert '$["${GTX_STATUS}" = "RUNNING"]?failover' in jumps
    # The retry is bounded: `try` is reached again only below the maximum.
    assert any(p.label == "failover" and "< ${LOCAL(gtx_max)}]?try" in p.data for p in ivr)


def test_agi_urls_use_the_fastagi_port(plan: Dialplan) -> None:
    agis = [p.data for _, _, p in priorities(plan) if p.app == "AGI"]
    assert len(agis) >= 2
    for data in agis:
        assert re.match(r"agi://[^/:,]+:4573/", data), data


def test_no_value_is_cut_by_a_semicolon() -> None:
    # Asterisk (and pyst2) read ';' as the start of a comment, even inside a value.
    for line in DIALPLAN.read_text().splitlines():
        code = line.strip()
        if code and not code.startswith(";"):
            assert ";" not in code, line


def test_manager_user_has_what_gtx_needs() -> None:
    user = items(read_config(ASTERISK_CONF / "manager_gtx.conf"), "gtx")
    read = set(user["read"].split(","))
    write = set(user["write"].split(","))
    assert {"call", "dialplan", "agent", "user", "system"} <= read  # OriginateResponse, VarSet…
    assert {"originate", "call", "system", "agent"} <= write  # Originate, Getvar, MixMonitor
    assert not {"all", "command", "config"} & (read | write)
    assert user["secret"]
    assert user["permit"] == "127.0.0.1/255.255.255.255"
    assert user["deny"] == "0.0.0.0/0.0.0.0"


def test_ari_user_and_http_server() -> None:
    ari = items(read_config(ASTERISK_CONF / "ari_gtx.conf"), "gtx")
    assert ari["type"] == "user"
    assert ari["read_only"] == "no"
    assert ari["password"]
    http = items(read_config(ASTERISK_CONF / "http_gtx.conf"), "general")
    assert http == {"enabled": "yes", "bindaddr": "127.0.0.1", "bindport": "8088",
                    "sessionlimit": "200"}


def test_install_readme_names_every_file() -> None:
    readme = (ASTERISK_CONF / "README.md").read_text()
    for name in ("manager_gtx.conf", "ari_gtx.conf", "http_gtx.conf", "extensions_gtx.conf",
                 "extensions_gtx_ari.conf"):
        assert f"#include {name}" in readme or f"cp asterisk-conf/{name}" in readme, name
    assert "manager reload" in readme
    assert "dialplan reload" in readme


# -- behaviour -------------------------------------------------------------------------------


@dataclass
class Nodes:
    """Scripted gtx nodes: host → what its AGI does, one behaviour per connection."""

    behaviours: dict[str, list[Callable[[Channel], str]]]
    calls: list[tuple[str, str, list[str], str]] = field(default_factory=list)

    def __call__(self, channel: Channel, url: str, args: list[str]) -> str:
        match = re.fullmatch(r"agi://([^:/]+):4573/(.*)", url)
        assert match, url
        host, script = match.groups()
        self.calls.append((host, script, args, channel.get("GTX_STATUS")))
        return self.behaviours[host].pop(0)(channel)

    @property
    def hosts(self) -> list[str]:
        return [host for host, *_ in self.calls]


def unreachable(channel: Channel) -> str:
    return "FAILURE"


def finishes(channel: Channel) -> str:
    channel.variables["GTX_STATUS"] = "DONE"
    return "SUCCESS"


def dies_mid_session(channel: Channel) -> str:
    channel.variables.update(GTX_STATUS="RUNNING", GTX_STEP="3", GTX_SESSION="s-1")
    return "SUCCESS"  # what Asterisk reports when the FastAGI socket closes


def closes_at_once(channel: Channel) -> str:
    return "SUCCESS"


def fails_with(error: str) -> Callable[[Channel], str]:
    def behaviour(channel: Channel) -> str:
        channel.variables.update(GTX_STATUS="ERROR", GTX_ERROR=error)
        return "SUCCESS"

    return behaviour


def caller_hangs_up(channel: Channel) -> str:
    channel.variables["GTX_STATUS"] = "HANGUP"
    return "HANGUP"


def run_ivr(
    plan: Dialplan, nodes: Nodes, args: list[str] | None = None, **variables: str
) -> Channel:
    channel = Channel(variables={"GTX_NODES": "10.0.0.1&10.0.0.2", **variables})
    return Simulator(plan, nodes, channel).gosub("gtx-ivr", "s", args or ["menu"])


def played(channel: Channel) -> list[str]:
    return [data for app, data in channel.executed if app == "Playback"]


def test_done_on_the_first_node_returns(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [finishes]})
    channel = run_ivr(plan, nodes)
    assert nodes.calls == [("10.0.0.1", "menu", [], "")]
    assert channel.ended == "returned"
    assert channel.get("GOSUB_RETVAL") == "DONE"
    assert played(channel) == []


def test_finished_session_with_a_failed_command_is_not_run_again(plan: Dialplan) -> None:
    # Asterisk ends AGI() with AGISTATUS=FAILURE when a command failed on a live channel
    # (STREAM FILE of a missing prompt), even though gtx finished the session.
    def finishes_with_missing_prompt(channel: Channel) -> str:
        channel.variables["GTX_STATUS"] = "DONE"
        return "FAILURE"

    nodes = Nodes({"10.0.0.1": [finishes_with_missing_prompt]})
    channel = run_ivr(plan, nodes)
    assert nodes.hosts == ["10.0.0.1"]
    assert channel.ended == "returned"
    assert channel.get("GOSUB_RETVAL") == "DONE"


def test_unreachable_node_fails_over_to_the_next(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [unreachable], "10.0.0.2": [finishes]})
    channel = run_ivr(plan, nodes)
    assert nodes.hosts == ["10.0.0.1", "10.0.0.2"]
    assert channel.ended == "returned"
    assert channel.get("GTX_STATUS") == "DONE"


def test_node_dying_mid_session_is_resumed_by_the_next(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [dies_mid_session], "10.0.0.2": [finishes]})
    channel = run_ivr(plan, nodes)
    assert nodes.hosts == ["10.0.0.1", "10.0.0.2"]
    # The second node found the session RUNNING, with its state: it resumes at step 3.
    assert nodes.calls[1][3] == "RUNNING"
    assert channel.get("GTX_STEP") == "3"
    assert channel.get("GOSUB_RETVAL") == "DONE"


def test_node_closing_before_the_session_starts_fails_over(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [closes_at_once], "10.0.0.2": [finishes]})
    assert run_ivr(plan, nodes).get("GTX_STATUS") == "DONE"
    assert nodes.hosts == ["10.0.0.1", "10.0.0.2"]


def test_all_nodes_failing_ends_in_error_after_bounded_rounds(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [unreachable, dies_mid_session], "10.0.0.2": [unreachable] * 2})
    channel = run_ivr(plan, nodes)
    # Each node once per round, two rounds (GTX_ROUNDS=2), then no more attempts.
    assert nodes.hosts == ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"]
    assert channel.get("GTX_STATUS") == "ERROR"
    assert channel.get("GTX_ERROR").startswith("node_unreachable: no gtx node ran menu")
    assert played(channel) == ["an-error-has-occured"]
    assert channel.ended == "hangup"


def test_rounds_and_nodes_bound_the_attempts(plan: Dialplan) -> None:
    nodes = Nodes({host: [unreachable] for host in ("a", "b", "c")})
    channel = run_ivr(plan, nodes, GTX_NODES="a&b&c", GTX_ROUNDS="1")
    assert nodes.hosts == ["a", "b", "c"]
    assert channel.get("GTX_STATUS") == "ERROR"


def test_error_reported_by_gtx_is_not_retried_nor_played_again(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [fails_with("webservice_timeout: no answer in 5 s")]})
    channel = run_ivr(plan, nodes)
    assert nodes.hosts == ["10.0.0.1"]
    assert channel.get("GTX_ERROR") == "webservice_timeout: no answer in 5 s"
    assert played(channel) == []  # gtx already played the app's fallback
    assert channel.ended == "hangup"
    assert any("webservice_timeout" in line for line in channel.verbose)


def test_on_error_return_gives_the_error_to_the_caller(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [fails_with("webservice_fault: 42 no such menu")]})
    channel = run_ivr(plan, nodes, GTX_ON_ERROR="return")
    assert channel.ended == "returned"
    assert channel.get("GOSUB_RETVAL") == "ERROR"


def test_on_error_location_leaves_the_subroutine_for_an_operator(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [unreachable], "10.0.0.2": [unreachable]})
    channel = run_ivr(plan, nodes, GTX_ON_ERROR="gtx-examples,operator,1", GTX_ROUNDS="1")
    assert ("Dial", "PJSIP/operator,30") in channel.executed
    assert channel.frames == []  # StackPop dropped the return address
    assert played(channel) == ["an-error-has-occured"]


def test_hangup_ends_the_call(plan: Dialplan) -> None:
    channel = run_ivr(plan, Nodes({"10.0.0.1": [caller_hangs_up]}))
    assert channel.ended == "hangup"
    assert channel.executed[-1][0] == "AGI"  # nothing runs after AGI() returned -1


def test_arguments_and_query_string_reach_the_agi(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [finishes, finishes]})
    run_ivr(plan, nodes, args=["menu", "vip", "42"])
    script = "ivr?url=http%3A%2F%2F127.0.0.1%3A8000%2FRPC2&method=menu.start"
    run_ivr(plan, nodes, args=[script])
    assert nodes.calls[0][1:3] == ("menu", ["vip", "42"])
    assert nodes.calls[1][1:3] == (script, [])


def test_stale_status_of_an_earlier_session_is_not_taken_for_this_one(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [unreachable] * 2, "10.0.0.2": [unreachable] * 2})
    channel = run_ivr(plan, nodes, GTX_STATUS="DONE", GTX_ERROR="old")
    assert channel.get("GTX_STATUS") == "ERROR"
    assert len(nodes.calls) == 4


def test_running_status_on_entry_is_kept_so_the_session_resumes(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [finishes]})
    run_ivr(plan, nodes, GTX_STATUS="RUNNING")
    assert nodes.calls[0][3] == "RUNNING"


def test_local_variables_do_not_leak_into_the_channel(plan: Dialplan) -> None:
    channel = run_ivr(plan, Nodes({"10.0.0.1": [finishes]}))
    assert not [name for name in channel.variables if name.startswith(("gtx_", "ARG"))]


def test_missing_app_name_is_an_error(plan: Dialplan) -> None:
    channel = run_ivr(plan, Nodes({}), args=[""])
    assert channel.get("GTX_ERROR").startswith("dialplan: ")
    assert played(channel) == ["an-error-has-occured"]
    assert channel.ended == "hangup"


def test_defaults_apply_when_globals_are_missing(plan: Dialplan) -> None:
    bare = Dialplan(contexts=plan.contexts, globals={})
    nodes = Nodes({"127.0.0.1": [unreachable, unreachable]})
    channel = Simulator(bare, nodes).gosub("gtx-ivr", "s", ["menu"])
    assert nodes.hosts == ["127.0.0.1", "127.0.0.1"]
    assert played(channel) == ["an-error-has-occured"]
    assert channel.ended == "hangup"


def test_inbound_examples(plan: Dialplan) -> None:
    nodes = Nodes({"127.0.0.1": [finishes, finishes, unreachable, unreachable]})
    Simulator(plan, nodes).call("gtx", "menu")
    Simulator(plan, nodes).call("gtx", "prepaid")
    channel = Simulator(plan, nodes).call("gtx", "assisted")
    assert [c[1] for c in nodes.calls] == ["menu", "prepaid", "menu", "menu"]
    assert ("Dial", "PJSIP/operator,30") in channel.executed


@pytest.mark.parametrize(
    ("app", "script", "args"),
    [("survey,7", "survey", ["7"]), ("", "dialer", [])],
)
def test_dialer_handoff_enters_the_app_named_by_the_channel(
    plan: Dialplan, app: str, script: str, args: list[str]
) -> None:
    nodes = Nodes({"127.0.0.1": [finishes]})
    channel = Channel(variables={"GTX_DIALER_APP": app} if app else {})
    Simulator(plan, nodes, channel).call("gtx-dialer", "answered")
    assert nodes.calls[0][1:3] == (script, args)



# -- a session handed to the dialplan (transfer with handoff: GTX_STATUS=HANDOFF) -------------


def hands_off(channel: Channel) -> str:
    """The session ran its step and handed the call to the dialplan with its next step."""
    step = int(channel.get("GTX_STEP") or "1") + 1
    channel.variables.update(GTX_STATUS="HANDOFF", GTX_STEP=str(step), GTX_SESSION="s-1")
    return "SUCCESS"


def test_handoff_status_on_entry_is_kept_so_the_session_continues(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [finishes]})
    run_ivr(plan, nodes, GTX_STATUS="HANDOFF", GTX_STEP="3")
    assert nodes.calls[0][3] == "HANDOFF"


def test_a_session_that_hands_off_ends_here_without_failover(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [hands_off]})
    channel = run_ivr(plan, nodes)
    assert nodes.hosts == ["10.0.0.1"]
    assert channel.ended == "returned"
    assert channel.get("GOSUB_RETVAL") == "HANDOFF"
    assert played(channel) == []


def test_a_continued_session_that_hands_off_again_is_not_run_again(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [hands_off]})
    channel = run_ivr(plan, nodes, GTX_STATUS="HANDOFF", GTX_STEP="3")
    assert nodes.hosts == ["10.0.0.1"]
    assert (channel.get("GTX_STEP"), channel.get("GOSUB_RETVAL")) == ("4", "HANDOFF")


def test_a_handoff_no_node_took_up_fails_over(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [closes_at_once], "10.0.0.2": [finishes]})
    channel = run_ivr(plan, nodes, GTX_STATUS="HANDOFF", GTX_STEP="3")
    assert [(c[0], c[3]) for c in nodes.calls] == [("10.0.0.1", "HANDOFF"),
                                                   ("10.0.0.2", "HANDOFF")]
    assert channel.get("GOSUB_RETVAL") == "DONE"


def test_the_handoff_location_runs_next(plan: Dialplan) -> None:
    # What really happens: the transfer moved the channel before AGI() returned, so the
    # dialplan goes on there and the subroutine's routing never runs.
    def hands_off_to_sales(channel: Channel) -> str:
        channel.continue_at = ("gtx-examples", "sales", 1)
        return hands_off(channel)

    channel = run_ivr(plan, Nodes({"10.0.0.1": [hands_off_to_sales]}))
    assert ("Queue", "sales,,,,30") in channel.executed
    assert channel.get("GTX_STATUS") == "HANDOFF"  # for whichever session runs next

# -- the dialer's context --------------------------------------------------------------------


def answered(
    plan: Dialplan, nodes: Nodes | None = None, amd: str | None = None,
    queue_status: str | None = None, **variables: str,
) -> Channel:
    """Run gtx-dialer,answered,1 for call c-1, with AMD and Queue scripted."""
    def run_amd(channel: Channel, args: list[str]) -> None:
        assert amd is not None, "AMD ran although GTX_AMD was not 1"
        status, _, cause = amd.partition(":")
        channel.variables.update(AMDSTATUS=status, AMDCAUSE=cause)

    def run_queue(channel: Channel, args: list[str]) -> None:
        if queue_status:
            channel.variables["QUEUESTATUS"] = queue_status

    channel = Channel(variables={"GTX_CALL_ID": "c-1", **variables})
    scripts = {"AMD": run_amd, "Queue": run_queue}
    return Simulator(plan, nodes or Nodes({}), channel, scripts).call("gtx-dialer", "answered")


def user_events(channel: Channel) -> list[str]:
    return [data for app, data in channel.executed if app == "UserEvent"]


def test_amd_machine_is_reported_and_hung_up(plan: Dialplan) -> None:
    channel = answered(plan, amd="MACHINE:LONGGREETING-1500-1500", GTX_AMD="1",
                       GTX_DIALER_APP="survey")
    assert user_events(channel) == [
        "GtxAmd,CallId: c-1,Status: MACHINE,Cause: LONGGREETING-1500-1500"]
    assert channel.ended == "hangup"
    assert not [app for app, _ in channel.executed if app in ("AGI", "Queue")]


@pytest.mark.parametrize("amd", ["HUMAN:HUMAN-1000-500", "NOTSURE:TOOLONG-4900"])
def test_amd_person_goes_on_to_the_app(plan: Dialplan, amd: str) -> None:
    nodes = Nodes({"127.0.0.1": [finishes]})
    channel = answered(plan, nodes, amd=amd, GTX_AMD="1", GTX_DIALER_APP="survey")
    status, _, cause = amd.partition(":")
    assert user_events(channel) == [f"GtxAmd,CallId: c-1,Status: {status},Cause: {cause}",
                                    "GtxConnected,CallId: c-1,To: app"]
    assert nodes.calls[0][1] == "survey"


def test_no_amd_unless_asked(plan: Dialplan) -> None:
    nodes = Nodes({"127.0.0.1": [finishes]})
    channel = answered(plan, nodes, GTX_DIALER_APP="survey")
    assert "AMD" not in [app for app, _ in channel.executed]
    assert user_events(channel) == ["GtxConnected,CallId: c-1,To: app"]


def test_app_session_prepared_by_the_dialer_starts_ready(plan: Dialplan) -> None:
    nodes = Nodes({"127.0.0.1": [finishes]})
    answered(plan, nodes, GTX_DIALER_APP="survey,7", GTX_STATUS="READY", GTX_VARS='{"a": 1}')
    # The gtx node sees the READY mark: it starts the session from GTX_VARS.
    assert nodes.calls == [("127.0.0.1", "survey", ["7"], "READY")]


def test_ready_session_fails_over_when_the_node_closes_before_starting(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [closes_at_once], "10.0.0.2": [finishes]})
    channel = run_ivr(plan, nodes, GTX_STATUS="READY")
    assert [c[3] for c in nodes.calls] == ["READY", "READY"]
    assert channel.get("GTX_STATUS") == "DONE"


def test_ready_status_on_entry_is_kept(plan: Dialplan) -> None:
    nodes = Nodes({"10.0.0.1": [finishes]})
    run_ivr(plan, nodes, GTX_STATUS="READY")
    assert nodes.calls[0][3] == "READY"


def test_goto_hands_the_call_to_a_dialplan_location(plan: Dialplan) -> None:
    channel = answered(plan, GTX_DIALER_GOTO="gtx-examples,sales,1")
    assert user_events(channel) == ["GtxConnected,CallId: c-1,To: goto"]
    assert ("Queue", "sales,,,,30") in channel.executed


@pytest.mark.parametrize("status", ["TIMEOUT", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL",
                                    "LEAVEUNAVAIL", "FULL"])
def test_no_agent_in_time_is_abandoned_with_the_safe_harbor_message(
    plan: Dialplan, status: str
) -> None:
    channel = answered(plan, queue_status=status, GTX_DIALER_QUEUE="agents",
                       GTX_ABANDON_SECONDS="2")
    assert ("Queue", "agents,,,,2") in channel.executed
    assert user_events(channel) == [
        "GtxConnected,CallId: c-1,To: queue,Queue: agents",
        f"GtxAbandoned,CallId: c-1,Queue: agents,Reason: {status}",
    ]
    assert played(channel) == ["vm-goodbye"]  # a real core sound by default
    assert channel.ended == "hangup"


def test_safe_harbor_message_is_configurable(plan: Dialplan) -> None:
    channel = answered(plan, queue_status="TIMEOUT", GTX_DIALER_QUEUE="agents",
                       GTX_ABANDON_SECONDS="2", GTX_SAFE_HARBOR="custom/acme-safe-harbor")
    assert played(channel) == ["custom/acme-safe-harbor"]


def test_call_taken_by_an_agent_is_not_abandoned(plan: Dialplan) -> None:
    channel = answered(plan, queue_status="CONTINUE", GTX_DIALER_QUEUE="agents",
                       GTX_ABANDON_SECONDS="2")
    assert [e.split(",")[0] for e in user_events(channel)] == ["GtxConnected"]
    assert played(channel) == []


def test_queue_without_abandon_bound_waits_for_an_agent(plan: Dialplan) -> None:
    channel = answered(plan, queue_status="TIMEOUT", GTX_DIALER_QUEUE="agents")
    assert ("Queue", "agents") in channel.executed
    assert [e.split(",")[0] for e in user_events(channel)] == ["GtxConnected"]
    assert channel.ended == "hangup"


def test_every_dialer_event_carries_the_call_id(plan: Dialplan) -> None:
    events = [p.data for p in plan.contexts["gtx-dialer"]["answered"] if p.app == "UserEvent"]
    assert {e.split(",")[0] for e in events} == {"GtxAmd", "GtxConnected", "GtxAbandoned"}
    for data in events:
        assert data.split(",")[1] == "CallId: ${GTX_CALL_ID}", data


# -- the interpreter itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ('"FAILURE" = "FAILURE"', "1"),
        ('"" = ""', "1"),
        ('"DONE" != "DONE"', "0"),
        ("2 < 10", "1"),  # numbers, not text
        ("(4 - 1) % 3 + 1", "1"),
        ("2 * 3 + 1", "7"),
        ("0 | 5", "5"),
        ("1 & 0", "0"),
    ],
)
def test_expressions(expression: str, value: str) -> None:
    assert evaluate(expression) == value


def test_unknown_application_is_refused(plan: Dialplan) -> None:
    with pytest.raises(DialplanError, match="outside the simulated subset"):
        Simulator(plan, Nodes({})).execute("System", "rm -rf /")


# -- the hand-over to another Asterisk (extensions_gtx_handoff.conf) --------------------------

HANDOFF = ROOT / "dialplan" / "extensions_gtx_handoff.conf"


@pytest.fixture(scope="module")
def handoff_plan() -> Dialplan:
    return load(read_config(DIALPLAN), read_config(HANDOFF))


def test_handoff_contexts_of_both_servers(handoff_plan: Dialplan) -> None:
    assert handoff_plan.contexts["gtx-handoff-pjsip"].keys() == {"s"}
    assert handoff_plan.contexts["gtx-handoff-in"].keys() == {"ivr"}


def test_pre_dial_handler_adds_every_state_header_from_the_inherited_values(
    handoff_plan: Dialplan,
) -> None:
    from gtx.ivr.handoff import INHERITED_PREFIX, PJSIP_HANDLER
    from gtx.ivr.state import STATE_HEADERS

    context, exten, priority = PJSIP_HANDLER.split("^")
    handler = handoff_plan.contexts[context][exten]
    assert priority == "1"
    sets = {p.data for p in handler if p.app == "Set"}
    inherited = INHERITED_PREFIX.lstrip("_")
    assert sets == {
        f"PJSIP_HEADER(add,{header})=${{{inherited}{name.removeprefix('GTX_')}}}"
        for name, header in STATE_HEADERS.items()
    }
    assert handler[-1].app == "Return"  # a pre-dial handler is a Gosub


def test_handoff_uses_real_applications_and_functions(handoff_plan: Dialplan) -> None:
    used_apps = {p.app for _, _, p in priorities(handoff_plan)}
    assert used_apps <= KNOWN_APPLICATIONS
    used_functions = {m for _, _, p in priorities(handoff_plan)
                      for m in re.findall(r"([A-Z_]+)\(", p.data)}
    assert {"PJSIP_HEADER"} <= used_functions
    for line in HANDOFF.read_text().splitlines():
        code = line.strip()
        if code and not code.startswith(";"):
            assert ";" not in code, line


def test_a_handed_over_call_enters_gtx_with_failover_on_server_b(
    handoff_plan: Dialplan,
) -> None:
    nodes = Nodes({"127.0.0.1": [dies_mid_session, finishes, finishes]})
    sim = Simulator(handoff_plan, agi=nodes, channel=Channel(name="IAX2/servera-5995"))
    channel = sim.call("gtx-handoff-in", "ivr")
    # The first node died mid-session: the next attempt resumes it (GTX_STATUS RUNNING).
    assert [(host, script, status) for host, script, _, status in nodes.calls] == [
        ("127.0.0.1", "ivr", ""), ("127.0.0.1", "ivr", "RUNNING")]
    assert channel.get("GTX_STATUS") == "DONE"
    assert channel.ended == "hangup"
