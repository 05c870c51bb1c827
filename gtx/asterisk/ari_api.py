"""The ARI link to one Asterisk server, as the rest of gtx sees it.

An :class:`AriLink` is a connected ARI client for one ``[asterisk:NAME]`` section of gtx.ini:
REST operations by their Swagger resource and nickname (``call("channels", "play",
channelId=…, media=…)``, exactly as in ``ari-api-docs/channels.json``), and the WebSocket events
of the Stasis application (``ari_app``, ``gtx`` by default) routed by an
:class:`~gtx.asterisk.ari_events.EventRouter`. The implementation (:mod:`gtx.asterisk.ari_link`)
runs aioari on the asyncio loop that the Twisted reactor shares, and turns its coroutines into
Deferreds.

Errors, as a tree (every one is an :class:`AriError`)::

    AriError
    ├── AriUnavailable      the link is down: nothing was sent, safe to try again later
    ├── AriTimeout          sent, but no answer within the link's call timeout
    └── AriHTTPError        Asterisk answered 4xx/5xx (``status``, ``message``)
        ├── AriBadRequest       400 (a parameter is missing or wrong)
        ├── AriNotFound         404 (no such channel, playback, recording, bridge)
        ├── AriConflict         409 (e.g. the channel is not in a Stasis application)
        ├── AriUnprocessable    422 (e.g. an event source or recording that does not exist)
        └── AriServerError      5xx (e.g. 500 "Internal Server Error", "Allocation failed")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from gtx.asterisk.ari_events import EventRouter

#: Internal Stasis arguments: a channel entering ``Stasis(APP,gtx-…)`` was put there by gtx
#: itself (a dial leg, a dialer call, a snoop channel, the return from a dialplan excursion)
#: and never starts an IVR session. IVR app names therefore never start with ``gtx-``.
INTERNAL_ARG_PREFIX = "gtx-"
#: appArgs of a leg originated by the IVR ``dial`` action.
DIAL_LEG = "gtx-dial"
#: appArgs of a call placed by the dialer.
DIALER_CALL = "gtx-dialer"
#: appArgs of a snoop channel made to record another channel.
SNOOP = "gtx-snoop"
#: Stasis argument of a channel coming back from a dialplan excursion (``exec``, ``queue``,
#: ``conference``: the ``[gtx-ari-exec]`` context of ``dialplan/extensions_gtx_ari.conf``).
EXEC_RETURN = "gtx-exec"


class AriError(Exception):
    """Base of every ARI error."""


class AriUnavailable(AriError):
    """The link to that Asterisk is down: nothing was sent."""


class AriTimeout(AriError):
    """The request was sent but not answered in time (its effect is unknown)."""


class AriHTTPError(AriError):
    """Asterisk answered the request with an HTTP error."""

    def __init__(self, operation: str, status: int, message: str) -> None:
        super().__init__(f"{operation}: HTTP {status} {message}")
        self.operation = operation
        self.status = status
        self.message = message


class AriBadRequest(AriHTTPError):
    """400: a parameter is missing or invalid."""


class AriNotFound(AriHTTPError):
    """404: the channel (playback, recording, bridge …) does not exist."""


class AriConflict(AriHTTPError):
    """409: the object is not in a state that allows the operation."""


class AriUnprocessable(AriHTTPError):
    """422: the request named something that does not exist (event source, recording)."""


class AriServerError(AriHTTPError):
    """5xx: Asterisk failed the request."""


_BY_STATUS: dict[int, type[AriHTTPError]] = {
    400: AriBadRequest, 404: AriNotFound, 409: AriConflict, 422: AriUnprocessable,
}


def http_error(operation: str, status: int, message: str) -> AriHTTPError:
    """The :class:`AriHTTPError` subclass for ``status``."""
    cls = _BY_STATUS.get(status, AriServerError if status >= 500 else AriHTTPError)
    return cls(operation, status, message)


class AriLink(Protocol):
    """One Asterisk server's ARI, connected and kept up (see the module docstring)."""

    @property
    def name(self) -> str:
        """The server's name in gtx.ini (``[asterisk:NAME]``)."""

    @property
    def app(self) -> str:
        """The Stasis application gtx registers (``ari_app``)."""

    @property
    def connected(self) -> bool:
        """True while the WebSocket is up (events flow) and REST calls can be made."""

    @property
    def events(self) -> EventRouter:
        """Where the WebSocket events go."""

    def call(self, resource: str, operation: str, **params: Any) -> Deferred[Any]:
        """Run a REST operation: ``resource`` is the Swagger resource (``channels``,
        ``bridges``, ``playbacks``, ``recordings``, ``applications``, ``asterisk`` …),
        ``operation`` its nickname, ``params`` its parameters by their Swagger names
        (``bool`` and ``int`` values are sent as ARI expects them). Fires with the decoded JSON
        body (None for 204). Fails with the errors of the module docstring."""

    def supports(self, resource: str, operation: str, parameter: str | None = None) -> bool:
        """True when the connected Asterisk's listings have ``resource.operation`` — and, with
        ``parameter``, when that operation declares it (operations and parameters come and go
        between Asterisk versions); False while the link is down."""

    def on_ready(self, handler: Callable[[], object]) -> Callable[[], None]:
        """Call ``handler`` after every successful (re)connection, once the WebSocket is
        subscribed: where users resynchronise what they follow. Returns an unsubscriber."""
