"""Two emulated Asterisk servers: a Dial on one that becomes an AGI call on the other.

    server_b = EmulatedAsterisk(clock, name="pbx2")
    calls_on_b: list[CallRecord] = []
    server_a = EmulatedAsterisk(clock, destinations={
        "IAX2/serverb/ivr": remote_asterisk(
            node_b_factory, server_b,
            CallSpec(request="agi://127.0.0.1:4573/ivr", context="gtx-handoff-in"),
            records=calls_on_b),
    })

A call on ``server_a`` that sets ``IAXVAR(GTX_SESSION)`` (or ``PJSIP_HEADER(add,X-…)``) and runs
``Dial(IAX2/serverb/ivr)`` is answered by ``server_b``, where it runs ``AGI()`` against
``node_b_factory`` with those values readable as ``${IAXVAR(GTX_SESSION)}``; the Dial on
``server_a`` lasts until that call ends. Pre-dial handlers (Dial option ``b``) are not run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint

from gtx.testing.agi_emulator import CallRecord
from gtx.testing.caller import ScriptedCaller
from gtx.testing.emulated_channel import EmulatedChannel
from gtx.testing.emulator import connect_emulated_call
from gtx.testing.pbx import CallSpec, DialDestination, EmulatedAsterisk


def dialled_extension(target: str) -> str:
    """The extension a dial string reaches on the other server: ``IAX2/peer/EXTEN`` or
    ``PJSIP/EXTEN@endpoint`` (``s`` when it names none, as Asterisk does)."""
    technology, _, rest = target.partition("/")
    if technology.upper() == "IAX2":
        _, _, exten = rest.partition("/")
        return exten or "s"
    exten, at, _ = rest.partition("@")
    return exten if at else "s"


def remote_asterisk(
    target: str | IStreamClientEndpoint | IProtocolFactory,
    asterisk: EmulatedAsterisk,
    spec: CallSpec,
    caller: ScriptedCaller | None = None,
    *,
    after: float = 0.5,
    records: list[CallRecord] | None = None,
    reactor: object | None = None,
) -> DialDestination:
    """A dial destination that is another emulated server (see the module docstring).

    Each call it answers runs ``AGI()`` on ``asterisk`` against ``target`` (as
    :func:`~gtx.testing.emulator.connect_emulated_call` takes it) with ``spec``, whose
    ``inherited`` gains what the caller's channel set, whose extension is the dialled one, and
    whose channel is named like the other server names it (``IAX2/<peer>-N``) unless ``spec``
    names it. Each call's :class:`CallRecord` is appended to ``records``.
    """

    def answer(dialled: str, crossing: Mapping[str, str],
               calling: EmulatedChannel) -> Deferred[object]:
        technology = dialled.partition("/")[0]
        call_spec = replace(
            spec,
            inherited={**spec.inherited, **crossing},
            extension=dialled_extension(dialled),
            channel=spec.channel or (
                f"{technology}/{spec.peer or 'peer'}-{asterisk.new_channel_number()}"),
            caller_number=spec.caller_number or calling.caller_number,
            caller_name=spec.caller_name or calling.caller_name,
        )
        d = connect_emulated_call(target, call_spec, caller, asterisk=asterisk, reactor=reactor)

        def ended(record: CallRecord) -> CallRecord:
            if records is not None:
                records.append(record)
            return record

        return d.addCallback(ended)

    return DialDestination.server(answer, after)
