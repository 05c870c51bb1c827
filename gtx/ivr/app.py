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
