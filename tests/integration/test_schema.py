"""Migrations go down and up cleanly, match the models, and the database enforces the rules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from ticketing.db import migrate
from ticketing.db.models import metadata
from ticketing.embedded import EmbeddedStack


@pytest.fixture
async def scratch_db(stack: EmbeddedStack) -> AsyncIterator[str]:
    """A database of its own, so going down to nothing does not disturb other tests."""
    assert stack.postgres is not None
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.postgres.url.rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    yield stack.postgres.url.rsplit("/", 1)[0] + f"/{name}"
    await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    await admin.close()


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}
    finally:
        await conn.close()


async def test_migrations_round_trip(scratch_db: str) -> None:
    # Alembic runs its own event loop, so it goes to a thread as it would from the CLI.
    await asyncio.to_thread(migrate.upgrade, scratch_db)
    assert {"events", "seats", "customers", "reservations", "reservation_seats"} <= await _tables(
        scratch_db
    )
    await asyncio.to_thread(migrate.downgrade, scratch_db, "base")
    assert await _tables(scratch_db) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, scratch_db)
    assert "seats" in await _tables(scratch_db)


async def test_migrated_schema_matches_the_models(stack: EmbeddedStack) -> None:
    assert stack.postgres is not None
    engine = create_async_engine(migrate.sqlalchemy_url(stack.postgres.url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("UPDATE events SET num_seats = 9 WHERE id = $1", "ck_events_num_seats_range"),
        (
            "UPDATE events SET max_num_seats = num_seats + 1 WHERE id = $1",
            "ck_events_max_num_seats_range",
        ),
        ("UPDATE events SET seat_hold_time = 3601 WHERE id = $1", "ck_events_seat_hold_time_range"),
        ("UPDATE events SET event_name = '' WHERE id = $1", "ck_events_event_name_length"),
        ("UPDATE seats SET price = -1 WHERE event_id = $1", "ck_seats_price_range"),
        ("UPDATE seats SET status = 'RESERVED' WHERE event_id = $1", "ck_seats_reserved_has_owner"),
        ("UPDATE seats SET row = NULL WHERE event_id = $1", "ck_seats_placement_complete"),
        ("UPDATE seats SET seat_number = 1 WHERE event_id = $1", "uq_seats_placement"),
    ],
)
async def test_database_enforces_rules(pg: Any, client: Any, sql: str, constraint: str) -> None:
    from tests.conftest import make_event

    event = await make_event(client, maxNumSeats=5)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError) as caught:
        await pg.execute(sql, uuid.UUID(event["id"]))
    assert caught.value.constraint_name == constraint


async def test_a_seat_cannot_be_in_two_live_reservations(pg: Any, client: Any) -> None:
    from tests.conftest import make_customer, make_event, reserve_directly, seats_of

    event = await make_event(client)
    a = await make_customer(client)
    b = await make_customer(client)
    seat = (await seats_of(client, event["id"]))[0]
    first = await reserve_directly(pg, a.id, [seat["id"]])
    second = uuid.uuid4()
    await pg.execute(
        "INSERT INTO reservations (id, event_id, customer_id) VALUES ($1, $2, $3)",
        second,
        uuid.UUID(event["id"]),
        uuid.UUID(b.id),
    )
    with pytest.raises(asyncpg.UniqueViolationError) as caught:
        await pg.execute(
            "INSERT INTO reservation_seats (reservation_id, seat_id, price) VALUES ($1, $2, 0)",
            second,
            uuid.UUID(seat["id"]),
        )
    assert caught.value.constraint_name == "uq_reservation_seats_live_seat"
    assert first
