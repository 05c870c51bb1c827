"""The ``Originate`` action, parsed, and the events that describe an originated call as a
whole: ``OriginateResponse``, ``LocalBridge``, ``DialEnd``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gtx.testing.ami_events import UNKNOWN, AMIChannel, AMIMessage, event


@dataclass(frozen=True)
class OriginateParams:
    """An ``Originate`` action, parsed."""

    dial_string: str
    context: str | None = None
    exten: str | None = None
    priority: int = 1
    application: str | None = None
    data: str = ""
    timeout: float = 30.0  # seconds of ringing
    caller_num: str | None = None
    caller_name: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    action_id: str | None = None
    channel_id: str | None = None
    other_channel_id: str | None = None
    is_async: bool = False

    @property
    def is_local(self) -> bool:
        """A ``Local/EXT@CTX`` channel (a pair of channels in Asterisk)."""
        return self.dial_string.lower().startswith("local/")

    @property
    def local_device(self) -> str:
        """A Local dial string without its ``/n`` (no optimisation) option."""
        return self.dial_string.removesuffix("/n")

    @property
    def resource(self) -> str:
        """What follows the technology: ``busy@gtx-test``, ``5551234@trunk``."""
        return self.dial_string.partition("/")[2]

    @property
    def number(self) -> str:
        """The dialled number (or extension): ``5551234`` of ``PJSIP/5551234@trunk`` and of
        ``SIP/trunk/5551234``."""
        return self.resource.split("@", 1)[0].rsplit("/", 1)[-1]


def originate_response(p: OriginateParams, ch: AMIChannel | None, reason: int) -> AMIMessage:
    """``OriginateResponse``: ``ch`` is the answered channel, None when the call failed."""
    fields: list[tuple[str, str]] = []
    if p.action_id is not None:
        fields.append(("ActionID", p.action_id))
    fields += [
        ("Response", "Success" if ch is not None else "Failure"),
        ("Channel", ch.name if ch is not None else p.dial_string),
    ]
    if p.application is not None:
        fields += [("Application", p.application), ("Data", p.data)]
    else:
        fields += [("Context", p.context or ""), ("Exten", p.exten or "")]
    fields += [
        ("Reason", str(reason)),
        ("Uniqueid", ch.uniqueid if ch is not None else UNKNOWN),
        ("CallerIDNum", p.caller_num or UNKNOWN),
        ("CallerIDName", p.caller_name or UNKNOWN),
    ]
    return event("OriginateResponse", "call,all", fields)


def local_bridge(one: AMIChannel, two: AMIChannel, p: OriginateParams) -> AMIMessage:
    """``LocalBridge`` of a Local pair."""
    parts: Iterable[tuple[str, str]] = [
        *one.snapshot("LocalOne"),
        *two.snapshot("LocalTwo"),
        ("Context", one.context),
        ("Exten", one.exten),
        ("LocalOptimization", "No" if p.dial_string.endswith("/n") else "Yes"),
    ]
    return event("LocalBridge", "call,all", parts)


def dial_end(dest: AMIChannel, status: str) -> AMIMessage:
    """``DialEnd`` of the originate's dial."""
    return event("DialEnd", "call,all", dest.snapshot("Dest"), [("DialStatus", status)])
