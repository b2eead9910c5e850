"""What PostgreSQL says of an event's inventory, for the audit. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class SeatRow:
    status: str
    customer_id: UUID | None
    price: str
    version: str


@dataclass(frozen=True, slots=True)
class EventInventory:
    num_seats: int
    max_num_seats: int
    seats: dict[str, SeatRow]
    twice_reserved: list[str]  # seats in more than one live reservation


async def event_inventory(conn: Connection, event_id: UUID) -> EventInventory | None:
    event = await conn.fetchrow(
        "SELECT num_seats, max_num_seats FROM events WHERE id = $1", event_id
    )
    if event is None:
        return None
    rows = await conn.fetch(
        "SELECT id, status, customer_id, price::text, version::text FROM seats WHERE event_id = $1",
        event_id,
    )
    twice = await conn.fetch(
        "SELECT rs.seat_id FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id"
        " WHERE s.event_id = $1 AND NOT rs.cancelled GROUP BY rs.seat_id HAVING count(*) > 1",
        event_id,
    )
    return EventInventory(
        num_seats=event[0],
        max_num_seats=event[1],
        seats={str(r[0]): SeatRow(r[1], r[2], r[3], r[4]) for r in rows},
        twice_reserved=[str(r[0]) for r in twice],
    )
