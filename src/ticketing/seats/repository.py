"""SQL for seats. Functions take the caller's connection; they never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from ticketing.db.database import Connection
from ticketing.seats.layout import PlannedSeat
from ticketing.seatview.repository import COLUMNS as _COLUMNS
from ticketing.seatview.repository import FROM as _FROM
from ticketing.seatview.repository import SeatRecord
from ticketing.seatview.repository import record as _record


@dataclass(frozen=True, slots=True)
class EventSeating:
    """What the seats of an event depend on, from the event's row."""

    event_id: UUID
    assigned_seating: bool
    num_seats: int
    max_num_seats: int


UPDATABLE = {"price": "price", "row": "row", "seat_number": "seat_number", "section": "section"}


async def insert_many(
    conn: Connection, event_id: UUID, assigned_seating: bool, planned: list[PlannedSeat]
) -> list[SeatRecord]:
    rows = await conn.fetch(
        "INSERT INTO seats (id, event_id, position, section, row, seat_number, price)"
        " SELECT u.id, $1, u.position, u.section, u.row, u.seat_number, u.price"
        " FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[], $7::numeric[])"
        " AS u(id, position, section, row, seat_number, price)"
        " RETURNING id, event_id, position, section, row, seat_number, price, status,"
        " customer_id, reservation_id, version",
        event_id,
        [uuid4() for _ in planned],
        [p.position for p in planned],
        [p.section for p in planned],
        [p.row for p in planned],
        [p.seat_number for p in planned],
        [p.price for p in planned],
    )
    return [_record((*r, assigned_seating)) for r in rows]


async def get(conn: Connection, seat_id: UUID, *, for_update: bool = False) -> SeatRecord | None:
    lock = " FOR UPDATE OF s" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {_FROM} WHERE s.id = $1{lock}", seat_id)
    return None if row is None else _record(row)


async def list_page(
    conn: Connection,
    event_id: UUID,
    *,
    status: str | None,
    section: str | None,
    after_position: int | None,
    limit: int,
    only: list[str] | None = None,
) -> list[SeatRecord]:
    where = ["s.event_id = $1"]
    args: list[Any] = [event_id]
    if only is not None:
        args.append(only)
        where.append(f"s.id = ANY(${len(args)}::uuid[])")
    if status is not None:
        args.append(status)
        where.append(f"s.status = ${len(args)}")
    if section is not None:
        args.append(section)
        where.append(f"s.section = ${len(args)}")
    if after_position is not None:
        args.append(after_position)
        where.append(f"s.position > ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE {' AND '.join(where)}"
        f" ORDER BY s.position LIMIT ${len(args)}",
        *args,
    )
    return [_record(r) for r in rows]


async def last_seat(conn: Connection, event_id: UUID) -> SeatRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE s.event_id = $1 ORDER BY s.position DESC LIMIT 1",
        event_id,
    )
    return None if row is None else _record(row)


async def next_position(conn: Connection, event_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT coalesce(max(position), -1) + 1 FROM seats WHERE event_id = $1", event_id
    )
    return value


async def row_names(conn: Connection, event_id: UUID, section: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT row FROM seats WHERE event_id = $1 AND section = $2", event_id, section
    )
    return {r[0] for r in rows}


async def existing_rows(
    conn: Connection, event_id: UUID, pairs: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Which of the (section, row) pairs already have seats in the event."""
    rows = await conn.fetch(
        "SELECT DISTINCT s.section, s.row FROM seats s"
        " JOIN unnest($2::text[], $3::text[]) AS u(section, row)"
        " ON s.section = u.section AND s.row = u.row WHERE s.event_id = $1",
        event_id,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return [(r[0], r[1]) for r in rows]


async def update(conn: Connection, seat_id: UUID, changes: dict[str, Any]) -> SeatRecord:
    sets = ["version = version + 1", "updated_at = now()"]
    args: list[Any] = [seat_id]
    for name, value in changes.items():
        args.append(value)
        sets.append(f"{UPDATABLE[name]} = ${len(args)}")
    await conn.execute(f"UPDATE seats SET {', '.join(sets)} WHERE id = $1", *args)
    record = await get(conn, seat_id)
    assert record is not None
    return record


async def delete(conn: Connection, seat_id: UUID) -> None:
    await conn.execute("DELETE FROM seats WHERE id = $1", seat_id)


async def event_seating(
    conn: Connection, event_id: UUID, *, for_update: bool = False
) -> EventSeating | None:
    """The event's seating rules and seat count; `for_update` takes the event's row lock,
    which every change to an event's seats (and every mirror rebuild, FOR SHARE) takes."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT id, assigned_seating, num_seats, max_num_seats FROM events WHERE id = $1{lock}",
        event_id,
    )
    return None if row is None else EventSeating(*row)


async def count_seats(conn: Connection, event_id: UUID, added: int) -> int:
    """numSeats follows the seats: grow (or shrink) it, as a change of the event (its
    version moves). Returns the new count."""
    value: int = await conn.fetchval(
        "UPDATE events SET num_seats = num_seats + $2, version = version + 1,"
        " updated_at = now() WHERE id = $1 RETURNING num_seats",
        event_id,
        added,
    )
    return value
