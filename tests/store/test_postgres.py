"""What only PostgreSQL does: several nodes claiming at once, and a database restart."""

from __future__ import annotations

from collections import Counter

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults

from gtx.dialer.model import ContactInput, ContactState
from gtx.store import open_store
from gtx.store.api import Store, StoreUnavailable
from gtx.store.postgres import PostgresStore, public_url
from tests.pg import PostgresCluster, free_port
from tests.store.values import T0, spec

CONTACTS = 2000
CLAIMERS = 8


async def claim_until_empty(store: Store, campaign_id: int, node: str) -> list[int]:
    """A node's dialer loop, reduced to claiming: small batches until nothing is left."""
    claimed: list[int] = []
    while batch := await store.claim_contacts(campaign_id, node, 7, T0, 300):
        claimed.extend(c.id for c in batch)
    return claimed


@pytest_twisted.ensureDeferred
async def test_concurrent_claimers_never_take_the_same_contact(pg_url: str) -> None:
    setup = open_store(pg_url, reactor=reactor)
    await setup.upgrade()
    campaign = await setup.create_campaign(spec(), T0)
    numbers = [f"+3215{i:07d}" for i in range(CONTACTS)]
    result = await setup.add_contacts(
        campaign.id, [ContactInput(n, priority=i % 3) for i, n in enumerate(numbers)], T0
    )
    assert len(result.added) == CONTACTS

    # one pool per node, as separate gtx processes would have
    nodes = [PostgresStore(pg_url, reactor=reactor, pool_size=2) for _ in range(CLAIMERS)]
    try:
        claims = await gatherResults([
            Deferred.fromCoroutine(claim_until_empty(node, campaign.id, f"node{i}"))
            for i, node in enumerate(nodes)
        ])
    finally:
        for node in nodes:
            await node.close()

    every_claim = [contact_id for claimed in claims for contact_id in claimed]
    duplicates = [i for i, n in Counter(every_claim).items() if n > 1]
    assert duplicates == []
    assert len(every_claim) == CONTACTS
    assert sum(1 for claimed in claims if claimed) > 1  # the claimers really competed
    # the store agrees with what each node was handed
    owner = {cid: f"node{i}" for i, claimed in enumerate(claims) for cid in claimed}
    for contact_id in every_claim[::97]:
        contact = await setup.get_contact(contact_id)
        assert (contact.state, contact.lease_owner) == (ContactState.DIALING, owner[contact_id])
    counters = await setup.contact_counters(campaign.id)
    assert (counters["pending"], counters["dialing"]) == (0, CONTACTS)
    await setup.close()


@pytest_twisted.ensureDeferred
async def test_store_comes_back_after_a_database_restart(
    pg_cluster: PostgresCluster, pg_url: str
) -> None:
    store = PostgresStore(pg_url, reactor=reactor, pool_size=4)
    try:
        await store.upgrade()
        campaign = await store.create_campaign(spec(), T0)
        # open a connection in each pool thread
        await gatherResults([store.get_campaign(campaign.id) for _ in range(8)])

        pg_cluster.stop()
        try:
            with pytest.raises(StoreUnavailable):
                await store.get_campaign(campaign.id)  # its connection was closed
            with pytest.raises(StoreUnavailable):
                await store.list_campaigns()  # and the server refuses new ones
        finally:
            pg_cluster.start()

        # every pool thread works again, whichever connection it held
        got = await gatherResults([store.get_campaign(campaign.id) for _ in range(8)])
        assert {c.id for c in got} == {campaign.id}
        await store.add_contacts(campaign.id, [ContactInput("+3215550001")], T0)
        assert (await store.contact_counters(campaign.id))["pending"] == 1
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_unreachable_server_is_unavailable_without_its_password() -> None:
    url = f"postgresql://gtx:s3cret@127.0.0.1:{free_port()}/gtx"
    store = open_store(url, reactor=reactor)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.upgrade()
    finally:
        await store.close()
    assert "s3cret" not in str(raised.value)
    assert public_url(url) in str(raised.value)


def test_public_url_hides_only_the_password() -> None:
    assert public_url("postgresql://gtx:pw@db.example:5433/gtx") == (
        "postgresql://gtx:***@db.example:5433/gtx")
    assert public_url("postgresql://db.example/gtx") == "postgresql://db.example/gtx"
