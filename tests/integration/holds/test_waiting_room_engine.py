"""The waiting room under a crowd, in the hold engine on one Valkey and on a cluster: 20,000
fans join, admitted fans hold and let go while the admitter ticks, and never (after any
hold, not only at admissions) do more fans wait to pick seats than there are open seats:
the open seats cover what every admitted fan may still take. Nobody unadmitted holds; the
rate is kept."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import pytest
from glide import RangeByIndex

from tests.conftest import make_event
from tests.integration.holds.conftest import sweeping_alone
from ticketing.cache.redis import Redis
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.models import HoldRefused, LimitExceeded, NotAdmitted

_ALL = RangeByIndex(0, -1)
CROWD = 20_000
RATE = 60_000  # a minute: 1,000 a second, 250 a tick
TICK_MS = 250


async def _in_batches(calls: list[Any], size: int = 500) -> list[Any]:
    done: list[Any] = []
    for i in range(0, len(calls), size):
        done.extend(await asyncio.gather(*calls[i : i + size]))
    return done


async def _mirrored(client: Any, engine: HoldEngine, **fields: Any) -> uuid.UUID:
    event_id = uuid.UUID((await make_event(client, **fields))["id"])
    await engine.ensure_mirror(event_id)
    return event_id


async def _room_on(engine: HoldEngine, redis: Redis, event_id: uuid.UUID) -> None:
    """The event's waiting room, on, set up in Redis alone (as a room in PostgreSQL would
    be), so that no server's admitter (they admit the rooms PostgreSQL names) takes part:
    the test is the only admitter."""
    await redis.call(lambda c: c.hset(event_keys(event_id).meta, {"wr": "1"}))
    await engine.queue_configure(
        event_id, on=True, rate=RATE, window_ms=300_000, opens_ms=0, start_ms=0
    )


async def test_a_crowd_is_admitted_at_the_rate_and_within_the_open_seats(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    event_id = await _mirrored(client, engine, numSeats=300, maxNumSeats=4)
    keys = event_keys(event_id)
    async with sweeping_alone(redis):
        await _room_on(engine, redis, event_id)
        fans = [uuid.uuid4() for _ in range(CROWD)]
        joined = await _in_batches(
            [engine.queue_join(event_id, uuid.uuid4(), f, random.getrandbits(52)) for f in fans]
        )
        assert all(made for made, _ in joined)
        rng = random.Random(5)
        started = time.monotonic()
        admitted_total = 0
        holds: list[tuple[uuid.UUID, uuid.UUID]] = []
        most_unused = 0
        for _ in range(12):
            made, _, _ = await engine.queue_admit(event_id, TICK_MS)
            admitted_total += made
            free = await redis.call(lambda c: c.zcard(keys.free))
            # The open seats cover what every admitted fan may still take, so each admitted
            # fan can buy ...
            promised = await _promised(redis, event_id)
            assert promised <= free, (promised, free)
            # ... and nobody more was admitted while one more fan would not fit.
            if not made and admitted_total < CROWD:
                assert promised + 1 > free, (promised, free)
            # Some admitted fans hold (some of them twice, up to their four), some let go;
            # strangers try too. Invariant 11 after every hold, not only at admissions: the
            # fans admitted and not yet holding never outnumber the open seats.
            admitted = [
                uuid.UUID(c.decode())
                for c in await redis.call(lambda c: c.zrange(keys.qadmitted, _ALL))
            ]
            for fan in rng.sample(admitted, min(40, len(admitted))):
                hold_id = uuid.uuid4()
                try:
                    await engine.hold_best(event_id, fan, hold_id, rng.choice((2, 3)), None, False)
                    holds.append((fan, hold_id))
                except HoldRefused:
                    pass
                unused = int(await redis.call(lambda c: c.hget(keys.qmeta, "n_au")) or 0)
                free = await redis.call(lambda c: c.zcard(keys.free))
                assert unused <= free, (unused, free)
                most_unused = max(most_unused, unused)
            for fan, hold_id in rng.sample(holds, len(holds) // 4):
                holds.remove((fan, hold_id))
                await engine.release(event_id, hold_id, None)
            for stranger in rng.sample(fans[-5000:], 5):
                with pytest.raises(NotAdmitted):
                    await engine.hold_best(event_id, stranger, uuid.uuid4(), 1, None, False)
            await asyncio.sleep(TICK_MS / 1000)
        elapsed = time.monotonic() - started
        counts = await engine.queue_counts(event_id)
    # Never faster than the rate (plus one tick's share held in the bucket) ...
    assert admitted_total <= RATE * elapsed / 60 + RATE * TICK_MS / 60_000 + 1
    # ... and the states add up.
    assert counts.joined == CROWD
    assert counts.waiting + counts.admitted + counts.done + counts.expired + counts.left == CROWD
    assert counts.admitted == admitted_total
    assert admitted_total > 0
    assert most_unused > 0  # (the bound was tested with fans waiting to pick)


async def _promised(redis: Redis, event_id: uuid.UUID) -> int:
    """What the admitted fans may still take: maxNumSeats less what each holds and has
    bought."""
    keys = event_keys(event_id)
    most = int(await redis.call(lambda c: c.hget(keys.meta, "max")) or 0)
    held = await redis.call(lambda c: c.hgetall(keys.custheld))
    bought = await redis.call(lambda c: c.hgetall(keys.rescount))
    caps = await redis.call(lambda c: c.hgetall(keys.qcap))
    total = 0
    for fan in await redis.call(lambda c: c.zrange(keys.qadmitted, _ALL)):
        cap = min(most, int(caps.get(fan, most)))
        total += max(0, cap - int(held.get(fan, 0)) - int(bought.get(fan, 0)))
    return total


async def test_the_last_seats_go_to_the_next_fan_for_as_many_as_are_left(
    client: Any, engine: HoldEngine, redis: Redis
) -> None:
    event_id = await _mirrored(client, engine, numSeats=10, maxNumSeats=8)
    keys = event_keys(event_id)
    async with sweeping_alone(redis):
        # Seven seats held before the room is on (at the box office, say): three stay open.
        await engine.hold_best(event_id, uuid.uuid4(), uuid.uuid4(), 7, None, False)
        await _room_on(engine, redis, event_id)
        first, second = uuid.uuid4(), uuid.uuid4()
        entry = uuid.uuid4()
        await engine.queue_join(event_id, entry, first, 1)
        await engine.queue_join(event_id, uuid.uuid4(), second, 2)
        made, waiting, _ = await engine.queue_admit(event_id, TICK_MS)
        # Three seats open, and a fan may take eight: the first fan gets in for the three,
        # the second waits (nothing would be left for it).
        assert (made, waiting) == (1, 1)
        with pytest.raises(LimitExceeded) as over:
            await engine.hold_best(event_id, first, uuid.uuid4(), 8, None, False)
        assert (over.value.maximum, over.value.admitted_for) == (3, True)
        kept = uuid.uuid4()
        await engine.hold_best(event_id, first, kept, 2, None, False)
        assert (await engine.queue_admit(event_id, TICK_MS))[0] == 0  # (its third is kept)
        await engine.hold_best(event_id, first, uuid.uuid4(), 1, None, False)
        # It lets two go: they are open again, but still its to take while it is admitted.
        await engine.release(event_id, kept, None)
        assert (await engine.queue_admit(event_id, TICK_MS))[0] == 0
        # It gives its admission back: the second fan is let in, for the two.
        assert await engine.queue_leave(event_id, entry, first)
        made, waiting, _ = await engine.queue_admit(event_id, TICK_MS)
        assert (made, waiting) == (1, 0)
        with pytest.raises(LimitExceeded):
            await engine.hold_best(event_id, second, uuid.uuid4(), 3, None, False)
        await engine.hold_best(event_id, second, uuid.uuid4(), 2, None, False)
        assert await _promised(redis, event_id) <= await redis.call(lambda c: c.zcard(keys.free))
