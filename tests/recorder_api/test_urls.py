"""Signed recording URLs: valid, expired, tampered; the base URL; the recordings directory."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from gtx.config import RecorderSettings
from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.urls import RecordingDirectory, UrlRefused, UrlSigner, base_url_from_listen

NOW = 1_800_000_000


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(NOW)
    return clock


@pytest.fixture
def signer(clock: Clock) -> UrlSigner:
    return UrlSigner(b"secret", clock, base_url="http://gtx:8090", ttl=60)


def test_a_signed_url_checks_until_it_expires(signer: UrlSigner, clock: Clock) -> None:
    url = signer.url("rec-1", "rec-1.wav")
    expires = str(NOW + 60)
    signature = signer.signature("rec-1", "rec-1.wav", NOW + 60)
    assert url == (f"http://gtx:8090/recordings/rec-1/rec-1.wav?expires={expires}"
                   f"&signature={signature}")
    signer.check("rec-1", "rec-1.wav", expires.encode(), signature.encode())
    clock.advance(60)
    signer.check("rec-1", "rec-1.wav", expires.encode(), signature.encode())  # the last second
    clock.advance(1)
    with pytest.raises(UrlRefused, match="expired"):
        signer.check("rec-1", "rec-1.wav", expires.encode(), signature.encode())


@pytest.mark.parametrize(("recording_id", "file", "expires"), [
    ("rec-2", "rec-1.wav", NOW + 60),  # another recording
    ("rec-1", "rec-1-in.wav", NOW + 60),  # another file
    ("rec-1", "rec-1.wav", NOW + 6000),  # a longer life
])
def test_a_tampered_url_is_refused(signer: UrlSigner, recording_id: str, file: str,
                                   expires: int) -> None:
    signature = signer.signature("rec-1", "rec-1.wav", NOW + 60).encode()
    with pytest.raises(UrlRefused, match="bad signature"):
        signer.check(recording_id, file, str(expires).encode(), signature)


@pytest.mark.parametrize(("expires", "signature"), [
    (b"", b"0" * 64), (b"-5", b"0" * 64), (b"1e9", b"0" * 64), (b"9" * 13, b"0" * 64),
    (str(NOW + 60).encode(), b""), (str(NOW + 60).encode(), b"0" * 63),
    (str(NOW + 60).encode(), b"G" * 64),
])
def test_a_malformed_url_is_refused(signer: UrlSigner, expires: bytes,
                                    signature: bytes) -> None:
    with pytest.raises(UrlRefused, match="malformed"):
        signer.check("rec-1", "rec-1.wav", expires, signature)


def test_another_secret_signs_differently(clock: Clock, signer: UrlSigner) -> None:
    other = UrlSigner(b"other", clock, base_url="http://gtx:8090")
    assert other.signature("r", "f", 1) != signer.signature("r", "f", 1)
    assert signer.signature("r", "f\x001", 1) != signer.signature("r\x00f", "1", 1)


def test_ids_and_names_are_quoted(signer: UrlSigner) -> None:
    assert signer.url("a b", "x#y.wav").startswith(
        "http://gtx:8090/recordings/a%20b/x%23y.wav?expires=")


def test_from_settings(clock: Clock) -> None:
    given = UrlSigner.from_settings(
        RecorderSettings(url_secret="s3", url_ttl=30, public_url="https://rec.example/gtx/"),
        "tcp:8090", clock)
    assert given.base_url == "https://rec.example/gtx"
    assert given.ttl == 30
    assert given.signature("r", "f", 1) == UrlSigner(b"s3", clock, base_url="x").signature(
        "r", "f", 1)
    first = UrlSigner.from_settings(RecorderSettings(), "tcp:8090:interface=127.0.0.1", clock)
    second = UrlSigner.from_settings(RecorderSettings(), "tcp:8090:interface=127.0.0.1", clock)
    assert first.signature("r", "f", 1) != second.signature("r", "f", 1)  # random secrets
    assert first.base_url == "http://127.0.0.1:8090"
    with pytest.raises(ValueError, match="empty"):
        UrlSigner(b"", clock, base_url="x")


@pytest.mark.parametrize(("listen", "base"), [
    ("tcp:8090:interface=127.0.0.1", "http://127.0.0.1:8090"),
    ("tcp:port=9000:interface=10.1.2.3", "http://10.1.2.3:9000"),
    ("tcp:8090:10.0.0.5", "http://10.0.0.5:8090"),
    ("tcp6:8090:interface=\\:\\:1", "http://[::1]:8090"),
    ("ssl:8443:privateKey=k.pem:interface=192.0.2.1", "https://192.0.2.1:8443"),
])
def test_base_url_from_listen(listen: str, base: str) -> None:
    assert base_url_from_listen(listen) == base


@pytest.mark.parametrize("listen", ["tcp:8090", "8090", "tcp:8090:interface=0.0.0.0"])
def test_base_url_on_every_address_is_the_host_name(listen: str) -> None:
    assert base_url_from_listen(listen) == f"http://{socket.gethostname()}:8090"


# ------------------------------------------------------------------------------ directory


def _recording(state: RecordingState, *files: str) -> Recording:
    return Recording("r", RecordingTarget(channel="PJSIP/a-1"), RecordingOptions(), state,
                     files, started=0, started_by="t")


def test_local_paths_stay_inside_the_directory(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    os.symlink(tmp_path / "secret.txt", spool / "link.wav")
    directory = RecordingDirectory(str(spool))
    assert directory.local_path(str(spool / "r.wav")) == str((spool / "r.wav").resolve())
    assert directory.local_path(str(spool / ".." / "secret.txt")) is None
    assert directory.local_path(str(spool / "link.wav")) is None
    assert directory.local_path(str(tmp_path / "spool-other" / "r.wav")) is None
    assert directory.local_path(str(spool)) is None


def test_reachable(tmp_path: Path) -> None:
    directory = RecordingDirectory(str(tmp_path))
    (tmp_path / "a.wav").write_bytes(b"x")
    both = (str(tmp_path / "a.wav"), str(tmp_path / "b.wav"))
    assert directory.reachable(_recording(RecordingState.READY, both[0]))
    assert not directory.reachable(_recording(RecordingState.READY, *both))
    assert not directory.reachable(_recording(RecordingState.READY))
    assert not directory.reachable(_recording(RecordingState.DELETED, both[0]))
    (tmp_path / "b.wav").write_bytes(b"x")
    assert directory.reachable(_recording(RecordingState.RECORDING, *both))
