"""Handing a call and its session to another Asterisk server: a ``transfer`` with ``dial``.

Plain channel variables do not cross a SIP or IAX2 call, so the session's state travels as
values the other server can read (dialplan on both sides: ``dialplan/extensions_gtx_handoff.conf``):

- **IAX2**: gtx sets ``IAXVAR(GTX_SESSION)``, ``IAXVAR(GTX_APP)``, ``IAXVAR(GTX_STEP)``,
  ``IAXVAR(GTX_NEXT)``, ``IAXVAR(GTX_VARS)`` and ``IAXVAR(GTX_RESULT)`` on the channel, then
  ``Dial(IAX2/…)``: chan_iax2 sends them with the call. IAX2 sends them all in the call's first
  frame, whose information elements hold about 1 KiB: the state may take
  :data:`IAX2_STATE_BYTES` (the last result is left out first when it does not fit).
- **PJSIP**: a header added on the caller's channel does not reach the outgoing call, so gtx
  sets inherited copies (``_GTX_HANDOFF_SESSION`` …) and dials with a pre-dial handler,
  ``b(gtx-handoff-pjsip^s^1)``, that adds ``X-GTX-Session``, ``X-GTX-App``, ``X-GTX-Step``,
  ``X-GTX-Next``, ``X-GTX-Vars`` and ``X-GTX-Result`` to the INVITE.

On the other server the call enters gtx with no ``GTX_STATUS``; gtx finds the state in
``IAXVAR(…)`` or ``PJSIP_HEADER(read,…)`` and continues the session: same id, same vars, the
step and method given here (:meth:`gtx.ivr.session.Session._start`).

Here, ``GTX_STATUS`` is ``DONE`` before the call is dialled (a node dying meanwhile must not
resume a session that now runs elsewhere). When the other server takes the call, the session
ends here once that call ends; when it does not, ``GTX_STATUS`` goes back to ``RUNNING`` and the
session goes on here at ``next``, the ``transfer`` reported ``failed`` with its ``dialstatus``.
"""

from __future__ import annotations

import math
from typing import Final

from gtx.channel import Channel
from gtx.ivr.actions import FAILED, HandOff
from gtx.ivr.state import (
    DONE,
    STATE_HEADERS,
    STATE_VARIABLES,
    ChannelState,
    SessionState,
    encode,
    encode_result,
)

#: How the state of a call handed over from another server is read, by channel technology.
HANDOVER_EXPRESSIONS: Final = {
    "IAX2": "${{IAXVAR({name})}}",
    "PJSIP": "${{PJSIP_HEADER(read,{header})}}",
}
#: The pre-dial handler that puts the state in SIP headers (dialplan/extensions_gtx_handoff.conf).
PJSIP_HANDLER: Final = "gtx-handoff-pjsip^s^1"
#: Inherited copies of the state for that handler: ``_GTX_HANDOFF_SESSION`` → ``GTX_HANDOFF_…``
#: on the outgoing channel.
INHERITED_PREFIX: Final = "_GTX_HANDOFF_"
#: The most the state may take in an IAX2 call's first frame (information elements included).
IAX2_STATE_BYTES: Final = 800
#: IAX2 information elements hold at most 255 bytes: a longer variable is sent in pieces, each
#: repeating ``NAME=``.
_IE_BYTES: Final = 255


class HandOffRefused(Exception):
    """The state cannot be carried: the transfer fails with this message."""


def carried_state(state: SessionState) -> dict[str, str]:
    """The values the other server continues from (state of the step it runs next)."""
    return {
        "GTX_SESSION": state.session,
        "GTX_APP": state.app,
        "GTX_STEP": str(state.step),
        "GTX_NEXT": state.next.to_json(),
        "GTX_VARS": encode(state.vars),
        "GTX_RESULT": encode_result(state.result),
    }


def iax2_bytes(values: dict[str, str]) -> int:
    """What ``values`` take as IAXVAR information elements of an IAX2 NEW frame."""
    total = 0
    for name, value in values.items():
        size = len(value.encode())
        room = _IE_BYTES - len(name) - 1
        pieces = max(1, math.ceil(size / room))
        total += size + pieces * (2 + len(name) + 1)
    return total


def fit_iax2(values: dict[str, str]) -> dict[str, str]:
    """``values`` within :data:`IAX2_STATE_BYTES`: without the last result if need be."""
    if iax2_bytes(values) <= IAX2_STATE_BYTES:
        return values
    trimmed = {**values, "GTX_RESULT": "{}"}
    size = iax2_bytes(trimmed)
    if size > IAX2_STATE_BYTES:
        raise HandOffRefused(
            f"the session state takes {size} bytes, over the {IAX2_STATE_BYTES} an IAX2 call "
            "can carry: keep fewer vars (or hand over with PJSIP)")
    return trimmed


async def hand_off(channel: Channel, store: ChannelState, state: SessionState,
                   handoff: HandOff, entry: dict[str, object]) -> bool:
    """Dial ``handoff.destination`` carrying ``state`` (the state of the next step). True when
    the other server took the call (it has ended since); False when it did not — ``entry``
    (the transfer's result) then says why and the session goes on here."""
    technology = handoff.destination.split("/", 1)[0].upper()
    values = carried_state(state)
    try:
        if technology == "IAX2":
            values = fit_iax2(values)
    except HandOffRefused as e:
        entry.update(status=FAILED, error=str(e))
        return False
    await store.save(state, status=DONE)
    options = ""
    for name in STATE_VARIABLES:
        if technology == "IAX2":
            await channel.set_variable(f"IAXVAR({name})", values[name])
        else:
            await channel.set_variable(INHERITED_PREFIX + name.removeprefix("GTX_"), values[name])
    if technology != "IAX2":
        options = f"b({PJSIP_HANDLER})"
    result = await channel.dial([handoff.destination], handoff.timeout, options, None, None)
    entry.update(dialstatus=result.status, answered_seconds=result.answered_seconds,
                 dialed_seconds=result.dialed_seconds)
    if result.status == "ANSWER":
        return True
    entry.update(status=FAILED, error=f"{handoff.destination} did not take the call "
                 f"(dialstatus {result.status or 'unknown'})")
    return False


async def handed_over_state(channel: Channel, store: ChannelState) -> dict[str, str | None] | None:
    """The state a call handed over from another Asterisk carries (IAXVARs, SIP headers), or
    None when it carries none (the call did not come from a gtx hand-over)."""
    technology = channel.info.channel.split("/", 1)[0].upper()
    expression = HANDOVER_EXPRESSIONS.get(technology)
    if expression is None:
        return None
    first = expression.format(name="GTX_SESSION", header=STATE_HEADERS["GTX_SESSION"])
    if not await channel.get_full_variable(first):
        return None
    return await store.read(expression)
