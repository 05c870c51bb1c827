"""Driving gtx and the emulated ARI server deterministically, on a ``task.Clock``.

REST requests and WebSocket events travel over real loopback sockets on the reactor, while
call time (the emulated media, gtx's own timers) runs on a ``Clock`` shared by both.
:func:`run_until` alternates the two: it lets the reactor run until the system is quiet, then
moves the Clock to its next delayed call, until the awaited Deferred fires::

    record = await run_until(server.stasis_call(spec, "wait 2; press 1"), clock=clock,
                             reactor=reactor, server=server, links=[link])

Once it fires, the system is let settle (without moving the Clock) before the result is
returned, so that what the end of the call sent has arrived.

Quiet means: the server answers no request, every link has no request in flight
(``link.in_flight == 0``) and has dispatched every event the server sent
(``sum(link.events.dispatched) == server.events_sent``) — for a few turns in a row. When the
counters stop moving without adding up (events lost with a dropped WebSocket, a request that
will only time out on the Clock) the system counts as quiet after ``stall_turns`` turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock, deferLater
from twisted.python.failure import Failure

from gtx.testing.ari_server import EmulatedARIServer

T = TypeVar("T")
#: Quiet turns in a row before the Clock moves.
SETTLE_TURNS = 3
#: Turns without progress after which the system counts as quiet anyway.
STALL_TURNS = 20


class Link(Protocol):
    """What :func:`run_until` reads of an ARI link (``gtx.asterisk.ari_link``'s has it)."""

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet."""

    @property
    def events(self) -> Any:
        """The event router (its ``dispatched`` counts the events handed out)."""


class NothingLeftToHappen(RuntimeError):
    """:func:`run_until` found the system quiet, no delayed call on the Clock, and the
    awaited Deferred still not fired."""


def run_until(
    d: Deferred[T],
    *,
    clock: Clock,
    reactor: IReactorTime,
    server: EmulatedARIServer,
    links: Sequence[Link] = (),
    timeout_turns: int = 200_000,
    stall_turns: int = STALL_TURNS,
) -> Deferred[T]:
    """Fire with ``d``'s result once it fires (see the module docstring); fail with
    :class:`NothingLeftToHappen` when nothing can make it fire, or ``TimeoutError`` after
    ``timeout_turns`` reactor turns."""
    return Deferred.fromCoroutine(
        _drive(d, clock, reactor, server, list(links), timeout_turns, stall_turns))


def _counters(server: EmulatedARIServer, links: list[Link]) -> tuple[int, ...]:
    return (server.requests_in_flight, len(server.requests), server.events_sent,
            *(link.in_flight for link in links),
            *(link.events.dispatched for link in links))


def _quiet(server: EmulatedARIServer, links: list[Link]) -> bool:
    dispatched = sum(link.events.dispatched for link in links)
    return (server.requests_in_flight == 0
            and all(link.in_flight == 0 for link in links)
            and (not links or dispatched >= server.events_sent))


async def _drive(d: Deferred[T], clock: Clock, reactor: IReactorTime,
                 server: EmulatedARIServer, links: list[Link], timeout_turns: int,
                 stall_turns: int) -> T:
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    quiet_turns = stalled_turns = 0
    last = _counters(server, links)
    for _ in range(timeout_turns):
        await deferLater(reactor, 0, lambda: None)
        counters = _counters(server, links)
        stalled_turns = stalled_turns + 1 if counters == last else 0
        last = counters
        quiet_turns = quiet_turns + 1 if _quiet(server, links) else 0
        settled = quiet_turns >= SETTLE_TURNS or stalled_turns >= stall_turns
        if outcome:
            if not settled:
                continue  # what the end of the call sent is still on its way
            result = outcome[0]
            if isinstance(result, Failure):
                result.raiseException()
            return result  # type: ignore[no-any-return]
        if not settled:
            continue
        calls = clock.getDelayedCalls()
        if not calls:
            if stalled_turns >= stall_turns:
                raise NothingLeftToHappen(
                    "run_until: the system is quiet, the Clock has no delayed call and the "
                    "awaited Deferred has not fired")
            continue
        due = min(call.getTime() for call in calls)
        clock.advance(max(due - clock.seconds(), 0.0))
        quiet_turns = stalled_turns = 0
    raise TimeoutError(f"run_until: the Deferred did not fire in {timeout_turns} turns")
