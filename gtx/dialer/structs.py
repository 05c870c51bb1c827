"""The structs the Dialer API answers with, built from :mod:`gtx.dialer.model` values.

Conventions (docs/dialer-api.md): times are ISO 8601 strings in UTC with milliseconds
(``2026-11-21T09:30:05.250Z``), never ``dateTime.iso8601`` (which carries no time zone); a
member with no value is left out, never sent as ``nil`` (not every client reads ``nil``); a
campaign's spec is answered in the very form ``dialer.campaign.create`` accepts, so it can be
sent back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gtx.dialer.model import (
    Call,
    Callback,
    Campaign,
    CampaignSpec,
    Contact,
    OnAnswer,
    Outcome,
    Window,
)
from gtx.dialer.service import AddContactsReport, CampaignStatus
from gtx.dialer.validate_campaign import format_days

#: Counters every status carries, 0 when the service has none: contacts by state, calls by
#: outcome.
STATUS_COUNTERS = ("pending", "dialing", "done", "dnc", *(o.value for o in Outcome))

Struct = dict[str, object]


def iso(epoch: float) -> str:
    """``2026-11-21T09:30:05.250Z``: an instant in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _present(**members: object) -> Struct:
    return {key: value for key, value in members.items() if value is not None}


def on_answer_struct(target: OnAnswer) -> Struct:
    """``{app}`` | ``{url, method}`` | ``{context, extension}`` | ``{queue}``."""
    return _present(app=target.app, url=target.url, method=target.method,
                    context=target.context, extension=target.extension, queue=target.queue)


def callback_struct(callback: Callback) -> Struct:
    return {"url": callback.url, "method": callback.method}


def window_struct(window: Window) -> Struct:
    return {"days": format_days(window.days), "start": f"{window.start:%H:%M}",
            "end": f"{window.end:%H:%M}"}


def spec_struct(spec: CampaignSpec) -> Struct:
    """A campaign's spec, in the form ``dialer.campaign.create`` accepts."""
    return _present(
        name=spec.name,
        mode=spec.mode.value,
        channel=spec.channel,
        caller_id=spec.caller_id,
        max_concurrent=spec.max_concurrent,
        max_cps=spec.max_cps,
        ratio=spec.ratio,
        abandon_target=spec.abandon_target,
        queue=spec.queue,
        timeout=spec.timeout,
        on_answer=None if spec.on_answer is None else on_answer_struct(spec.on_answer),
        amd=spec.amd,
        retry={outcome.value: {"attempts": rule.attempts, "delay": rule.delay}
               for outcome, rule in spec.retry.items()},
        max_attempts=spec.max_attempts,
        windows=[window_struct(window) for window in spec.windows],
        timezone=spec.timezone,
        callback=None if spec.callback is None else callback_struct(spec.callback),
        priority=spec.priority,
        asterisk=spec.asterisk,
        record=spec.record == 100 or ({"percent": spec.record} if spec.record else False),
    )


def campaign_struct(campaign: Campaign) -> Struct:
    """``{campaign_id, state, created, updated}`` and every key of its spec."""
    return {"campaign_id": campaign.id, "state": campaign.state.value,
            "created": iso(campaign.created), "updated": iso(campaign.updated),
            **spec_struct(campaign.spec)}


def status_struct(status: CampaignStatus) -> Struct:
    """``dialer.campaign.status``: the state, the counters and the pacing figures."""
    campaign = status.campaign
    counters = dict.fromkeys(STATUS_COUNTERS, 0)
    counters.update({str(k): int(v) for k, v in status.counters.items()})
    return {
        "campaign_id": campaign.id,
        "name": campaign.spec.name,
        "mode": campaign.spec.mode.value,
        "state": campaign.state.value,
        "counters": counters,
        "abandon_rate": float(status.abandon_rate),
        "dial_ratio": float(status.dial_ratio),
        "agents_free": int(status.agents_free),
        "updated": iso(campaign.updated),
    }


def call_struct(call: Call) -> Struct:
    """``dialer.call_status`` and each call of ``dialer.campaign.results``."""
    return _present(
        call_id=call.call_id,
        state=call.state.value,
        outcome=None if call.outcome is None else call.outcome.value,
        cause=call.cause,
        number=call.request.destination,
        campaign_id=call.campaign_id,
        contact_id=call.contact_id,
        attempt=call.attempt,
        created=iso(call.created),
        at=None if call.request.not_before is None else iso(call.request.not_before),
        dialing=None if call.dialing_at is None else iso(call.dialing_at),
        answered=None if call.answered_at is None else iso(call.answered_at),
        ended=None if call.ended_at is None else iso(call.ended_at),
        node=call.node,
        asterisk=call.asterisk,
        channel=call.channel,
        recording_id=call.recording_id,
    )


def contact_struct(contact: Contact) -> Struct:
    """A contact, as ``dialer.preview.next`` answers it."""
    return _present(
        contact_id=contact.id,
        campaign_id=contact.campaign_id,
        number=contact.number,
        timezone=contact.timezone,
        vars=dict(contact.vars),
        priority=contact.priority,
        state=contact.state.value,
        attempts=contact.attempts,
        last_outcome=None if contact.last_outcome is None else contact.last_outcome.value,
        next_attempt=None if contact.next_attempt_at is None else iso(contact.next_attempt_at),
    )


def add_contacts_struct(
    report: AddContactsReport, indexes: list[int], rejected: list[tuple[int, str]]
) -> Struct:
    """``add_contacts``' answer, with indexes into the array the client sent. ``report``
    counts in the valid contacts only; ``indexes`` maps them back; ``rejected`` are those
    validation refused."""

    refused = list(rejected) + [(indexes[i], reason) for i, reason in report.rejected]
    return {
        "added": report.added,
        "duplicate": sorted(indexes[i] for i in report.duplicate),
        "rejected": [{"index": index, "reason": reason} for index, reason in sorted(refused)],
        "dnc": sorted(indexes[i] for i in report.dnc),
    }

