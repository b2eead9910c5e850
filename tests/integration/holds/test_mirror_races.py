"""A mirror rebuild racing an admin change, with the interleaving forced: the change's drop
of the mirror lands while a build is under way, at each step of the build. Nothing built
from rows the change replaced may stay, and no mirror may be a header without seats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

from tests.conftest import make_event, seats_of
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds import repository
from ticketing.holds.engine import HoldEngine
from ticketing.holds.models import MirrorSeat, MirrorSnapshot

from .conftest import sweeping_alone


async def _event(client: Any, engine: HoldEngine) -> tuple[UUID, list[str]]:
    """A new event whose mirror the service has built ahead of fans (as it does when an
    event is created): the forced interleavings below must not race that build."""
    event = await make_event(client, seating={"price": 10})
    event_id = UUID(event["id"])
    for _ in range(100):
        if await engine.mirrored(event_id):
            break
        await asyncio.sleep(0.03)
    return event_id, [s["id"] for s in await seats_of(client, event["id"])]


async def test_a_snapshot_read_before_an_admin_change_is_never_loaded(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    probe, redis, db = app_engine_parts
    event_id, seats = await _event(client, probe)
    reads = 0

    async def load(event: UUID) -> MirrorSnapshot | None:
        """The first read sees the rows before a repricing, which then commits and drops
        the mirror before this build writes it."""
        nonlocal reads
        reads += 1
        async with db.connection() as conn:
            snapshot = await repository.mirror_snapshot(conn, event)
        assert snapshot is not None
        if reads == 1:
            await engine.invalidate(event)  # the admin change, committed meanwhile
            stale = [
                (seat, MirrorSeat.unpack(packed)._replace(price="99.00").pack())
                for seat, packed in snapshot.seats
            ]
            return replace(snapshot, seats=stale)
        return snapshot

    engine = HoldEngine(redis, load)
    async with sweeping_alone(redis):  # (and so no warmer builds the mirror meanwhile)
        await engine.invalidate(event_id)
        placed = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[0]])
    assert reads == 2  # the stale build was refused and the mirror read again
    assert placed.seats[0].price == "10.00"


class _DropAfter(HoldEngine):
    """An engine whose mirror is dropped right after one script, once, as an admin change
    in another process would."""

    def __init__(self, redis: Redis, load: Any, after: str) -> None:
        super().__init__(redis, load)
        self.after: str | None = after

    async def _run(
        self, name: str, event_id: UUID, *args: str, extra_keys: Sequence[str] = ()
    ) -> list[str]:
        reply = await super()._run(name, event_id, *args, extra_keys=extra_keys)
        if name == self.after:
            self.after = None
            await super()._run("forget", event_id, "1", "0")
        return reply


async def test_a_drop_between_load_and_register_leaves_no_empty_mirror(
    client: Any, app_engine_parts: tuple[HoldEngine, Redis, Database]
) -> None:
    probe, redis, db = app_engine_parts
    event_id, seats = await _event(client, probe)

    async def load(event: UUID) -> MirrorSnapshot | None:
        async with db.connection() as conn:
            return await repository.mirror_snapshot(conn, event)

    engine = _DropAfter(redis, load, after="load")
    async with sweeping_alone(redis):  # (and so no warmer builds the mirror meanwhile)
        await engine.invalidate(event_id)
        placed = await engine.hold_seats(event_id, uuid4(), uuid4(), [seats[0]])
    assert engine.after is None  # the drop did land between the two steps
    assert placed.seat_ids == [seats[0]]
    status = await engine.status(event_id)
    assert sorted(status.seats) == sorted(seats)  # a whole mirror, not a bare header
