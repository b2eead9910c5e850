"""SQL for events. Functions take the caller's connection; they never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: UUID
    event_name: str
    event_location: str
    event_at: datetime
    num_seats: int
    max_num_seats: int
    seat_hold_time: int
    assigned_seating: bool
    version: int
    created_at: datetime
    updated_at: datetime
    sales_start_at: datetime | None
    sales_end_at: datetime | None  # as stored: None means the event's own time
    waiting_room: str | None  # JSON as the API shows it, or None


_COLUMNS = (
    "id, event_name, event_location, event_at, num_seats, max_num_seats, seat_hold_time,"
    " assigned_seating, version, created_at, updated_at, sales_start_at, sales_end_at,"
    " waiting_room::text"
)

# Columns a PATCH may change, by the Python name the service uses.
UPDATABLE = {
    "event_name": "event_name",
    "event_location": "event_location",
    "event_date_time_stamp": "event_at",
    "num_seats": "num_seats",
    "max_num_seats": "max_num_seats",
    "seat_hold_time": "seat_hold_time",
    "sales_start_at": "sales_start_at",
    "sales_end_at": "sales_end_at",
    "waiting_room": "waiting_room",
}


def _record(row: Any) -> EventRecord:
    return EventRecord(*row)


async def insert(
    conn: Connection,
    *,
    event_id: UUID,
    event_name: str,
    event_location: str,
    event_at: datetime,
    num_seats: int,
    max_num_seats: int,
    seat_hold_time: int,
    assigned_seating: bool,
    sales_start_at: datetime | None = None,
    sales_end_at: datetime | None = None,
    waiting_room: str | None = None,
) -> EventRecord:
    row = await conn.fetchrow(
        f"INSERT INTO events (id, event_name, event_location, event_at, num_seats,"
        f" max_num_seats, seat_hold_time, assigned_seating, sales_start_at, sales_end_at,"
        f" waiting_room) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)"
        f" RETURNING {_COLUMNS}",
        event_id,
        event_name,
        event_location,
        event_at,
        num_seats,
        max_num_seats,
        seat_hold_time,
        assigned_seating,
        sales_start_at,
        sales_end_at,
        waiting_room,
    )
    return _record(row)


async def get(conn: Connection, event_id: UUID, *, for_update: bool = False) -> EventRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM events WHERE id = $1{lock}", event_id)
    return None if row is None else _record(row)


async def list_page(
    conn: Connection,
    *,
    starts_from: datetime | None,
    starts_to: datetime | None,
    location: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[EventRecord]:
    """Events in time order; `after` is the (time, id) of the last event of the previous page."""
    where: list[str] = []
    args: list[Any] = []
    if starts_from is not None:
        args.append(starts_from)
        where.append(f"event_at >= ${len(args)}")
    if starts_to is not None:
        args.append(starts_to)
        where.append(f"event_at <= ${len(args)}")
    if location is not None:
        escaped = location.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
        where.append(f"event_location ILIKE ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(event_at, id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events{clause} ORDER BY event_at, id LIMIT ${len(args)}", *args
    )
    return [_record(r) for r in rows]


async def update(
    conn: Connection, event_id: UUID, changes: dict[str, Any], *, seats_added: int = 0
) -> EventRecord:
    """Apply `changes` (by Python name), grow num_seats by `seats_added`, bump the version."""
    sets = ["version = version + 1", "updated_at = now()"]
    args: list[Any] = [event_id]
    for name, value in changes.items():
        args.append(value)
        cast = "::jsonb" if name == "waiting_room" else ""
        sets.append(f"{UPDATABLE[name]} = ${len(args)}{cast}")
    if seats_added:
        args.append(seats_added)
        sets.append(f"num_seats = num_seats + ${len(args)}")
    row = await conn.fetchrow(
        f"UPDATE events SET {', '.join(sets)} WHERE id = $1 RETURNING {_COLUMNS}", *args
    )
    return _record(row)


async def delete(conn: Connection, event_id: UUID) -> None:
    await conn.execute("DELETE FROM reservations WHERE event_id = $1", event_id)
    await conn.execute("DELETE FROM events WHERE id = $1", event_id)


async def reserved_count(conn: Connection, event_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM seats WHERE event_id = $1 AND status = 'RESERVED'", event_id
    )
    return value
