"""Reading seats to show them: the record every domain that shows seats reads, and the reads
that holds, reservations and customers share. Writes stay in `ticketing.seats`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class SeatRecord:
    id: UUID
    event_id: UUID
    position: int
    section: str | None
    row: str | None
    seat_number: int | None
    price: Decimal
    status: str
    customer_id: UUID | None
    reservation_id: UUID | None
    version: int
    assigned_seating: bool


COLUMNS = (
    "s.id, s.event_id, s.position, s.section, s.row, s.seat_number, s.price, s.status,"
    " s.customer_id, s.reservation_id, s.version, e.assigned_seating"
)
FROM = "seats s JOIN events e ON e.id = s.event_id"


def record(row: Any) -> SeatRecord:
    return SeatRecord(*row)


async def by_ids(conn: Connection, seat_ids: list[UUID]) -> list[SeatRecord]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {FROM} WHERE s.id = ANY($1::uuid[]) ORDER BY s.position",
        seat_ids,
    )
    return [record(r) for r in rows]


async def by_reservations(
    conn: Connection, reservation_ids: Sequence[UUID]
) -> dict[UUID, list[SeatRecord]]:
    """The seats of each reservation (cancelled ones keep theirs on record), in one query."""
    rows = await conn.fetch(
        f"SELECT rs.reservation_id, {COLUMNS} FROM reservation_seats rs"
        f" JOIN {FROM} ON s.id = rs.seat_id"
        " WHERE rs.reservation_id = ANY($1::uuid[]) ORDER BY s.position",
        list(reservation_ids),
    )
    found: dict[UUID, list[SeatRecord]] = {r: [] for r in reservation_ids}
    for row in rows:
        found[row[0]].append(record(row[1:]))
    return found


async def reserved_by_customer(conn: Connection, customer_id: UUID) -> list[SeatRecord]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {FROM} WHERE s.customer_id = $1 ORDER BY s.event_id, s.position",
        customer_id,
    )
    return [record(r) for r in rows]
