"""The sweeper turns the holds that ran out into `expired` events, with their owners and
seats, at least once and (while it lives) exactly once."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from tests.conftest import make_event, seats_of
from tests.integration.holds.conftest import age_hold, sweeping_alone
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine
from ticketing.holds.lifecycle import Cause, HoldEvent, HoldEvents, Kind
from ticketing.holds.service import HoldService
from ticketing.holds.sweeper import Sweeper


async def _never_settle(event_id: UUID, hold_id: UUID) -> None:
    raise AssertionError("no confirmation is under way")


async def _event(client: Any) -> tuple[UUID, list[str]]:
    event = await make_event(client)
    return UUID(event["id"]), [s["id"] for s in await seats_of(client, event["id"])]


def _sweeper(engine: HoldEngine, redis: Redis) -> tuple[Sweeper, list[HoldEvent]]:
    told: list[HoldEvent] = []
    events = HoldEvents()
    events.subscribe(told.append)
    return Sweeper(engine, redis, events, _never_settle), told


async def test_expired_holds_become_events_with_owner_and_seats_once(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, _ = app_engine_parts
    event_id, seats = await _event(client)
    sweeper, told = _sweeper(engine, redis)
    owner, other = uuid4(), uuid4()
    async with sweeping_alone(redis):
        first = await engine.hold_seats(event_id, owner, uuid4(), seats[:2])
        kept = await engine.hold_seats(event_id, other, uuid4(), [seats[5]])
        await age_hold(redis, event_id, first.hold_id, 60_001)
        await engine.status(event_id)  # a reader meets it first: released, recorded
        await sweeper.sweep_all()
        mine = [e for e in told if e.event_id == event_id]
        await sweeper.sweep_all()  # acknowledged: not told again
        again = [e for e in told if e.event_id == event_id]
    assert len(mine) == 1
    assert again == mine
    expired = mine[0]
    assert (expired.kind, expired.cause) == (Kind.EXPIRED, Cause.TIMEOUT)
    assert (expired.hold_id, expired.customer_id) == (first.hold_id, owner)
    assert expired.seat_ids == tuple(seats[:2])
    assert expired.at_ms == first.expires_ms - 60_001  # when it ran out, not when swept
    assert expired.sequence > kept.sequence  # after every change before it
    assert [h.hold_id for h in await engine.live_holds(event_id)] == [str(kept.hold_id)]


async def test_a_sweeper_that_dies_before_acknowledging_loses_no_expiry(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, _ = app_engine_parts
    event_id, seats = await _event(client)
    owner = uuid4()
    async with sweeping_alone(redis):
        placed = await engine.hold_seats(event_id, owner, uuid4(), [seats[0]])
        await age_hold(redis, event_id, placed.hold_id, 60_001)
        swept = await engine.sweep(event_id)  # handed on, then the process dies
        assert [e.hold_id for e in swept.expired] == [str(placed.hold_id)]
        successor, told = _sweeper(engine, redis)
        await successor.sweep_all()
    assert [(e.kind, e.hold_id) for e in told if e.event_id == event_id] == [
        (Kind.EXPIRED, placed.hold_id)
    ]


async def test_a_confirmation_is_told_once_redis_clears_it_or_whenever_the_customer_committed(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, db = app_engine_parts
    told: list[HoldEvent] = []
    holds = HoldService(db, redis, engine=engine, events=HoldEvents())
    holds.events.subscribe(told.append)
    event_id, seats = await _event(client)
    owner, reservation = uuid4(), uuid4()
    placed = await engine.hold_seats(event_id, owner, uuid4(), seats[:2])
    fenced = await holds.fence(event_id, placed.hold_id, owner)
    # The sweeper settles a confirmation whose process died after the commit ...
    await holds.confirmed(event_id, placed.hold_id, reservation)
    # ... so a second settle finds nothing to clear, and tells nothing ...
    await holds.confirmed(event_id, placed.hold_id, reservation)
    # ... while the customer's own confirmation, which did commit, is told whatever Redis says.
    await holds.confirmed(event_id, placed.hold_id, reservation, fenced=fenced)
    assert [(e.kind, e.cause) for e in told] == [
        (Kind.CONFIRMED, Cause.SETTLED),
        (Kind.CONFIRMED, Cause.CUSTOMER),
    ]
    settled, own = told
    assert settled.sequence > placed.sequence
    assert own.sequence == 0  # Redis had nothing to clear: no change to order it by
    for fact in told:
        assert (fact.hold_id, fact.customer_id, fact.reservation_id) == (
            placed.hold_id,
            owner,
            reservation,
        )
        assert fact.seat_ids == tuple(seats[:2])


async def test_overlapping_sweeps_remove_only_what_each_handed_on(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, _ = app_engine_parts
    event_id, seats = await _event(client)
    async with sweeping_alone(redis):
        first = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[0]])
        later = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[1]])
        await age_hold(redis, event_id, first.hold_id, 60_001)
        old_sweep = await engine.sweep(event_id)  # a sweeper whose lease is running out
        await age_hold(redis, event_id, later.hold_id, 60_001)
        new_sweep = await engine.sweep(event_id)  # its successor, already at work
        await engine.acknowledge(event_id, old_sweep)
        await engine.acknowledge(event_id, new_sweep)
        left = await engine.sweep(event_id)
    assert [e.hold_id for e in old_sweep.expired] == [str(first.hold_id)]
    assert [e.hold_id for e in new_sweep.expired] == [str(first.hold_id), str(later.hold_id)]
    assert left.expired == []  # both handed on, both removed, none twice and none lost

    async with sweeping_alone(redis):
        third = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[2]])
        await age_hold(redis, event_id, third.hold_id, 60_001)
        seen_early = await engine.sweep(event_id)
        fourth = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[3]])
        await age_hold(redis, event_id, fourth.hold_id, 60_001)
        await engine.status(event_id)  # the fourth is recorded after the early sweep
        await engine.acknowledge(event_id, seen_early)
        rest = await engine.sweep(event_id)
        await engine.acknowledge(event_id, rest)
    assert [e.hold_id for e in rest.expired] == [str(fourth.hold_id)]
