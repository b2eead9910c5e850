"""The hold engine against real Valkey and PostgreSQL: each rule, then races."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.conftest import make_customer, make_event, reserve_directly, seats_of
from tests.integration.holds.conftest import age_hold, sweeping_alone
from ticketing.cache.redis import Redis
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.models import (
    ExpiredHold,
    ExtendLimit,
    Fenced,
    HoldGone,
    LimitExceeded,
    NoneAvailable,
    NotOwner,
    SeatsUnavailable,
    UnknownSeats,
)


async def _event(client: Any, **kw: Any) -> tuple[UUID, list[str]]:
    event = await make_event(client, **kw)
    return UUID(event["id"]), [s["id"] for s in await seats_of(client, event["id"])]


def _held(live: list[Any]) -> dict[str, str]:
    return {h.seat_id: h.hold_id for h in live}


async def test_second_customer_cannot_hold_a_held_seat(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    a, b = uuid4(), uuid4()
    placed = await engine.hold_seats(event, a, uuid4(), seats[:2])
    assert placed.seat_ids == seats[:2]
    assert placed.expires_ms - placed.created_ms == 60_000
    with pytest.raises(SeatsUnavailable) as refused:
        await engine.hold_seats(event, b, uuid4(), [seats[2], seats[1]])
    assert refused.value.seat_ids == [seats[1]]
    held = _held(await engine.live_holds(event))
    assert held == {seats[0]: str(placed.hold_id), seats[1]: str(placed.hold_id)}  # all or nothing


async def test_unknown_and_foreign_seats_are_refused(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    _, other_seats = await _event(client)
    with pytest.raises(UnknownSeats) as refused:
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0], other_seats[0], str(uuid4())])
    assert len(refused.value.seat_ids) == 2
    assert await engine.live_holds(event) == []


async def test_limit_counts_held_and_reserved_seats(
    client: Any, engine: HoldEngine, pg: Any
) -> None:
    event, seats = await _event(client, maxNumSeats=3)
    customer = await make_customer(client)
    cid = UUID(customer.id)
    await reserve_directly(pg, customer.id, [seats[0]])
    await engine.hold_seats(event, cid, uuid4(), [seats[1]])
    with pytest.raises(LimitExceeded) as refused:
        await engine.hold_seats(event, cid, uuid4(), seats[2:4])
    assert (refused.value.already, refused.value.maximum) == (2, 3)
    await engine.hold_seats(event, cid, uuid4(), [seats[2]])


async def test_reserved_seat_is_never_offered(client: Any, engine: HoldEngine, pg: Any) -> None:
    event, seats = await _event(client, numSeats=10, seating={"assignedSeating": False})
    owner = await make_customer(client)
    await reserve_directly(pg, owner.id, seats[:9])
    with pytest.raises(SeatsUnavailable):
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])
    best = await engine.hold_best(event, uuid4(), uuid4(), 1, None, adjacent=True)
    assert best.seat_ids == [seats[9]]
    with pytest.raises(NoneAvailable):
        await engine.hold_best(event, uuid4(), uuid4(), 1, None, adjacent=False)


async def test_mirror_is_rebuilt_after_redis_loses_it(
    client: Any, engine: HoldEngine, redis: Redis, pg: Any
) -> None:
    event, seats = await _event(client)
    await engine.hold_seats(event, uuid4(), uuid4(), [seats[5]])  # mirror built
    owner = await make_customer(client)
    await reserve_directly(pg, owner.id, [seats[0]])
    keys: list[str | bytes] = list(event_keys(event).ordered())
    await redis.call(lambda c: c.delete(keys))  # as after a flush: mirror and holds gone
    with pytest.raises(SeatsUnavailable):
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])
    placed = await engine.hold_seats(event, uuid4(), uuid4(), [seats[5]])
    assert placed.seat_ids == [seats[5]]


async def test_best_available_is_cheapest_then_front_and_adjacent(
    client: Any, engine: HoldEngine
) -> None:
    seating = {
        "sections": [
            {"name": "FRONT", "price": 90, "rows": [{"name": "A", "seats": 5}]},
            {
                "name": "BACK",
                "price": 30,
                "rows": [{"name": "A", "seats": 3}, {"name": "B", "seats": 4}],
            },
        ]
    }
    event = await make_event(client, numSeats=12, seating=seating)
    event_id = UUID(event["id"])
    seats = {
        (s["section"], s["row"], s["seatNumber"]): s["id"]
        for s in await seats_of(client, event["id"])
    }
    # BACK A2 taken: the first side-by-side three in the cheapest section are in row B.
    await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[("BACK", "A", 2)]])
    three = await engine.hold_best(event_id, uuid4(), uuid4(), 3, None, adjacent=True)
    assert three.seat_ids == [seats[("BACK", "B", n)] for n in (1, 2, 3)]
    scattered = await engine.hold_best(event_id, uuid4(), uuid4(), 3, None, adjacent=False)
    assert scattered.seat_ids == [
        seats[("BACK", "A", 1)],
        seats[("BACK", "A", 3)],
        seats[("BACK", "B", 4)],
    ]
    front = await engine.hold_best(event_id, uuid4(), uuid4(), 2, "FRONT", adjacent=True)
    assert front.seat_ids == [seats[("FRONT", "A", 1)], seats[("FRONT", "A", 2)]]
    with pytest.raises(NoneAvailable):
        await engine.hold_best(event_id, uuid4(), uuid4(), 4, "FRONT", adjacent=True)


async def test_best_available_compares_prices_as_numbers(client: Any, engine: HoldEngine) -> None:
    # As text, "100.00" sorts before "9.50": the cheapest seat must still come first, and
    # seats of one price front to back (position 10 after position 9).
    seating = {
        "sections": [
            {"name": "BOX", "price": 100, "rows": [{"name": "A", "seats": 2}]},
            {"name": "STALLS", "price": 9.5, "rows": [{"name": "A", "seats": 11}]},
        ]
    }
    event = await make_event(client, numSeats=13, seating=seating)
    event_id = UUID(event["id"])
    seats = {(s["section"], s["seatNumber"]): s["id"] for s in await seats_of(client, event["id"])}
    taken = [
        await engine.hold_best(event_id, uuid4(), uuid4(), 1, None, adjacent=True)
        for _ in range(11)
    ]
    assert [t.seat_ids for t in taken] == [[seats[("STALLS", n)]] for n in range(1, 12)]
    last = await engine.hold_best(event_id, uuid4(), uuid4(), 1, None, adjacent=True)
    assert last.seat_ids == [seats[("BOX", 1)]]


async def test_expired_hold_is_never_reported_and_frees_its_seats(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    event, seats = await _event(client)
    owner = uuid4()
    placed = await engine.hold_seats(event, owner, uuid4(), seats[:2])
    await age_hold(redis, event, placed.hold_id, 60_001)
    assert await engine.live_holds(event) == []  # unswept, yet not reported
    with pytest.raises(HoldGone):
        await engine.extend(event, placed.hold_id, owner)
    taken = await engine.hold_seats(event, uuid4(), uuid4(), seats[:2])
    assert taken.seat_ids == seats[:2]


async def test_sweeper_leaves_nothing_behind(client: Any, engine: HoldEngine, redis: Redis) -> None:
    event, seats = await _event(client)
    customer = uuid4()
    placed = await engine.hold_seats(event, customer, uuid4(), seats[:3])
    async with sweeping_alone(redis):  # no other process's sweeper hands the expiry on
        await age_hold(redis, event, placed.hold_id, 60_001)
        result = await engine.sweep(event)
        unacknowledged = await engine.sweep(event)
        await engine.acknowledge(event, result)
        again = await engine.sweep(event)
    # The hold that ran out is handed on with its owner and seats, and again until the sweep
    # that handed it on is acknowledged (a sweeper dying in between loses nothing); then never.
    ran_out = ExpiredHold(
        str(placed.hold_id), str(customer), seats[:3], placed.expires_ms - 60_001, 0
    )
    assert [replace(e, sequence=0) for e in result.expired] == [ran_out]
    assert result.expired[0].sequence > placed.sequence
    assert unacknowledged.expired == result.expired
    assert (result.next_expiry_ms, result.stale_fenced, result.gone) == (None, [], False)
    assert again.expired == []
    keys = event_keys(event)
    assert await redis.call(lambda c: c.exists([keys.ran_out])) == 0  # handed on
    assert await redis.call(lambda c: c.hlen(keys.held)) == 0
    assert await redis.call(lambda c: c.hlen(keys.holds)) == 0
    assert await redis.call(lambda c: c.zcard(keys.expiry)) == 0
    assert await redis.call(lambda c: c.hget(keys.custheld, str(customer))) is None
    assert event in await engine.swept_events()


async def test_every_script_that_meets_an_expired_hold_records_it_once(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    event, seats = await _event(client)
    a, b = uuid4(), uuid4()
    first = await engine.hold_seats(event, a, uuid4(), [seats[0]])
    second = await engine.hold_seats(event, b, uuid4(), [seats[1], seats[2]])
    async with sweeping_alone(redis):
        await age_hold(redis, event, first.hold_id, 60_001)
        await age_hold(redis, event, second.hold_id, 60_001)
        # A hold attempt meets both first: it releases them, and records each with its owner.
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])
        await engine.status(event)  # meets nothing more
        swept = await engine.sweep(event)
        await engine.acknowledge(event, swept)
    found = {(e.hold_id, e.customer_id, tuple(e.seat_ids)) for e in swept.expired}
    assert found == {
        (str(first.hold_id), str(a), (seats[0],)),
        (str(second.hold_id), str(b), (seats[1], seats[2])),
    }
    assert len(swept.expired) == 2


async def test_extend_stops_at_three_hold_times(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    customer = uuid4()
    placed = await engine.hold_seats(event, customer, uuid4(), [seats[0]])
    first, _ = await engine.extend(event, placed.hold_id, customer)
    second, change = await engine.extend(event, placed.hold_id, customer)
    assert (first, second) == (placed.expires_ms + 60_000, placed.expires_ms + 120_000)
    assert change.seat_ids == [seats[0]]
    with pytest.raises(ExtendLimit) as refused:
        await engine.extend(event, placed.hold_id, customer)
    assert refused.value.latest_ms == placed.created_ms + 180_000
    with pytest.raises(NotOwner):
        await engine.extend(event, placed.hold_id, uuid4())


async def test_release_by_owner_or_admin_only(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    owner = uuid4()
    first = await engine.hold_seats(event, owner, uuid4(), [seats[0]])
    with pytest.raises(NotOwner):
        await engine.release(event, first.hold_id, uuid4())
    released = await engine.release(event, first.hold_id, owner)
    assert (released.customer_id, released.seat_ids) == (str(owner), [seats[0]])
    with pytest.raises(HoldGone):
        await engine.release(event, first.hold_id, owner)
    second = await engine.hold_seats(event, owner, uuid4(), [seats[0]])
    by_admin = await engine.release(event, second.hold_id, None)
    assert (by_admin.customer_id, by_admin.seat_ids) == (str(owner), [seats[0]])
    assert by_admin.sequence > released.sequence > first.sequence


async def test_fenced_hold_outlives_its_expiry_until_settled(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    event, seats = await _event(client)
    owner = uuid4()
    placed = await engine.hold_seats(event, owner, uuid4(), seats[:2])
    fenced = await engine.fence(event, placed.hold_id, owner)
    assert fenced.seat_ids == seats[:2]
    with pytest.raises(Fenced):
        await engine.release(event, placed.hold_id, owner)
    with pytest.raises(Fenced):
        await engine.fence(event, placed.hold_id, owner)
    await age_hold(redis, event, placed.hold_id, 59_000)  # hold time passes while committing
    with pytest.raises(SeatsUnavailable):
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])
    await engine.confirmed(event, placed.hold_id)
    assert await engine.live_holds(event) == []
    with pytest.raises(SeatsUnavailable):  # now mirrored as reserved
        await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])


async def test_unfenced_hold_can_be_confirmed_again(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    owner = uuid4()
    placed = await engine.hold_seats(event, owner, uuid4(), [seats[0]])
    await engine.fence(event, placed.hold_id, owner)
    await engine.unfence(event, placed.hold_id)
    again = await engine.fence(event, placed.hold_id, owner)
    assert again.expires_ms == placed.expires_ms


async def test_many_customers_one_seat_exactly_one_wins(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client)
    await engine.hold_seats(event, uuid4(), uuid4(), [seats[-1]])  # mirror ready
    outcomes = await asyncio.gather(
        *(engine.hold_seats(event, uuid4(), uuid4(), [seats[0]]) for _ in range(200)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, SeatsUnavailable) for o in outcomes if isinstance(o, BaseException))


async def test_cold_event_first_rush_builds_one_mirror_and_one_winner(
    client: Any, engine: HoldEngine
) -> None:
    event, seats = await _event(client)
    outcomes = await asyncio.gather(
        *(engine.hold_seats(event, uuid4(), uuid4(), [seats[0]]) for _ in range(50)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1


async def test_overlapping_multi_seat_holds_never_share_a_seat(
    client: Any, engine: HoldEngine
) -> None:
    import random

    event, seats = await _event(client, numSeats=12)
    pool = seats[:12]
    rng = random.Random(7)
    requests = [rng.sample(pool, rng.randint(1, 4)) for _ in range(300)]
    outcomes = await asyncio.gather(
        *(engine.hold_seats(event, uuid4(), uuid4(), r) for r in requests), return_exceptions=True
    )
    placed = [o for o in outcomes if not isinstance(o, BaseException)]
    claimed = [s for p in placed for s in p.seat_ids]
    assert len(claimed) == len(set(claimed))
    live = _held(await engine.live_holds(event))
    for hold in placed:
        assert {live[s] for s in hold.seat_ids} == {str(hold.hold_id)}


async def test_limit_holds_under_parallel_requests(client: Any, engine: HoldEngine) -> None:
    event, seats = await _event(client, numSeats=30, maxNumSeats=4)
    customer = uuid4()
    outcomes = await asyncio.gather(
        *(engine.hold_seats(event, customer, uuid4(), [s]) for s in seats[:20]),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 4
    assert sum(isinstance(o, LimitExceeded) for o in outcomes) == 16


async def test_a_counter_left_by_an_earlier_version_breaks_nothing(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    """Before lifecycle events, `{ev:E}:expired` was a STRING count: a Redis kept across the
    upgrade may still hold one, and holds, expiries and sweeps must go on around it."""
    event, seats = await _event(client)
    old = f"{{ev:{event}}}:expired"
    await redis.call(lambda c: c.set(old, "3"))
    owner = uuid4()
    async with sweeping_alone(redis):
        placed = await engine.hold_seats(event, owner, uuid4(), [seats[0]])
        await age_hold(redis, event, placed.hold_id, 60_001)
        again = await engine.hold_seats(event, uuid4(), uuid4(), [seats[0]])
        swept = await engine.sweep(event)
        await engine.acknowledge(event, swept)
    assert again.seat_ids == [seats[0]]
    assert [e.hold_id for e in swept.expired] == [str(placed.hold_id)]
    assert await redis.call(lambda c: c.get(old)) == b"3"  # left alone, to expire by itself
