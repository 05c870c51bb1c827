"""Values the store tests build their data from."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from gtx.dialer.model import (
    Call,
    Callback,
    CallRequest,
    CallState,
    CampaignMode,
    CampaignSpec,
    ContactInput,
    OnAnswer,
    Outcome,
    RetryRule,
    Window,
)

NODE = "gtx1"
T0 = 1_800_000_000.0


def spec(name: str = "spring sale", **changes: object) -> CampaignSpec:
    base = CampaignSpec(
        name=name,
        mode=CampaignMode.BROADCAST,
        channel="PJSIP/{number}@trunk",
        caller_id="+3215550000",
        max_concurrent=5,
        max_cps=2.5,
        on_answer=OnAnswer(app="survey"),
        retry={
            Outcome.BUSY: RetryRule(attempts=3, delay=600),
            Outcome.NO_ANSWER: RetryRule(attempts=2, delay=3600),
        },
        windows=(Window(frozenset({0, 1, 2, 3, 4}), time(9, 0), time(20, 30)),),
        timezone="Europe/Brussels",
        callback=Callback(url="http://crm.example/RPC2", method="dialer.event"),
    )
    return replace(base, **changes)


def contacts(*numbers: str, priority: int = 0) -> list[ContactInput]:
    return [ContactInput(number=n, vars={"number": n, "tries": [1, 2]}, priority=priority)
            for n in numbers]


def request(number: str = "+3215551234") -> CallRequest:
    return CallRequest(
        destination=number,
        channel="PJSIP/{number}@trunk",
        caller_id="+3215550000",
        timeout=25,
        vars={"customer": 42, "name": "Zoë"},
        on_answer=OnAnswer(context="sales", extension="s"),
        callback=Callback(url="http://crm.example/RPC2", method="call.event"),
        amd=True,
        asterisk="pbx1",
    )


def call(
    call_id: str,
    *,
    created: float = T0,
    campaign_id: int | None = None,
    contact_id: int | None = None,
    node: str = NODE,
    attempt: int = 1,
) -> Call:
    return Call(
        call_id=call_id,
        request=request(),
        state=CallState.QUEUED,
        created=created,
        node=node,
        campaign_id=campaign_id,
        contact_id=contact_id,
        attempt=attempt,
    )
