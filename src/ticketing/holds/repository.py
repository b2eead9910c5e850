"""SQL the hold engine needs: the snapshot its Redis mirror is built from, and which events
to build one for ahead of their fans."""

from __future__ import annotations

from uuid import UUID

from ticketing.db.database import Connection
from ticketing.holds.models import MirrorSnapshot


async def mirror_snapshot(conn: Connection, event_id: UUID) -> MirrorSnapshot | None:
    """The event's hold rules, its seats in best-available order, and what is reserved.

    FOR SHARE waits for an admin change to the event in flight (they lock its row), so a
    mirror is never rebuilt from rows about to change, nor for an event about to go.
    """
    event = await conn.fetchrow(
        "SELECT max_num_seats, seat_hold_time, assigned_seating,"
        " (extract(epoch FROM event_at) * 1000)::bigint,"
        " (extract(epoch FROM sales_start_at) * 1000)::bigint,"
        " (extract(epoch FROM coalesce(sales_end_at, event_at)) * 1000)::bigint,"
        " coalesce((waiting_room->>'enabled')::boolean, false)"
        " FROM events WHERE id = $1 FOR SHARE",
        event_id,
    )
    if event is None:
        return None
    # Each seat packed here as the mirror keeps it (models.MirrorSeat), as text: so that
    # neither the driver nor this process handles a value per field, and its id as text.
    rows = await conn.fetch(
        "SELECT id::text, coalesce(section, '') || E'\\t' || coalesce(row, '') || E'\\t'"
        " || coalesce(seat_number::text, '') || E'\\t' || price::text || E'\\t'"
        " || version::text || E'\\t' || position::text, status, customer_id::text"
        " FROM seats WHERE event_id = $1 ORDER BY seats.price, seats.position",
        event_id,
    )
    reserved: list[str] = []
    by_customer: dict[str, int] = {}
    for row in rows:
        if row[2] == "RESERVED":
            reserved.append(row[0])
            by_customer[row[3]] = by_customer.get(row[3], 0) + 1
    return MirrorSnapshot(
        max_num_seats=event[0],
        seat_hold_time=event[1],
        general_admission=not event[2],
        seats=[(r[0], r[1]) for r in rows],
        reserved=reserved,
        reserved_by_customer=by_customer,
        starts_ms=event[3],
        sales_from_ms=event[4],
        sales_until_ms=event[5],
        waiting_room=event[6],
    )


async def seat_order(conn: Connection, event_id: UUID) -> list[str]:
    """The event's seat ids in the organiser's order (sections, rows and seats as laid out)."""
    rows = await conn.fetch("SELECT id FROM seats WHERE event_id = $1 ORDER BY position", event_id)
    return [str(r[0]) for r in rows]


async def sections(conn: Connection, event_id: UUID) -> frozenset[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT section FROM seats WHERE event_id = $1 AND section IS NOT NULL", event_id
    )
    return frozenset(r[0] for r in rows)


async def event_exists(conn: Connection, event_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)", event_id
    )
    return found


async def upcoming_events(conn: Connection, limit: int) -> list[UUID]:
    """The `limit` events that happen soonest, from now on (past events are left cold)."""
    rows = await conn.fetch(
        "SELECT id FROM events WHERE event_at > now() ORDER BY event_at, id LIMIT $1", limit
    )
    return [r[0] for r in rows]
