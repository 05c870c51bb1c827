"""Recording file names, paths and what gtx reads of the files (no recorder, no Asterisk)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from gtx.errors import InvalidArgument
from gtx.recorder import files
from gtx.recorder.files import NameValues
from tests.recorder.fakes import wav_bytes

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def values(**metadata: object) -> NameValues:
    return NameValues(recording_id="r1", started=T0, call_id="c-7", campaign_id=3,
                      uniqueid="1700000000.12", asterisk="pbx1", metadata=metadata)


def test_placeholders_are_filled() -> None:
    name = files.expand_name(
        "{campaign_id}_{call_id}_{date}-{time}_{recording_id}_{metadata.customer}", values(
            customer=42))
    assert name == "3_c-7_20270115-080000_r1_42"
    assert files.expand_name("{session}x", values()) == "x"  # no value: empty


@pytest.mark.parametrize("template", [
    "../etc/passwd", "a/b", "..", "x..y", "a\\b", ".hidden", "/abs", "${EVIL}", "a\nb",
    "nul\x00", "{recording_id}/../../x",
])
def test_templates_that_could_leave_the_directory_are_refused(template: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        files.expand_name(template, values())
    assert raised.value.field == "options.name"


@pytest.mark.parametrize("value", ["../../etc/cron.d/x", "/etc/passwd", "a/b", "..", ".x",
                                   "a\\b", "$HOME"])
def test_metadata_that_could_leave_the_directory_is_refused(value: str) -> None:
    with pytest.raises(InvalidArgument, match=r"metadata\.name"):
        files.expand_name("{metadata.name}", values(name=value))


@pytest.mark.parametrize(("template", "problem"), [
    ("{nope}", "unknown placeholder"), ("{metadata.missing}", "no such metadata"),
    ("{metadata.tags}", "only a string or a number"), ("{metadata.flag}", "only a string"),
    ("{", "unbalanced"), ("{session}", "empty name"), ("x" * 300, "longer than"),
    ("{recording_id.__class__}", "unknown placeholder"),
])
def test_bad_templates(template: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        files.expand_name(template, values(tags=["a"], flag=True))


def test_paths_are_in_the_directory_with_split_legs(tmp_path: Path) -> None:
    directory = str(tmp_path)
    assert files.recording_paths(directory + "/", "r1", "wav", split=True) == (
        f"{directory}/r1.wav", f"{directory}/r1-in.wav", f"{directory}/r1-out.wav")
    assert files.recording_paths(directory, "r1", "gsm", split=False) == (
        f"{directory}/r1.gsm",)
    with pytest.raises(InvalidArgument, match=r"options\.format"):
        files.recording_paths(directory, "r1", "wav/../../x", split=False)
    assert not files.inside(directory, f"{directory}/../x.wav")
    assert not files.inside(directory, f"{directory}/sub/x.wav")
    assert files.inside(directory, f"{directory}/x.wav")


def test_wav_duration_from_the_header() -> None:
    data = wav_bytes(2.5)
    assert files.wav_duration(data[:512], len(data)) == 2.5
    assert files.wav_duration(wav_bytes(0), 44) == 0.0  # a header only: nothing was heard
    # a header Asterisk never finished (crash): the data runs to the end of the file
    unfinished = data[:40] + struct.pack("<I", 0) + data[44:]
    assert files.wav_duration(unfinished[:512], len(data)) == 2.5
    assert files.wav_duration(b"not a wav file", 100) is None


def test_check_files(tmp_path: Path) -> None:
    mixed, leg = tmp_path / "r1.wav", tmp_path / "r1-in.wav"
    mixed.write_bytes(wav_bytes(1.0))
    check = files.check_files(str(tmp_path), [str(mixed), str(leg)], "wav")
    assert (check.reachable, check.size, check.duration, check.missing) == (
        True, 16_044, 1.0, (str(leg),))
    (tmp_path / "r2.ulaw").write_bytes(b"\xff" * 4000)
    assert files.check_files(str(tmp_path), [str(tmp_path / "r2.ulaw")], "ulaw").duration == 0.5
    unseen = files.check_files(str(tmp_path / "elsewhere"), [str(mixed)], "wav")
    assert (unseen.reachable, unseen.size, unseen.duration) == (False, None, None)


def test_remove_files_never_leaves_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "rec"
    directory.mkdir()
    (directory / "r1.wav").write_bytes(b"x")
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="not in the recordings directory"):
        files.remove_files(str(directory), [f"{directory}/../victim.wav"])
    assert victim.exists()
    removed = files.remove_files(str(directory), [str(directory / "r1.wav"),
                                                  str(directory / "gone.wav")])
    assert removed == [str(directory / "r1.wav")]
    assert list(directory.iterdir()) == []
