"""SQL for reservations: the one place seats become RESERVED, and stop being so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: UUID
    event_id: UUID
    customer_id: UUID
    created_at: datetime


_COLUMNS = "id, event_id, customer_id, created_at"


async def reserved_count(conn: Connection, event_id: UUID, customer_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM seats WHERE customer_id = $1 AND event_id = $2",
        customer_id,
        event_id,
    )
    return value


async def insert(
    conn: Connection, reservation_id: UUID, event_id: UUID, customer_id: UUID, hold_id: UUID | None
) -> ReservationRecord:
    row = await conn.fetchrow(
        f"INSERT INTO reservations (id, event_id, customer_id, hold_id) VALUES ($1, $2, $3, $4)"
        f" RETURNING {_COLUMNS}",
        reservation_id,
        event_id,
        customer_id,
        hold_id,
    )
    return ReservationRecord(*row)


async def take_seats(
    conn: Connection, reservation_id: UUID, event_id: UUID, customer_id: UUID, seat_ids: list[UUID]
) -> list[UUID]:
    """Reserve the seats that are still open; returns those it moved.

    The conditional UPDATE is the arbiter: a seat already RESERVED is not moved, and the
    caller rolls back unless every seat was. The unique index on live reservation seats
    refuses a second live reservation of a seat even if this check were bypassed.
    """
    rows = await conn.fetch(
        "UPDATE seats SET status = 'RESERVED', customer_id = $3, reservation_id = $1,"
        " version = version + 1, updated_at = now()"
        " WHERE id = ANY($4::uuid[]) AND event_id = $2 AND status = 'OPEN' RETURNING id",
        reservation_id,
        event_id,
        customer_id,
        seat_ids,
    )
    moved = [r[0] for r in rows]
    await conn.execute(
        "INSERT INTO reservation_seats (reservation_id, seat_id, price)"
        " SELECT $1, id, price FROM seats WHERE id = ANY($2::uuid[])",
        reservation_id,
        moved,
    )
    return moved


async def by_hold(conn: Connection, hold_id: UUID) -> ReservationRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM reservations WHERE hold_id = $1", hold_id)
    return None if row is None else ReservationRecord(*row)


async def get_live(
    conn: Connection, reservation_id: UUID, *, for_update: bool = False
) -> ReservationRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM reservations WHERE id = $1 AND cancelled_at IS NULL{lock}",
        reservation_id,
    )
    return None if row is None else ReservationRecord(*row)


async def list_live(
    conn: Connection, customer_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[ReservationRecord]:
    if after is None:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM reservations WHERE customer_id = $1 AND cancelled_at IS NULL"
            " ORDER BY created_at, id LIMIT $2",
            customer_id,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM reservations WHERE customer_id = $1 AND cancelled_at IS NULL"
            " AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4",
            customer_id,
            *after,
            limit,
        )
    return [ReservationRecord(*r) for r in rows]


async def cancel(conn: Connection, reservation_id: UUID) -> list[UUID]:
    """Open the reservation's seats again; the sale stays on record as cancelled."""
    rows = await conn.fetch(
        "UPDATE seats SET status = 'OPEN', customer_id = NULL, reservation_id = NULL,"
        " version = version + 1, updated_at = now() WHERE reservation_id = $1 RETURNING id",
        reservation_id,
    )
    await conn.execute(
        "UPDATE reservation_seats SET cancelled = true WHERE reservation_id = $1", reservation_id
    )
    await conn.execute("UPDATE reservations SET cancelled_at = now() WHERE id = $1", reservation_id)
    return [r[0] for r in rows]
