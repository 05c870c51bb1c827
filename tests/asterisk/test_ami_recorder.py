"""AMIRecorder: MixMonitor, MixMonitorMute and StopMixMonitor bytes in, bytes out against the
real transcript; updates from the events; bounds; resynchronisation; and against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_recorder import AMIRecorder, mixmonitor_fields, mixmonitor_options
from gtx.recording import (
    NoSuchChannel,
    RecordCommand,
    RecordingError,
    RecordingNotSupported,
    RecordingProgress,
    RecordingUnavailable,
    RecordingUpdate,
)
from gtx.testing import DialDestination, EmulatedAMIServer, EmulatedAsterisk, MemoryPipe
from gtx.testing.wav import BYTES_PER_SECOND, read_wav_header
from tests.asterisk.ami_transcripts import BANNER, LOGIN_OK, Link, Transcript, wire

MIXMONITOR = Transcript.load("ami-mixmonitor.txt")
FILE = "/var/spool/asterisk/recording/mix-test.wav"


class Recorder:
    """An AMIRecorder on a logged-in scripted link; updates kept per recording."""

    def __init__(self, *action_ids: str) -> None:
        self.link = Link("login-1", *action_ids, ping_interval=3600).login()
        self.peer = self.link.endpoint.peer
        self.peer.written()
        self.recorder = AMIRecorder(self.link.client, self.link.clock, event_grace=5.0)
        self.updates: dict[str, list[RecordingUpdate]] = {}

    def sink(self, update: RecordingUpdate) -> None:
        self.updates.setdefault(update.recording_id, []).append(update)

    def start(self, recording_id: str = "", channel: str = "gtx-rec-1",
              **options: object) -> list[object]:
        command = RecordCommand(channel=channel, file=FILE, recording_id=recording_id,
                                **options)  # type: ignore[arg-type]
        outcome: list[object] = []
        self.recorder.start(command, self.sink).addBoth(outcome.append)
        return outcome

    def progress(self, recording_id: str = "") -> list[tuple[str, str | None]]:
        return [(u.progress.value, u.cause) for u in self.updates.get(recording_id, [])]


def result(deferred: Deferred[object]) -> list[object]:
    outcome: list[object] = []
    deferred.addBoth(outcome.append)
    return outcome


def error_of(outcome: list[object]) -> BaseException:
    (value,) = outcome
    assert isinstance(value, Failure)
    return value.value


def test_start_mute_unmute_stop_as_in_the_transcript() -> None:
    rec = Recorder("mm-1", "mute-1", "mute-0", "stop-1")
    started = rec.start()
    assert rec.peer.written() == MIXMONITOR.action("mm-1")  # Options: b, no Setvar without id
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mm-1", until="mute-1"))
    assert started == [None]
    assert rec.progress() == [("started", None)]
    muted = result(rec.recorder.mute("gtx-rec-1", True))
    assert rec.peer.written() == MIXMONITOR.action("mute-1")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mute-1", until="mute-0"))
    unmuted = result(rec.recorder.mute("gtx-rec-1", False))
    assert rec.peer.written() == MIXMONITOR.action("mute-0")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mute-0", until="stop-1"))
    assert muted == unmuted == [None]
    stopped = result(rec.recorder.stop("gtx-rec-1"))
    assert rec.peer.written() == MIXMONITOR.action("stop-1")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="stop-1", until="stop-bad"))
    assert stopped == [None]
    assert rec.progress() == [("started", None), ("stopped", "stopped")]
    assert rec.recorder.recordings == frozenset()
    # The later Hangup of the same channel reports nothing more: one STOPPED.
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="hup-1", until="gv-1"))
    assert len(rec.progress()) == 2
    rec.link.stop()  # no timer left behind


def test_a_pause_that_leaves_a_gap_is_not_possible_and_resuming_unmutes() -> None:
    rec = Recorder("mm-1", "mute-1", "mute-0")
    rec.start()
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mm-1", until="mute-1"))
    rec.peer.written()
    refused = error_of(result(rec.recorder.pause("gtx-rec-1", True)))
    assert isinstance(refused, RecordingNotSupported)
    assert "MixMonitor cannot leave a gap: pause writes silence" in str(refused)
    assert rec.peer.written() == b""  # nothing sent
    result(rec.recorder.mute("gtx-rec-1", True))
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mute-1", until="mute-0"))
    rec.peer.written()
    resumed = result(rec.recorder.pause("gtx-rec-1", False))
    assert rec.peer.written() == MIXMONITOR.action("mute-0")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mute-0", until="stop-1"))
    assert resumed == [None]


def test_stop_of_a_missing_channel_is_no_such_channel() -> None:
    rec = Recorder("stop-bad")
    stopped = result(rec.recorder.stop("no-such-channel"))
    assert rec.peer.written() == MIXMONITOR.action("stop-bad")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="stop-bad", until="csc-1"))
    assert isinstance(error_of(stopped), NoSuchChannel)


def test_hang_up_of_the_channel_stops_the_recording_once() -> None:
    rec = Recorder("mm-1")
    rec.start("r-1")
    rec.peer.written()
    rec.peer.feed(wire(["Response: Success", "ActionID: extra-1", "Message: Variable Set"]))
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mm-1", until="mute-1"))
    # The Hangup names the channel (…;1) whose Uniqueid was asked; the …;2 half is ignored.
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="hup-1", until="gv-1"))
    assert rec.progress("r-1") == [("started", None), ("stopped", "hangup")]
    rec.link.stop()


def test_the_recording_id_is_set_on_the_channel_first() -> None:
    rec = Recorder("set-1", "mm-1")
    rec.start("r-1")
    assert rec.peer.written() == wire([
        "Action: Setvar", "Channel: gtx-rec-1", "Variable: GTX_RECORDING_ID", "Value: r-1",
        "ActionID: set-1"]) + MIXMONITOR.action("mm-1")


def test_options_for_split_legs_beeps_and_unbridged() -> None:
    command = RecordCommand(channel="PJSIP/trunk-00000001", file="/rec/a.wav",
                            receive_file="/rec/a-in.wav", transmit_file="/rec/a-out.wav",
                            beep_seconds=15, only_bridged=False)
    assert mixmonitor_options(command) == "B(15)r(/rec/a-in.wav)t(/rec/a-out.wav)"
    assert mixmonitor_fields(command) == [
        ("Channel", "PJSIP/trunk-00000001"), ("File", "/rec/a.wav"),
        ("Options", "B(15)r(/rec/a-in.wav)t(/rec/a-out.wav)")]
    plain = RecordCommand(channel="c", file="/rec/b.wav", only_bridged=False)
    assert mixmonitor_fields(plain) == [("Channel", "c"), ("File", "/rec/b.wav")]


@pytest.mark.parametrize("file", ["/rec/a,b.wav", "/rec/a(1).wav", "/rec/a\r\nAction: x.wav",
                                  ""])
def test_file_names_mixmonitor_would_misread_are_refused_before_sending(file: str) -> None:
    rec = Recorder()
    outcome: list[object] = []
    command = RecordCommand(channel="gtx-rec-1", file=file, recording_id="r-1")
    rec.recorder.start(command, rec.sink).addBoth(outcome.append)
    assert isinstance(error_of(outcome), RecordingError)
    assert rec.peer.written() == b""
    assert rec.recorder.recordings == frozenset()


def test_a_missing_channel_is_no_such_channel_and_not_followed() -> None:
    rec = Recorder("mm-1")
    outcome = rec.start()
    rec.peer.feed(wire(["Response: Error", "ActionID: mm-1", "Message: No such channel"]))
    assert isinstance(error_of(outcome), NoSuchChannel)
    assert rec.recorder.recordings == frozenset()
    assert rec.updates == {}


def test_other_refusals_are_recording_errors() -> None:
    rec = Recorder("mm-1")
    outcome = rec.start()
    rec.peer.feed(wire(["Response: Error", "ActionID: mm-1",
                        "Message: Could not start monitoring channel"]))
    error = error_of(outcome)
    assert type(error) is RecordingError
    assert "Could not start monitoring channel" in str(error)


def test_link_down_is_unavailable_and_nothing_is_sent() -> None:
    rec = Recorder()
    rec.peer.close()
    assert isinstance(error_of(rec.start()), RecordingUnavailable)
    assert isinstance(error_of(result(rec.recorder.mute("c", True))), RecordingUnavailable)
    assert isinstance(error_of(result(rec.recorder.stop("c"))), RecordingUnavailable)
    assert isinstance(error_of(result(rec.recorder.channel_exists("c"))), RecordingUnavailable)


def test_a_second_recording_of_the_same_channel_is_refused() -> None:
    rec = Recorder("mm-1")
    rec.start("r-1")
    assert isinstance(error_of(rec.start("r-2")), RecordingError)


def test_max_seconds_sends_stop_mixmonitor() -> None:
    rec = Recorder("mm-1", "stop-1")
    rec.start(max_seconds=30)
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mm-1", until="mute-1"))
    rec.peer.written()
    rec.link.clock.advance(29)
    assert rec.peer.written() == b""
    rec.link.clock.advance(1)
    assert rec.peer.written() == MIXMONITOR.action("stop-1")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="stop-1", until="stop-bad"))
    assert rec.progress() == [("started", None), ("stopped", "max_seconds")]
    rec.link.stop()


def test_without_mixmonitor_events_the_updates_come_after_a_bound() -> None:
    # Asterisk before 16.17 raises neither MixMonitorStart nor MixMonitorStop.
    rec = Recorder("mm-1", "stop-1")
    rec.start()
    rec.peer.feed(wire(["Response: Success", "ActionID: mm-1"]))
    assert rec.progress() == []
    rec.link.clock.advance(5)
    assert rec.progress() == [("started", None)]
    rec.recorder.stop("gtx-rec-1")
    rec.peer.feed(wire(["Response: Success", "ActionID: stop-1"]))
    rec.link.clock.advance(5)
    assert rec.progress() == [("started", None), ("stopped", "stopped")]
    rec.link.stop()


def test_channel_exists_by_getvar() -> None:
    rec = Recorder("gv-1", "gv-2", "gv-3")
    gone = result(rec.recorder.channel_exists("gtx-rec-1"))
    assert rec.peer.written() == MIXMONITOR.action("gv-1")
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="gv-1", until="bye"))
    assert gone == [False]
    up = result(rec.recorder.channel_exists("gtx-rec-1"))
    rec.peer.feed(wire(["Response: Success", "ActionID: gv-2", "Variable: UNIQUEID",
                        "Value: gtx-rec-1"]))
    assert up == [True]
    silent = result(rec.recorder.channel_exists("gtx-rec-1", timeout=2))
    rec.link.clock.advance(2)
    assert isinstance(error_of(silent), RecordingError)


def test_after_a_reconnect_recordings_of_gone_channels_are_stopped_link_lost() -> None:
    rec = Recorder("set-1", "mm-1", "set-2", "mm-2", "login-2", "csc-1")
    rec.start("kept", channel="gtx-rec-1")
    rec.start("lost", channel="gone-1")
    rec.peer.feed(wire(["Response: Success", "ActionID: mm-1"])
                  + wire(["Response: Success", "ActionID: mm-2"]))
    rec.peer.close()
    rec.link.clock.advance(2)  # back-off, then a new connection
    peer = rec.link.endpoint.peer
    peer.feed(BANNER)
    peer.written()
    peer.feed(LOGIN_OK.replace(b"login-1", b"login-2"))
    assert peer.written() == MIXMONITOR.action("csc-1")
    peer.feed(MIXMONITOR.asterisk_bytes(after="csc-1", until="hup-1"))
    assert rec.progress("lost") == [("stopped", "link lost")]
    assert rec.progress("kept") == []
    assert rec.recorder.recordings == frozenset({"kept"})


def test_max_seconds_reached_while_the_link_was_down_stops_at_the_reconnect() -> None:
    rec = Recorder("mm-1", "login-2", "csc-1", "stop-1")
    rec.start(max_seconds=10)
    rec.peer.feed(MIXMONITOR.asterisk_bytes(after="mm-1", until="mute-1"))
    rec.peer.close()
    rec.link.clock.advance(10)  # the bound runs out; the link comes back meanwhile
    peer = rec.link.endpoint.peer
    peer.feed(BANNER)
    peer.written()
    peer.feed(LOGIN_OK.replace(b"login-1", b"login-2"))
    peer.written()
    peer.feed(MIXMONITOR.asterisk_bytes(after="csc-1", until="hup-1"))
    assert peer.written() == MIXMONITOR.action("stop-1")
    peer.feed(MIXMONITOR.asterisk_bytes(after="stop-1", until="stop-bad"))
    assert rec.progress()[-1] == ("stopped", "max_seconds")


def test_a_lost_answer_is_followed_as_started() -> None:
    rec = Recorder("mm-1", "login-2", "csc-1")
    outcome = rec.start()
    rec.peer.close()  # before any answer: it may be recording
    assert outcome == [None]
    assert rec.recorder.recordings == frozenset({""})


# -- against the emulated Asterisk ---------------------------------------------------------------


class InMemoryEndpoint:
    def __init__(self, server: EmulatedAMIServer) -> None:
        self.server = server

    def connect(self, factory: Factory) -> Deferred[object]:
        client = factory.buildProtocol(None)
        server_side = self.server.buildProtocol(None)
        pipe = MemoryPipe(client, server_side, IPv4Address("TCP", "127.0.0.1", 40100),
                          IPv4Address("TCP", "127.0.0.1", 5038))
        client.makeConnection(pipe.client_transport)
        server_side.makeConnection(pipe.server_transport)
        return succeed(client)


def test_against_the_emulator_a_paused_recording_ends_with_the_call(tmp_path: Path) -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=0, talk=12)})
    server = EmulatedAMIServer(asterisk)
    client = AMIClient("pbx1", InMemoryEndpoint(server), "gtx", "gtxsecret", clock=clock,
                       ping_interval=3600)
    client.startService()
    recorder = AMIRecorder(client, clock)
    updates: list[RecordingUpdate] = []
    client.send_action("Originate", [("Channel", "PJSIP/5551234@trunk"),
                                     ("Application", "Wait"), ("Data", "60"),
                                     ("Async", "true"), ("ChannelId", "call-1")])
    clock.advance(0)
    command = RecordCommand(channel="call-1", file=str(tmp_path / "r-1.wav"),
                            receive_file=str(tmp_path / "r-1-in.wav"),
                            transmit_file=str(tmp_path / "r-1-out.wav"), recording_id="r-1")
    assert result(recorder.start(command, updates.append)) == [None]
    assert server.find_channel("call-1")[0].variables["GTX_RECORDING_ID"] == "r-1"
    clock.advance(4)
    recorder.mute("call-1", True)
    clock.advance(3)
    recorder.mute("call-1", False)
    for _ in range(6):
        clock.advance(1)
    assert [(u.progress, u.cause) for u in updates] == [
        (RecordingProgress.STARTED, None), (RecordingProgress.STOPPED, "hangup")]
    for name in ("r-1.wav", "r-1-in.wav", "r-1-out.wav"):
        info = read_wav_header((tmp_path / name).read_bytes())
        assert info.data_bytes == 12 * BYTES_PER_SECOND
    assert result(recorder.channel_exists("call-1")) == [False]
    assert isinstance(error_of(result(recorder.stop("call-1"))), NoSuchChannel)
    assert result(client.stopService()) == [None]
