"""The JSON form of the dialer's values as the store keeps them (campaign specs, call requests,
call events, call-backs, variables).

Enums are kept by value, a window's days as a sorted list of weekday numbers, its times as
``"HH:MM"`` (``"HH:MM:SS"`` when there are seconds), and retry rules keyed by outcome value.
Decoding is strict: a stored document that does not match is a bug, so it raises ValueError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import time
from typing import Any

from gtx.dialer.model import (
    Callback,
    CallEvent,
    CallRequest,
    CallState,
    CampaignMode,
    CampaignSpec,
    OnAnswer,
    Outcome,
    RetryRule,
    Window,
)


def dumps(value: object) -> str:
    """Compact, key-sorted JSON (so equal values are stored as equal text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads_object(text: str) -> dict[str, Any]:
    """A JSON object from the store."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def time_text(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _optional(mapping: Mapping[str, Any], key: str, kind: type) -> Any:
    value = mapping.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


# -- small values ------------------------------------------------------------------------


def on_answer_doc(on_answer: OnAnswer | None) -> dict[str, str] | None:
    if on_answer is None:
        return None
    fields = {
        "app": on_answer.app,
        "url": on_answer.url,
        "method": on_answer.method,
        "context": on_answer.context,
        "extension": on_answer.extension,
        "queue": on_answer.queue,
    }
    return {k: v for k, v in fields.items() if v is not None}


def on_answer_from(doc: Mapping[str, Any] | None) -> OnAnswer | None:
    if doc is None:
        return None
    return OnAnswer(**{k: _optional(doc, k, str) for k in doc})


def callback_doc(callback: Callback | None) -> dict[str, str] | None:
    return None if callback is None else {"url": callback.url, "method": callback.method}


def callback_from(doc: Mapping[str, Any] | None) -> Callback | None:
    return None if doc is None else Callback(url=str(doc["url"]), method=str(doc["method"]))


def window_doc(window: Window) -> dict[str, Any]:
    return {
        "days": sorted(window.days),
        "start": time_text(window.start),
        "end": time_text(window.end),
    }


def window_from(doc: Mapping[str, Any]) -> Window:
    return Window(
        days=frozenset(int(d) for d in doc["days"]),
        start=time.fromisoformat(doc["start"]),
        end=time.fromisoformat(doc["end"]),
    )


# -- campaign specs ------------------------------------------------------------------------


def spec_doc(spec: CampaignSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "mode": spec.mode.value,
        "channel": spec.channel,
        "caller_id": spec.caller_id,
        "max_concurrent": spec.max_concurrent,
        "max_cps": spec.max_cps,
        "ratio": spec.ratio,
        "abandon_target": spec.abandon_target,
        "queue": spec.queue,
        "timeout": spec.timeout,
        "on_answer": on_answer_doc(spec.on_answer),
        "amd": spec.amd,
        "retry": {
            outcome.value: {"attempts": rule.attempts, "delay": rule.delay}
            for outcome, rule in spec.retry.items()
        },
        "max_attempts": spec.max_attempts,
        "windows": [window_doc(w) for w in spec.windows],
        "timezone": spec.timezone,
        "callback": callback_doc(spec.callback),
        "priority": spec.priority,
        "asterisk": spec.asterisk,
        "record": spec.record,
    }


def spec_from(doc: Mapping[str, Any]) -> CampaignSpec:
    return CampaignSpec(
        name=str(doc["name"]),
        mode=CampaignMode(doc["mode"]),
        channel=str(doc["channel"]),
        caller_id=_optional(doc, "caller_id", str),
        max_concurrent=int(doc["max_concurrent"]),
        max_cps=float(doc["max_cps"]),
        ratio=float(doc["ratio"]),
        abandon_target=float(doc["abandon_target"]),
        queue=_optional(doc, "queue", str),
        timeout=int(doc["timeout"]),
        on_answer=on_answer_from(doc.get("on_answer")),
        amd=bool(doc["amd"]),
        retry={
            Outcome(key): RetryRule(attempts=int(rule["attempts"]), delay=int(rule["delay"]))
            for key, rule in doc["retry"].items()
        },
        max_attempts=int(doc["max_attempts"]),
        windows=tuple(window_from(w) for w in doc["windows"]),
        timezone=str(doc["timezone"]),
        callback=callback_from(doc.get("callback")),
        priority=int(doc["priority"]),
        asterisk=_optional(doc, "asterisk", str),
        record=float(doc.get("record", 0.0)),  # campaigns stored before the option: none
    )


def encode_spec(spec: CampaignSpec) -> str:
    return dumps(spec_doc(spec))


def decode_spec(text: str) -> CampaignSpec:
    return spec_from(loads_object(text))


# -- call requests and events ------------------------------------------------------------


def encode_request(request: CallRequest) -> str:
    """A call request; ``not_before`` only when the call is scheduled (``delay`` is never
    kept: the dialer has turned it into ``not_before``)."""
    doc: dict[str, Any] = {
        "destination": request.destination,
        "channel": request.channel,
        "caller_id": request.caller_id,
        "timeout": request.timeout,
        "vars": dict(request.vars),
        "on_answer": on_answer_doc(request.on_answer),
        "callback": callback_doc(request.callback),
        "amd": request.amd,
        "asterisk": request.asterisk,
    }
    if request.not_before is not None:
        doc["not_before"] = request.not_before
    return dumps(doc)


def decode_request(text: str) -> CallRequest:
    doc = loads_object(text)
    return CallRequest(
        destination=str(doc["destination"]),
        channel=str(doc["channel"]),
        caller_id=_optional(doc, "caller_id", str),
        timeout=int(doc["timeout"]),
        vars=dict(doc["vars"]),
        on_answer=on_answer_from(doc.get("on_answer")),
        callback=callback_from(doc.get("callback")),
        amd=bool(doc["amd"]),
        asterisk=_optional(doc, "asterisk", str),
        not_before=None if doc.get("not_before") is None else float(doc["not_before"]),
    )


def encode_event(event: CallEvent) -> str:
    """The event without its seq (kept in its own column, numbered by the store)."""
    return dumps(
        {
            "call_id": event.call_id,
            "state": event.state.value,
            "at": event.at,
            "outcome": None if event.outcome is None else event.outcome.value,
            "data": dict(event.data),
        }
    )


def decode_event(text: str, seq: int) -> CallEvent:
    doc = loads_object(text)
    outcome = doc.get("outcome")
    return CallEvent(
        call_id=str(doc["call_id"]),
        seq=seq,
        state=CallState(doc["state"]),
        at=float(doc["at"]),
        outcome=None if outcome is None else Outcome(outcome),
        data=dict(doc["data"]),
    )


def encode_callback(callback: Callback) -> str:
    return dumps(callback_doc(callback))


def decode_callback(text: str) -> Callback:
    doc = loads_object(text)
    return Callback(url=str(doc["url"]), method=str(doc["method"]))


def encode_vars(values: Mapping[str, object]) -> str:
    return dumps(dict(values))


def decode_vars(text: str) -> dict[str, object]:
    return loads_object(text)
