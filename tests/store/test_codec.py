"""The JSON form of the dialer's values in the store: every field comes back as it went in."""

from __future__ import annotations

from datetime import time

import pytest

from gtx.dialer.model import (
    CallEvent,
    CallRequest,
    CallState,
    CampaignMode,
    CampaignSpec,
    Outcome,
    Window,
)
from gtx.store import codec
from tests.store.values import request, spec


def test_campaign_spec_round_trip() -> None:
    full = spec(windows=(
        Window(frozenset({5, 6}), time(10, 0), time(12, 30, 15)),
        Window(frozenset({0}), time(8, 0), time(9, 0)),
    ))
    assert codec.decode_spec(codec.encode_spec(full)) == full
    minimal = CampaignSpec(name="m", mode=CampaignMode.PREDICTIVE, channel="SIP/{number}")
    assert codec.decode_spec(codec.encode_spec(minimal)) == minimal


def test_spec_document_is_plain_json_by_value() -> None:
    doc = codec.loads_object(codec.encode_spec(spec()))
    assert doc["mode"] == "broadcast"
    assert doc["retry"] == {"busy": {"attempts": 3, "delay": 600},
                            "no_answer": {"attempts": 2, "delay": 3600}}
    assert doc["windows"] == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "20:30"}]
    assert doc["on_answer"] == {"app": "survey"}
    assert codec.encode_spec(spec()) == codec.encode_spec(spec())  # stable text


def test_call_request_and_event_round_trip() -> None:
    assert codec.decode_request(codec.encode_request(request())) == request()
    bare = CallRequest(destination="+3215550001", channel="Local/{number}@test")
    assert codec.decode_request(codec.encode_request(bare)) == bare
    event = CallEvent("c-1", 0, CallState.COMPLETED, 12.5, Outcome.BUSY, {"cause": "17"})
    assert codec.decode_event(codec.encode_event(event), 4) == CallEvent(
        "c-1", 4, CallState.COMPLETED, 12.5, Outcome.BUSY, {"cause": "17"})


def test_a_document_that_does_not_match_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        codec.decode_vars("[1, 2]")
    with pytest.raises(ValueError, match="caller_id"):
        codec.decode_request(codec.dumps({
            "destination": "1", "channel": "c", "caller_id": 5, "timeout": 3, "vars": {},
            "amd": False,
        }))
