"""What the IVR engine needs to know about an app and the web service behind it, and what it
asks of the dialer (call-backs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred

#: Asterisk's own sound for "an error has occurred" (Asterisk spells the file name this way).
DEFAULT_FALLBACK = ("an-error-has-occured",)


@dataclass(frozen=True)
class IvrApp:
    """One IVR app: an ``[ivr:NAME]`` section of gtx.ini, or an ``ivr?url=…&method=…`` request.

    Defaults come from the ``[ivr]`` section; see ``examples/gtx.ini`` for every key.
    """

    name: str
    url: str
    method: str
    timeout: float = 5.0  # seconds to wait for one answer of the web service
    retries: int = 2  # extra attempts after a connection error (not after a timeout or fault)
    retry_delay: float = 0.5  # seconds between those attempts
    secret: str | None = None  # HMAC key: requests carry a signature header when set
    hangup_method: str | None = None  # called once with result.status = "hangup"
    fallback: Sequence[str] = DEFAULT_FALLBACK  # prompts played when the service fails
    on_error: str = "hangup"  # "hangup", or "continue" to return to the dialplan
    exec_allowed: frozenset[str] = field(default_factory=frozenset)  # apps `exec` may run
    record_dir: str = "/var/spool/asterisk/recording"  # where `record` writes (names are relative)
    max_steps: int = 500  # a session longer than this is an error (a service stuck in a loop)


class WebService(Protocol):
    """Calls a method of a remote XML-RPC web service (implemented by gtx.xmlrpc.client)."""

    def call(
        self,
        url: str,
        method: str,
        params: Sequence[object],
        *,
        timeout: float,
        secret: str | None = None,
    ) -> Deferred[object]:
        """Fire with the method's return value, or fail with a gtx.xmlrpc.errors.XMLRPCError."""


class CallbackScheduler(Protocol):
    """Schedules a call back into an IVR app (the ``callback`` action); the dialer implements
    it (:class:`gtx.dialer.ivr_callbacks.DialerCallbacks`). The IVR engine needs no more of it.
    """

    def schedule(
        self,
        number: str,
        at: float,
        app: str | tuple[str, str],
        vars: Mapping[str, object],
        caller_id: str | None,
    ) -> Deferred[str]:
        """Call ``number`` at ``at`` (epoch seconds); once answered, the call enters ``app``
        (a configured app's name, or the ``(url, method)`` of a web service named by URL) with
        ``vars`` as the new session's vars. Fire with the call's id, or fail with an exception
        whose message says why (it becomes the action's ``error``)."""


@dataclass(frozen=True)
class RecordingRequest:
    """What a ``record_start`` action asks of the recorder (see docs/ivr-api.md)."""

    format: str = "wav"
    split: bool = False  # one file per direction besides the mixed one
    beep: int | None = None  # a beep every N seconds
    max_seconds: int | None = None
    name: str | None = None  # file-name template; None: the recorder's default
    callback_url: str | None = None
    callback_method: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)


class SessionRecorder(Protocol):
    """Records a session's channel (the ``record_start``, ``record_stop``, ``record_pause`` and
    ``record_resume`` actions); :class:`gtx.recorder.ivr_adapter.RecorderForIvr` implements it
    over the Recorder API's service. Failures carry a message that becomes the action's
    ``error``."""

    def start(self, session: str, channel: str, asterisk: str,
              request: RecordingRequest) -> Deferred[str]:
        """Start recording ``channel`` (on the server named ``asterisk``) for ``session``;
        fire with the recording id."""

    def stop(self, recording_id: str) -> Deferred[None]:
        """Stop a recording."""

    def pause(self, recording_id: str) -> Deferred[None]:
        """Pause a recording (silence is written while it is paused)."""

    def resume(self, recording_id: str) -> Deferred[None]:
        """Resume a paused recording."""


@dataclass(frozen=True)
class SessionChannel:
    """Where an active IVR session is: its channel on one Asterisk server."""

    session: str
    channel: str  # Asterisk's channel name
    uniqueid: str
    asterisk: str  # the configured name of the server ([asterisk:NAME])


class SessionChannels(Protocol):
    """Finds the channel of an IVR session running on this node (:class:`gtx.ivr.engine.
    IvrEngine` implements it); the recorder uses it for ``{session}`` targets."""

    def channel_of(self, session: str) -> SessionChannel | None:
        """The session's channel, or None when no session with that id runs on this node."""
