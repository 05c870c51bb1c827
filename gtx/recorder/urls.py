"""Signed, time-limited URLs of recordings, and the HTTP resource that serves them.

``recorder.url`` answers ``<base>/recordings/<recording_id>/<file>?expires=E&signature=S``:
``E`` is the Unix time the URL stops working, ``S`` the hex HMAC-SHA256 of the recording id,
the file name and ``E`` under ``[recorder] url_secret``. Nothing else authenticates a download:
whoever holds the URL may fetch that one file until it expires, so hand it out like a password.

``<base>`` is ``[recorder] public_url`` when set (a proxy, a TLS front, a name the clients
resolve); otherwise it is derived from ``[http] listen`` (its scheme, interface and port, the
machine's host name when it listens on every address). The request's ``Host`` header is not
used: the URL must not depend on what a client claims the node is called.

:class:`RecordingsResource` (mounted at ``/recordings``) checks the signature first (403 when
it is bad or expired, without touching the store), then that the recording exists and is not
deleted and that the file is one of its own (404 otherwise), then that the file's real path is
inside ``[recorder] dir`` (404, logged: a symlink or a stored path pointing out). The file is
then served by Twisted's :class:`~twisted.web.static.File`: ``Accept-Ranges: bytes``, single
ranges (``bytes=a-b``, ``a-``, ``-n``: 206 with ``Content-Range``), several ranges
(``multipart/byteranges``), 416 when unsatisfiable, and the body streamed from disk in small
chunks by a pull producer, paced by the client — a file is never read whole.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import secrets
import socket
import warnings
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import quote

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import pages
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from gtx.config import RecorderSettings
from gtx.errors import NotFound
from gtx.recorder.model import Recording, RecordingState
from gtx.recorder.service import RecorderService
from gtx.recorder.validate import CONTENT_TYPES, known_names

with warnings.catch_warnings():
    # twisted.web.static builds its legacy error pages when imported, and Twisted reports
    # those as deprecated; RecordingFile replaces them, so they are never served.
    warnings.simplefilter("ignore", DeprecationWarning)
    from twisted.web.static import File

__all__ = [
    "MOUNT",
    "RecordingDirectory",
    "RecordingFile",
    "RecordingsResource",
    "UrlRefused",
    "UrlSigner",
    "base_url_from_listen",
]

#: Where :class:`RecordingsResource` hangs on the node's HTTP root.
MOUNT: Final = b"recordings"
_EXPIRES_RE: Final = re.compile(rb"[0-9]{1,12}")
_SIGNATURE_RE: Final = re.compile(rb"[0-9a-f]{64}")


class UrlRefused(Exception):
    """A download URL whose signature is wrong, or that has expired."""


class UrlSigner:
    """Signs and checks recording URLs with one secret, against ``clock``."""

    def __init__(self, secret: bytes, clock: IReactorTime, *, base_url: str,
                 ttl: float = 3600.0) -> None:
        if not secret:
            raise ValueError("an empty URL secret signs nothing")
        self._secret = secret
        self._clock = clock
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    @classmethod
    def from_settings(cls, settings: RecorderSettings, http_listen: str,
                      clock: IReactorTime) -> UrlSigner:
        """The signer of ``[recorder]``: ``url_secret`` (a random one for this run when not
        set: URLs then die with the process), ``url_ttl``, and ``public_url`` or the base
        derived from ``[http] listen``."""
        secret = (settings.url_secret.encode() if settings.url_secret
                  else secrets.token_bytes(32))
        base = settings.public_url or base_url_from_listen(http_listen)
        return cls(secret, clock, base_url=base, ttl=settings.url_ttl)

    def signature(self, recording_id: str, file: str, expires: int) -> str:
        """The hex HMAC-SHA256 of the id, file name and expiry, each prefixed by its length
        (so that no two triples, whatever they hold, sign the same message)."""
        message = "".join(f"{len(part)}:{part}" for part in (recording_id, file,
                                                             str(expires))).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, recording_id: str, file: str, ttl: float | None = None) -> str:
        """A URL serving ``file`` of the recording for ``ttl`` seconds (default
        :attr:`ttl`)."""
        expires = self.expiry(ttl)
        return (f"{self.base_url}/{MOUNT.decode()}/{quote(recording_id, safe='')}/"
                f"{quote(file, safe='')}?expires={expires}"
                f"&signature={self.signature(recording_id, file, expires)}")

    def expiry(self, ttl: float | None = None) -> int:
        """The expiry of a URL signed now, as Unix seconds."""
        return math.ceil(self._clock.seconds() + (self.ttl if ttl is None else ttl))

    def check(self, recording_id: str, file: str, expires: bytes, signature: bytes) -> None:
        """Raise :class:`UrlRefused` unless the signature is right and not expired."""
        if not _EXPIRES_RE.fullmatch(expires) or not _SIGNATURE_RE.fullmatch(signature):
            raise UrlRefused("malformed expires or signature")
        expected = self.signature(recording_id, file, int(expires)).encode()
        if not hmac.compare_digest(expected, signature):
            raise UrlRefused("bad signature")
        if self._clock.seconds() > int(expires):
            raise UrlRefused("this link has expired: ask recorder.url for a new one")


def base_url_from_listen(http_listen: str) -> str:
    """``http://HOST:PORT`` from an ``[http] listen`` endpoint (``https`` for ``ssl:``);
    HOST is the interface listened on, or this machine's host name when that is every
    address (set ``[recorder] public_url`` when clients know the node by another name)."""
    parts = re.split(r"(?<!\\):", http_listen)
    kind = parts[0].lower() if len(parts) > 1 else "tcp"
    rest = parts[1:] if len(parts) > 1 else parts
    positional = [p for p in rest if "=" not in p]
    keywords = dict(p.split("=", 1) for p in rest if "=" in p)
    port = keywords.get("port") or (positional[0] if positional else "8090")
    interface = keywords.get("interface", "").replace("\\", "")
    if not interface and kind == "tcp" and len(positional) > 1:
        interface = positional[1]
    if interface in ("", "0.0.0.0", "::"):  # noqa: S104 — reading a config, not binding
        interface = socket.gethostname()
    host = f"[{interface}]" if ":" in interface else interface
    scheme = "https" if kind == "ssl" else "http"
    return f"{scheme}://{host}:{port}"


class RecordingDirectory:
    """``[recorder] dir`` as seen from gtx: which files are inside it and reachable."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._root = os.path.realpath(directory)

    def local_path(self, file: str) -> str | None:
        """The real path of ``file`` when it lies inside the directory, else None (a path
        outside it, or a symbolic link pointing out)."""
        real = os.path.realpath(file)
        if not real.startswith(self._root.rstrip(os.sep) + os.sep):
            return None
        return real

    def reachable(self, recording: Recording) -> bool:
        """Whether gtx can read every file of the recording: they exist on this machine,
        inside the directory. False for a deleted recording, and when gtx runs on another
        machine than Asterisk without the directory shared (docs/recorder-api.md)."""
        if recording.state is RecordingState.DELETED or not recording.files:
            return False
        for file in recording.files:
            path = self.local_path(file)
            if path is None or not os.path.isfile(path):
                return False
        return True


class RecordingFile(File):
    """One recording file, served with ranges by :class:`~twisted.web.static.File`, with
    plain-text error pages."""

    # Twisted types these as its own legacy pages; any resource renders the same way.
    childNotFound = pages.notFound("No such recording file", "")  # type: ignore[assignment]
    forbidden = pages.forbidden("Forbidden", "")  # type: ignore[assignment]


class RecordingsResource(Resource):
    """``GET|HEAD /recordings/<recording_id>/<file>?expires=…&signature=…``."""

    isLeaf = True

    def __init__(
        self,
        service: RecorderService,
        signer: UrlSigner,
        directory: RecordingDirectory,
        *,
        file_resource: Callable[[str], File] = RecordingFile,
        content_types: Mapping[str, str] = CONTENT_TYPES,
        log: Logger | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self._signer = signer
        self._directory = directory
        self._file_resource = file_resource
        self._content_types = content_types
        self._log = log if log is not None else Logger()

    def render_GET(self, request: Request) -> bytes | int:
        """Check the URL, then serve the file (when the recording is found)."""
        segments = request.postpath or []
        if len(segments) != 2 or not all(segments):
            return _answer(request, 404, "no such recording file")
        try:
            recording_id, file = (segment.decode("utf-8") for segment in segments)
        except UnicodeDecodeError:
            return _answer(request, 404, "no such recording file")
        try:
            self._signer.check(recording_id, file, _arg(request, b"expires"),
                               _arg(request, b"signature"))
        except UrlRefused as refusal:
            return _answer(request, 403, str(refusal))
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        serving = Deferred.fromCoroutine(self._serve(request, recording_id, file, gone))
        serving.addErrback(self._failed, request, gone)
        return NOT_DONE_YET

    render_HEAD = render_GET

    async def _serve(self, request: Request, recording_id: str, file: str,
                     gone: list[bool]) -> None:
        try:
            recording = await self._service.get(recording_id)
        except NotFound:
            recording = None
        if gone:
            return  # the client left while the store answered
        if recording is None or recording.state is RecordingState.DELETED:
            _finish(request, _answer(request, 404, "no such recording"))
            return
        stored = known_names(recording.files).get(file)
        path = None if stored is None else self._directory.local_path(stored)
        if path is None:
            if stored is not None:
                self._log.warn("recording {id}: file {file} is outside {dir}: not served",
                               id=recording_id, file=stored, dir=self._directory.directory)
            _finish(request, _answer(request, 404, "no such recording file"))
            return
        resource = self._file_resource(path)
        extension = path.rsplit(".", 1)[-1] if "." in path else ""
        resource.type = self._content_types.get(extension, "application/octet-stream")
        resource.encoding = None
        body = resource.render(request)
        if body is not NOT_DONE_YET:  # 404 (file missing), 304, HEAD: answered at once
            _finish(request, body)

    def _failed(self, failure: Failure, request: Request, gone: list[bool]) -> None:
        self._log.failure("serving a recording failed", failure=failure)
        if not gone and not request.finished:
            _finish(request, _answer(request, 500, "internal error"))


def _arg(request: Request, name: bytes) -> bytes:
    values = (request.args or {}).get(name, [])
    return values[0] if len(values) == 1 else b""


def _answer(request: Request, code: int, message: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return message.encode() + b"\n"


def _finish(request: Request, body: bytes | int) -> None:
    if isinstance(body, bytes):
        if not request.responseHeaders.hasHeader(b"content-length"):  # HEAD has its own
            request.setHeader(b"content-length", str(len(body)).encode())
        request.write(body)
    request.finish()
