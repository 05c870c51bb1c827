"""ARIChannel: variables (and their cache after a hang-up), recordings, say's media, and the
dialplan excursion of exec/queue/conference — over a scripted AriLink and a Clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gtx.asterisk.ari_api import http_error
from gtx.asterisk.ari_media import say_media, terminate_on
from gtx.channel import ChannelHangup, CommandFailed, RecordResult, UnknownApplication
from gtx.ivr.handoff import INHERITED_PREFIX
from gtx.ivr.state import STATE_HEADERS
from tests.asterisk.scripted_ari import (
    Call,
    event,
    failure,
    not_found,
    recording_event,
    result,
    stasis_start,
)


@pytest.fixture
def call() -> Iterator[Call]:
    c = Call()
    yield c
    c.close()


# --- variables ------------------------------------------------------------------------------


def test_get_and_set_variables(call: Call) -> None:
    call.link.answer("channels.getChannelVar", {"value": "a=1"},
                     not_found("Provided variable was not found"))
    assert result(call.channel.get_variable("GTX_STATE")) == "a=1"
    assert result(call.channel.get_variable("NOPE")) is None
    result(call.channel.set_variable("GTX_STATUS", "RUNNING"))
    result(call.channel.set_variable("GTX_ERROR", ""))
    assert call.link.made("channels.setChannelVar") == [
        {"channelId": "gtx-ari-1", "variable": "GTX_STATUS", "value": "RUNNING"},
        {"channelId": "gtx-ari-1", "variable": "GTX_ERROR"},  # no value: unset
    ]


def test_several_variables_go_in_one_request_where_asterisk_has_set_channel_vars(
    call: Call,
) -> None:
    call.link.newer = True
    result(call.channel.set_variables({"GTX_STEP": "2", "GTX_ERROR": "", "GTX_STATUS": "RUNNING"}))
    assert call.link.names() == ["channels.setChannelVars", "channels.setChannelVar"]
    assert call.link.made("channels.setChannelVars") == [
        {"channelId": "gtx-ari-1", "variables": {"GTX_STEP": "2", "GTX_STATUS": "RUNNING"}},
    ]
    assert call.link.made("channels.setChannelVar") == [
        {"channelId": "gtx-ari-1", "variable": "GTX_ERROR"},  # an unset goes on its own
    ]


def test_several_variables_one_by_one_where_asterisk_has_no_set_channel_vars(
    call: Call,
) -> None:
    result(call.channel.set_variables({"GTX_STEP": "2", "GTX_STATUS": "RUNNING"}))
    assert call.link.made("channels.setChannelVar") == [
        {"channelId": "gtx-ari-1", "variable": "GTX_STEP", "value": "2"},
        {"channelId": "gtx-ari-1", "variable": "GTX_STATUS", "value": "RUNNING"},
    ]
    assert call.link.made("channels.setChannelVars") == []


def test_several_variables_after_a_hang_up_are_kept_not_sent(call: Call) -> None:
    call.link.newer = True
    call.link.emit(event("ChannelHangupRequest", cause=16))
    call.link.emit(event("StasisEnd"))
    call.link.emit(event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing"))
    sent = len(call.link.calls)
    result(call.channel.set_variables({"GTX_STEP": "4", "GTX_STATUS": "HANGUP"}))
    assert len(call.link.calls) == sent
    assert result(call.channel.get_variable("GTX_STATUS")) == "HANGUP"


def test_variables_after_a_hang_up_come_from_the_cache(call: Call) -> None:
    call.link.answer("channels.getChannelVar", {"value": "3"})
    result(call.channel.set_variable("GTX_STATUS", "RUNNING"))
    assert result(call.channel.get_variable("GTX_STEP")) == "3"
    call.link.emit(event("ChannelVarset", variable="QUEUESTATUS", value="TIMEOUT"))
    call.link.emit(event("ChannelHangupRequest", cause=16))
    sent = len(call.link.calls)
    assert result(call.channel.get_variable("GTX_STATUS")) == "RUNNING"
    assert result(call.channel.get_variable("GTX_STEP")) == "3"
    assert result(call.channel.get_variable("QUEUESTATUS")) == "TIMEOUT"
    assert result(call.channel.get_variable("OTHER")) is None
    assert len(call.link.calls) == sent  # read from the cache
    # Until it is destroyed the channel may still take the write: it is tried.
    call.link.answer("channels.setChannelVar", not_found())
    result(call.channel.set_variable("GTX_STATUS", "HANGUP"))
    assert call.link.made("channels.setChannelVar")[-1]["value"] == "HANGUP"
    call.link.emit(event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing"))
    result(call.channel.set_variable("GTX_ERROR", "gone"))
    assert call.link.made("channels.setChannelVar")[-1].get("value") == "HANGUP"  # not sent
    assert result(call.channel.get_variable("GTX_ERROR")) == "gone"
    assert result(call.channel.get_full_variable("${GTX_STATUS}")) == "HANGUP"


def test_a_variable_read_of_a_gone_channel_marks_it_hung_up(call: Call) -> None:
    result(call.channel.set_variable("GTX_STEP", "2"))
    call.link.answer("channels.getChannelVar", not_found("Channel not found"))
    assert result(call.channel.get_variable("GTX_STEP")) == "2"
    assert call.channel.hung_up


def test_a_server_error_on_a_variable_is_command_failed(call: Call) -> None:
    call.link.answer("channels.getChannelVar", http_error("get", 500, "Allocation failed"))
    failure(call.channel.get_variable("X"), CommandFailed)
    call.link.answer("channels.setChannelVar", http_error("set", 400, "bad"))
    failure(call.channel.set_variable("X", "1"), CommandFailed)


def test_a_function_that_fails_to_read_is_unset(call: Call) -> None:
    """``PJSIP_HEADER(read,X-GTX-Session)`` of a call without the header: Asterisk answers 500
    "Unable to read provided function"; FastAGI's GET FULL VARIABLE gives nothing."""
    call.link.answer("channels.getChannelVar",
                     http_error("get", 500, "Unable to read provided function"))
    assert result(call.channel.get_full_variable("${PJSIP_HEADER(read,X-GTX-Session)}")) is None
    assert result(call.channel.get_variable("PJSIP_HEADER(read,X-GTX-Step)")) is None
    assert not call.channel.hung_up


def test_a_dnid_that_fails_to_read_leaves_called_empty() -> None:
    call = Call()
    call.link.answer("channels.getChannelVar",
                     http_error("get", 500, "Unable to read provided function"))
    result(call.channel.prepare())
    assert call.channel.info.called == ""
    call.link.answer("channels.getChannelVar", http_error("get", 500, "Allocation failed"))
    failure(call.channel.prepare(), CommandFailed)
    call.close()


def test_full_variables_are_evaluated_one_expression_at_a_time(call: Call) -> None:
    values = {"IAXVAR(GTX_SESSION)": "s1", "A": "x", "B": "y", "N": "B"}

    def read(params: dict[str, Any]) -> Any:
        if params["variable"] in values:
            return {"value": values[params["variable"]]}
        return not_found("Provided variable was not found")

    call.link.answer("channels.getChannelVar", read)
    assert result(call.channel.get_full_variable("${IAXVAR(GTX_SESSION)}")) == "s1"
    assert result(call.channel.get_full_variable("${A}-${B}!")) == "x-y!"
    assert result(call.channel.get_full_variable("${${N}}")) == "y"
    assert result(call.channel.get_full_variable("${MISSING}")) is None
    assert result(call.channel.get_full_variable("[${MISSING}]")) == "[]"
    assert result(call.channel.get_full_variable("plain")) == "plain"


def test_hand_off_values_go_in_the_originate_of_that_technology(call: Call) -> None:
    for name in STATE_HEADERS:
        result(call.channel.set_variable(f"IAXVAR({name})", f"v-{name}"))
        short = name.removeprefix("GTX_")
        result(call.channel.set_variable(f"{INHERITED_PREFIX}{short}", f"p-{name}"))
    result(call.channel.set_variable("PLAIN", "no"))
    iax = call.channel.handoff_variables("IAX2/serverb/ivr")
    assert iax == {f"IAXVAR({name})": f"v-{name}" for name in STATE_HEADERS}
    pjsip = call.channel.handoff_variables("PJSIP/ivr@serverb")
    assert pjsip == {f"PJSIP_HEADER(add,{header})": f"p-{name}"
                     for name, header in STATE_HEADERS.items()}
    assert call.channel.handoff_variables("SIP/x") == {}
    result(call.channel.set_variable("IAXVAR(GTX_VARS)", ""))
    assert "IAXVAR(GTX_VARS)" not in call.channel.handoff_variables("IAX2/b")


# --- say's media ----------------------------------------------------------------------------


def test_say_media_of_each_kind() -> None:
    # Digits and letters as sound files: those a digit can stop (number: cannot be).
    assert say_media("digits", "1#*", UTC) == [
        "sound:digits/1", "sound:digits/pound", "sound:digits/star"]
    assert say_media("number", "-42", UTC) == ["number:-42"]
    assert say_media("alpha", "a,B c@2", UTC) == [
        "sound:letters/a", "sound:letters/b", "sound:letters/space", "sound:letters/c",
        "sound:letters/at", "sound:digits/2"]
    assert say_media("phonetic", "Ab1-_", UTC) == [
        "sound:phonetic/a_p", "sound:phonetic/b_p", "sound:digits/1", "sound:letters/dash"]
    assert say_media("alpha", ",,", UTC) == []
    sunday = int(datetime(2026, 11, 22, 13, 5, tzinfo=UTC).timestamp())
    assert say_media("date", str(sunday), UTC) == [
        "sound:digits/day-0", "sound:digits/mon-10", "number:22", "number:2026"]
    assert say_media("time", str(sunday), UTC) == [
        "number:1", "sound:digits/oh", "number:5", "sound:digits/p-m"]
    midnight = int(datetime(2026, 11, 22, 0, 0, tzinfo=UTC).timestamp())
    assert say_media("time", str(midnight), UTC) == ["number:12", "sound:digits/a-m"]
    half_past_ten = int(datetime(2026, 11, 22, 10, 30, tzinfo=UTC).timestamp())
    assert say_media("time", str(half_past_ten), UTC) == [
        "number:10", "number:30", "sound:digits/a-m"]
    with pytest.raises(CommandFailed):
        say_media("digits", "12,3", UTC)


# --- recordings -----------------------------------------------------------------------------


def recording(call: Call, *events: tuple[float, dict[str, Any]]) -> None:
    """channels.record answers 201 and the events follow at their times."""

    def record(params: dict[str, Any]) -> dict[str, Any]:
        for delay, item in events:
            call.clock.callLater(delay, call.link.emit, item)
        return {"name": params["name"], "format": params["format"], "state": "queued"}

    call.link.answer("channels.record", record)


def test_record_to_a_name_inside_the_recording_dir(call: Call) -> None:
    name = "gtx/s1/step-2"
    recording(call, (0.1, recording_event("RecordingStarted", name)),
              (4.1, recording_event("RecordingFinished", name, duration=4)))
    d = call.channel.record("/var/spool/asterisk/recording/gtx/s1/step-2", "wav", "#", 4.0, 2,
                            True)
    assert call.link.made("channels.record") == [{
        "channelId": "gtx-ari-1", "name": name, "format": "wav", "ifExists": "overwrite",
        "beep": True, "terminateOn": "#", "maxDurationSeconds": 4, "maxSilenceSeconds": 2}]
    call.clock.advance(4.1)
    assert result(d) == RecordResult(reason="timeout", digit=None, endpos=32000)


def test_a_terminating_digit_ends_the_recording(call: Call) -> None:
    recording(call, (1.0, event("ChannelDtmfReceived", digit="#", duration_ms=100)),
              (1.0, recording_event("RecordingFinished", "msg", duration=1)))
    d = call.channel.record("msg", "gsm", "#", None, None, False)
    call.clock.advance(1)
    assert result(d) == RecordResult(reason="dtmf", digit="#", endpos=8000)
    assert "maxDurationSeconds" not in call.link.made("channels.record")[0]


def test_digits_ari_cannot_terminate_on_are_stopped_by_gtx(call: Call) -> None:
    recording(call, (2.0, event("ChannelDtmfReceived", digit="5", duration_ms=100)),
              (3.0, event("ChannelDtmfReceived", digit="1", duration_ms=100)))
    call.link.answer("recordings.stop", lambda params: call.clock.callLater(
        0.5, call.link.emit, recording_event("RecordingFinished", "msg", duration=3)))
    d = call.channel.record("msg", "wav", "12", 60, None, True)
    assert call.link.made("channels.record")[0]["terminateOn"] == "none"
    call.clock.advance(3)
    assert call.link.made("recordings.stop") == [{"recordingName": "msg"}]
    call.clock.advance(0.5)
    assert result(d) == RecordResult(reason="dtmf", digit="1", endpos=24000)


@pytest.mark.parametrize(("digits", "expected"), [
    ("", ("none", False)), ("#", ("#", False)), ("*", ("*", False)),
    ("0123456789*#", ("any", False)), ("0123456789*#ABCD", ("any", False)),
    ("*#", ("none", True)), ("1", ("none", True)),
])
def test_terminate_on(digits: str, expected: tuple[str, bool]) -> None:
    assert terminate_on(digits) == expected


def test_a_hang_up_during_a_recording_returns_hangup(call: Call) -> None:
    recording(call, (5.0, recording_event("RecordingFinished", "msg", duration=3)))
    d = call.channel.record("msg", "wav", "#", 60, None, True)
    call.clock.advance(3)
    call.link.emit(event("ChannelHangupRequest", cause=16))
    assert not d.called  # the recording reports its end first
    call.clock.advance(2)
    assert result(d) == RecordResult(reason="hangup", digit=None, endpos=24000)
    assert call.channel.hung_up


def test_a_hang_up_without_the_recordings_end_is_bounded(call: Call) -> None:
    d = call.channel.record("msg", "wav", "#", 60, None, True)
    call.clock.advance(2)
    call.hang_up()
    call.clock.advance(call.channel.limits.hangup_grace)
    assert result(d) == RecordResult(reason="hangup", digit=None, endpos=16000)


def test_a_failed_recording_is_an_error(call: Call) -> None:
    recording(call, (0.5, recording_event("RecordingFailed", "msg", cause="disk full")))
    d = call.channel.record("msg", "wav", "", 10, None, False)
    call.clock.advance(0.5)
    assert result(d) == RecordResult(reason="error", digit=None, endpos=0)


def test_record_refuses_paths_outside_the_recording_dir(call: Call) -> None:
    for path in ("/tmp/x", "../x", "/var/spool/asterisk/recording/../x"):
        failure(call.channel.record(path, "wav", "#", 10, None, True), CommandFailed)
    failure(call.channel.record("ok", "w/a/v", "#", 10, None, True), CommandFailed)
    assert call.link.calls == []


def test_the_transcripts_500_on_record_fails_the_command(call: Call) -> None:
    call.link.answer("channels.record", http_error("record", 500, "Internal Server Error"))
    failure(call.channel.record("ari-test", "wav", "", 2, None, True), CommandFailed)
    call.quiet()


# --- excursions: exec, queue, conference ----------------------------------------------------


def excursion(call: Call, status: str | None, **more: str) -> None:
    """continueInDialplan leaves Stasis, runs the app and comes back with gtx-exec."""
    values = {"GTX_EXEC_STATUS": status, **more}

    def go(params: dict[str, Any]) -> None:
        call.clock.callLater(0, call.link.emit, event("StasisEnd"))
        call.clock.callLater(3, call.link.emit, stasis_start(args=["gtx-exec"]))

    def read(params: dict[str, Any]) -> Any:
        value = values.get(params["variable"])
        return not_found("Provided variable was not found") if value is None else {
            "value": value}

    call.link.answer("channels.continueInDialplan", go)
    call.link.answer("channels.getChannelVar", read)


def test_exec_runs_the_application_in_the_dialplan(call: Call) -> None:
    excursion(call, "SUCCESS")
    d = call.channel.exec("Playback", ["tt-monkeys", "noanswer"])
    assert call.link.names() == ["channels.setChannelVar"] * 5 + [
        "applications.subscribe", "channels.continueInDialplan"]
    assert [(p["variable"], p.get("value")) for p in call.link.made("channels.setChannelVar")
            ] == [("GTX_EXEC_APP", "Playback"), ("GTX_EXEC_DATA", "tt-monkeys,noanswer"),
                  ("GTX_EXEC_STASIS", "gtx"), ("GTX_EXEC_STATUS", None),
                  # where the session began (StasisStart): for a node adopting the channel
                  ("GTX_STASIS_RETURN", "gtx-test,s,2")]
    assert call.link.made("applications.subscribe") == [
        {"applicationName": "gtx", "eventSource": "channel:gtx-ari-1"}]
    assert call.link.made("channels.continueInDialplan") == [
        {"channelId": "gtx-ari-1", "context": "gtx-ari-exec", "extension": "s", "priority": 1}]
    call.clock.advance(0)
    assert not call.channel.hung_up  # its StasisEnd is expected
    call.clock.advance(3)
    assert result(d) == 0
    assert call.link.names()[-2:] == ["applications.unsubscribe", "channels.getChannelVar"]


def test_exec_of_an_unknown_application(call: Call) -> None:
    excursion(call, "NOAPP")
    d = call.channel.exec("NoSuchApp", [])
    call.clock.advance(3)
    failure(d, UnknownApplication)


def test_exec_of_a_failing_application_returns_minus_one(call: Call) -> None:
    excursion(call, "FAILED")
    d = call.channel.exec("System", ["false"])
    call.clock.advance(3)
    assert result(d) == -1


def test_queue_returns_queuestatus(call: Call) -> None:
    excursion(call, "SUCCESS", QUEUESTATUS="TIMEOUT")
    d = call.channel.queue("support", 20, "t")
    assert call.link.made("channels.setChannelVar")[1]["value"] == "support,t,,,20"
    call.clock.advance(3)
    assert result(d) == "TIMEOUT"
    failure(call.channel.queue("bad name", None, ""), CommandFailed)


def test_conference_arguments(call: Call) -> None:
    excursion(call, "SUCCESS")
    d = call.channel.conference("room1", {"user_profile": "quiet"})
    assert call.link.made("channels.setChannelVar")[1]["value"] == "room1,,quiet"
    call.clock.advance(3)
    assert result(d) is None
    failure(call.channel.conference("room1", {"colour": "red"}), CommandFailed)


def test_a_hang_up_in_the_dialplan_ends_the_excursion(call: Call) -> None:
    call.link.answer("channels.continueInDialplan", lambda params: None)
    d = call.channel.queue("support", None, "")
    call.link.emit(event("StasisEnd"))
    call.clock.advance(60)
    assert not d.called
    call.link.emit(event("ChannelHangupRequest", cause=16))
    failure(d, ChannelHangup)
    call.quiet()
