"""A scripted in-memory AriLink for unit tests of the ARI channel adapter and the Stasis runner.

REST calls are recorded and answered from a per-operation script (values, exceptions, or
functions of the parameters); events are fed by hand through the real EventRouter. Time is a
task.Clock. Event shapes follow tests/fixtures/asterisk/transcripts/ari-session.txt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import AriError, AriUnavailable, http_error
from gtx.asterisk.ari_channel import ARIChannel
from gtx.asterisk.ari_events import EventRouter

Answer = Any  # a value, an Exception, a Deferred, or a callable(params) -> one of those


def channel_json(channel_id: str = "gtx-ari-1", *, name: str = "PJSIP/alice-00000001",
                 state: str = "Up", number: str = "5551234", caller_name: str = "Alice",
                 app_data: str = "gtx,menu", context: str = "gtx-test", exten: str = "s",
                 priority: int = 2, language: str = "en") -> dict[str, Any]:
    """A channel as ARI describes it."""
    return {
        "id": channel_id, "name": name, "state": state, "protocol_id": "",
        "caller": {"name": caller_name, "number": number},
        "connected": {"name": "", "number": ""}, "accountcode": "",
        "dialplan": {"context": context, "exten": exten, "priority": priority,
                     "app_name": "Stasis", "app_data": app_data},
        "creationtime": "2026-11-21T23:44:12.421+0000", "language": language,
    }


def event(kind: str, channel_id: str = "gtx-ari-1", **fields: Any) -> dict[str, Any]:
    """A channel event of type ``kind``."""
    return {"type": kind, "timestamp": "2026-11-21T23:44:12.423+0000", **fields,
            "channel": channel_json(channel_id), "asterisk_id": "02:fc:00:00:00:01",
            "application": "gtx"}


def stasis_start(channel_id: str = "gtx-ari-1", args: list[str] | None = None,
                 **channel: Any) -> dict[str, Any]:
    """The StasisStart of a channel entering ``Stasis(gtx,ARGS…)``."""
    args = ["menu"] if args is None else args
    data = ",".join(["gtx", *args])
    return {"type": "StasisStart", "timestamp": "2026-11-21T23:44:12.423+0000", "args": args,
            "channel": channel_json(channel_id, app_data=data, **channel),
            "asterisk_id": "02:fc:00:00:00:01", "application": "gtx"}


def playback_event(kind: str, playback_id: str, state: str = "done") -> dict[str, Any]:
    return {"type": kind, "timestamp": "2026-11-21T23:44:13.925+0000",
            "playback": {"id": playback_id, "media_uri": "sound:x",
                         "target_uri": "channel:gtx-ari-1", "language": "en", "state": state},
            "asterisk_id": "02:fc:00:00:00:01", "application": "gtx"}


def recording_event(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    state = {"RecordingStarted": "recording", "RecordingFinished": "done"}.get(kind, "failed")
    return {"type": kind, "timestamp": "2026-11-21T23:44:13.925+0000",
            "recording": {"name": name, "format": "wav", "state": state,
                          "target_uri": "channel:gtx-ari-1", **fields},
            "asterisk_id": "02:fc:00:00:00:01", "application": "gtx"}


def not_found(message: str = "Channel not found") -> Exception:
    return http_error("test", 404, message)


class ScriptedLink:
    """An AriLink whose REST answers are scripted (see the module docstring)."""

    def __init__(self, clock: Clock | None = None, name: str = "pbx1", app: str = "gtx") -> None:
        self.clock = clock or Clock()
        self.name = name
        self.app = app
        self.connected = True
        self.events = EventRouter()
        self.newer = False  # True: an Asterisk with setChannelVars
        #: (operation, parameter) this Asterisk's listings lack: ("channels.hangup",
        #: "reason_code") for an older one. The link refuses to send them (AriError).
        self.lacking: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.script: dict[str, list[Answer]] = {}
        self.held: list[tuple[str, Deferred[Any]]] = []
        self._ready: list[Callable[[], object]] = []

    # -- scripting --------------------------------------------------------------------------

    def answer(self, operation: str, *answers: Answer) -> None:
        """Answer the next calls of ``operation`` ("channels.play") with ``answers`` in order;
        the last one keeps answering."""
        self.script[operation] = list(answers)

    def emit(self, *events: dict[str, Any]) -> None:
        for item in events:
            self.events.dispatch(item)

    def ready(self) -> None:
        """The link (re)connected."""
        self.connected = True
        for handler in list(self._ready):
            handler()

    def made(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``operation`` so far."""
        return [params for name, params in self.calls if name == operation]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    # -- the AriLink interface --------------------------------------------------------------

    def call(self, resource: str, operation: str, **params: Any) -> Deferred[Any]:
        name = f"{resource}.{operation}"
        self.calls.append((name, params))
        if not self.connected:
            return fail(AriUnavailable(f"{name}: the link is down"))
        undeclared = sorted(p for p in params if (name, p) in self.lacking)
        if undeclared:
            return fail(AriError(f"{name} has no parameter {', '.join(undeclared)}"))
        answers = self.script.get(name, [None])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer) and not isinstance(answer, Deferred):
            answer = answer(params)
        if isinstance(answer, Deferred):
            self.held.append((name, answer))
            return answer
        if isinstance(answer, BaseException):
            return fail(answer)
        return succeed(answer)

    def supports(self, resource: str, operation: str, parameter: str | None = None) -> bool:
        # Unless ``newer``, the scripted Asterisk has no setChannelVars (older versions lack it).
        if parameter is not None and (f"{resource}.{operation}", parameter) in self.lacking:
            return False
        return self.newer or (resource, operation) != ("channels", "setChannelVars")

    def on_ready(self, handler: Callable[[], object]) -> Callable[[], None]:
        self._ready.append(handler)
        return lambda: self._ready.remove(handler) if handler in self._ready else None

    @property
    def ready_handlers(self) -> int:
        return len(self._ready)


T = TypeVar("T")


def result(d: Deferred[T]) -> T:
    """The result of a Deferred that has fired successfully."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]  # type: ignore[no-any-return]


def failure(d: Deferred[Any], kind: type[BaseException]) -> BaseException:
    """The error of a Deferred that has failed with ``kind``."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    assert isinstance(outcome[0], Failure), f"expected {kind.__name__}, got {outcome[0]!r}"
    assert outcome[0].check(kind), outcome[0]
    return outcome[0].value  # type: ignore[no-any-return]


class Call:
    """One ARIChannel on a ScriptedLink and a Clock."""

    def __init__(self, **start: Any) -> None:
        self.clock = Clock()
        self.link = ScriptedLink(self.clock)
        counter = itertools.count(1)
        self.channel = ARIChannel(self.link, stasis_start(**start), self.clock,
                                  recording_dir="/var/spool/asterisk/recording",
                                  ids=lambda kind: f"{kind}-{next(counter)}")

    def playing(self, seconds: float = 1.0, state: str = "done") -> None:
        """Each playback ends after ``seconds`` with ``state``."""

        def play(params: dict[str, Any]) -> dict[str, Any]:
            finished = playback_event("PlaybackFinished", params["playbackId"], state)
            self.clock.callLater(seconds, self.link.emit, finished)
            return {"id": params["playbackId"], "state": "queued"}

        self.link.answer("channels.play", play)

    def hang_up(self) -> None:
        self.link.emit(event("ChannelHangupRequest", cause=16),
                       event("StasisEnd"), event("ChannelDestroyed", cause=16,
                                                 cause_txt="Normal Clearing"))

    def press(self, digit: str) -> None:
        self.link.emit(event("ChannelDtmfReceived", digit=digit, duration_ms=120))

    def timers(self) -> list[Any]:
        """The channel's timers (not the events the test scheduled)."""
        return [c for c in self.clock.getDelayedCalls() if c.func != self.link.emit]

    def quiet(self) -> None:
        """Nothing pending: no wait, no timer, only the channel's own watcher."""
        assert self.channel.waits.pending == 0
        assert self.timers() == []
        assert self.link.events.watched == 1

    def close(self) -> None:
        """Close the channel; nothing it watched or scheduled may be left."""
        self.channel.close()
        assert self.link.events.watched == 0
        assert self.link.ready_handlers == 0
        assert self.timers() == []
