"""GET /recordings/<id>/<file>: a real Site on 127.0.0.1, port 0, and a raw HTTP client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.test.requesthelper import DummyRequest

from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.urls import RecordingDirectory, RecordingFile, RecordingsResource, UrlSigner
from tests.recorder_api.fakes import T0, FakeRecorderService

reactor: Any = _reactor
AUDIO = bytes(range(256)) * 40  # 10240 bytes


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Collect(Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.done.callback(b"".join(self.chunks))


async def fetch(port: int, target: str, method: str = "GET", **headers: str) -> Response:
    """One HTTP/1.0 request, the path sent exactly as given."""
    client = _Collect()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    lines = [f"{method} {target} HTTP/1.0", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    assert client.transport is not None
    client.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = await client.done
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines)
    return Response(int(status_line.split()[1]), {k.lower(): v for k, v in parsed.items()},
                    body)


@dataclass
class Server:
    port: int
    signer: UrlSigner
    service: FakeRecorderService
    spool: Path
    reads: list[int] = field(default_factory=list)

    def path(self, recording_id: str, file: str, ttl: float | None = None) -> str:
        parts = urlsplit(self.signer.url(recording_id, file, ttl))
        return f"{parts.path}?{parts.query}"

    def ready(self, recording_id: str, *names: str,
              state: RecordingState = RecordingState.READY) -> None:
        self.service.add(Recording(
            recording_id, RecordingTarget(channel="PJSIP/a-1"), RecordingOptions(), state,
            tuple(str(self.spool / name) for name in names), started=T0, started_by="t"))


class _CountingFile(RecordingFile):
    """Reports the size of every read the server makes on the file."""

    reads: list[int]

    def openForReading(self) -> BinaryIO:
        opened: BinaryIO = super().openForReading()
        reads = self.reads
        original = opened.read

        def read(size: int = -1) -> bytes:
            reads.append(size)
            return original(size)

        opened.read = read  # type: ignore[method-assign]
        return opened


@pytest_twisted.async_yield_fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "r1.wav").write_bytes(AUDIO)
    (spool / "r1-in.gsm").write_bytes(b"gsm!")
    (tmp_path / "secret.txt").write_text("not a recording")
    service = FakeRecorderService(spool)
    signer = UrlSigner(b"test-secret", reactor, base_url="http://127.0.0.1:1", ttl=60)
    reads: list[int] = []

    def counting(path: str) -> RecordingFile:
        resource = _CountingFile(path)
        resource.reads = reads
        return resource

    root = Resource()
    root.putChild(b"recordings", RecordingsResource(
        service, signer, RecordingDirectory(str(spool)), file_resource=counting))
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    state = Server(port.getHost().port, signer, service, spool, reads)
    state.ready("r1", "r1.wav", "r1-in.gsm")
    yield state
    await port.stopListening()



@pytest_twisted.ensureDeferred
async def test_the_whole_file(server: Server) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav"))
    assert response.status == 200
    assert response.body == AUDIO
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(AUDIO))
    assert response.headers["accept-ranges"] == "bytes"
    gsm = await fetch(server.port, server.path("r1", "r1-in.gsm"))
    assert (gsm.status, gsm.body, gsm.headers["content-type"]) == (200, b"gsm!", "audio/x-gsm")


@pytest_twisted.ensureDeferred
async def test_head_sends_the_headers_only(server: Server) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav"), method="HEAD")
    assert response.status == 200
    assert response.headers["content-length"] == str(len(AUDIO))
    assert response.body == b""


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(AUDIO) - 1),
    ("bytes=-50", len(AUDIO) - 50, len(AUDIO) - 1),
    ("bytes=10000-99999", 10000, len(AUDIO) - 1),  # an end past the file is cut short
])
@pytest_twisted.ensureDeferred
async def test_single_ranges(server: Server, header: str, start: int, end: int) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav"), Range=header)
    assert response.status == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.body == AUDIO[start:end + 1]


@pytest_twisted.ensureDeferred
async def test_an_unsatisfiable_range_is_416(server: Server) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav"), Range="bytes=20000-")
    assert response.status == 416
    assert response.headers["content-range"] == f"bytes */{len(AUDIO)}"
    assert response.body == b""


@pytest_twisted.ensureDeferred
async def test_a_malformed_range_gets_the_whole_file(server: Server) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav"), Range="lines=1-2")
    assert (response.status, response.body) == (200, AUDIO)


@pytest_twisted.ensureDeferred
async def test_bad_signatures_are_403(server: Server) -> None:
    good = server.path("r1", "r1.wav")
    expires = good.split("expires=")[1].split("&")[0]
    tampered = [
        good.replace("/r1.wav?", "/r1-in.gsm?"),
        good.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),
        good[:-1] + ("0" if good[-1] != "0" else "1"),
        good.split("&signature")[0],
        "/recordings/r1/r1.wav",
        good + "&signature=" + "0" * 64,  # two signatures
    ]
    for target in tampered:
        response = await fetch(server.port, target)
        assert response.status == 403, target
        assert AUDIO[:100] not in response.body


@pytest_twisted.ensureDeferred
async def test_an_expired_url_is_403(server: Server) -> None:
    response = await fetch(server.port, server.path("r1", "r1.wav", ttl=-5))
    assert response.status == 403
    assert b"expired" in response.body


@pytest_twisted.ensureDeferred
async def test_deleted_unknown_and_missing_are_404(server: Server) -> None:
    server.ready("r2", "r2.wav", state=RecordingState.DELETED)
    (server.spool / "r2.wav").write_bytes(b"left over")
    server.ready("r3", "r3.wav")  # its file is not there (yet)
    for recording_id, file in (("r2", "r2.wav"), ("nope", "nope.wav"), ("r3", "r3.wav"),
                               ("r1", "r9.wav")):
        response = await fetch(server.port, server.path(recording_id, file))
        assert response.status == 404, (recording_id, file)
        assert response.body != b"left over"


@pytest_twisted.ensureDeferred
async def test_path_traversal_in_the_url_is_404(server: Server) -> None:
    # Even signed (as if the secret had leaked), a name that is not the recording's own file
    # reaches no file.
    for file in ("../secret.txt", "..%2Fsecret.txt", "../../etc/passwd"):
        target = server.path("r1", file)
        response = await fetch(server.port, target)
        assert response.status == 404, target
        assert b"not a recording" not in response.body
    assert "/r1/..%2Fsecret.txt?" in server.path("r1", "../secret.txt")
    for target, status in (("/recordings/r1/..%2F..%2Fsecret.txt", 403),  # unsigned
                           ("/recordings/..%2Fsecret.txt", 404),
                           ("/recordings/r1/../secret.txt", 404),
                           ("/recordings/r1/r1.wav/x", 404)):
        response = await fetch(server.port, target)
        assert response.status == status, target
        assert b"not a recording" not in response.body


@pytest_twisted.ensureDeferred
async def test_a_stored_path_outside_the_directory_is_not_served(server: Server) -> None:
    server.ready("r4", "../secret.txt")
    os.symlink(server.spool.parent / "secret.txt", server.spool / "r5.wav")
    server.ready("r5", "r5.wav")
    for recording_id, file in (("r4", "secret.txt"), ("r5", "r5.wav")):
        response = await fetch(server.port, server.path(recording_id, file))
        assert response.status == 404
        assert b"not a recording" not in response.body


@pytest_twisted.ensureDeferred
async def test_a_big_file_is_streamed_in_chunks(server: Server) -> None:
    size = 20 * 1024 * 1024
    with (server.spool / "big.wav").open("wb") as big:
        big.truncate(size)
        big.seek(size - 4)
        big.write(b"END!")
    server.ready("big", "big.wav")
    response = await fetch(server.port, server.path("big", "big.wav"))
    assert response.status == 200
    assert len(response.body) == size
    assert response.body.endswith(b"END!")
    assert server.reads, "the file was not read through the producer"
    assert max(server.reads) <= 64 * 1024
    assert -1 not in server.reads
    assert len(server.reads) >= size // (64 * 1024)


class _BrokenService(FakeRecorderService):
    async def get(self, recording_id: str) -> Recording:
        raise RuntimeError("store on fire")


@pytest_twisted.ensureDeferred
async def test_an_unexpected_error_is_a_plain_500_and_logged(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    signer = UrlSigner(b"k", reactor, base_url="http://x")
    root = Resource()
    root.putChild(b"recordings", RecordingsResource(
        _BrokenService(tmp_path), signer, RecordingDirectory(str(tmp_path)),
        log=Logger(observer=events.append)))
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    try:
        parts = urlsplit(signer.url("r1", "r1.wav"))
        response = await fetch(port.getHost().port, f"{parts.path}?{parts.query}")
    finally:
        await port.stopListening()
    assert (response.status, response.body) == (500, b"internal error\n")
    assert b"fire" not in response.body
    assert events[0]["log_failure"].value.args == ("store on fire",)


def test_a_client_gone_during_the_lookup_gets_nothing_written(tmp_path: Path) -> None:
    class _Slow(FakeRecorderService):
        pending: Deferred[Recording]

        async def get(self, recording_id: str) -> Recording:
            self.pending = Deferred()
            return await self.pending

    (tmp_path / "r1.wav").write_bytes(b"x")
    service = _Slow(tmp_path)
    signer = UrlSigner(b"k", reactor, base_url="http://x")
    resource = RecordingsResource(service, signer, RecordingDirectory(str(tmp_path)))
    parts = urlsplit(signer.url("r1", "r1.wav"))
    request = DummyRequest([b"r1", b"r1.wav"])
    request.args = {k.encode(): [v.encode()] for k, v in
                    (pair.split("=") for pair in parts.query.split("&"))}
    assert resource.render(request) == NOT_DONE_YET
    request.processingFailed(Failure(ConnectionDone()))  # the client hangs up
    service.pending.callback(Recording(
        "r1", RecordingTarget(channel="PJSIP/a-1"), RecordingOptions(), RecordingState.READY,
        (str(tmp_path / "r1.wav"),), started=T0, started_by="t"))
    assert request.written == []
