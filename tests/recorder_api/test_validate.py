"""recorder.start / list / url arguments: every field's fault names the field."""

from __future__ import annotations

from datetime import datetime

import pytest

from gtx.dialer.validate_call import Configured
from gtx.errors import InvalidArgument
from gtx.recorder import validate as v
from gtx.recorder.model import PauseMode, RecordingState, RecordingTarget

SERVERS = Configured(servers=frozenset({"pbx1", "pbx2"}))


def refused(func, *args, **kwargs) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        func(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------------------------- target


@pytest.mark.parametrize(("target", "expected"), [
    ({"call_id": "call-7"}, RecordingTarget(call_id="call-7")),
    ({"session": "0f3c2a"}, RecordingTarget(session="0f3c2a")),
    ({"channel": "PJSIP/alice-00000001"}, RecordingTarget(channel="PJSIP/alice-00000001")),
    ({"channel": "Local/100@menu-00000002;1", "asterisk": "pbx2"},
     RecordingTarget(channel="Local/100@menu-00000002;1", asterisk="pbx2")),
    ({"uniqueid": "1795000000.42", "asterisk": "pbx1"},
     RecordingTarget(uniqueid="1795000000.42", asterisk="pbx1")),
])
def test_each_target_form(target: dict[str, str], expected: RecordingTarget) -> None:
    assert v.recording_target(target, configured=SERVERS) == expected


@pytest.mark.parametrize(("target", "field", "words"), [
    ({}, "target", "got none of them"),
    ({"call_id": "c1", "channel": "PJSIP/a-1"}, "target", "got call_id, channel"),
    ({"asterisk": "pbx1"}, "target", "exactly one"),
    ({"chanel": "PJSIP/a-1"}, "target.chanel", "did you mean 'channel'"),
    ({"channel": "alice"}, "target.channel", "channel name"),
    ({"channel": "PJSIP/a b"}, "target.channel", "channel name"),
    ({"channel": "PJSIP/a\r\nAction: Originate"}, "target.channel", "control characters"),
    ({"call_id": "../../etc"}, "target.call_id", "call id"),
    ({"session": 12}, "target.session", "got 12"),
    ({"uniqueid": "1795000000.42 x"}, "target.uniqueid", "Uniqueid"),
    ({"channel": "PJSIP/a-1", "asterisk": "pbx9"}, "target.asterisk", "pbx1, pbx2"),
    ("PJSIP/a-1", "target", "a struct"),
])
def test_target_faults(target: object, field: str, words: str) -> None:
    error = refused(v.recording_target, target, configured=SERVERS)
    assert error.field == field
    assert words in error.problem


# --------------------------------------------------------------------------------- options


def test_default_options() -> None:
    options = v.recording_options(None)
    assert (options.format, options.split, options.beep, options.max_seconds) == (
        "wav", False, None, None)
    assert options.name == "{recording_id}"
    assert options.callback_url is None
    assert options.metadata == {}


def test_every_option() -> None:
    options = v.recording_options({
        "format": "wav49", "split": True, "beep": 30, "max_seconds": 3600,
        "name": "{date}-{time}_{call_id}.{recording_id}",
        "callback": {"url": "https://crm.example/RPC2", "method": "recording.event"},
        "metadata": {"agent": "alice", "score": 4, "ratio": 0.5, "vip": True},
    })
    assert options.format == "wav49"
    assert options.split is True
    assert options.beep == 30
    assert options.max_seconds == 3600
    assert options.callback_url == "https://crm.example/RPC2"
    assert options.callback_method == "recording.event"
    assert options.metadata == {"agent": "alice", "score": 4, "ratio": 0.5, "vip": True}


def test_beep_true_is_the_default_interval_false_none() -> None:
    assert v.recording_options({"beep": True}).beep == v.DEFAULT_BEEP
    assert v.recording_options({"beep": False}).beep is None


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"fromat": "wav"}, "options.fromat", "did you mean 'format'"),
    ({"format": "mp3"}, "options.format", "one of alaw, g722"),
    ({"format": "WAV"}, "options.format", "'WAV' is not one of"),
    ({"split": "yes"}, "options.split", "a boolean"),
    ({"beep": 0}, "options.beep", "from 1 to 3600"),
    ({"beep": "often"}, "options.beep", "true / false"),
    ({"max_seconds": 0}, "options.max_seconds", "from 1 to 86400"),
    ({"max_seconds": 86401}, "options.max_seconds", "from 1 to 86400"),
    ({"max_seconds": 1.5}, "options.max_seconds", "an int"),
    ({"callback": {"url": "ftp://x/", "method": "m"}}, "options.callback.url", "http://"),
    ({"callback": {"url": "http://crm/RPC2"}}, "options.callback.method", "missing"),
    ({"callback": {"url": "http://crm/RPC2", "method": "a b"}}, "options.callback.method",
     "method name"),
    ({"metadata": ["a"]}, "options.metadata", "a struct"),
    ({"metadata": {"nested": {"a": 1}}}, "options.metadata.nested", "a string, int"),
    ({"metadata": {"when": datetime(2026, 1, 1)}}, "options.metadata.when", "a string"),
    ({"metadata": {"": 1}}, "options.metadata.", "empty string"),
    ({"metadata": {"k": "x" * 1025}}, "options.metadata.k", "at most 1024"),
    ({"metadata": {f"k{i}": i for i in range(51)}}, "options.metadata", "at most 50"),
    ({"metadata": {f"k{i}": "x" * 1000 for i in range(9)}}, "options.metadata",
     "at most 8192"),
])
def test_option_faults(options: dict[str, object], field: str, words: str) -> None:
    error = refused(v.recording_options, options)
    assert error.field == field
    assert words in error.problem


@pytest.mark.parametrize(("name", "words"), [
    ("../{recording_id}", "'/' and '\\' are not allowed"),
    ("/var/spool/asterisk/{recording_id}", "not a path"),
    ("..\\{recording_id}", "not allowed"),
    ("sub/{recording_id}", "not a path"),
    ("{recording_id}..wav", "'..' is not allowed"),
    ("..{recording_id}", "'..' is not allowed"),
    (".{recording_id}", "may not start with '.'"),
    ("{recording_id}-{user}", "unknown placeholder {user}"),
    ("{recording_id}-{0}", "unknown placeholder {0}"),
    ("{recording_id}-{}", "unknown placeholder {}"),
    ("{recording_id} copy", "character ' '"),
    ("{recording_id}%2F", "character '%'"),
    ("{recording_id}{", "character '{'"),
    ("{recording_id}\x00", "control characters"),
    ("rec-{call_id}", "must contain {recording_id}"),
    ("", "empty string"),
    ("{recording_id}" + "x" * 120, "at most 120"),
])
def test_name_template_faults_name_options_name(name: str, words: str) -> None:
    error = refused(v.recording_options, {"name": name})
    assert error.field == "options.name"
    assert words in error.problem


def test_metadata_may_hold_paths_it_is_never_one() -> None:
    options = v.recording_options({"metadata": {"file": "../../etc/passwd",
                                                "share": "\\\\srv\\x"}})
    assert options.metadata == {"file": "../../etc/passwd", "share": "\\\\srv\\x"}
    assert options.name == "{recording_id}"


# ------------------------------------------------------------------------------- file_name


def test_file_name_expands_placeholders_in_utc() -> None:
    name = v.file_name("{date}-{time}-{call_id}-{session}-{recording_id}", recording_id="r1",
                       at=1_795_000_000.0, call_id="call-7", format="wav49")
    assert name == "20261118-110640-call-7--r1.WAV"


def test_file_name_of_a_split_leg() -> None:
    assert v.file_name("{recording_id}", recording_id="r1", at=0, leg="in",
                       format="gsm") == "r1-in.gsm"


@pytest.mark.parametrize("hostile", ["../../etc", "a/b", "..", ".hidden", "a\\b", "x\x00y"])
def test_file_name_neutralises_hostile_values(hostile: str) -> None:
    name = v.file_name("{session}{recording_id}", recording_id=hostile, session=hostile, at=0)
    assert "/" not in name
    assert "\\" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert name.endswith(".wav")


def test_file_name_refuses_a_bad_template() -> None:
    with pytest.raises(ValueError, match=r"options\.name"):
        v.file_name("../{recording_id}", recording_id="r1", at=0)


# ------------------------------------------------------------------------------------ list


def test_filter_every_field() -> None:
    query = v.recording_filter({
        "since": "2026-11-18T00:00:00Z", "until": datetime(2026, 11, 19),
        "call_id": "call-7", "campaign_id": 3, "session": "s1",
        "state": ["ready", "failed"], "after": "rec-9", "limit": 1000,
    })
    assert query.since == 1_794_960_000.0
    assert query.until == 1_795_046_400.0
    assert (query.call_id, query.campaign_id, query.session) == ("call-7", 3, "s1")
    assert query.states == {RecordingState.READY, RecordingState.FAILED}
    assert (query.after, query.limit) == ("rec-9", 1000)


def test_filter_defaults_and_one_state() -> None:
    assert v.recording_filter(None).limit == v.DEFAULT_PAGE
    assert v.recording_filter({"state": "paused"}).states == {RecordingState.PAUSED}


@pytest.mark.parametrize(("query", "field", "words"), [
    ({"sinse": "x"}, "filter.sinse", "did you mean 'since'"),
    ({"since": "2026-11-18T00:00:00"}, "filter.since", "no time zone"),
    ({"since": "yesterday"}, "filter.since", "ISO 8601"),
    ({"since": "2026-11-19T00:00:00Z", "until": "2026-11-18T00:00:00Z"}, "filter.until",
     "after since"),
    ({"call_id": 7}, "filter.call_id", "call id"),
    ({"campaign_id": 0}, "filter.campaign_id", "campaign id"),
    ({"session": "a/b"}, "filter.session", "session id"),
    ({"state": "done"}, "filter.state", "one of deleted"),
    ({"state": []}, "filter.state", "at least one state"),
    ({"state": ["ready", "rady"]}, "filter.state[1]", "did you mean 'ready'"),
    ({"after": ""}, "filter.after", "empty string"),
    ({"limit": 0}, "filter.limit", "from 1 to 1000"),
    ({"limit": 1001}, "filter.limit", "from 1 to 1000"),
    ("ready", "filter", "a struct"),
])
def test_filter_faults(query: object, field: str, words: str) -> None:
    error = refused(v.recording_filter, query)
    assert error.field == field
    assert words in error.problem


# ------------------------------------------------------------------------------ ids and url


@pytest.mark.parametrize("bad", ["", "../x", "a b", 7, None, "x" * 65])
def test_recording_id_faults(bad: object) -> None:
    assert refused(v.recording_id, bad).field == "recording_id"


def test_url_options() -> None:
    assert v.url_options(None, 3600) == v.UrlOptions()
    assert v.url_options({"file": "r1-in.wav", "ttl": 60}, 3600) == v.UrlOptions(
        "r1-in.wav", 60.0)


@pytest.mark.parametrize(("options", "field"), [
    ({"file": "../r1.wav"}, "options.file"),
    ({"file": "a\\b"}, "options.file"),
    ({"ttl": 0}, "options.ttl"),
    ({"ttl": 3601}, "options.ttl"),
    ({"expires": 5}, "options.expires"),
])
def test_url_option_faults(options: dict[str, object], field: str) -> None:
    assert refused(v.url_options, options, 3600).field == field


def test_pause_options() -> None:
    assert v.pause_options(None) is PauseMode.SILENCE
    assert v.pause_options({}) is PauseMode.SILENCE
    assert v.pause_options({"mode": None}) is PauseMode.SILENCE
    assert v.pause_options({"mode": "silence"}) is PauseMode.SILENCE
    assert v.pause_options({"mode": "gap"}) is PauseMode.GAP


@pytest.mark.parametrize(("options", "field"), [
    ({"mode": "mute"}, "options.mode"), ({"mode": 1}, "options.mode"),
    ({"mode": "gap", "for": 3}, "options.for"), ("gap", "options")])
def test_pause_option_faults(options: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        v.pause_options(options)
    assert caught.value.field == field
