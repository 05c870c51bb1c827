"""A session moving between the backends: a ``transfer`` with ``handoff: true`` ends the step
on one backend, the dialplan location enters gtx again over the other, and the session goes on
at its next step (same id, vars and last result, ``resumed`` false).

Both backends share one clock, web service, engine and emulated Asterisk. The FastAGI emulator
and the emulated ARI server hold their channels apart (a channel cannot pass from one to the
other), so the second leg is a new emulated call on the same channel name and uniqueid,
carrying the channel variables the first leg left: what the dialplan location would find.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_twisted

from tests.backends.harness import Backend, CallResult, backend_for

STATE = ("GTX_SESSION", "GTX_APP", "GTX_STEP", "GTX_NEXT", "GTX_VARS", "GTX_RESULT",
         "GTX_STATUS")
MOVED = {"action": "transfer", "name": "moved", "status": "ok", "handoff": True}


@pytest_twisted.async_yield_fixture
async def both(tmp_path: Path) -> AsyncIterator[dict[str, Backend]]:
    fastagi = backend_for("fastagi", tmp_path)
    ari = backend_for("ari", tmp_path, fastagi.shared)
    await ari.start()
    try:
        yield {"fastagi": fastagi, "ari": ari}
    finally:
        await ari.stop()


def handoff_to(location: tuple[str, str], next_method: str, **answer: object) -> dict[
        str, object]:
    return {"actions": [{"action": "play", "files": "welcome"},
                        {"action": "transfer", "context": location[0],
                         "extension": location[1], "handoff": True, "name": "moved"}],
            "next": next_method, **answer}


async def continued(second: Backend, first: CallResult, location: tuple[str, str]) -> (
        CallResult):
    """The call the dialplan location makes: into gtx again on the other backend, with the
    channel variables the first leg left."""
    assert first.location == (*location, 1)
    assert first.variables["GTX_STATUS"] == "HANDOFF"
    state = {name: first.variables[name] for name in STATE}
    return await second.call(app="menu", context=location[0], extension=location[1],
                             priority=1, uniqueid=first.record.uniqueid, variables=state)


@pytest.mark.parametrize(("first", "second"), [("fastagi", "ari"), ("ari", "fastagi")])
@pytest_twisted.ensureDeferred
async def test_a_session_moves_to_the_other_backend_and_back(
        both: dict[str, Backend], first: str, second: str) -> None:
    there, back = ("gtx-" + second, "menu"), ("gtx-" + first, "menu")
    a, b = both[first], both[second]
    a.answer("menu.start", handoff_to(there, "menu.media", vars={"lang": "fr"}))
    a.answer("menu.media", handoff_to(back, "menu.end", vars={"visits": 2}))
    a.answer("menu.end", {"actions": [{"action": "play", "files": "goodbye"}]})

    leg1 = await a.call()
    leg2 = await continued(b, leg1, there)
    leg3 = await continued(a, leg2, back)

    assert [(r.methods, r.backend) for r in (leg1, leg2, leg3)] == [
        (["menu.start"], first), (["menu.media"], second), (["menu.end"], first)]
    step2, step3 = leg2.requests[0], leg3.requests[0]
    for request, step, variables in ((step2, 2, {"lang": "fr"}),
                                     (step3, 3, {"lang": "fr", "visits": 2})):
        assert (request["session"], request["step"], request["resumed"]) == ("s1", step, False)
        assert request["vars"] == variables
        assert request["result"]["moved"] == MOVED
        assert request["uniqueid"] == leg1.record.uniqueid
    assert [leg.heard for leg in (leg1, leg2, leg3)] == [["welcome"], ["welcome"],
                                                         ["goodbye"]]
    assert [leg.outcome.status for leg in (leg1, leg2, leg3)] == ["HANDOFF", "HANDOFF", "DONE"]
    assert leg3.variables["GTX_STATUS"] == "DONE"
    assert leg3.hung_up_by == "gtx"
