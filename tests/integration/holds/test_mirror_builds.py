"""A mirror is built once per event, however many ask for it together, and before its fans.

A crowd arriving at an event with no mirror (new, changed, or after Redis lost it) used to
build it once per request: a hundred snapshots of the same event read from PostgreSQL and
encoded in the first second of an onsale. Two engines here stand for two server processes
on one Valkey; the snapshot reader counts what it is asked for.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from tests.conftest import ADMIN, make_event
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.service import HoldService

from .best import Place, Snapshots

ORDER = [Place(f"r{r}-{n}", "S", f"R{r}", n) for r in range(10) for n in range(1, 21)]


async def _forget(redis: Redis, event_id: UUID) -> None:
    keys: list[str | bytes] = list(event_keys(event_id).ordered())
    await redis.call(lambda c: c.delete(keys))


async def test_a_crowd_on_a_cold_event_builds_its_mirror_once(redis: Redis) -> None:
    snapshots = Snapshots()
    event_id, ids = snapshots.add(ORDER, {p.seat for p in ORDER})
    processes = [HoldEngine(redis, snapshots), HoldEngine(redis, snapshots)]
    seats = [ids[p.seat] for p in ORDER]
    try:
        placed = await asyncio.gather(
            *(
                processes[n % 2].hold_seats(event_id, uuid.uuid4(), uuid.uuid4(), [seats[n]])
                for n in range(120)
            )
        )
    finally:
        await _forget(redis, event_id)
    assert sorted(p.seat_ids[0] for p in placed) == sorted(seats[:120])
    assert snapshots.loads[event_id] == 1
    assert sum(e.builds_made for e in processes) == 1


async def test_a_builder_that_dies_passes_the_build_on(redis: Redis) -> None:
    """A process took the build lock and died: the others wait for the lock to run out (not
    for ever, and without building beside it), then one of them builds."""
    snapshots = Snapshots()
    event_id, ids = snapshots.add(ORDER, {p.seat for p in ORDER})
    lock = event_keys(event_id).building
    await redis.call(lambda c: c.custom_command(["SET", lock, "dead-process", "PX", "400"]))
    engine = HoldEngine(redis, snapshots)
    try:
        started = asyncio.get_running_loop().time()
        placed = await asyncio.gather(
            *(
                engine.hold_seats(event_id, uuid.uuid4(), uuid.uuid4(), [ids[p.seat]])
                for p in ORDER[:20]
            )
        )
        waited = asyncio.get_running_loop().time() - started
    finally:
        await _forget(redis, event_id)
    assert len(placed) == 20
    assert snapshots.loads[event_id] == 1
    assert waited < 6  # one lock's time (3 s) and a margin, never a hang


async def test_a_new_or_changed_event_has_its_mirror_before_its_first_fan(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, _ = app_engine_parts
    event = await make_event(client)
    event_id = UUID(event["id"])
    assert await _eventually(lambda: engine.mirrored(event_id))
    response = await client.patch(
        f"/events/{event_id}", json={"maxNumSeats": 5}, headers={**ADMIN, "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert await _eventually(lambda: engine.mirrored(event_id))
    meta = await redis.call(lambda c: c.hget(event_keys(event_id).meta, "max"))
    assert meta == b"5"  # built from the change, not kept from before it


async def test_upcoming_events_are_built_again_after_redis_loses_them(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, db = app_engine_parts
    # (Sooner than any other test's event, so among the upcoming ones whatever ran before.)
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    soon = await make_event(client, eventDateTimeStamp=in_an_hour.isoformat())
    past = await make_event(client, eventDateTimeStamp="2020-01-01T20:00:00Z")
    for event in (soon, past):
        assert await _eventually(lambda e=event: engine.mirrored(UUID(e["id"])))
        await _forget(redis, UUID(event["id"]))  # as after a flush or a restart without disk
    holds = HoldService(db, redis, engine=engine)
    await holds.warm_upcoming()
    assert await engine.mirrored(UUID(soon["id"]))
    assert not await engine.mirrored(UUID(past["id"]))  # a past event stays cold


async def _eventually(check: Any, seconds: float = 3.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_many_mirrors_are_checked_in_one_step_as_one_by_one(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    engine, redis, _ = app_engine_parts
    built, dropped = await make_event(client), await make_event(client)
    for event in (built, dropped):
        assert await _eventually(lambda e=event: engine.mirrored(UUID(e["id"])))
    await _forget(redis, UUID(dropped["id"]))
    unknown = uuid.uuid4()
    asked = [UUID(built["id"]), UUID(dropped["id"]), unknown]
    ready = await engine.mirrored_many(asked)
    assert ready == {e for e in asked if await engine.mirrored(e)} == {UUID(built["id"])}
