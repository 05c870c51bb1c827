"""dialplan/extensions_gtx_ari.conf: the ARI entry (gtx-stasis), its failover between the
Stasis applications of the gtx nodes, the dialplan excursion of exec/queue/conference
(gtx-ari-exec), the dialer's hand-off over ARI, and hand-offs between FastAGI and ARI.

Run in tests/dialplan_sim.py with each node's Stasis application scripted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from gtx.asterisk.ari_api import EXEC_RETURN, INTERNAL_ARG_PREFIX
from tests.conftest import ROOT
from tests.dialplan_sim import Channel, Dialplan, Simulator, load
from tests.test_dialplan import (
    DIALPLAN,
    KNOWN_APPLICATIONS,
    KNOWN_FUNCTIONS,
    Nodes,
    finishes,
    played,
    priorities,
    read_config,
)

ARI_DIALPLAN = ROOT / "dialplan" / "extensions_gtx_ari.conf"


@pytest.fixture(scope="module")
def plan() -> Dialplan:
    return load(read_config(DIALPLAN), read_config(ARI_DIALPLAN))


Behaviour = Callable[[Channel], str]


@dataclass
class Apps:
    """Scripted Stasis applications: name → what it does, one behaviour per call."""

    behaviours: dict[str, list[Behaviour]]
    calls: list[tuple[str, list[str], str]] = field(default_factory=list)  # app, args, status

    def __call__(self, channel: Channel, app: str, args: list[str]) -> str:
        self.calls.append((app, args, channel.get("GTX_STATUS")))
        queue = self.behaviours.get(app)
        if not queue:
            return "FAILED"  # Asterisk: "Stasis app 'x' not registered"
        return queue.pop(0)(channel)

    @property
    def apps(self) -> list[str]:
        return [app for app, *_ in self.calls]


def done(channel: Channel) -> str:
    channel.variables["GTX_STATUS"] = "DONE"
    return "SUCCESS"


def untouched(channel: Channel) -> str:
    return "SUCCESS"  # a node shutting down continues the channel as it came


def fails_with(error: str) -> Behaviour:
    def behaviour(channel: Channel) -> str:
        channel.variables.update(GTX_STATUS="ERROR", GTX_ERROR=error)
        return "SUCCESS"

    return behaviour


def hands_off(channel: Channel) -> str:
    step = int(channel.get("GTX_STEP") or "1") + 1
    channel.variables.update(GTX_STATUS="HANDOFF", GTX_STEP=str(step), GTX_SESSION="s-1")
    return "SUCCESS"


def run_stasis(plan: Dialplan, apps: Apps, args: list[str] | None = None,
               **variables: str) -> Channel:
    channel = Channel(variables={"GTX_ARI_APPS": "gtx1&gtx2", **variables})
    sim = Simulator(plan, agi=Nodes({}), channel=channel, stasis=apps)
    return sim.gosub("gtx-stasis", "s", args or ["menu"])


# -- structure -------------------------------------------------------------------------------


def test_contexts_and_no_globals_of_its_own(plan: Dialplan) -> None:
    config = read_config(ARI_DIALPLAN)
    names = [c.name for c in config.categories]
    # Asterisk reads only the first [globals]: the settings live in extensions_gtx.conf.
    assert names == ["gtx-stasis", "gtx-ari-exec", "gtx-ari"]
    assert plan.contexts["gtx-stasis"].keys() == {"s"}
    assert plan.contexts["gtx-ari-exec"].keys() == {"s"}
    assert {"menu", "vip", "ivr", "direct"} <= set(plan.contexts["gtx-ari"])


def test_real_applications_and_functions_only(plan: Dialplan) -> None:
    ari = load(read_config(ARI_DIALPLAN))
    used = {p.app for _, _, p in priorities(ari)}
    assert {"Stasis", "TryExec"} <= used
    assert used <= KNOWN_APPLICATIONS
    functions = {m for _, _, p in priorities(ari) for m in re.findall(r"\$\{([A-Z_]+)\(", p.data)}
    assert functions <= KNOWN_FUNCTIONS
    for line in ARI_DIALPLAN.read_text().splitlines():
        code = line.strip()
        if code and not code.startswith(";"):
            assert ";" not in code, line


def test_every_static_goto_target_exists(plan: Dialplan) -> None:
    sim = Simulator(plan, agi=Nodes({}))
    for context, exten, p in priorities(load(read_config(ARI_DIALPLAN))):
        if p.app == "GotoIf":
            targets = p.data.partition("?")[2].split(":")
        elif p.app in ("Goto", "Gosub"):
            targets = [p.data.partition("(")[0]]
        else:
            continue
        for target in filter(None, targets):
            if "$" in target:
                continue
            parts = target.split(",")
            where = parts if len(parts) == 3 else [context, exten, parts[-1]]
            sim.resolve(*where)


def test_the_excursion_returns_with_gtxs_internal_argument(plan: Dialplan) -> None:
    stasis = [p.data for p in plan.contexts["gtx-ari-exec"]["s"] if p.app == "Stasis"]
    assert stasis == [f"${{GTX_EXEC_STASIS}},{EXEC_RETURN}"]
    assert EXEC_RETURN.startswith(INTERNAL_ARG_PREFIX)


# -- gtx-stasis: failover between the nodes' Stasis applications ----------------------------


def test_done_in_the_first_application_returns(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [done]})
    channel = run_stasis(plan, apps, ["menu", "vip", "42"])
    assert apps.calls == [("gtx1", ["menu", "vip", "42"], "")]
    assert channel.ended == "returned"
    assert channel.get("GOSUB_RETVAL") == "DONE"
    assert played(channel) == []


def test_an_application_not_registered_fails_over_to_the_next(plan: Dialplan) -> None:
    apps = Apps({"gtx2": [done]})  # gtx1's node is down: Stasis() answers FAILED at once
    channel = run_stasis(plan, apps)
    assert apps.apps == ["gtx1", "gtx2"]
    assert channel.get("STASISSTATUS") == "SUCCESS"
    assert channel.get("GOSUB_RETVAL") == "DONE"


def test_a_node_shutting_down_passes_the_call_on(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [untouched], "gtx2": [done]})
    run_stasis(plan, apps, GTX_STATUS="READY")
    assert [(app, status) for app, _, status in apps.calls] == [("gtx1", "READY"),
                                                                ("gtx2", "READY")]


def test_no_application_ends_in_error_after_bounded_rounds(plan: Dialplan) -> None:
    apps = Apps({})
    channel = run_stasis(plan, apps)
    assert apps.apps == ["gtx1", "gtx2", "gtx1", "gtx2"]  # GTX_ROUNDS=2
    assert channel.get("GTX_STATUS") == "ERROR"
    assert channel.get("GTX_ERROR") == ("node_unreachable: no gtx Stasis application ran menu "
                                        "to its end in 4 attempts")
    assert played(channel) == ["an-error-has-occured"]
    assert channel.ended == "hangup"


def test_an_error_reported_by_gtx_is_neither_retried_nor_played_again(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [fails_with("webservice_timeout: no answer in 5 s")]})
    channel = run_stasis(plan, apps, GTX_ON_ERROR="return")
    assert apps.apps == ["gtx1"]
    assert played(channel) == []
    assert (channel.ended, channel.get("GOSUB_RETVAL")) == ("returned", "ERROR")


def test_caller_hanging_up_in_stasis_ends_the_call(plan: Dialplan) -> None:
    def hangs_up(channel: Channel) -> str:
        channel.variables["GTX_STATUS"] = "HANGUP"
        return "HANGUP"

    channel = run_stasis(plan, Apps({"gtx1": [hangs_up]}))
    assert channel.ended == "hangup"
    assert channel.executed[-1][0] == "Stasis"


def test_stale_status_is_cleared_and_defaults_apply(plan: Dialplan) -> None:
    bare = Dialplan(contexts=plan.contexts, globals={})
    apps = Apps({"gtx": [done]})
    channel = Channel(variables={"GTX_STATUS": "DONE", "GTX_ERROR": "old"})
    Simulator(bare, agi=Nodes({}), channel=channel, stasis=apps).gosub(
        "gtx-stasis", "s", ["menu"])
    assert apps.calls == [("gtx", ["menu"], "")]  # default application: gtx


def test_missing_app_name_is_an_error(plan: Dialplan) -> None:
    channel = run_stasis(plan, Apps({}), [""])
    assert channel.get("GTX_ERROR").startswith("dialplan: Gosub(gtx-stasis) needs the app")
    assert channel.ended == "hangup"


def test_local_variables_do_not_leak(plan: Dialplan) -> None:
    channel = run_stasis(plan, Apps({"gtx1": [done]}))
    assert not [name for name in channel.variables if name.startswith(("gtx_", "ARG"))]


def test_the_examples_enter_over_stasis(plan: Dialplan) -> None:
    apps = Apps({"gtx": [done, done, done]})
    for exten in ("menu", "vip", "ivr"):
        Simulator(plan, agi=Nodes({}), stasis=apps).call("gtx-ari", exten)
    assert [args for _, args, _ in apps.calls] == [
        ["menu"], ["menu", "vip", "42"],
        ["ivr?url=http%3A%2F%2F127.0.0.1%3A8000%2FRPC2&method=menu.start"]]


# -- hand-offs (transfer with handoff) ---------------------------------------------------------


def test_handoff_on_entry_is_kept_and_a_new_handoff_returns(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [hands_off]})
    channel = run_stasis(plan, apps, GTX_STATUS="HANDOFF", GTX_STEP="2")
    assert apps.calls[0][2] == "HANDOFF"
    assert apps.apps == ["gtx1"]
    assert (channel.get("GTX_STEP"), channel.get("GOSUB_RETVAL")) == ("3", "HANDOFF")


def test_a_handoff_nobody_took_up_fails_over(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [untouched], "gtx2": [done]})
    run_stasis(plan, apps, GTX_STATUS="HANDOFF", GTX_STEP="2")
    assert [(app, status) for app, _, status in apps.calls] == [("gtx1", "HANDOFF"),
                                                                ("gtx2", "HANDOFF")]


def test_a_fastagi_session_hands_off_to_an_ari_session(plan: Dialplan) -> None:
    # Step 1 runs over FastAGI (gtx-ivr); its transfer with handoff sends the call to the
    # gtx-ari example, where the session continues over ARI at step 2.
    def agi_hands_off(channel: Channel) -> str:
        channel.continue_at = ("gtx-ari", "menu", 1)
        return hands_off(channel)

    nodes = Nodes({"127.0.0.1": [agi_hands_off]})
    apps = Apps({"gtx": [done]})
    channel = Simulator(plan, agi=nodes, stasis=apps).call("gtx", "menu")
    assert [c[1] for c in nodes.calls] == ["menu"]
    assert apps.calls == [("gtx", ["menu"], "HANDOFF")]
    assert (channel.get("GTX_SESSION"), channel.get("GTX_STEP")) == ("s-1", "2")
    assert channel.get("GTX_STATUS") == "DONE"


def test_an_ari_session_hands_off_to_a_fastagi_session(plan: Dialplan) -> None:
    def stasis_hands_off(channel: Channel) -> str:
        channel.continue_at = ("gtx", "prepaid", 1)  # ARI: continueInDialplan there
        return hands_off(channel)

    nodes = Nodes({"127.0.0.1": [finishes]})
    apps = Apps({"gtx": [stasis_hands_off]})
    Simulator(plan, agi=nodes, stasis=apps).call("gtx-ari", "menu")
    assert nodes.calls == [("127.0.0.1", "prepaid", [], "HANDOFF")]


# -- the dialer's answered calls over ARI ------------------------------------------------------


@pytest.mark.parametrize("where", ["channel", "globals"])
def test_dialer_hands_the_call_to_the_ivr_over_ari(plan: Dialplan, where: str) -> None:
    apps = Apps({"gtx": [done]})
    variables = {"GTX_CALL_ID": "c-1", "GTX_DIALER_APP": "survey,7", "GTX_STATUS": "READY"}
    dialplan = plan
    if where == "channel":
        variables["GTX_IVR_VIA"] = "ari"
    else:
        dialplan = Dialplan(contexts=plan.contexts, globals={**plan.globals, "GTX_IVR_VIA": "ari"})
    nodes = Nodes({})
    channel = Simulator(dialplan, agi=nodes, channel=Channel(variables=variables),
                        stasis=apps).call("gtx-dialer", "answered")
    assert apps.calls == [("gtx", ["survey", "7"], "READY")]
    assert nodes.calls == []  # no FastAGI
    assert ("UserEvent", "GtxConnected,CallId: c-1,To: app") in channel.executed
    assert channel.ended == "hangup"


def test_dialer_uses_fastagi_by_default(plan: Dialplan) -> None:
    nodes = Nodes({"127.0.0.1": [finishes]})
    channel = Channel(variables={"GTX_CALL_ID": "c-1", "GTX_DIALER_APP": "survey"})
    Simulator(plan, agi=nodes, channel=channel, stasis=Apps({})).call("gtx-dialer", "answered")
    assert [c[1] for c in nodes.calls] == ["survey"]


# -- gtx-ari-exec: the dialplan excursion ------------------------------------------------------


def excursion(plan: Dialplan, app: str, data: str, apps: Apps | None = None,
              scripts: dict[str, Callable[[Channel, list[str]], object]] | None = None,
              **variables: str) -> tuple[Channel, Apps]:
    apps = apps or Apps({"gtx2": [lambda channel: "SUCCESS"]})
    channel = Channel(variables={"GTX_EXEC_APP": app, "GTX_EXEC_DATA": data,
                                 "GTX_EXEC_STASIS": "gtx2", "GTX_STATUS": "RUNNING",
                                 "GTX_APP": "menu", **variables})
    Simulator(plan, agi=Nodes({}), channel=channel, scripts=scripts, stasis=apps).call(
        "gtx-ari-exec", "s")
    return channel, apps


def test_the_excursion_runs_the_application_and_returns_to_the_session(plan: Dialplan) -> None:
    seen: dict[str, str] = {}

    def back_in_stasis(channel: Channel) -> str:
        seen.update(channel.variables)
        return "SUCCESS"

    def queue(channel: Channel, args: list[str]) -> None:
        channel.variables["QUEUESTATUS"] = "TIMEOUT"

    channel, apps = excursion(plan, "Queue", "sales,,,,30", Apps({"gtx2": [back_in_stasis]}),
                              scripts={"Queue": queue})
    assert ("Queue", "sales,,,,30") in channel.executed
    assert apps.calls == [("gtx2", [EXEC_RETURN], "RUNNING")]
    # What gtx reads once the channel is back in its application:
    assert (seen["GTX_EXEC_STATUS"], seen["QUEUESTATUS"]) == ("SUCCESS", "TIMEOUT")


@pytest.mark.parametrize(
    ("app", "script_result", "status"),
    [("NoSuchApp", None, "NOAPP"), ("ConfBridge", "FAILED", "FAILED"),
     ("ConfBridge", None, "SUCCESS")],
)
def test_the_excursion_reports_trystatus(plan: Dialplan, app: str, script_result: str | None,
                                         status: str) -> None:
    scripts = {"ConfBridge": lambda channel, args: script_result}
    channel, apps = excursion(plan, app, "room1", scripts=scripts, GTX_EXEC_STATUS="stale")
    assert channel.get("GTX_EXEC_STATUS") == status
    assert apps.apps == ["gtx2"]


def test_a_caller_hanging_up_during_the_excursion_ends_the_call_there(plan: Dialplan) -> None:
    def hangs_up(channel: Channel, args: list[str]) -> None:
        channel.ended = "hangup"

    channel, apps = excursion(plan, "Queue", "sales", scripts={"Queue": hangs_up})
    assert apps.calls == []  # nothing more runs: gtx sees the channel go
    assert channel.get("GTX_EXEC_STATUS") == ""


def test_a_node_lost_during_the_excursion_is_resumed_by_another(plan: Dialplan) -> None:
    apps = Apps({"gtx1": [done]})  # gtx2, the session's node, is gone: its return FAILED
    channel, apps = excursion(plan, "Queue", "sales", apps, GTX_ARI_APPS="gtx1&gtx2")
    assert apps.calls == [("gtx2", [EXEC_RETURN], "RUNNING"), ("gtx1", ["menu"], "RUNNING")]
    assert channel.get("GTX_STATUS") == "DONE"
