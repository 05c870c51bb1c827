"""The emulated app_mixmonitor: against the real transcript, and the WAV files it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock

from gtx.testing import DialDestination, EmulatedAMIServer, EmulatedAsterisk
from gtx.testing.ami_mixmonitor import parse_options
from gtx.testing.wav import BYTES_PER_SECOND, HEADER_BYTES, read_wav_header
from tests.testing.ami_harness import AMIClient, Normaliser, events, run
from tests.testing.test_ami_fidelity import call_events, replay, responses

MIXMONITOR_EVENTS = {"MixMonitorStart", "MixMonitorMute", "MixMonitorStop"}


def test_fidelity_with_the_real_transcript(tmp_path: Path) -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "Local/wait@gtx-test": DialDestination.answer(after=0, talk=30),
    })
    server = EmulatedAMIServer(asterisk)
    server.mixmonitors.root = tmp_path
    expected, actual, client = replay("ami-mixmonitor.txt", server, clock, gap=1)
    assert responses(actual) == responses(expected)
    bases = {"Local/wait@gtx-test"}
    variables = {"MIXMONITOR_FILENAME"}
    assert call_events(actual, bases, variables) == call_events(expected, bases, variables)
    want_norm, got_norm = Normaliser(), Normaliser()
    want = [want_norm.message(m) for m in expected if m.get("Event") in MIXMONITOR_EVENTS]
    got = [got_norm.message(m) for m in actual if m.get("Event") in MIXMONITOR_EVENTS]
    assert [dict(m)["Event"] for m in got] == ["MixMonitorStart", "MixMonitorMute",
                                               "MixMonitorMute", "MixMonitorStop"]
    assert got == want
    assert client.closed
    # A Local channel running Wait() carries no audio (and b: it is not bridged): the file is
    # the header alone, finalised by StopMixMonitor.
    data = (tmp_path / "var/spool/asterisk/recording/mix-test.wav").read_bytes()
    assert len(data) == HEADER_BYTES
    info = read_wav_header(data)
    assert (info.riff_size, info.data_bytes) == (36, 0)
    assert not clock.getDelayedCalls()


class Pbx:
    """An emulated server with one logged-in client; recordings go under ``tmp``."""

    def __init__(self, tmp: Path, talk: float | None = 10.0) -> None:
        self.tmp = tmp
        self.clock = Clock()
        self.asterisk = EmulatedAsterisk(self.clock, destinations={
            "PJSIP/5551234@trunk": DialDestination.answer(after=0, talk=talk),
            "Local/wait@gtx-test": DialDestination.answer(after=0, talk=None),
        })
        self.server = EmulatedAMIServer(self.asterisk)
        self.client = AMIClient(self.server)
        self.client.login()

    def call(self, dial: str = "PJSIP/5551234@trunk", call_id: str = "call-1") -> str:
        """Originate an answered call running Wait(60); returns its Uniqueid."""
        self.client.action(("Action", "Originate"), ("Channel", dial), ("Application", "Wait"),
                           ("Data", "60"), ("Async", "true"), ("ChannelId", call_id),
                           ("ActionID", f"o-{call_id}"))
        self.clock.advance(0)
        return call_id

    def act(self, name: str, *fields: tuple[str, str]) -> list[dict[str, str]]:
        return [dict(m) for m in self.client.action(("Action", name), *fields,
                                                    ("ActionID", f"{name}-1"))]

    def record(self, channel: str, file: str = "rec.wav", options: str = "") -> dict[str, str]:
        replies = self.act("MixMonitor", ("Channel", channel), ("File", str(self.tmp / file)),
                           *([("Options", options)] if options else []))
        return replies[0]

    def path(self, file: str = "rec.wav") -> Path:
        return self.tmp / file


def samples(data: bytes) -> list[int]:
    body = data[HEADER_BYTES:]
    return [int.from_bytes(body[i:i + 2], "little", signed=True) for i in range(0, len(body), 2)]


def profile(data: bytes, step: float = 1.0) -> str:
    """One character per ``step`` seconds: ``x`` sound in every 10 ms, ``.`` silence
    throughout, ``?`` both."""
    values = samples(data)
    width = int(step * 8000)
    marks = []
    for start in range(0, len(values), width):
        piece = values[start:start + width]
        if not any(piece):
            marks.append(".")
        elif all(any(piece[i:i + 80]) for i in range(0, len(piece), 80)):
            marks.append("x")
        else:
            marks.append("?")
    return "".join(marks)


def test_a_talking_trunk_call_grows_with_time_and_is_finalised_at_hang_up(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=10)
    uid = pbx.call()
    assert pbx.record(uid)["Response"] == "Success"
    run(pbx.clock, 3)
    growing = pbx.path().read_bytes()
    assert len(growing) == HEADER_BYTES + 3 * BYTES_PER_SECOND
    assert read_wav_header(growing).data_bytes == 0  # sizes come at the close, as format_wav
    run(pbx.clock, 10)  # the destination hangs up 10 s after answering
    data = pbx.path().read_bytes()
    info = read_wav_header(data)
    assert (info.audio_format, info.channels, info.sample_rate, info.bits) == (1, 1, 8000, 16)
    assert (info.byte_rate, info.block_align) == (16000, 2)
    assert info.data_bytes == len(data) - HEADER_BYTES == 10 * BYTES_PER_SECOND
    assert info.riff_size == len(data) - 8
    assert info.duration == 10.0
    assert profile(data) == "x" * 10
    # No MixMonitorStop on a hang-up: the files are simply closed.
    assert not events(pbx.client.read(), "MixMonitorStop")
    assert pbx.server.mixmonitors.running == {}
    assert not pbx.clock.getDelayedCalls()


def test_a_muted_span_is_silence_and_the_length_stays_true(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=None)
    uid = pbx.call()
    pbx.record(uid)
    run(pbx.clock, 2)
    mute = [("Channel", uid), ("Direction", "both")]
    assert pbx.act("MixMonitorMute", *mute, ("State", "1"))[0]["Response"] == "Success"
    run(pbx.clock, 3)
    pbx.act("MixMonitorMute", *mute, ("State", "0"))
    run(pbx.clock, 2)
    assert pbx.act("StopMixMonitor", ("Channel", uid))[0]["Response"] == "Success"
    data = pbx.path().read_bytes()
    assert read_wav_header(data).data_bytes == 7 * BYTES_PER_SECOND
    assert profile(data) == "xx...xx"


def test_split_legs_are_separate_files_of_the_same_length(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=None)
    uid = pbx.call()
    pbx.record(uid, options=f"r({tmp_path / 'in.wav'})t({tmp_path / 'out.wav'})")
    run(pbx.clock, 2)
    pbx.server.mixmonitors.set_audio(uid, hears=True)  # a prompt plays to the channel
    run(pbx.clock, 1)
    pbx.act("MixMonitorMute", ("Channel", uid), ("Direction", "read"), ("State", "1"))
    run(pbx.clock, 1)
    pbx.act("StopMixMonitor", ("Channel", uid))
    mixed, heard, said = (pbx.path(f).read_bytes() for f in ("rec.wav", "in.wav", "out.wav"))
    for data in (mixed, heard, said):
        assert read_wav_header(data).data_bytes == 4 * BYTES_PER_SECOND
    assert profile(heard) == "xxx."  # the party talks; the read leg muted at 3 s
    assert profile(said) == "..xx"  # a prompt plays from 2 s
    assert profile(mixed) == "xxxx"


def test_a_local_channel_with_nothing_playing_stays_the_header(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path)
    uid = pbx.call("Local/wait@gtx-test")
    pbx.record(uid)  # not even b: no frame reaches MixMonitor
    run(pbx.clock, 5)
    assert len(pbx.path().read_bytes()) == HEADER_BYTES
    pbx.server.mixmonitors.set_audio(uid, talks=True)  # something plays on it now
    run(pbx.clock, 2)
    pbx.act("Hangup", ("Channel", uid))
    data = pbx.path().read_bytes()
    assert read_wav_header(data).data_bytes == 2 * BYTES_PER_SECOND
    assert profile(data) == "xx"


def test_b_writes_only_while_bridged(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=None)
    uid = pbx.call()
    pbx.record(uid, options="b")
    run(pbx.clock, 2)  # a trunk call counts as bridged
    pbx.server.mixmonitors.set_audio(uid, bridged=False)
    run(pbx.clock, 3)
    pbx.act("StopMixMonitor", ("Channel", uid))
    assert read_wav_header(pbx.path().read_bytes()).data_bytes == 2 * BYTES_PER_SECOND


def test_periodic_beep_on_the_write_leg(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=None)
    uid = pbx.call()
    pbx.record(uid, options=f"B(2)t({tmp_path / 'out.wav'})")
    run(pbx.clock, 5)
    pbx.act("StopMixMonitor", ("Channel", uid))
    said = pbx.path("out.wav").read_bytes()
    assert profile(said, 0.25) == "........x.......x..."


def test_relative_names_go_to_the_monitor_directory_and_raw_formats_have_no_header(
    tmp_path: Path,
) -> None:
    pbx = Pbx(tmp_path, talk=None)
    pbx.server.mixmonitors.root = tmp_path / "host"
    uid = pbx.call()
    pbx.act("MixMonitor", ("Channel", uid), ("File", "call.sln"))
    var_set = events(pbx.client.read(), "VarSet")[-1]
    assert var_set.get("Value") == "/var/spool/asterisk/monitor/call.sln"
    run(pbx.clock, 1)
    pbx.act("StopMixMonitor", ("Channel", uid))
    raw = (tmp_path / "host/var/spool/asterisk/monitor/call.sln").read_bytes()
    assert len(raw) == BYTES_PER_SECOND


def test_i_option_gives_the_mixmonitor_id(tmp_path: Path) -> None:
    pbx = Pbx(tmp_path, talk=None)
    uid = pbx.call()
    reply = pbx.record(uid, options="i(MMID)")
    assert reply["MixMonitorID"].startswith("0x")
    sets = {m.get("Variable"): m.get("Value") for m in events(pbx.client.read(), "VarSet")}
    assert sets["MMID"] == reply["MixMonitorID"]
    stop = pbx.act("StopMixMonitor", ("Channel", uid), ("MixMonitorID", "0xbad"))
    assert stop[0]["Message"] == "Could not stop monitoring channel"
    stop = pbx.act("StopMixMonitor", ("Channel", uid), ("MixMonitorID", reply["MixMonitorID"]))
    assert stop[0]["Response"] == "Success"


@pytest.mark.parametrize(("action", "fields", "message"), [
    ("MixMonitor", [("File", "/tmp/x.wav")], "No channel specified"),
    ("MixMonitor", [("Channel", "no-such"), ("File", "/tmp/x.wav")], "No such channel"),
    ("MixMonitor", [("Channel", "call-1")], "Could not start monitoring channel"),
    ("StopMixMonitor", [], "No channel specified"),
    ("StopMixMonitor", [("Channel", "no-such")], "No such channel"),
    ("StopMixMonitor", [("Channel", "call-1")], "Could not stop monitoring channel"),
    ("MixMonitorMute", [("Channel", "call-1"), ("State", "1")],
     "No direction specified. Must be read, write or both"),
    ("MixMonitorMute", [("Channel", "call-1"), ("Direction", "up"), ("State", "1")],
     "Invalid direction specified. Must be read, write or both"),
    ("MixMonitorMute", [("Direction", "both"), ("State", "1")], "No channel specified"),
    ("MixMonitorMute", [("Channel", "call-1"), ("Direction", "both")], "No state specified"),
    ("MixMonitorMute", [("Channel", "no-such"), ("Direction", "both"), ("State", "1")],
     "No such channel"),
])
def test_errors(tmp_path: Path, action: str, fields: list[tuple[str, str]],
                message: str) -> None:
    pbx = Pbx(tmp_path)
    pbx.call()
    (reply,) = pbx.act(action, *fields)
    assert reply == {"Response": "Error", "ActionID": f"{action}-1", "Message": message}
    assert not list(tmp_path.iterdir())


def test_option_parsing() -> None:
    assert parse_options("bB(15)r(/a/in.wav)t(/a/out.wav)i(ID)") == {
        "b": "", "B": "15", "r": "/a/in.wav", "t": "/a/out.wav", "i": "ID"}
