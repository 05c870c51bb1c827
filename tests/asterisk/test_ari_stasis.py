"""StasisRunner over a scripted AriLink and an engine double: sessions started from StasisStart,
channels given back to the dialplan, REFUSED and LOST sessions, and resynchronisation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from gtx.asterisk.ari_api import AriUnavailable, http_error
from gtx.asterisk.ari_channel import ARIChannel
from gtx.asterisk.ari_stasis import LOST, REFUSED, StasisRunner
from gtx.channel import Channel, ChannelGone, ChannelHangup
from gtx.ivr import session as ivr_session
from tests.asterisk.scripted_ari import (
    ScriptedLink,
    channel_json,
    event,
    failure,
    not_found,
    stasis_start,
)


@dataclass(frozen=True)
class Outcome:
    status: str


class FakeEngine:
    """Records the channels it is given; each session ends when the test says so."""

    def __init__(self) -> None:
        self.accepting = True
        self.sessions: list[tuple[ARIChannel, Deferred[Outcome]]] = []
        self.before_end: Callable[[ARIChannel], object] | None = None

    def run(self, channel: Channel) -> Deferred[Any]:
        assert isinstance(channel, ARIChannel)
        if not self.accepting:
            return succeed(Outcome(REFUSED))
        d: Deferred[Outcome] = Deferred()
        self.sessions.append((channel, d))
        return d

    def end(self, index: int, status: str = "DONE") -> None:
        self.sessions[index][1].callback(Outcome(status))


class Runner:
    def __init__(self) -> None:
        self.link = ScriptedLink()
        self.clock = self.link.clock
        self.engine = FakeEngine()
        self.logged: list[dict[str, Any]] = []
        self.runner = StasisRunner(self.link, self.engine, self.clock,
                                   log=Logger(observer=self.logged.append))
        self.link.answer("channels.list", [])
        self.runner.start()

    def channel(self, index: int = -1) -> ARIChannel:
        return self.engine.sessions[index][0]

    def continued(self) -> list[dict[str, Any]]:
        return self.link.made("channels.continueInDialplan")


@pytest.fixture
def r() -> Iterator[Runner]:
    runner = Runner()
    yield runner
    runner.runner.stop()
    for _, d in runner.engine.sessions:
        if not d.called:
            d.callback(Outcome("HANGUP"))
    assert runner.runner.active == 0
    assert runner.link.ready_handlers == 0
    assert runner.link.events.watched == 0
    assert runner.clock.getDelayedCalls() == []


def test_the_session_statuses_the_runner_knows_are_the_engines() -> None:
    assert (LOST, REFUSED) == (ivr_session.LOST, ivr_session.REFUSED)


def test_a_session_per_stasis_start_then_the_next_priority(r: Runner) -> None:
    r.link.answer("channels.getChannelVar", {"value": "8000"})
    r.link.emit(stasis_start("c1", ["menu", "a"]))
    channel = r.channel()
    assert (channel.id, channel.info.script, tuple(channel.info.args)) == ("c1", "menu", ("a",))
    assert channel.info.called == "8000"
    assert r.runner.active == 1
    r.engine.end(0, "DONE")
    assert r.continued() == [{"channelId": "c1"}]
    assert r.runner.active == 0
    assert r.link.events.watched == 0


def test_a_transfer_continues_at_its_location(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    r.channel().transfer("sales", "100", 3)
    r.engine.end(0, "DONE")
    assert r.continued() == [
        {"channelId": "c1", "context": "sales", "extension": "100", "priority": 3}]


def test_a_channel_hung_up_is_not_continued(r: Runner) -> None:
    r.link.emit(stasis_start("c1"), stasis_start("c2"))
    r.channel(0).hangup()
    r.link.emit(event("ChannelHangupRequest", "c2", cause=16))
    r.engine.end(0, "DONE")
    r.engine.end(1, "HANGUP")
    assert r.continued() == []


def test_a_channel_that_left_stasis_is_not_continued(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    r.link.emit(event("StasisEnd", "c1"))
    r.engine.end(0, "HANGUP")
    assert r.continued() == []


def test_a_refused_session_is_continued_untouched(r: Runner) -> None:
    r.engine.accepting = False
    r.link.emit(stasis_start("c1"))
    assert r.link.names() == ["channels.list", "channels.continueInDialplan"]
    assert r.continued() == [{"channelId": "c1"}]


def test_a_second_stasis_start_for_a_driven_channel_is_ignored(r: Runner) -> None:
    r.link.emit(stasis_start("c1"), stasis_start("c1"))
    assert len(r.engine.sessions) == 1


def test_internal_stasis_starts_start_no_session(r: Runner) -> None:
    for args in (["gtx-dial"], ["gtx-dialer"], ["gtx-snoop"]):
        r.link.emit(stasis_start("leg", args))
    assert r.engine.sessions == []


def test_a_lost_session_waits_for_the_link_then_resumes(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    waiting = r.channel().wait_for_digit(30)
    r.link.connected = False
    r.clock.advance(1)
    r.engine.end(0, LOST)
    assert r.continued() == []
    assert r.runner.active == 0
    r.link.answer("channels.list", [channel_json("c1", app_data="gtx,menu")])
    r.link.answer("channels.getChannelVar", {"value": "RUNNING"})
    r.link.ready()
    assert len(r.engine.sessions) == 2
    assert r.channel().id == "c1"
    assert r.link.made("channels.getChannelVar")[-2] == {"channelId": "c1",
                                                         "variable": "GTX_STATUS"}
    failure(waiting, ChannelGone)


def test_a_resync_marks_channels_that_are_gone_hung_up(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    waiting = r.channel().wait_for_digit(30)
    r.link.answer("channels.list", [])
    r.runner.resync()
    failure(waiting, ChannelHangup)
    assert r.channel().hung_up
    r.engine.end(0, "HANGUP")
    assert r.continued() == []


def test_a_resync_adopts_only_gtx_channels_with_no_session(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    r.link.answer("channels.list", [
        channel_json("c1", app_data="gtx,menu"),  # driven here
        channel_json("c2", app_data="gtx,menu"),  # its session ended: continued
        channel_json("c3", app_data="other,menu"),  # another application
        channel_json("c4", app_data="gtx,gtx-dial"),  # a dial leg
        channel_json("c5", app_data="gtx,sales"),  # no session yet: one is started
    ])
    statuses = {"c2": {"value": "DONE"}, "c5": not_found("Provided variable was not found")}
    r.link.answer("channels.getChannelVar", lambda p: statuses[p["channelId"]])
    r.runner.resync()
    assert r.continued() == [{"channelId": "c2"}]
    assert [channel.id for channel, _ in r.engine.sessions] == ["c1", "c5"]
    assert r.channel().info.script == "sales"


def test_a_failed_continue_is_retried_at_the_next_resync(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    r.channel().transfer("sales", "100", 1)
    r.link.answer("channels.continueInDialplan", AriUnavailable("down"), None)
    r.engine.end(0, "DONE")
    r.link.answer("channels.list", [channel_json("c1", app_data="gtx,menu")])
    r.link.ready()
    assert r.continued()[-1] == {"channelId": "c1", "context": "sales", "extension": "100",
                                 "priority": 1}
    assert len(r.engine.sessions) == 1
    r.link.ready()
    assert len(r.continued()) == 2  # done once it worked


def test_a_channel_lost_again_and_again_is_given_to_the_dialplan(r: Runner) -> None:
    r.link.answer("channels.list", [channel_json("c1", app_data="gtx,menu")])
    r.link.answer("channels.getChannelVar", {"value": "RUNNING"})
    r.link.emit(stasis_start("c1"))
    for index in range(r.runner.max_restarts + 1):
        r.engine.end(index, LOST)  # with the link up: resync at once
    assert len(r.engine.sessions) == r.runner.max_restarts + 1
    assert r.continued() == [{"channelId": "c1"}]


def test_a_channel_back_from_the_dialplan_with_no_session_is_adopted(r: Runner) -> None:
    r.link.answer("channels.getChannelVar", {"value": "RUNNING"})
    r.link.emit(stasis_start("c1", ["gtx-exec"]))
    assert [channel.id for channel, _ in r.engine.sessions] == ["c1"]
    r.link.emit(stasis_start("c1", ["gtx-exec"]))  # driven now: ignored
    assert len(r.engine.sessions) == 1


def test_a_channel_gone_before_its_session_starts(r: Runner) -> None:
    r.link.answer("channels.getChannelVar", AriUnavailable("down"))
    r.link.emit(stasis_start("c1"))
    assert r.engine.sessions == []
    assert r.continued() == []
    assert r.runner.active == 0
    assert r.link.events.watched == 0


def test_stopped_the_runner_takes_no_channel(r: Runner) -> None:
    r.runner.stop()
    r.link.emit(stasis_start("c1"))
    r.link.ready()
    assert r.engine.sessions == []
    assert r.link.names() == ["channels.list"]


def test_a_dnid_that_cannot_be_read_does_not_stop_the_session(r: Runner) -> None:
    r.link.answer("channels.getChannelVar", http_error("get", 500, "Internal Server Error"))
    r.link.emit(stasis_start("c1"))
    assert r.channel().info.called == ""
    r.engine.end(0, "DONE")
    assert r.continued() == [{"channelId": "c1"}]


def test_an_engine_that_fails_still_gives_the_channel_back(r: Runner) -> None:
    r.link.emit(stasis_start("c1"))
    r.engine.sessions[0][1].errback(RuntimeError("bug"))
    assert r.continued() == [{"channelId": "c1"}]
    assert r.runner.active == 0
    (failed,) = [e for e in r.logged if "log_failure" in e]
    assert failed["log_failure"].check(RuntimeError)


def _variables(values: dict[str, str]) -> Callable[[dict[str, Any]], Any]:
    def read(params: dict[str, Any]) -> Any:
        value = values.get(params["variable"])
        return not_found("Provided variable was not found") if value is None else {
            "value": value}

    return read


def test_a_session_adopted_on_its_return_from_an_excursion_goes_on_where_it_began(
        r: Runner) -> None:
    """Back from [gtx-ari-exec] the channel is in that context's Stasis(), whose next
    priority hangs up: the session's end continues after the Stasis() it began in, which
    GTX_STASIS_RETURN keeps on the channel."""
    r.link.answer("channels.getChannelVar", _variables(
        {"GTX_STATUS": "RUNNING", "GTX_STASIS_RETURN": "gtx-stasis,s,27"}))
    r.link.emit(stasis_start("c1", ["gtx-exec"], context="gtx-ari-exec", priority=5))
    r.engine.end(0, "DONE")
    assert r.continued() == [
        {"channelId": "c1", "context": "gtx-stasis", "extension": "s", "priority": 28}]


def test_refused_on_the_return_from_an_excursion_goes_where_it_began(r: Runner) -> None:
    r.engine.accepting = False
    r.link.answer("channels.getChannelVar", _variables({"GTX_STASIS_RETURN": "gtx,100,2"}))
    r.link.emit(stasis_start("c1", ["gtx-exec"], context="gtx-ari-exec", priority=5))
    assert r.continued() == [
        {"channelId": "c1", "context": "gtx", "extension": "100", "priority": 3}]


def test_without_gtx_stasis_return_the_channel_goes_on_after_its_stasis(r: Runner) -> None:
    r.link.answer("channels.getChannelVar", _variables({"GTX_STATUS": "RUNNING"}))
    r.link.emit(stasis_start("c1", ["gtx-exec"], context="gtx-ari-exec", priority=5))
    r.engine.end(0, "DONE")
    assert r.continued() == [{"channelId": "c1"}]
    assert any(e.get("variable") == "GTX_STASIS_RETURN" for e in r.logged)  # warned


def test_a_resync_continues_an_ended_session_back_from_an_excursion_where_it_began(
        r: Runner) -> None:
    r.link.answer("channels.list", [
        channel_json("c1", app_data="gtx,gtx-exec", context="gtx-ari-exec", priority=5),
        channel_json("c2", app_data="gtx,menu", context="gtx", exten="100", priority=2)])
    r.link.answer("channels.getChannelVar", lambda p: _variables(
        {"GTX_STATUS": "DONE", "GTX_STASIS_RETURN": "gtx,100,2"})(p)
        if p["channelId"] == "c1" else {"value": "DONE"})
    r.runner.resync()
    assert r.continued() == [
        {"channelId": "c1", "context": "gtx", "extension": "100", "priority": 3},
        {"channelId": "c2"}]
    assert r.engine.sessions == []


def test_a_session_with_an_excursion_goes_on_after_its_first_stasis(r: Runner) -> None:
    r.link.emit(stasis_start("c1", ["menu"], context="gtx", exten="100", priority=2))
    channel = r.channel()
    r.link.answer("channels.continueInDialplan", lambda p: r.clock.callLater(
        1, r.link.emit, stasis_start("c1", ["gtx-exec"], context="gtx-ari-exec", priority=5)))
    r.link.answer("channels.getChannelVar", _variables({"GTX_EXEC_STATUS": "SUCCESS"}))
    done = channel.exec("Playback", ["hello-world"])
    r.clock.advance(1)
    assert done.called
    r.link.answer("channels.continueInDialplan", None)
    r.engine.end(0, "DONE")
    assert r.continued()[-1] == {"channelId": "c1", "context": "gtx", "extension": "100",
                                 "priority": 3}
    assert {"channelId": "c1", "variable": "GTX_STASIS_RETURN", "value": "gtx,100,2"} in \
        r.link.made("channels.setChannelVar")
