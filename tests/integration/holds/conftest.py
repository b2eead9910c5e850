"""A hold engine on the session's real Valkey, its mirror loaded from the real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
from glide import ExpirySet, ExpiryType, UpdateOptions
from litestar.testing import AsyncTestClient

from tests.conftest import command_counts
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.embedded import EmbeddedValkeyCluster
from ticketing.holds import repository
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.keys import DUE
from ticketing.holds.models import MirrorSnapshot
from ticketing.holds.sweeper import LEASE_KEY
from ticketing.settings import Settings


@asynccontextmanager
async def _parts(
    settings: Settings, redis_url: str, *, cluster: bool
) -> AsyncIterator[tuple[HoldEngine, Redis, Database]]:
    assert settings.database_url is not None
    db = Database(settings.database_url, min_size=1, max_size=10, timeout_seconds=5, retry_after=1)
    redis = Redis(redis_url, cluster=cluster, timeout_ms=2000, retry_after=1)
    await db.open()
    await redis.open()

    async def load(event_id: UUID) -> MirrorSnapshot | None:
        async with db.connection() as conn:
            return await repository.mirror_snapshot(conn, event_id)

    try:
        yield HoldEngine(redis, load), redis, db
    finally:
        await redis.close()
        await db.close()


@pytest.fixture(scope="session")
async def app_engine_parts(
    settings: Settings, client: AsyncTestClient[Any]
) -> AsyncIterator[tuple[HoldEngine, Redis, Database]]:
    """An engine on the in-process app's own Valkey: a second API process, in effect."""
    # `client` first: glide reads the replies of every client of a process on the loop of the
    # first one made, and the in-process client blocks this loop while the app serves.
    assert settings.redis_url is not None
    async with _parts(settings, settings.redis_url, cluster=False) as parts:
        yield parts


@pytest.fixture(scope="session", params=["single", "cluster"])
async def engine_parts(
    request: pytest.FixtureRequest,
    settings: Settings,
    app_engine_parts: tuple[HoldEngine, Redis, Database],
) -> AsyncIterator[tuple[HoldEngine, Redis, Database]]:
    """The engine on one Valkey, then on a real three-master Valkey cluster: every engine
    test runs against both."""
    if request.param == "single":
        yield app_engine_parts
        return
    cluster: EmbeddedValkeyCluster = request.getfixturevalue("valkey_cluster")
    async with _parts(settings, cluster.url, cluster=True) as parts:
        yield parts


@pytest.fixture
def engine(engine_parts: tuple[HoldEngine, Redis, Database]) -> HoldEngine:
    return engine_parts[0]


@pytest.fixture
def redis(engine_parts: tuple[HoldEngine, Redis, Database]) -> Redis:
    return engine_parts[1]


async def age_hold(redis: Redis, event_id: UUID, hold_id: UUID, by_ms: int) -> None:
    """Move a hold's clock back by `by_ms`, as if that much time had passed."""
    keys = event_keys(event_id)
    holds, expiry = keys.holds, keys.expiry
    raw = await redis.call(lambda c: c.hget(holds, str(hold_id)))
    assert raw is not None
    record: dict[str, Any] = json.loads(raw)
    record["t"] -= by_ms
    record["t0"] -= by_ms
    score = await redis.call(lambda c: c.zscore(expiry, str(hold_id)))
    assert score is not None
    await redis.call(lambda c: c.hset(holds, {str(hold_id): json.dumps(record)}))
    await redis.call(lambda c: c.zadd(expiry, {str(hold_id): score - by_ms}))
    # The sweeper finds it through the due index, as it would have at that time.
    event = str(event_id)
    await redis.call(
        lambda c: c.zadd(DUE, {event: score - by_ms}, update_condition=UpdateOptions.LESS_THAN)
    )


@asynccontextmanager
async def sweeping_alone(redis: Redis) -> AsyncIterator[None]:
    """Take the sweepers' lease from whichever server holds it, so that no sweeper runs until
    the block ends (a sweep already under way is given time to finish)."""
    token = "test-" + secrets.token_hex(8)
    lease = ExpirySet(ExpiryType.MILLSEC, 30_000)
    await redis.call(lambda c: c.set(LEASE_KEY, token, expiry=lease))
    await asyncio.sleep(SETTLE_SECONDS)
    # A pass over every event begun before the lease changed hands goes on to its end, and
    # late in the suite the session's Valkey has many: wait until no script has run for a
    # while (the tests that count Valkey's calls count everyone's).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    last = await _scripts_run(redis)
    while loop.time() < deadline:
        await asyncio.sleep(QUIET_SECONDS)
        now = await _scripts_run(redis)
        if now == last:
            break
        last = now
    try:
        yield
    finally:
        await redis.call(lambda c: c.delete([LEASE_KEY]))


SETTLE_SECONDS = 0.3  # a sweeper ticks every 0.25 s, and finds then that it no longer leads
QUIET_SECONDS = 0.4


async def _scripts_run(redis: Redis) -> int:
    """How many scripts Valkey has run (every node's, on a cluster)."""
    info = await redis.call(lambda c: c.custom_command(["INFO", "commandstats"]))
    replies = info.values() if isinstance(info, dict) else [info]
    return sum(command_counts(reply).get("evalsha", 0) for reply in replies)
