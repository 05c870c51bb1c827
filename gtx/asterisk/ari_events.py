"""Routing ARI WebSocket events to whoever follows the objects they are about.

ARI events are JSON objects with a ``type`` and the objects they concern: ``channel`` (most
events), ``peer`` (``Dial``: the channel being dialled), ``playback``, ``recording``,
``bridge``. :func:`event_keys` names those objects as keys — ``channel:ID``, ``playback:ID``,
``recording:NAME``, ``bridge:ID`` — and an :class:`EventRouter` hands each event to the handlers
watching one of its keys, once each.

``StasisStart`` of a channel whose first Stasis argument does not start with ``gtx-`` (see
:data:`gtx.asterisk.ari_api.INTERNAL_ARG_PREFIX`) is a call asking for an IVR session: it also
goes to the ``on_stasis_start`` handler (the IVR runner), whether or not someone watches the
channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from twisted.logger import Logger

#: One decoded WebSocket event.
Event = Mapping[str, Any]
EventHandler = Callable[[Event], object]

_log = Logger(namespace="gtx.asterisk.ari")
_INTERNAL_PREFIX = "gtx-"


def channel_key(channel_id: str) -> str:
    return f"channel:{channel_id}"


def playback_key(playback_id: str) -> str:
    return f"playback:{playback_id}"


def recording_key(name: str) -> str:
    return f"recording:{name}"


def bridge_key(bridge_id: str) -> str:
    return f"bridge:{bridge_id}"


def _ids(event: Event) -> Iterator[str]:
    for field, key in (("channel", channel_key), ("peer", channel_key),
                       ("playback", playback_key), ("bridge", bridge_key)):
        obj = event.get(field)
        if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
            yield key(obj["id"])
    recording = event.get("recording")
    if isinstance(recording, Mapping) and isinstance(recording.get("name"), str):
        yield recording_key(recording["name"])


def event_keys(event: Event) -> list[str]:
    """The keys of the objects ``event`` is about, without repeats, in a stable order."""
    return list(dict.fromkeys(_ids(event)))


def stasis_args(event: Event) -> list[str]:
    """The Stasis arguments of a ``StasisStart`` event (``Stasis(APP,ARG1,…)``)."""
    args = event.get("args")
    return [str(a) for a in args] if isinstance(args, list) else []


def is_ivr_start(event: Event) -> bool:
    """True for a ``StasisStart`` that asks for an IVR session (see the module docstring)."""
    if event.get("type") != "StasisStart":
        return False
    args = stasis_args(event)
    return not (args and args[0].startswith(_INTERNAL_PREFIX))


class EventRouter:
    """Hands events to the handlers watching their keys (see the module docstring).

    A handler that raises is logged and does not stop the others.
    """

    def __init__(self) -> None:
        self._watchers: dict[str, list[EventHandler]] = {}
        self._stasis_start: EventHandler | None = None
        self._every: list[EventHandler] = []
        self.dispatched = 0  # events handed out so far (tests use it to know all arrived)

    @property
    def watched(self) -> int:
        """How many keys have watchers (tests use it to check nothing leaks)."""
        return len(self._watchers)

    def watch(self, key: str, handler: EventHandler) -> Callable[[], None]:
        """Send the events about ``key`` to ``handler``; returns the function that stops it."""
        self._watchers.setdefault(key, []).append(handler)

        def unwatch() -> None:
            handlers = self._watchers.get(key)
            if handlers is not None and handler in handlers:
                handlers.remove(handler)
                if not handlers:
                    del self._watchers[key]

        return unwatch

    def on_stasis_start(self, handler: EventHandler | None) -> None:
        """The handler of the ``StasisStart`` events that ask for an IVR session."""
        self._stasis_start = handler

    def on_every(self, handler: EventHandler) -> Callable[[], None]:
        """Send every event to ``handler`` (logs, metrics)."""
        self._every.append(handler)
        return lambda: self._every.remove(handler) if handler in self._every else None

    def dispatch(self, event: Event) -> None:
        """Hand ``event`` to its handlers."""
        self.dispatched += 1
        handlers: list[EventHandler] = list(self._every)
        for key in event_keys(event):
            for handler in self._watchers.get(key, ()):
                if handler not in handlers:
                    handlers.append(handler)
        if self._stasis_start is not None and is_ivr_start(event):
            handlers.append(self._stasis_start)
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                _log.failure("ARI event handler failed on a {type} event",
                             type=event.get("type"))
