"""The sweeper follows activity, not history: it visits the events whose holds are due,
found through one index across events, not every event that ever had a mirror."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.conftest import make_customer, make_event, reserve_directly, seats_of
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine
from ticketing.holds.lifecycle import HoldEvents
from ticketing.holds.models import SeatsUnavailable
from ticketing.holds.sweeper import Sweeper

from .conftest import age_hold, sweeping_alone


async def _settle(event_id: UUID, hold_id: UUID) -> None:
    """(A pass over every event may meet a confirmation another test let die: settling it is
    not what is tested here, and the service's own sweeper settles it once this one is done,
    since the event is left due.)"""


async def _idle_events(client: Any, engine: HoldEngine, n: int) -> set[UUID]:
    """Events with a mirror (built as they are created) and no hold."""
    events = {UUID((await make_event(client))["id"]) for _ in range(n)}
    for _ in range(60):
        if all([await engine.mirrored(e) for e in events]):
            return events
        await asyncio.sleep(0.05)
    raise AssertionError("the new events' mirrors were not built")


async def test_the_sweeper_visits_only_the_events_whose_holds_are_due(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    _, redis, _ = app_engine_parts
    engine = HoldEngine(redis, app_engine_parts[0]._load_snapshot)  # this test's process
    idle = await _idle_events(client, engine, 20)
    event = await make_event(client)
    event_id = UUID(event["id"])
    seat = (await seats_of(client, event["id"]))[0]["id"]
    fan = await make_customer(client)
    hold_id = uuid4()
    await engine.hold_seats(event_id, UUID(fan.id), hold_id, [seat])
    async with sweeping_alone(redis):
        await age_hold(redis, event_id, hold_id, 3_600_000)  # it ran out an hour ago
        await Sweeper(engine, redis, HoldEvents(), _settle).sweep_due()
    assert await engine.live_holds(event_id) == []
    active = set(await engine.active_events(60))
    assert event_id in active
    assert not active & idle, "the sweeper visited events with nothing due"


async def test_every_so_often_the_sweeper_visits_every_event_all_the_same(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    """(In case a sweeper died between taking an event out of the index and putting it
    back.)"""
    _, redis, _ = app_engine_parts
    engine = HoldEngine(redis, app_engine_parts[0]._load_snapshot)
    idle = await _idle_events(client, engine, 5)
    async with sweeping_alone(redis):
        await Sweeper(engine, redis, HoldEvents(), _settle).sweep_every()
    assert idle <= engine.swept_at.keys()
    # ... and a visit that found nothing to do does not make an event active (the audit
    # would otherwise follow every event ever sold after each pass).
    assert not idle & set(await engine.active_events(60))


async def test_an_unused_mirror_is_let_go_and_comes_back_right(
    client: Any, pg: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    """A past event: holds came and went, a seat was sold. Its mirror, unused, is let go by
    the sweeper (Redis keeps what is active); the next hold builds it again from PostgreSQL,
    so the sold seat is still not holdable."""
    _, redis, _ = app_engine_parts
    engine = HoldEngine(redis, app_engine_parts[0]._load_snapshot)
    (event_id,) = await _idle_events(client, engine, 1)
    seats = [s["id"] for s in await seats_of(client, str(event_id))]
    fan = await make_customer(client)
    hold_id = uuid4()
    await engine.hold_seats(event_id, UUID(fan.id), hold_id, seats[:2])
    await engine.release(event_id, hold_id, None)
    await reserve_directly(pg, fan.id, [seats[2]], mirror_unaware=True)
    async with sweeping_alone(redis):
        await engine.build_mirror(event_id)  # (a mirror that knows the sale)
        sweeper = Sweeper(engine, redis, HoldEvents(), _settle)
        await sweeper.sweep_every()  # used a moment ago: kept
        assert await engine.mirrored(event_id)
        await sweeper.sweep_every(idle_ms=1)  # as ten minutes later
        assert not await engine.mirrored(event_id)
        assert event_id not in await engine.swept_events()
        with pytest.raises(SeatsUnavailable):
            await engine.hold_seats(event_id, UUID(fan.id), uuid4(), [seats[2]])
        placed = await engine.hold_seats(event_id, UUID(fan.id), uuid4(), [seats[3]])
    assert placed.seat_ids == [seats[3]]
    assert event_id in await engine.swept_events()


async def test_a_past_events_mirror_is_let_go_once_its_holds_are_gone(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    _, redis, _ = app_engine_parts
    engine = HoldEngine(redis, app_engine_parts[0]._load_snapshot)
    # (Its sales window still open, as for a fan whose hold outlived the show's start.)
    event = await make_event(
        client, eventDateTimeStamp="2020-05-01T20:00:00Z", salesEndAt="2099-01-01T00:00:00Z"
    )
    event_id = UUID(event["id"])
    seat = (await seats_of(client, event["id"]))[0]["id"]
    fan = await make_customer(client)
    hold_id = uuid4()
    await engine.hold_seats(event_id, UUID(fan.id), hold_id, [seat])
    async with sweeping_alone(redis):
        sweeper = Sweeper(engine, redis, HoldEvents(), _settle)
        await sweeper.sweep_every()
        assert await engine.mirrored(event_id)  # a hold is still on it
        await engine.release(event_id, hold_id, None)
        await sweeper.sweep_every()
    assert not await engine.mirrored(event_id)
