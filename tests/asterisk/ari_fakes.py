"""A scripted :class:`gtx.asterisk.ari_api.AriLink` and ARI events shaped like the real ones
(tests/fixtures/asterisk/transcripts/ari-session.txt), for unit tests of the ARI adapters.

``FakeAriLink.call`` records every request and answers from a script: per (resource,
operation), a queue of answers — a value (the decoded JSON body), an exception (the call
fails with it) or ``HOLD`` (the call stays pending until the test fires it, see
``FakeAriLink.pending``). With nothing scripted it answers None (a 204).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from gtx.asterisk.ari_api import AriUnavailable
from gtx.asterisk.ari_events import Event, EventRouter

HOLD = object()
TIMESTAMP = "2026-11-21T23:44:12.422+0000"


class FakeAriLink:
    """An AriLink whose REST answers are scripted and whose events the test feeds."""

    def __init__(self, name: str = "pbx1", app: str = "gtx") -> None:
        self._name = name
        self._app = app
        self.connected_now = True
        self._events = EventRouter()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.answers: dict[tuple[str, str], list[object]] = {}
        self.pending: list[tuple[str, str, Deferred[Any]]] = []
        self._ready: list[Callable[[], object]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def app(self) -> str:
        return self._app

    @property
    def connected(self) -> bool:
        return self.connected_now

    @property
    def events(self) -> EventRouter:
        return self._events

    def answer(self, resource: str, operation: str, *answers: object) -> None:
        """Queue the answers of the next calls of ``resource.operation``."""
        self.answers.setdefault((resource, operation), []).extend(answers)

    def call(self, resource: str, operation: str, **params: Any) -> Deferred[Any]:
        if not self.connected_now:
            return fail(AriUnavailable(f"the ARI link to {self._name} is down"))
        self.requests.append((resource, operation, params))
        queue = self.answers.get((resource, operation))
        answer = queue.pop(0) if queue else None
        if answer is HOLD:
            held: Deferred[Any] = Deferred()
            self.pending.append((resource, operation, held))
            return held
        if isinstance(answer, BaseException):
            return fail(answer)
        return succeed(answer)

    def supports(self, resource: str, operation: str, parameter: str | None = None) -> bool:
        # The scripted Asterisk has no setChannelVars (older Asterisk versions lack it); every
        # operation it has declares every parameter.
        return (resource, operation) != ("channels", "setChannelVars")

    def on_ready(self, handler: Callable[[], object]) -> Callable[[], None]:
        self._ready.append(handler)
        return lambda: self._ready.remove(handler) if handler in self._ready else None

    # -- control handles ------------------------------------------------------------------

    def drop(self) -> None:
        """The WebSocket closes: not connected, events lost."""
        self.connected_now = False

    def ready(self) -> None:
        """(Re)connected: every on_ready handler runs."""
        self.connected_now = True
        for handler in list(self._ready):
            handler()

    def feed(self, *events: Event) -> None:
        for event in events:
            self._events.dispatch(event)

    def sent(self, resource: str | None = None, operation: str | None = None,
             ) -> list[tuple[str, str, dict[str, Any]]]:
        """The requests made (of one resource and operation), in order."""
        return [r for r in self.requests if (resource is None or r[0] == resource)
                and (operation is None or r[1] == operation)]

    def ops(self) -> list[str]:
        """``resource.operation`` of every request, in order."""
        return [f"{resource}.{operation}" for resource, operation, _ in self.requests]


def channel(channel_id: str, name: str | None = None, state: str = "Down", *,
            app_name: str = "AppDial2", app_data: str = "(Outgoing Line)",
            context: str = "gtx-test", exten: str = "s", priority: int = 1) -> dict[str, Any]:
    """The JSON of a channel, as ARI gives it."""
    return {
        "id": channel_id, "name": name or f"PJSIP/{channel_id}-00000001", "state": state,
        "protocol_id": "", "caller": {"name": "", "number": ""},
        "connected": {"name": "", "number": ""}, "accountcode": "",
        "dialplan": {"context": context, "exten": exten, "priority": priority,
                     "app_name": app_name, "app_data": app_data},
        "creationtime": TIMESTAMP, "language": "en",
    }


def event(kind: str, app: str = "gtx", **fields: Any) -> dict[str, Any]:
    """An event of type ``kind`` with ``fields``, framed as Asterisk frames them."""
    return {"type": kind, "timestamp": TIMESTAMP, **fields,
            "asterisk_id": "02:fc:00:00:00:01", "application": app}


def dial(peer: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    return event("Dial", dialstatus=status, forward="", dialstring="x", peer=peer, **fields)


def state_change(chan: dict[str, Any], state: str) -> dict[str, Any]:
    return event("ChannelStateChange", channel={**chan, "state": state})


def stasis_start(chan: dict[str, Any], *args: str, app: str = "gtx") -> dict[str, Any]:
    data = ",".join((app, *args))
    return event("StasisStart", app=app, args=list(args),
                 channel={**chan, "dialplan": {**chan["dialplan"], "app_name": "Stasis",
                                               "app_data": data}})


def stasis_end(chan: dict[str, Any]) -> dict[str, Any]:
    return event("StasisEnd", channel=chan)


def destroyed(chan: dict[str, Any], cause: int = 16,
              cause_txt: str = "Normal Clearing") -> dict[str, Any]:
    return event("ChannelDestroyed", cause=cause, cause_txt=cause_txt, channel=chan)


def user_event(chan: dict[str, Any], name: str, **fields: str) -> dict[str, Any]:
    return event("ChannelUserevent", eventname=name, channel=chan,
                 userevent={"eventname": name, **fields})


def recording(name: str, state: str, target: str, fmt: str = "wav",
              **fields: Any) -> dict[str, Any]:
    """The JSON of a live recording."""
    return {"name": name, "format": fmt, "state": state, "target_uri": f"channel:{target}",
            **fields}
