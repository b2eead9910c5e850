"""The service on a real three-master Valkey cluster (TICKETING_REDIS_CLUSTER=true): the whole
hold life — hold, stream, extend, confirm, release, expiry by the sweeper — and an onsale
rush in which every seat is sold once, with PostgreSQL as the judge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN, event_body
from tests.e2e.conftest import serving_process
from tests.e2e.sse import open_stream
from ticketing.embedded import EmbeddedStack, EmbeddedValkeyCluster


@pytest.fixture(scope="module")
def on_cluster(
    stack: EmbeddedStack,
    valkey_cluster: EmbeddedValkeyCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    with serving_process(
        stack,
        tmp_path_factory.mktemp("on-cluster"),
        workers=2,
        REDIS_URL=valkey_cluster.url,
        TICKETING_REDIS_CLUSTER="true",
    ) as server:
        yield server.base_url


@pytest.fixture
async def http(on_cluster: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=on_cluster, timeout=15) as client:
        yield client


async def _event(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    made = await http.post("/events", headers=ADMIN, json=event_body(**{"numSeats": 20, **body}))
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


async def _fan(http: httpx.AsyncClient) -> dict[str, str]:
    made = await http.post("/customers", headers=ADMIN, json={"firstName": "F", "lastName": "C"})
    assert made.status_code == 201, made.text
    return {"Authorization": "Bearer " + made.json()["token"]}


async def test_a_hold_lives_its_whole_life_on_the_cluster(
    http: httpx.AsyncClient, pg: asyncpg.Connection
) -> None:
    event = await _event(http, seatHoldTime=10)
    fan = await _fan(http)
    async with open_stream(http, event["id"]) as stream:
        assert (await stream.next_of("snapshot")).data["counts"]["open"] == 20
        held = await http.post(
            f"/events/{event['id']}/holds", json={"quantity": 2, "adjacent": True}, headers=fan
        )
        assert held.status_code == 201, held.text
        hold = held.json()
        change = await stream.next_of("seats")
        assert change.data["change"] == "held"
        assert sorted(change.data["seatIds"]) == sorted(s["id"] for s in hold["seats"])
        assert (await http.get(f"/holds/{hold['id']}", headers=fan)).status_code == 200
        extended = await http.post(f"/holds/{hold['id']}/extend", headers=fan)
        assert extended.status_code == 200, extended.text
        assert (await stream.next_of("seats")).data["change"] == "extended"
        confirmed = await http.post(f"/holds/{hold['id']}/reservation", headers=fan)
        assert confirmed.status_code == 201, confirmed.text
        assert (await stream.next_of("seats")).data["change"] == "reserved"
        rows = await pg.fetchval(
            "SELECT count(*) FROM reservation_seats WHERE reservation_id = $1::uuid",
            confirmed.json()["id"],
        )
        assert rows == 2

        released = await http.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan
        )
        assert released.status_code == 201
        assert (await stream.next_of("seats")).data["change"] == "held"
        assert (
            await http.delete(f"/holds/{released.json()['id']}", headers=fan)
        ).status_code == 204
        assert (await stream.next_of("seats")).data["change"] == "released"

        lapsing = await http.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan)
        assert lapsing.status_code == 201
        assert (await stream.next_of("seats")).data["change"] == "held"
        # The sweeper on the cluster frees it within a second of its expiry.
        expired = await stream.next_of("seats", within=13)
        assert expired.data["change"] == "expired"
    counts = (await http.get(f"/events/{event['id']}/availability")).json()
    assert (counts["open"], counts["onHold"], counts["reserved"]) == (18, 0, 2)
    assert (await http.get(f"/events/{event['id']}/open-count")).json() == {"openSeats": 18}


async def test_an_onsale_rush_on_the_cluster_sells_every_seat_once(
    http: httpx.AsyncClient, pg: asyncpg.Connection
) -> None:
    events = [await _event(http, numSeats=12, maxNumSeats=2) for _ in range(3)]
    fans = await asyncio.gather(*(_fan(http) for _ in range(40)))

    async def buy(fan: dict[str, str], event: dict[str, Any]) -> int:
        held = await http.post(f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan)
        if held.status_code != 201:
            assert held.status_code == 409, held.text
            return 0
        done = await http.post(f"/holds/{held.json()['id']}/reservation", headers=fan)
        assert done.status_code == 201, done.text
        return 2

    sold = await asyncio.gather(*(buy(f, e) for f in fans for e in events))
    assert sum(sold) == 36  # every seat of the three events
    for event in events:
        row = await pg.fetchrow(
            "SELECT count(*) AS seats, count(DISTINCT seat_id) AS distinct_seats"
            " FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id"
            " WHERE s.event_id = $1::uuid",
            event["id"],
        )
        assert (row["seats"], row["distinct_seats"]) == (12, 12)
