"""ARIRecorder against a scripted link: snoop then record, updates from the events, exactly one
STOPPED, mute (silence) and pause (gap), stop, refusals, a recording found after a restart,
and resynchronisation."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import (
    AriConflict,
    AriNotFound,
    AriServerError,
    AriUnavailable,
)
from gtx.asterisk.ari_recorder import ARIRecorder
from gtx.asterisk.ari_recording_ops import record_params, recording_name
from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingError,
    RecordingNotSupported,
    RecordingUnavailable,
    RecordingUpdate,
)
from tests.asterisk.ari_fakes import HOLD, FakeAriLink, channel, destroyed, event, recording

SPOOL = "/var/spool/asterisk/recording"
TARGET = channel("1795000000.7", "PJSIP/alice-00000007", "Up", app_name="Queue", app_data="q")
SNOOP = channel("gtx-snoop-r1", "Snoop/1795000000.7-00000001", "Up", app_name="Stasis",
                app_data="gtx,gtx-snoop")
LIVE = recording("r1", "recording", "gtx-snoop-r1")


class Rig:
    def __init__(self) -> None:
        self.link = FakeAriLink()
        self.clock = Clock()
        self.recorder = ARIRecorder(self.link, self.clock, recording_dir=SPOOL, event_grace=5)
        self.updates: dict[str, list[RecordingUpdate]] = {}

    def sink(self, update: RecordingUpdate) -> None:
        self.updates.setdefault(update.recording_id, []).append(update)

    def start(self, recording_id: str = "r1", channel: str = "1795000000.7",
              **options: Any) -> list[object]:
        fields: dict[str, Any] = {"file": f"{SPOOL}/{recording_id}.wav", "only_bridged": False,
                                  **options}
        command = RecordCommand(channel=channel, recording_id=recording_id, **fields)
        return fired(self.recorder.start(command, self.sink))

    def progress(self, recording_id: str = "r1") -> list[tuple[str, str | None]]:
        return [(u.progress.value, u.cause) for u in self.updates.get(recording_id, [])]

    def feed(self, kind: str, name: str = "r1", **fields: Any) -> None:
        self.link.feed(event(kind, recording=recording(name, "done", "gtx-snoop-r1", **fields)))


def fired(deferred: Any) -> list[object]:
    out: list[object] = []
    deferred.addBoth(out.append)
    return out


def error_of(outcome: list[object]) -> BaseException:
    (value,) = outcome
    assert isinstance(value, Failure)
    return value.value


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_snoop_record_started_stop_stopped(rig: Rig) -> None:
    assert rig.start(max_seconds=60) == [None]
    assert rig.link.requests == [
        ("channels", "snoopChannel", {"channelId": "1795000000.7", "spy": "both", "app": "gtx",
                                      "appArgs": "gtx-snoop", "snoopId": "gtx-snoop-r1"}),
        ("channels", "setChannelVar", {"channelId": "gtx-snoop-r1", "variable": "GTX_RECORDING",
                                       "value": "r1"}),
        ("channels", "record", {"channelId": "gtx-snoop-r1", "name": "r1", "format": "wav",
                                "beep": False, "ifExists": "fail", "maxDurationSeconds": 60}),
    ]
    rig.feed("RecordingStarted")
    assert rig.progress() == [("started", None)]
    rig.link.requests.clear()
    assert fired(rig.recorder.stop("1795000000.7")) == [None]
    assert rig.link.ops() == ["recordings.stop", "channels.hangup"]
    assert rig.link.requests[0][2] == {"recordingName": "r1"}
    assert rig.link.requests[1][2] == {"channelId": "gtx-snoop-r1"}
    rig.feed("RecordingFinished", duration=3)
    rig.link.feed(destroyed(SNOOP))
    assert rig.progress() == [("started", None), ("stopped", "stopped")]
    assert rig.link.events.watched == 0
    assert rig.recorder.recordings == frozenset()
    assert not rig.clock.getDelayedCalls()


def test_a_target_named_is_resolved_and_wav49_is_its_extension(rig: Rig) -> None:
    rig.link.answer("channels", "list", [SNOOP, TARGET])
    assert rig.start(channel="PJSIP/alice-00000007", file=f"{SPOOL}/r1.WAV") == [None]
    assert rig.link.ops()[:2] == ["channels.list", "channels.snoopChannel"]
    assert rig.link.requests[1][2]["channelId"] == "1795000000.7"
    assert rig.link.requests[-1][2]["format"] == "WAV"
    # known by both its name and its id
    assert isinstance(error_of(rig.start("r2", channel="1795000000.7")), RecordingError)
    rig.link.answer("channels", "list", [])
    assert isinstance(error_of(rig.start("r3", channel="PJSIP/bob-1")), NoSuchChannel)


@pytest.mark.parametrize(("options", "what"), [
    ({"receive_file": f"{SPOOL}/r1-in.wav"}, "split legs"),
    ({"transmit_file": f"{SPOOL}/r1-out.wav"}, "split legs"),
    ({"beep_seconds": 15}, "beep"),
    ({"only_bridged": True}, "bridged"),
])
def test_what_ari_cannot_record_is_refused(rig: Rig, options: dict[str, Any], what: str) -> None:
    error = error_of(rig.start(**options))
    assert isinstance(error, RecordingNotSupported)
    assert what in str(error)
    assert "record_via = ami" in str(error)
    assert rig.link.requests == []
    assert rig.link.events.watched == 0


@pytest.mark.parametrize(("file", "why"), [
    ("/tmp/r1.wav", "in its recording directory"),
    (f"{SPOOL}/../r1.wav", "in its recording directory"),
    (f"{SPOOL}/sub/../../r1.wav", "in its recording directory"),
    (f"{SPOOL}-other/r1.wav", "in its recording directory"),  # a prefix, not a parent
    (f"{SPOOL}/", "in its recording directory"),
    ("r1.wav", "in its recording directory"),
    (f"{SPOOL}/r1", "an extension"),
    (f"{SPOOL}/.wav", "an extension"),
    (f"{SPOOL}/r 1.wav", "letters, digits"),
    (f"{SPOOL}/.hidden/r1.wav", "letters, digits"),
    (f"{SPOOL}/a b/r1.wav", "letters, digits"),
    (f"{SPOOL}/r1.w-v", "letters, digits"),
])
def test_files_ari_cannot_write_are_refused(rig: Rig, file: str, why: str) -> None:
    error = error_of(rig.start(file=file))
    assert isinstance(error, RecordingError)
    assert why in str(error)
    assert rig.link.requests == []


def test_recording_name() -> None:
    assert recording_name(f"{SPOOL}/20261121-ab.c.gsm", SPOOL + "/") == ("20261121-ab.c", "gsm")
    # Subdirectories of the spool: Asterisk makes them; the name keeps them.
    assert recording_name(f"{SPOOL}/calls/2026-11/r1.wav", SPOOL) == ("calls/2026-11/r1", "wav")
    assert recording_name(f"{SPOOL}/calls/./x/../r1.wav", SPOOL) == ("calls/r1", "wav")
    assert recording_name("/r1.wav", "/") == ("r1", "wav")


def test_a_recording_in_a_subdirectory_of_the_spool(rig: Rig) -> None:
    assert rig.start(file=f"{SPOOL}/calls/r1.wav") == [None]
    assert rig.link.requests[-1][2]["name"] == "calls/r1"
    rig.feed("RecordingStarted", "calls/r1")
    assert rig.progress() == [("started", None)]
    rig.link.requests.clear()
    assert fired(rig.recorder.mute("1795000000.7", True)) == [None]
    assert fired(rig.recorder.stop("1795000000.7")) == [None]
    assert rig.link.requests[:2] == [("recordings", "mute", {"recordingName": "calls/r1"}),
                                     ("recordings", "stop", {"recordingName": "calls/r1"})]
    assert record_params("s", "n", "wav", None) == {
        "channelId": "s", "name": "n", "format": "wav", "beep": False, "ifExists": "fail"}


def test_refusals_of_asterisk(rig: Rig) -> None:
    rig.link.answer("channels", "snoopChannel", AriNotFound("snoop", 404, "Channel not found"))
    assert isinstance(error_of(rig.start()), NoSuchChannel)
    rig.link.answer("channels", "record", AriServerError("record", 500, "Internal Server Error"))
    error = error_of(rig.start("r2"))
    assert type(error) is RecordingError
    assert "500 Internal Server Error" in str(error)
    assert rig.link.requests[-1] == ("channels", "hangup", {"channelId": "gtx-snoop-r2"})
    rig.link.answer("channels", "record", AriUnavailable("dropped"))
    assert isinstance(error_of(rig.start("r3")), RecordingUnavailable)
    rig.link.drop()
    assert isinstance(error_of(rig.start("r4")), RecordingUnavailable)
    assert rig.recorder.recordings == frozenset()
    assert rig.link.events.watched == 0
    assert rig.updates == {}


def test_an_untagged_snoop_still_records(rig: Rig) -> None:
    rig.link.answer("channels", "setChannelVar", AriServerError("setChannelVar", 500, "x"))
    assert rig.start() == [None]
    assert rig.link.ops()[-1] == "channels.record"


def test_started_without_its_event_after_the_grace(rig: Rig) -> None:
    rig.start()
    rig.clock.advance(4.9)
    assert rig.progress() == []
    rig.clock.advance(0.1)
    assert rig.progress() == [("started", None)]
    rig.feed("RecordingStarted")
    assert rig.progress() == [("started", None)]


def test_the_target_hangs_up(rig: Rig) -> None:
    rig.start()
    rig.start("r2", channel="1795000000.8")
    rig.feed("RecordingStarted")
    rig.link.feed(destroyed(TARGET))
    rig.feed("RecordingFinished")
    assert rig.progress() == [("started", None), ("stopped", "hangup")]
    # without the events of its snoop: after the grace
    rig.link.feed(destroyed(channel("1795000000.8")))
    rig.clock.advance(5)
    assert rig.progress("r2") == [("started", None), ("stopped", "hangup")]
    assert rig.link.events.watched == 0
    assert rig.link.ops().count("channels.hangup") == 2  # the snoops, in case


def test_max_seconds_and_failures(rig: Rig) -> None:
    rig.start(max_seconds=30)
    rig.start("r2", channel="1795000000.8")
    rig.start("r3", channel="1795000000.9")
    rig.clock.advance(30)
    rig.feed("RecordingFinished")
    assert rig.progress() == [("started", None), ("stopped", "max_seconds")]
    rig.feed("RecordingFailed", "r2", cause="disk full")
    assert rig.progress("r2")[-1] == ("stopped", "failed")
    rig.link.feed(destroyed(channel("gtx-snoop-r3")))
    assert rig.progress("r3")[-1] == ("stopped", "hangup")
    assert ("channels", "hangup", {"channelId": "gtx-snoop-r1"}) in rig.link.requests
    assert ("channels", "hangup", {"channelId": "gtx-snoop-r3"}) not in rig.link.requests


def test_mute_writes_silence_and_pause_leaves_a_gap(rig: Rig) -> None:
    rig.start()
    rig.feed("RecordingStarted")
    rig.link.requests.clear()
    assert fired(rig.recorder.mute("1795000000.7", True)) == [None]
    assert fired(rig.recorder.mute("1795000000.7", False)) == [None]
    assert fired(rig.recorder.pause("1795000000.7", True)) == [None]
    assert fired(rig.recorder.pause("1795000000.7", False)) == [None]
    assert fired(rig.recorder.pause("1795000000.7", True)) == [None]
    assert fired(rig.recorder.mute("1795000000.7", False)) == [None]  # resumes either
    assert rig.link.ops() == ["recordings.mute", "recordings.unmute", "recordings.pause",
                              "recordings.unpause", "recordings.pause", "recordings.unpause"]
    assert {r[2]["recordingName"] for r in rig.link.requests} == {"r1"}


def test_mute_and_pause_wait_for_the_recording_to_start(rig: Rig) -> None:
    # A live recording is queued until its file is open; Asterisk answers 409 "Recording not
    # in session" to anything but a stop meanwhile.
    rig.start()
    rig.link.requests.clear()
    paused = fired(rig.recorder.pause("1795000000.7", True))
    muted = fired(rig.recorder.mute("1795000000.7", True))
    rig.clock.advance(1)
    assert (paused, muted, rig.link.requests) == ([], [], [])
    rig.feed("RecordingStarted")
    assert (paused, muted) == ([None], [None])
    assert rig.link.ops() == ["recordings.pause", "recordings.mute"]
    rig.link.requests.clear()
    assert fired(rig.recorder.pause("1795000000.7", False)) == [None]  # started: at once
    assert rig.link.ops() == ["recordings.unpause", "recordings.unmute"]
    assert not rig.clock.getDelayedCalls()


def test_the_wait_for_the_start_is_bounded(rig: Rig) -> None:
    rig.link.answer("channels", "record", HOLD)
    rig.start()
    muted = fired(rig.recorder.mute("1795000000.7", True))
    rig.clock.advance(4.9)
    rig.link.pending.pop()[2].callback(LIVE)  # accepted late: its own grace starts now
    assert muted == []
    rig.clock.advance(0.1)  # no RecordingStarted within the grace: the request goes anyway
    assert muted == [None]
    assert rig.link.ops()[-1] == "recordings.mute"
    assert rig.progress() == []  # the recording's own grace is not over


def test_a_recording_that_ends_before_it_starts_refuses_mute(rig: Rig) -> None:
    rig.start()
    muted = fired(rig.recorder.mute("1795000000.7", True))
    assert fired(rig.recorder.stop("1795000000.7")) == [None]  # a stop does not wait
    rig.feed("RecordingFinished")
    error = error_of(muted)
    assert type(error) is RecordingError
    assert "pbx1: the recording of 1795000000.7 has ended" in str(error)
    assert "recordings.mute" not in rig.link.ops()
    # A start that fails releases its waiters too.
    rig.link.answer("channels", "record", HOLD)
    rig.start("r2", channel="1795000000.8")
    paused = fired(rig.recorder.pause("1795000000.8", True))
    rig.link.pending.pop()[2].errback(AriServerError("record", 500, "Internal Server Error"))
    assert type(error_of(paused)) is RecordingError
    assert "recordings.pause" not in rig.link.ops()
    assert not rig.clock.getDelayedCalls()


def test_mute_of_a_recording_gone(rig: Rig) -> None:
    rig.start()
    rig.feed("RecordingStarted")
    rig.link.answer("recordings", "mute", AriNotFound("mute", 404, "Recording not found"))
    assert isinstance(error_of(fired(rig.recorder.mute("1795000000.7", True))), NoSuchChannel)
    rig.link.answer("recordings", "pause", AriConflict("pause", 409, "Recording not in session"))
    assert type(error_of(fired(rig.recorder.pause("1795000000.7", True)))) is RecordingError
    rig.link.drop()
    assert isinstance(error_of(fired(rig.recorder.mute("1795000000.7", True))),
                      RecordingUnavailable)


def test_a_recording_made_before_a_restart_is_found_by_its_snoop(rig: Rig) -> None:
    stranger = channel("gtx-snoop-x", "Snoop/1795000000.99-00000002", "Up")
    rig.link.answer("channels", "list", [stranger, TARGET, SNOOP], [TARGET, SNOOP])
    rig.link.answer("channels", "getChannelVar", {"value": "r1"}, {"value": "r1"})
    rig.link.answer("recordings", "unpause", AriConflict("unpause", 409, "not paused"))
    assert fired(rig.recorder.pause("PJSIP/alice-00000007", False)) == [None]
    assert rig.link.ops() == ["channels.list", "channels.getChannelVar", "recordings.unpause",
                              "recordings.unmute"]
    assert rig.link.requests[1][2] == {"channelId": "gtx-snoop-r1", "variable": "GTX_RECORDING"}
    rig.link.requests.clear()
    assert fired(rig.recorder.stop("1795000000.7")) == [None]
    assert rig.link.ops() == ["channels.list", "channels.getChannelVar", "recordings.stop",
                              "channels.hangup"]
    rig.link.answer("channels", "list", [TARGET], [])
    assert type(error_of(fired(rig.recorder.stop("1795000000.7")))) is RecordingError
    assert isinstance(error_of(fired(rig.recorder.stop("1795000000.7"))), NoSuchChannel)


def test_channel_exists(rig: Rig) -> None:
    rig.link.answer("channels", "get", TARGET, AriNotFound("get", 404, "Channel not found"),
                    AriServerError("get", 500, "x"))
    assert fired(rig.recorder.channel_exists("1795000000.7")) == [True]
    assert fired(rig.recorder.channel_exists("1795000000.7")) == [False]
    assert type(error_of(fired(rig.recorder.channel_exists("1795000000.7")))) is RecordingError
    rig.link.answer("channels", "list", [TARGET], [TARGET])
    assert fired(rig.recorder.channel_exists("PJSIP/alice-00000007")) == [True]
    assert fired(rig.recorder.channel_exists("PJSIP/bob-00000001")) == [False]
    rig.link.drop()
    assert isinstance(error_of(fired(rig.recorder.channel_exists("x"))), RecordingUnavailable)


def test_resynchronisation(rig: Rig) -> None:
    for rid, target in (("gone", "t1"), ("snoop-gone", "t2"), ("bound", "t3"), ("on", "t4")):
        rig.start(rid, channel=target, max_seconds=30)
    rig.link.drop()
    rig.clock.advance(40)
    rig.link.requests.clear()
    rig.link.answer("channels", "list", [
        channel("t2"), channel("t3"), channel("gtx-snoop-bound"), channel("t4"),
        channel("gtx-snoop-on")])
    rig.link.answer("recordings", "getLive", AriNotFound("getLive", 404, "Recording not found"),
                    recording("on", "recording", "gtx-snoop-on"))
    rig.link.ready()
    assert rig.progress("gone")[-1] == ("stopped", "hangup")
    assert rig.progress("snoop-gone")[-1] == ("stopped", "stopped")
    assert rig.progress("bound")[-1] == ("stopped", "max_seconds")
    assert rig.progress("on") == [("started", None)]
    assert ("channels", "hangup", {"channelId": "gtx-snoop-bound"}) in rig.link.requests
    assert rig.recorder.recordings == {"on"}


def test_an_end_before_asterisk_accepted_the_recording(rig: Rig) -> None:
    rig.link.answer("channels", "record", HOLD, HOLD)
    started = rig.start()
    rig.link.feed(destroyed(SNOOP))
    assert rig.progress() == []  # not before start() has answered
    rig.link.pending.pop()[2].callback(LIVE)
    assert started == [None]
    assert rig.progress() == [("stopped", "hangup")]
    failed = rig.start("r2", channel="1795000000.8")
    rig.link.feed(destroyed(channel("gtx-snoop-r2")))
    rig.link.pending.pop()[2].errback(AriNotFound("record", 404, "Channel not found"))
    assert isinstance(error_of(failed), NoSuchChannel)
    assert rig.progress("r2") == []  # a start that fails sends no update
    assert rig.link.events.watched == 0
    assert not rig.clock.getDelayedCalls()
