"""Faults and races around confirmation: never a second reservation, nothing lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_customer, make_event, problem
from tests.integration.holds.conftest import age_hold
from ticketing.auth.tokens import TokenService
from ticketing.cache.redis import Redis
from ticketing.customers.service import CustomerService
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.service import HoldService
from ticketing.reservations.service import ReservationService

Client = AsyncTestClient[Any]


class Side:
    """The same services as the app's, on the test's loop: a second API process, in effect."""

    def __init__(self, parts: tuple[HoldEngine, Redis, Database]) -> None:
        self.engine, self.redis, db = parts
        holds = HoldService(db, self.redis, engine=self.engine)
        self.reservations = ReservationService(
            db,
            holds,
            CustomerService(
                db, TokenService(self.redis, admin_token="a" * 32, ttl_seconds=60), holds
            ),
        )


@pytest.fixture
def side(app_engine_parts: tuple[HoldEngine, Redis, Database]) -> Side:
    return Side(app_engine_parts)


async def _hold(client: Client, event_id: str, customer: Any, quantity: int) -> dict[str, Any]:
    response = await client.post(
        f"/events/{event_id}/holds", json={"quantity": quantity}, headers=customer.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _live_reservations_per_seat(pg: Any, event_id: str) -> dict[str, int]:
    rows = await pg.fetch(
        "SELECT rs.seat_id, count(*) FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id"
        " WHERE s.event_id = $1 AND NOT rs.cancelled GROUP BY rs.seat_id",
        uuid.UUID(event_id),
    )
    return {str(r[0]): r[1] for r in rows}


async def _commit_then_crash(
    side: Side, event_id: str, customer_id: str, hold_id: str, fence_ms: int = 30_000
) -> None:
    """Confirm a hold up to its PostgreSQL commit and stop there, as a process that died."""
    event, customer, hold = uuid.UUID(event_id), uuid.UUID(customer_id), uuid.UUID(hold_id)
    fenced = await side.engine.fence(event, hold, customer, fence_ms=fence_ms)
    await side.reservations._commit(event, customer, hold, fenced.seat_ids)


async def test_crash_between_commit_and_redis_never_sells_twice(
    client: Client, pg: Any, side: Side
) -> None:
    event = await make_event(client)
    fan, rival = await make_customer(client), await make_customer(client)
    hold = await _hold(client, event["id"], fan, 2)
    event_id = uuid.UUID(event["id"])
    seat_ids = [s["id"] for s in hold["seats"]]
    await _commit_then_crash(side, event["id"], fan.id, hold["id"], fence_ms=300)
    refused = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": seat_ids}, headers=rival.headers
    )
    problem(refused, 409, "SEATS_UNAVAILABLE")
    # The fence runs out; the sweeper finds the committed reservation and finishes the job.
    for _ in range(40):
        await asyncio.sleep(0.1)
        if not await side.engine.live_holds(event_id):
            break
    assert await side.engine.live_holds(event_id) == []
    refused = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": seat_ids}, headers=rival.headers
    )
    problem(refused, 409, "SEATS_UNAVAILABLE")
    assert all(
        s["status"] == "RESERVED"
        for s in (await client.get(f"/events/{event['id']}/seats")).json()["items"]
        if s["id"] in seat_ids
    )
    assert await _live_reservations_per_seat(pg, event["id"]) == dict.fromkeys(seat_ids, 1)


async def test_crash_and_redis_flush_still_never_sells_twice(
    client: Client, pg: Any, side: Side
) -> None:
    event = await make_event(client)
    fan, rival = await make_customer(client), await make_customer(client)
    hold = await _hold(client, event["id"], fan, 1)
    event_id = uuid.UUID(event["id"])
    await _commit_then_crash(side, event["id"], fan.id, hold["id"])
    keys: list[str | bytes] = list(event_keys(event_id).ordered())
    await side.redis.call(lambda c: c.delete(keys))  # the event's Redis state is lost
    seat_id = hold["seats"][0]["id"]
    refused = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat_id]}, headers=rival.headers
    )
    problem(refused, 409, "SEATS_UNAVAILABLE")  # the mirror was rebuilt from PostgreSQL first
    assert await _live_reservations_per_seat(pg, event["id"]) == {seat_id: 1}


async def test_stale_mirror_lets_a_hold_through_that_confirmation_refuses(
    client: Client, pg: Any, side: Side
) -> None:
    event = await make_event(client)
    fan, rival = await make_customer(client), await make_customer(client)
    first = await _hold(client, event["id"], fan, 1)
    seat_id = first["seats"][0]["id"]
    event_id = uuid.UUID(event["id"])
    await _commit_then_crash(side, event["id"], fan.id, first["id"])
    # Lose the hold but keep a mirror that does not know of the reservation (worst case).
    await side.redis.call(lambda c: c.hdel(event_keys(event_id).holds, [first["id"]]))
    await side.redis.call(lambda c: c.hdel(event_keys(event_id).held, [seat_id]))
    second = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat_id]}, headers=rival.headers
    )
    assert second.status_code == 201  # the hold gets through ...
    refused = await client.post(f"/holds/{second.json()['id']}/reservation", headers=rival.headers)
    body = problem(refused, 409, "SEATS_UNAVAILABLE")  # ... and PostgreSQL refuses the sale
    assert body["unavailableSeatIds"] == [seat_id]
    assert await _live_reservations_per_seat(pg, event["id"]) == {seat_id: 1}
    again = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat_id]}, headers=rival.headers
    )
    problem(again, 409, "SEATS_UNAVAILABLE")  # and the mirror is right again


async def test_confirm_against_release_exactly_one_wins(client: Client, pg: Any) -> None:
    for _ in range(10):
        event = await make_event(client)
        fan = await make_customer(client)
        hold = await _hold(client, event["id"], fan, 2)
        confirm, release = await asyncio.gather(
            client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers),
            client.delete(f"/holds/{hold['id']}", headers=fan.headers),
        )
        sold = await _live_reservations_per_seat(pg, event["id"])
        if confirm.status_code == 201:
            assert release.status_code in (404, 409)
            assert sold == {s["id"]: 1 for s in hold["seats"]}
        else:
            assert release.status_code == 204
            assert confirm.status_code == 409
            assert sold == {}


async def test_confirm_against_expiry_is_all_or_nothing(
    client: Client, pg: Any, side: Side
) -> None:
    for i in range(12):
        event = await make_event(client)
        fan = await make_customer(client)
        hold = await _hold(client, event["id"], fan, 2)
        # Leave the hold a few milliseconds to live, then race the confirmation against it.
        await age_hold(side.redis, uuid.UUID(event["id"]), uuid.UUID(hold["id"]), 60_000 - 3 * i)
        response = await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
        sold = await _live_reservations_per_seat(pg, event["id"])
        seats = {
            s["id"]: s["status"]
            for s in (await client.get(f"/events/{event['id']}/seats")).json()["items"]
        }
        if response.status_code == 201:
            assert sold == {s["id"]: 1 for s in hold["seats"]}
            assert all(seats[s["id"]] == "RESERVED" for s in hold["seats"])
        else:
            problem(response, 409, "HOLD_EXPIRED")
            assert sold == {}
            assert all(seats[s["id"]] == "OPEN" for s in hold["seats"])


async def test_customer_limit_holds_under_parallel_confirmations(client: Client, pg: Any) -> None:
    event = await make_event(client, maxNumSeats=2)
    fan = await make_customer(client)
    hold = await _hold(client, event["id"], fan, 2)
    results = await asyncio.gather(
        *(client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers) for _ in range(8))
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 7
    assert len(await _live_reservations_per_seat(pg, event["id"])) == 2
    assert (await client.get(f"/customers/{fan.id}/reservations", headers=ADMIN)).json()["items"][
        0
    ]["seats"]
