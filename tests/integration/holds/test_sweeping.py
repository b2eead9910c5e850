"""The sweeper follows activity, not history: it visits the events whose holds are due,
found through one index across events, not every event that ever had a mirror."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

from tests.conftest import make_customer, make_event, seats_of
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine
from ticketing.holds.lifecycle import HoldEvents
from ticketing.holds.sweeper import Sweeper

from .conftest import age_hold, sweeping_alone


async def _settle(event_id: UUID, hold_id: UUID) -> None:
    raise AssertionError("no confirmation is in flight here")


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
    assert idle <= set(await engine.active_events(60))
