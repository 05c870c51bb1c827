"""Fakes for the dialer's tests: an in-memory store (:mod:`tests.dialer.fake_store`), a
scripted originator, a callback receiver.

``FakeOriginator`` plays a ``Script`` per number on the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock

from gtx.origination import (
    OriginateRefused,
    OriginateRequest,
    OriginateUpdate,
    OriginatorUnavailable,
    Progress,
    UpdateSink,
)
from tests.dialer.fake_store import FakeStore

__all__ = ["FakeOriginator", "FakeReceiver", "FakeStore", "Script"]

# -- the originator ----------------------------------------------------------------------

#: One step of a script: after ``delay`` seconds (from the previous step), report ``progress``
#: (with ``outcome`` and ``cause`` on ENDED).
Step = tuple[float, Progress, str | None, str | None]


@dataclass
class Script:
    """What a number does when called. ``refuse``: Asterisk refuses the Originate at once.
    ``steps`` with a ``None`` delay on ENDED use the request's ringing timeout."""

    steps: list[Step] = field(default_factory=list)
    refuse: bool = False
    on_answer: Callable[[str], list[Step]] | None = None  # steps decided at answer time


def answers(ring: float = 2.0, talk: float = 10.0) -> Script:
    return Script([(0.1, Progress.RINGING, None, None), (ring, Progress.ANSWERED, None, None),
                   (talk, Progress.ENDED, "answered", "16")])


def busy(after: float = 1.0) -> Script:
    return Script([(after, Progress.ENDED, "busy", "17")])


def no_answer() -> Script:
    return Script([(0.1, Progress.RINGING, None, None), (-1.0, Progress.ENDED, "no_answer", "19")])


def congestion(after: float = 0.5) -> Script:
    return Script([(after, Progress.ENDED, "congestion", "34")])


def machine(ring: float = 2.0, detect: float = 3.0) -> Script:
    return Script([(0.1, Progress.RINGING, None, None), (ring, Progress.ANSWERED, None, None),
                   (detect, Progress.ENDED, "machine", "LONGGREETING")])


def refused() -> Script:
    return Script(refuse=True)


class FakeOriginator:
    """A scripted :class:`gtx.origination.Originator` on a Clock. ``connected = False``
    simulates the link down (Originate fails with OriginatorUnavailable)."""

    def __init__(self, clock: Clock, name: str = "pbx1",
                 default: Script | None = None) -> None:
        self.clock = clock
        self._name = name
        self.connected = True
        self.scripts: dict[str, Script] = {}
        self.default = default if default is not None else answers()
        self.script_for: Callable[[str], Script] | None = None
        self.originated: list[tuple[float, OriginateRequest]] = []
        self.sinks: dict[str, UpdateSink] = {}
        self.pending: dict[str, IDelayedCall] = {}
        self.ended: set[str] = set()
        self.hangups: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def number_of(self, request: OriginateRequest) -> str:
        return request.dial_string.split("/", 1)[1].split("@", 1)[0]

    def originate(self, request: OriginateRequest, on_update: UpdateSink) -> Deferred[None]:
        if not self.connected:
            return fail(OriginatorUnavailable("link down"))
        number = self.number_of(request)
        script = self.scripts.get(number) or (
            self.script_for(number) if self.script_for else self.default)
        if script.refuse:
            return fail(OriginateRefused("Extension does not exist."))
        self.originated.append((self.clock.seconds(), request))
        self.sinks[request.call_id] = on_update
        self._play(request, list(script.steps), script)
        return succeed(None)

    def _play(self, request: OriginateRequest, steps: list[Step], script: Script) -> None:
        if not steps:
            return
        delay, progress, outcome, cause = steps[0]
        if delay < 0:
            delay = float(request.timeout)

        def fire() -> None:
            self.pending.pop(request.call_id, None)
            rest = steps[1:]
            if progress is Progress.ANSWERED and script.on_answer is not None:
                rest = script.on_answer(request.call_id)
            self._emit(OriginateUpdate(request.call_id, progress, outcome, cause,
                                       channel=f"PJSIP/{self.number_of(request)}-0001"))
            self._play(request, rest, script)

        self.pending[request.call_id] = self.clock.callLater(delay, fire)

    def _emit(self, update: OriginateUpdate) -> None:
        if update.progress is Progress.ENDED:
            self.ended.add(update.call_id)
        self.sinks[update.call_id](update)

    def hangup(self, call_id: str) -> Deferred[None]:
        self.hangups.append(call_id)
        delayed = self.pending.pop(call_id, None)
        if delayed is not None and call_id not in self.ended:
            delayed.cancel()
            self._emit(OriginateUpdate(call_id, Progress.ENDED, "canceled", "16"))
        return succeed(None)

    def track(self, call_id: str, on_update: UpdateSink) -> None:
        if call_id in self.sinks and call_id not in self.ended:
            self.sinks[call_id] = on_update
        else:  # unknown to this server: reported ended at once (its next resync)
            self.sinks[call_id] = on_update
            self.clock.callLater(0, self._emit,
                                 OriginateUpdate(call_id, Progress.ENDED, "failed", "gone"))


class FakeReceiver:
    """A callback receiver: records the events it accepted; ``down`` refuses them."""

    def __init__(self) -> None:
        self.down = False
        self.received: list[tuple[str, str, dict[str, object]]] = []
        self.refused = 0

    def call(self, url: str, method: str, params: Sequence[object], *,
             timeout: float) -> Deferred[object]:
        if self.down:
            self.refused += 1
            return fail(ConnectionRefusedError("receiver down"))
        event = params[0]
        assert isinstance(event, dict)
        self.received.append((url, method, event))
        return succeed(True)

    def events(self, call_id: str) -> list[dict[str, object]]:
        return [e for _, _, e in self.received if e["call_id"] == call_id]
