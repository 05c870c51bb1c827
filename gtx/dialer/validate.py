"""Validation of the Dialer API's arguments into the values of :mod:`gtx.dialer.model`.

Pure functions: XML-RPC values in (dict, list, str, int, bool, float, datetime), model values
out, or :class:`gtx.errors.InvalidArgument` (fault 400) whose field names the argument
(``options.timeout``, ``spec.windows[1].start``, ``contacts[3].number``) and whose message says
what to write instead. Unknown keys are refused (with a "did you mean"), never ignored. A key
sent as ``nil`` counts as not given (in ``dialer.campaign.update``: back to its default).

- :func:`call_request` — ``dialer.call``'s destination and options;
- :func:`campaign_spec` — ``dialer.campaign.create`` / ``.update``;
- :func:`contacts` — ``dialer.campaign.add_contacts`` (bad contacts are rejected one by one);
- :func:`numbers` — ``dialer.dnc.*``;
- :func:`campaign_id`, :func:`contact_id`, :func:`call_id`, :func:`agent` — ids.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from gtx.dialer import arguments as a
from gtx.dialer.model import ContactInput
from gtx.dialer.validate_call import CALL_OPTIONS, Configured, call_request
from gtx.dialer.validate_campaign import SPEC_KEYS, campaign_spec
from gtx.errors import InvalidArgument

__all__ = [
    "CALL_OPTIONS",
    "CONTACT_KEYS",
    "MAX_BATCH",
    "SPEC_KEYS",
    "Configured",
    "ContactBatch",
    "agent",
    "call_id",
    "call_request",
    "campaign_id",
    "campaign_spec",
    "contact",
    "contact_id",
    "contacts",
    "numbers",
]

#: The most contacts (or DNC numbers) one call may carry: bigger lists go in batches.
MAX_BATCH: Final = 10_000
CONTACT_KEYS: Final = frozenset({"number", "timezone", "vars", "priority"})


# ------------------------------------------------------------------------------- contacts


class ContactBatch(NamedTuple):
    """The contacts of one ``add_contacts`` call, sorted out."""

    valid: list[ContactInput]
    indexes: list[int]  # of each valid contact, in the array received
    rejected: list[tuple[int, str]]  # index in the array received, and why


def contacts(value: object, path: str = "contacts") -> ContactBatch:
    """``add_contacts``' contacts. A contact is a struct {number, timezone, vars, priority}
    or just its number as a string. A bad contact is rejected with its reason (relative to
    the contact: ``number: …``), not a fault: the others are added. A value that is not an
    array, or holds more than :data:`MAX_BATCH` contacts, is a fault."""
    batch = ContactBatch([], [], [])
    for index, item in enumerate(a.array(value, path, most=MAX_BATCH)):
        try:
            batch.valid.append(contact(item, ""))
        except InvalidArgument as error:
            batch.rejected.append((index, str(error)))
        else:
            batch.indexes.append(index)
    return batch


def contact(value: object, path: str) -> ContactInput:
    """One contact (``path`` is "" for paths relative to the contact: ``number``)."""
    if isinstance(value, str):
        return ContactInput(number=a.phone_number(value, a.member(path, "number")))
    if not isinstance(value, dict):
        raise a.wrong(path or "contact", "a struct {number, timezone, vars, priority} or a "
                      "number string", value)
    given = a.struct(value, path, CONTACT_KEYS)
    if "number" not in given:
        raise InvalidArgument(a.member(path, "number"), "missing: the number to call")
    tz = given.get("timezone")
    return ContactInput(
        number=a.phone_number(given["number"], a.member(path, "number")),
        timezone=None if tz is None else a.timezone(tz, a.member(path, "timezone")),
        vars=a.variables(given.get("vars", {}), a.member(path, "vars")),
        priority=a.integer(given.get("priority", 0), a.member(path, "priority"), -1000, 1000),
    )


def numbers(value: object, path: str = "numbers") -> list[str]:
    """Phone numbers (``dialer.dnc.*``), normalised; any bad one is a fault."""
    items = a.array(value, path, most=MAX_BATCH)
    return [a.phone_number(item, a.item(path, i)) for i, item in enumerate(items)]


# ------------------------------------------------------------------------------------ ids


def campaign_id(value: object, path: str = "campaign_id") -> int:
    """A campaign id: a positive int."""
    return a.integer(value, path, 1, 2**63 - 1, "a campaign id")


def contact_id(value: object, path: str = "contact_id") -> int:
    """A contact id: a positive int."""
    return a.integer(value, path, 1, 2**63 - 1, "a contact id")


_ID_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_AGENT_RE: Final = re.compile(r"[A-Za-z0-9_.@/\-]{1,80}")


def call_id(value: object, path: str = "call_id") -> str:
    """A call id as ``dialer.call`` returned it."""
    return a.text(value, path, pattern=_ID_RE, what="a call id as dialer.call returned it")


def agent(value: object, path: str = "agent") -> str:
    """An agent's name or interface (``alice``, ``PJSIP/1001``)."""
    return a.text(value, path, pattern=_AGENT_RE,
                  what="an agent name or interface such as 'PJSIP/1001'")
