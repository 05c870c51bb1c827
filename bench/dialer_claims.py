"""Part of bench/dialer.py: claim throughput of contacts from PostgreSQL.

N claimers, each a process of its own with its own connection (like N gtx nodes on one
database), take every contact of one campaign, ``batch`` at a time, until none is left:

- **gtx**: ``PostgresStore.claim_contacts`` — the store's real transaction (an
  ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``), run through its
  ``adbapi`` pool (one connection) on the process's reactor, rows decoded into ``Contact``s;
- **naive**: the textbook queue, ``SELECT … ORDER BY … LIMIT n FOR UPDATE`` (no SKIP LOCKED)
  then ``UPDATE … WHERE id = ANY(…)`` in one transaction, through an ``adbapi`` pool of one
  connection too, rows returned undecoded. Concurrent claimers queue on the same first rows.

Every run starts from the same 20,000 pending contacts (reset and vacuumed between runs) and
checks that the claims are disjoint, cover every contact, and agree with the lease owner the
database recorded for each contact: zero duplicates, or the run fails.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from typing import Any

import psycopg2

NAIVE_SELECT = (
    "SELECT id, campaign_id, number, timezone, vars, priority, state, attempts,"
    " next_attempt_at, last_outcome, lease_owner, lease_until FROM contacts"
    " WHERE campaign_id = %s AND state = 'pending'"
    " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
    " ORDER BY priority DESC, id LIMIT %s FOR UPDATE"
)
NAIVE_UPDATE = (
    "UPDATE contacts SET state = 'dialing', lease_owner = %s, lease_until = %s"
    " WHERE id = ANY(%s)"
)


def _naive_claim(cursor: Any, campaign_id: int, node: str, limit: int, now: float,
                 lease: float) -> list[int]:
    cursor.execute(NAIVE_SELECT, (campaign_id, now, limit))
    rows = cursor.fetchall()
    ids = [row[0] for row in rows]
    if ids:
        cursor.execute(NAIVE_UPDATE, (node, now + lease, ids))
    return ids


def claimer(system: str, url: str, campaign_id: int, node: str, batch: int,
            barrier: Any, results: Any) -> None:
    """One claimer process: connect, wait for the others, claim until nothing is left, put
    ``(node, ids, started, ended, transactions)`` on ``results``."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from twisted.internet.threads import deferToThread

    async def run() -> tuple[str, list[int], float, float, int]:
        if system == "gtx":
            from gtx.store.postgres import PostgresStore

            store = PostgresStore(url, reactor=reactor, pool_size=1)
            await store.get_campaign(campaign_id)  # connected before the clock starts

            async def claim(now: float) -> list[int]:
                contacts = await store.claim_contacts(campaign_id, node, batch, now, 600.0)
                return [contact.id for contact in contacts]

            close = store.close
        else:
            from twisted.enterprise import adbapi

            pool = adbapi.ConnectionPool("psycopg2", url, cp_min=1, cp_max=1,
                                         cp_reactor=reactor)
            await pool.runQuery("SELECT 1")

            async def claim(now: float) -> list[int]:
                ids: list[int] = await pool.runInteraction(
                    _naive_claim, campaign_id, node, batch, now, 600.0)
                return ids

            def close() -> Deferred[None]:
                pool.close()
                d: Deferred[None] = Deferred()
                d.callback(None)
                return d

        await deferToThread(barrier.wait)
        started = time.monotonic()
        ids: list[int] = []
        transactions = 0
        while True:
            transactions += 1
            claimed = await claim(time.time())
            if not claimed:
                break
            ids.extend(claimed)
        ended = time.monotonic()
        await close()
        return node, ids, started, ended, transactions

    outcome: list[Any] = []

    def finish(result: Any) -> None:
        outcome.append(result)
        reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(run()).addBoth(finish))
    reactor.run()
    result = outcome[0] if outcome else RuntimeError("no result")
    if not isinstance(result, tuple):
        results.put(("error", node, str(getattr(result, "value", result))))
    else:
        results.put(("ok", *result))


@dataclass
class ClaimRun:
    """The figures of one run."""

    system: str
    claimers: int
    contacts: int
    seconds: float
    transactions: int
    duplicates: int

    @property
    def per_second(self) -> float:
        return self.contacts / self.seconds if self.seconds else 0.0


def reset(url: str, campaign_id: int) -> None:
    """Every contact pending again, the dead rows of the last run vacuumed away."""
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("UPDATE contacts SET state = 'pending', lease_owner = NULL,"
                           " lease_until = NULL WHERE campaign_id = %s", (campaign_id,))
            cursor.execute("VACUUM ANALYZE contacts")
    finally:
        connection.close()


def owners(url: str, campaign_id: int) -> dict[int, str | None]:
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT id, lease_owner FROM contacts WHERE campaign_id = %s",
                           (campaign_id,))
            return dict(cursor.fetchall())
    finally:
        connection.close()


def run_claims(system: str, url: str, campaign_id: int, claimers: int, batch: int,
               expected: int, timeout: float = 600.0) -> ClaimRun:
    """One run of ``claimers`` processes of ``system``; raises AssertionError on a duplicate
    or a contact left unclaimed."""
    reset(url, campaign_id)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(claimers)
    results = context.Queue()
    processes = [
        context.Process(target=claimer, args=(system, url, campaign_id, f"{system}-{i}", batch,
                                              barrier, results), daemon=True)
        for i in range(claimers)
    ]
    for process in processes:
        process.start()
    try:
        answers = [results.get(timeout=timeout) for _ in processes]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    errors = [a for a in answers if a[0] != "ok"]
    if errors:
        raise RuntimeError(f"{system} claimers failed: {errors}")
    claimed: list[int] = []
    by_node: dict[int, str] = {}
    for _, node, ids, _, _, _ in answers:
        claimed.extend(ids)
        by_node.update((i, node) for i in ids)
    duplicates = len(claimed) - len(set(claimed))
    assert duplicates == 0, f"{system}: {duplicates} contacts claimed twice"
    assert len(claimed) == expected, f"{system}: {len(claimed)} claimed of {expected}"
    recorded = owners(url, campaign_id)
    wrong = [i for i, node in by_node.items() if recorded.get(i) != node]
    assert not wrong, f"{system}: {len(wrong)} contacts leased to another node than told"
    started = min(a[3] for a in answers)
    ended = max(a[4] for a in answers)
    return ClaimRun(system, claimers, len(claimed), ended - started,
                    sum(a[5] for a in answers), duplicates)


def prepare(url: str, contacts: int) -> int:
    """The schema (the store's migrations) and one campaign with ``contacts`` contacts, added
    through the store; returns the campaign's id. Runs in a process of its own (a reactor)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_prepare, args=(url, contacts, results), daemon=True)
    process.start()
    answer = results.get(timeout=600)
    process.join(10)
    if isinstance(answer, str):
        raise RuntimeError(f"preparing the claim database failed: {answer}")
    return int(answer)


def _prepare(url: str, contacts: int, results: Any) -> None:
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from gtx.dialer.model import CampaignMode, CampaignSpec, ContactInput, OnAnswer
    from gtx.store.postgres import PostgresStore

    async def run() -> int:
        store = PostgresStore(url, reactor=reactor)
        await store.upgrade()
        campaign = await store.create_campaign(CampaignSpec(
            name="claims", mode=CampaignMode.BROADCAST, channel="PJSIP/{number}@trunk",
            on_answer=OnAnswer(context="bench", extension="s")), time.time())
        for first in range(0, contacts, 5000):
            batch = [ContactInput(f"+3361{i:07d}")
                     for i in range(first, min(first + 5000, contacts))]
            await store.add_contacts(campaign.id, batch, time.time())
        await store.close()
        return campaign.id

    def finish(result: Any) -> None:
        results.put(result if isinstance(result, int) else str(result))
        reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(run()).addBoth(finish))
    reactor.run()
