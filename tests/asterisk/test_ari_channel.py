"""ARIChannel over a scripted AriLink and a task.Clock: requests sent, events awaited, hang-ups,
lost links, and that nothing is left watched or scheduled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gtx.asterisk.ari_api import AriUnavailable, http_error
from gtx.asterisk.ari_channel import ARIChannel
from gtx.asterisk.ari_info import call_info, parse_stasis_args
from gtx.asterisk.ari_waits import ChannelWait, ChannelWaits
from gtx.channel import ChannelGone, ChannelHangup, CommandFailed, PlayResult
from tests.asterisk.scripted_ari import (
    Call,
    ScriptedLink,
    failure,
    not_found,
    result,
    stasis_start,
)


@pytest.fixture
def call() -> Iterator[Call]:
    c = Call()
    yield c
    c.close()


# --- the call -------------------------------------------------------------------------------


def test_call_info_comes_from_the_transcripts_stasis_start() -> None:
    start = stasis_start("gtx-ari-1", ["ivr", "http://x/RPC2"], name="Local/wait@gtx-test-1;1",
                         number="5550000", caller_name="Bob", context="gtx-test",
                         exten="wait", priority=1)
    info = call_info(start, "pbx1")
    assert (info.channel, info.uniqueid) == ("Local/wait@gtx-test-1;1", "gtx-ari-1")
    assert (info.caller_number, info.caller_name) == ("5550000", "Bob")
    assert (info.context, info.extension, info.priority) == ("gtx-test", "wait", "1")
    assert (info.script, dict(info.query), tuple(info.args)) == (
        "ivr", {"url": "http://x/RPC2"}, ())
    assert info.asterisk == "pbx1"
    assert info.language == "en"
    assert info.environment["dialplan.app_data"] == "gtx,ivr,http://x/RPC2"


@pytest.mark.parametrize(("args", "expected"), [
    (["menu", "first arg", "2"], ("menu", {}, ("first arg", "2"))),
    (["ivr?url=http%3A%2F%2Fws%2FRPC2&method=m.start", "a"],
     ("ivr", {"url": "http://ws/RPC2", "method": "m.start"}, ("a",))),
    (["ivr", "https://ws/RPC2", "m.start", "x"],
     ("ivr", {"url": "https://ws/RPC2", "method": "m.start"}, ("x",))),
    (["ivr", "not-a-url"], ("ivr", {}, ("not-a-url",))),
    ([], ("", {}, ())),
])
def test_stasis_arguments_name_the_app(args: list[str], expected: Any) -> None:
    assert parse_stasis_args(args) == expected


def test_prepare_reads_the_dnid(call: Call) -> None:
    call.link.answer("channels.getChannelVar", {"value": "8000"})
    result(call.channel.prepare())
    assert call.channel.info.called == "8000"
    assert call.link.made("channels.getChannelVar") == [
        {"channelId": "gtx-ari-1", "variable": "CALLERID(dnid)"}]


def test_prepare_without_a_dnid_leaves_called_empty(call: Call) -> None:
    call.link.answer("channels.getChannelVar", not_found("Provided variable was not found"))
    result(call.channel.prepare())
    assert call.channel.info.called == ""


def test_a_stasis_start_without_a_channel_is_refused() -> None:
    link = ScriptedLink()
    with pytest.raises(ValueError, match="not a channel event"):
        ARIChannel(link, {"type": "StasisStart", "args": []}, link.clock)


# --- call control ---------------------------------------------------------------------------


def test_answer_and_hangup_with_a_cause(call: Call) -> None:
    result(call.channel.answer())
    result(call.channel.hangup(17))
    assert call.link.calls == [
        ("channels.answer", {"channelId": "gtx-ari-1"}),
        ("channels.hangup", {"channelId": "gtx-ari-1", "reason_code": "17"}),
    ]
    assert call.channel.hung_up
    assert call.channel.hung_up_by_session
    failure(call.channel.answer(), ChannelHangup)
    assert len(call.link.calls) == 2  # nothing sent for a dead channel


@pytest.mark.parametrize(("cause", "reason"), [
    (16, "normal"), (17, "busy"), (34, "congestion"), (19, "no_answer"), (21, "rejected"),
    (1, "unallocated"), (31, "normal"), (127, "normal"),
])
def test_hangup_where_asterisk_has_no_reason_code(cause: int, reason: str) -> None:
    """Older Asterisk: channels.hangup has ``reason`` only (the link refuses an undeclared
    parameter before sending it): the cause goes as the nearest reason."""
    call = Call()
    call.link.lacking.add(("channels.hangup", "reason_code"))
    result(call.channel.hangup(cause))
    assert call.link.calls == [("channels.hangup", {"channelId": "gtx-ari-1", "reason": reason})]
    assert call.channel.hung_up_by_session
    call.close()


def test_a_request_the_link_refuses_to_send_is_command_failed(call: Call) -> None:
    call.link.lacking.add(("channels.answer", "channelId"))
    error = failure(call.channel.answer(), CommandFailed)
    assert "has no parameter channelId" in str(error)
    assert not call.channel.hung_up


def test_transfer_is_remembered_for_the_runner(call: Call) -> None:
    result(call.channel.transfer("sales", "100", 2))
    assert call.channel.transfer_target == ("sales", "100", 2)
    failure(call.channel.transfer("bad context", "s", 1), CommandFailed)
    failure(call.channel.transfer("sales", "s", 0), CommandFailed)
    assert call.link.calls == []


def test_send_dtmf(call: Call) -> None:
    result(call.channel.send_dtmf("12w#"))
    assert call.link.made("channels.sendDTMF") == [{"channelId": "gtx-ari-1", "dtmf": "12w#"}]
    failure(call.channel.send_dtmf("12x"), CommandFailed)
    failure(call.channel.send_dtmf(""), CommandFailed)


def test_verbose_only_logs(call: Call) -> None:
    result(call.channel.verbose("hello", 3))
    assert call.link.calls == []


# --- errors of the link and of Asterisk -----------------------------------------------------


def test_channel_not_found_means_hung_up(call: Call) -> None:
    call.link.answer("channels.answer", not_found())
    failure(call.channel.answer(), ChannelHangup)
    assert call.channel.hung_up
    assert not call.channel.left_stasis


def test_not_in_stasis_means_the_channel_left(call: Call) -> None:
    call.link.answer("channels.answer",
                     http_error("answer", 409, "Channel not in Stasis application"))
    failure(call.channel.answer(), ChannelHangup)
    assert call.channel.hung_up
    assert call.channel.left_stasis


def test_a_server_error_fails_the_command_only(call: Call) -> None:
    call.link.answer("channels.answer", http_error("answer", 500, "Internal Server Error"),
                     None)
    error = failure(call.channel.answer(), CommandFailed)
    assert "500 Internal Server Error" in str(error)
    assert not call.channel.hung_up
    result(call.channel.answer())


def test_an_unavailable_link_is_channel_gone(call: Call) -> None:
    call.link.answer("channels.answer", AriUnavailable("down"))
    failure(call.channel.answer(), ChannelGone)
    assert not call.channel.hung_up


def test_the_websocket_dropping_during_a_wait_is_channel_gone(call: Call) -> None:
    d = call.channel.wait_for_digit(30)
    call.link.connected = False
    call.clock.advance(1.0)
    failure(d, ChannelGone)
    call.quiet()


def test_a_reconnection_during_a_wait_is_channel_gone(call: Call) -> None:
    call.playing(seconds=5)
    d = call.channel.stream("hello-world", "")
    call.link.ready()  # dropped and back: PlaybackFinished may have been lost
    failure(d, ChannelGone)
    assert call.link.events.watched == 1
    call.clock.advance(5)  # the playback's end goes nowhere


# --- playbacks and digits -------------------------------------------------------------------


def test_stream_plays_a_sound_and_waits_for_its_end(call: Call) -> None:
    call.playing(seconds=2.5)
    d = call.channel.stream("hello-world", "")
    assert call.link.made("channels.play") == [
        {"channelId": "gtx-ari-1", "media": "sound:hello-world", "playbackId": "playback-1"}]
    call.clock.advance(2.4)
    assert not d.called
    call.clock.advance(0.1)
    assert result(d) == PlayResult(digit=None, played=True)
    call.quiet()


def test_a_failed_playback_is_not_played(call: Call) -> None:
    call.playing(seconds=0, state="failed")
    d = call.channel.stream("no-such-file", "")
    call.clock.advance(0)
    assert result(d) == PlayResult(digit=None, played=False)


def test_an_escape_digit_stops_the_playback(call: Call) -> None:
    call.playing(seconds=10)
    d = call.channel.stream("menu", "12")
    call.clock.advance(1)
    call.press("5")  # not an escape digit: playback goes on
    assert not d.called
    call.press("2")
    assert result(d) == PlayResult(digit="2", played=True)
    assert call.link.made("playbacks.stop") == [{"playbackId": "playback-1"}]
    call.clock.advance(10)  # the late PlaybackFinished goes nowhere
    call.quiet()


def test_a_digit_pressed_while_the_playback_stops_is_kept_for_the_next_read(call: Call) -> None:
    stopping: Deferred[None] = Deferred()
    call.playing(seconds=10)
    call.link.answer("playbacks.stop", stopping)
    d = call.channel.stream("menu", "0123456789")
    call.press("1")
    call.press("2")  # arrives before the stop is answered
    stopping.callback(None)
    assert result(d).digit == "1"
    assert result(call.channel.wait_for_digit(5)) == "2"


def test_a_number_asterisk_cannot_stop_returns_the_digit_once_said(call: Call) -> None:
    """``number:`` is not "controllable" (res_stasis_playback): playbacks.stop answers 500 and
    it plays on, holding up what follows; the digit comes back once it has ended."""
    call.playing(seconds=3)
    call.link.answer("playbacks.stop", http_error("stop", 500, "Could not stop playback"))
    d = call.channel.say("number", "1234", "#")
    call.clock.advance(1)
    call.press("#")
    assert call.link.made("playbacks.stop") == [{"playbackId": "playback-1"}]
    assert not d.called
    call.clock.advance(2)  # PlaybackFinished
    assert result(d) == "#"
    call.quiet()


def test_a_playback_that_ends_before_the_stop_is_answered_is_not_waited_for(
        call: Call) -> None:
    stopping: Deferred[None] = Deferred()
    call.playing(seconds=2)
    call.link.answer("playbacks.stop", stopping)
    d = call.channel.say("number", "7", "#")
    call.clock.advance(1)
    call.press("#")
    call.clock.advance(1)  # PlaybackFinished comes before the answer to the stop
    stopping.errback(http_error("stop", 500, "Could not stop playback"))
    assert result(d) == "#"
    call.quiet()


def test_digits_kept_are_dropped_by_an_operation_that_does_not_read_them(call: Call) -> None:
    call.press("7")  # nobody reads digits now: kept
    result(call.channel.answer())
    d = call.channel.wait_for_digit(1)
    call.clock.advance(1)
    assert result(d) is None


def test_wait_for_digit_times_out_on_the_clock(call: Call) -> None:
    d = call.channel.wait_for_digit(3)
    call.clock.advance(2.9)
    assert not d.called
    call.press("#")
    assert result(d) == "#"
    d = call.channel.wait_for_digit(3)
    call.clock.advance(3)
    assert result(d) is None
    call.quiet()


@pytest.mark.parametrize("operation", ["stream", "wait_for_digit", "wait", "moh", "say"])
def test_a_hang_up_ends_every_wait(call: Call, operation: str) -> None:
    call.playing(seconds=30)
    d: Deferred[Any] = {
        "stream": lambda: call.channel.stream("menu", "1"),
        "wait_for_digit": lambda: call.channel.wait_for_digit(30),
        "wait": lambda: call.channel.wait(30),
        "moh": lambda: call.channel.music_on_hold("default", 30),
        "say": lambda: call.channel.say("number", "42", "1"),
    }[operation]()
    call.clock.advance(1)
    call.hang_up()
    failure(d, ChannelHangup)
    assert call.channel.hung_up
    call.quiet()
    before = len(call.link.calls)
    failure(call.channel.stream("menu", ""), ChannelHangup)
    assert len(call.link.calls) == before


# --- say ------------------------------------------------------------------------------------


def test_say_plays_its_media_as_one_playback(call: Call) -> None:
    call.playing(seconds=1)
    d = call.channel.say("date", "0", "")
    call.clock.advance(1)
    assert result(d) is None
    assert call.link.made("channels.play")[0]["media"] == (
        "sound:digits/day-4,sound:digits/mon-0,number:1,number:1970")


def test_say_with_nothing_to_say_plays_nothing(call: Call) -> None:
    assert result(call.channel.say("alpha", ",", "")) is None
    assert call.link.calls == []
    failure(call.channel.say("number", "forty", ""), CommandFailed)
    failure(call.channel.say("colour", "red", ""), CommandFailed)


# --- wait and music on hold -----------------------------------------------------------------


def test_wait_lasts_its_seconds(call: Call) -> None:
    d = call.channel.wait(2)
    call.press("1")  # not read, not kept
    call.clock.advance(2)
    assert result(d) is None
    d2 = call.channel.wait_for_digit(1)
    call.clock.advance(1)
    assert result(d2) is None


def test_music_on_hold_for_some_seconds(call: Call) -> None:
    d = call.channel.music_on_hold("jazz", 4)
    assert call.link.names() == ["channels.startMoh"]
    assert call.link.made("channels.startMoh") == [{"channelId": "gtx-ari-1",
                                                    "mohClass": "jazz"}]
    call.clock.advance(4)
    result(d)
    assert call.link.names() == ["channels.startMoh", "channels.stopMoh"]
    failure(call.channel.music_on_hold("bad class", 1), CommandFailed)


def test_music_left_on_is_stopped_by_the_next_playback(call: Call) -> None:
    result(call.channel.music_on_hold(None, None))
    assert call.link.made("channels.startMoh") == [{"channelId": "gtx-ari-1"}]
    assert call.channel.music_playing
    assert result(call.channel.wait_for_digit(0)) is None
    assert call.link.names() == ["channels.startMoh"]  # waiting leaves it on
    call.playing(seconds=1)
    d = call.channel.stream("hello", "")
    assert call.link.names() == ["channels.startMoh", "channels.stopMoh", "channels.play"]
    call.clock.advance(1)
    result(d)
    assert not call.channel.music_playing


# --- the waits themselves -------------------------------------------------------------------


def test_a_wait_given_up_after_it_failed_leaves_no_unhandled_failure() -> None:
    clock = Clock()
    waits = ChannelWaits(clock, lambda: True)
    wait: ChannelWait[None] = waits.new(5, lambda: None)
    waits.hung_up(ChannelHangup("gone"))
    wait.cancel()
    assert result(wait.deferred) is None
    assert waits.pending == 0
    assert clock.getDelayedCalls() == []


def test_a_wait_that_raises_on_its_timeout_fails_with_that_error() -> None:
    clock = Clock()
    waits = ChannelWaits(clock, lambda: True, link_check_interval=10)

    def expired() -> None:
        raise CommandFailed("play", "no end")

    wait: ChannelWait[None] = waits.new(3, expired)
    clock.advance(3)
    failure(wait.deferred, CommandFailed)
    assert clock.getDelayedCalls() == []


def test_a_play_refused_for_a_gone_channel_is_a_hang_up(call: Call) -> None:
    call.link.answer("channels.play", not_found())
    failure(call.channel.stream("hello-world", "1"), ChannelHangup)
    assert call.channel.hung_up
    call.quiet()
