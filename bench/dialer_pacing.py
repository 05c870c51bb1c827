"""Part of bench/dialer.py: originate rate and pacing accuracy against the emulated AMI.

In a process of its own, on the asyncio reactor (as ``gtx serve`` runs): the real
:class:`~gtx.dialer.engine.Dialer` with the SQLite store, an :class:`AMIOriginator` on an
:class:`AMIClient` connected over TCP (127.0.0.1) to an :class:`EmulatedAMIServer` whose
calls run in zero time (every number answers, talks and hangs up at once, so ``max_concurrent``
never binds and ``max_cps`` alone paces the campaign). For each target rate a broadcast
campaign of ``cps * (seconds + 2)`` contacts is started; the emulated server notes the reactor
time at which each ``Originate`` action reaches it. Over the first ``seconds`` seconds from the
first Originate:

- **achieved** = Originates received / ``seconds``; **ratio** = achieved / target;
- **per-second min / max / stdev** of the Originates received in each of those seconds;
- **max in any 1 s** = the most Originates in any sliding one-second window (the promise is
  that it never exceeds ``max_cps``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from datetime import time as clock_time
from typing import Any


def measure_pacing(rates: list[float], seconds: float, timeout: float = 300.0) -> list[dict[str,
                                                                                           Any]]:
    """Run the pacing measurement in a fresh process; one row per target rate."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_run, args=(rates, seconds, results), daemon=True)
    process.start()
    answer = results.get(timeout=timeout)
    process.join(10)
    if isinstance(answer, str):
        raise RuntimeError(f"the pacing measurement failed: {answer}")
    return list(answer)


def _run(rates: list[float], seconds: float, results: Any) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    def finish(result: Any) -> None:
        results.put(result if isinstance(result, list) else str(
            getattr(result, "getTraceback", lambda: result)()))
        reactor.stop()

    with tempfile.TemporaryDirectory(prefix="gtx-bench-pacing-") as tmp:
        reactor.callWhenRunning(
            lambda: Deferred.fromCoroutine(_measure(reactor, rates, seconds, tmp)).addBoth(finish))
        reactor.run()


class _NoCallbacks:
    """The campaigns have no call-back: nothing is ever sent."""

    def call(self, url: str, method: str, params: Any, *, timeout: float) -> Any:
        raise AssertionError("no call-back expected")


async def _measure(reactor: Any, rates: list[float], seconds: float,
                   tmp: str) -> list[dict[str, Any]]:
    from twisted.internet.endpoints import TCP4ServerEndpoint, clientFromString
    from twisted.internet.task import deferLater

    from gtx.asterisk.ami import AMIClient
    from gtx.asterisk.ami_originator import AMIOriginator
    from gtx.config import DialerSettings
    from gtx.dialer.engine import Dialer
    from gtx.dialer.model import (
        CampaignMode,
        CampaignSpec,
        ContactInput,
        OnAnswer,
        Window,
    )
    from gtx.store import open_store
    from gtx.testing import DialDestination, EmulatedAMIServer, EmulatedAsterisk

    originates: list[float] = []

    class TimedAMIServer(EmulatedAMIServer):
        def action_received(self, session: Any, message: Any) -> None:
            if (message.get("Action") or "").lower() == "originate":
                originates.append(reactor.seconds())
            super().action_received(session, message)

    asterisk = EmulatedAsterisk(reactor, time_scale=0)
    server = TimedAMIServer(asterisk, default_destination=DialDestination.answer(after=1,
                                                                               talk=2))
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(server)
    client = AMIClient("pbx1", clientFromString(reactor, f"tcp:127.0.0.1:{port.getHost().port}"),
                       "gtx", "gtxsecret", clock=reactor)
    originator = AMIOriginator(client, reactor)
    store = open_store(f"sqlite:///{tmp}/dialer.db", reactor=reactor)
    await store.upgrade()
    dialer = Dialer(clock=reactor, store=store, originators={"pbx1": originator}, node="bench",
                    settings=DialerSettings(channel="PJSIP/{number}@trunk"),
                    callback_client=_NoCallbacks(), campaign_poll=1.0)
    client.startService()
    dialer.startService()
    await dialer.ready
    while not client.connected:
        await deferLater(reactor, 0.01)
    always = (Window(frozenset(range(7)), clock_time(0, 0), clock_time(0, 0)),)  # all day
    rows = []
    try:
        for rate in rates:
            originates.clear()
            contacts = int(rate * (seconds + 2))
            campaign = await dialer.create_campaign(CampaignSpec(
                name=f"pacing {rate:g}", mode=CampaignMode.BROADCAST,
                channel="PJSIP/{number}@trunk", max_cps=rate, max_concurrent=10_000,
                on_answer=OnAnswer(context="bench", extension="s"), windows=always))
            for first in range(0, contacts, 1000):
                await dialer.add_contacts(campaign.id, [
                    ContactInput(f"+3362{int(rate):03d}{i:05d}")
                    for i in range(first, min(first + 1000, contacts))])
            await dialer.start(campaign.id)
            deadline = time.monotonic() + seconds + 30
            while not originates or reactor.seconds() < originates[0] + seconds + 0.5:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"campaign at {rate:g} cps started {len(originates)} "
                                       "calls only")
                await deferLater(reactor, 0.05)
            await dialer.stop(campaign.id)
            rows.append(_pacing_row(rate, seconds, list(originates)))
            # Let the calls in flight end before the next campaign.
            settle = time.monotonic() + 30
            while originator.calls and time.monotonic() < settle:
                await deferLater(reactor, 0.05)
    finally:
        await dialer.stopService()
        await deferLater(reactor, 0.5)  # a pacing tick still running ends before the store
        await client.stopService()
        await store.close()
        await port.stopListening()
    return rows


def _pacing_row(rate: float, seconds: float, times: list[float]) -> dict[str, Any]:
    start = times[0]
    inside = [t - start for t in times if t - start < seconds]
    buckets = [0] * int(seconds)
    for offset in inside:
        buckets[min(int(offset), len(buckets) - 1)] += 1
    # The most starts in any window [t, t + 1 s) beginning at a start.
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0 + 1e-9:
            j += 1
        most = max(most, i - j + 1)
    achieved = len(inside) / seconds
    return {
        "target cps": rate,
        "seconds": seconds,
        "calls": len(inside),
        "achieved cps": round(achieved, 2),
        "ratio": round(achieved / rate, 3),
        "per-second min": min(buckets),
        "per-second max": max(buckets),
        "per-second stdev": round(statistics.pstdev(buckets), 2),
        "max in any 1 s": most,
    }
