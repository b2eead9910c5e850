"""SQL for reservations: the one place seats become RESERVED, and stop being so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ticketing.db.database import Connection
from ticketing.seatview.repository import SeatRecord


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: UUID
    event_id: UUID
    customer_id: UUID
    created_at: datetime
    hold_id: UUID | None
    cancelled_at: datetime | None = None


_COLUMNS = "id, event_id, customer_id, created_at, hold_id, cancelled_at"


class ReserveRefused(Exception):
    """A confirmation refused, with nothing written: `reason` is NO_CUSTOMER, NO_EVENT,
    LIMIT (detail: maxNumSeats), SEATS_TAKEN (detail: the seat ids no longer open) or UNIQUE
    (a unique violation: the hold reserved already)."""

    def __init__(self, reason: str, detail: str | None) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail or ""


@dataclass(frozen=True, slots=True)
class ReserveItem:
    """One confirmation: the reservation to make of a hold's seats."""

    reservation_id: UUID
    event_id: UUID
    customer_id: UUID
    hold_id: UUID
    seat_ids: list[UUID]


Reserved = tuple[ReservationRecord, list[SeatRecord]]


def _answer(item: ReserveItem, rows: list[Any]) -> Reserved | ReserveRefused:
    """reserve_hold_checked()'s rows for one item (without reserve_holds()'s index column):
    one refusal row, or the item's seats."""
    if rows[0][0] is not None:
        return ReserveRefused(rows[0][0], rows[0][1])
    record = ReservationRecord(
        item.reservation_id, item.event_id, item.customer_id, rows[0][2], item.hold_id
    )
    return record, [SeatRecord(*row[3:]) for row in rows]


async def reserve_hold(conn: Connection, item: ReserveItem) -> Reserved | ReserveRefused:
    """Confirm one hold's seats in one statement (migration 0005): lock the customer, check
    the limit and the seats, insert the reservation and move the seats; or the refusal,
    with nothing written. A unique violation (the hold confirmed already) raises."""
    rows = await conn.fetch(
        "SELECT * FROM reserve_hold_checked($1, $2, $3, $4, $5::uuid[])",
        item.reservation_id,
        item.event_id,
        item.customer_id,
        item.hold_id,
        item.seat_ids,
    )
    return _answer(item, rows)


async def reserve_holds(
    conn: Connection, items: list[ReserveItem]
) -> list[Reserved | ReserveRefused]:
    """Confirm several holds in one statement and one transaction (migration 0005): each as
    reserve_hold() would, in order, each refused alone with nothing written. A unique
    violation refuses the whole statement."""
    rows = await conn.fetch(
        "SELECT * FROM reserve_holds($1, $2, $3, $4, $5, $6)",
        [i.reservation_id for i in items],
        [i.event_id for i in items],
        [i.customer_id for i in items],
        [i.hold_id for i in items],
        [s for i in items for s in i.seat_ids],
        [len(i.seat_ids) for i in items],
    )
    per_item: list[list[Any]] = [[] for _ in items]
    for row in rows:
        per_item[row[0] - 1].append(row[1:])
    if not all(per_item):  # (each item returns a row: its refusal, or its seats)
        raise RuntimeError("reserve_holds returned nothing for an item")
    return [_answer(item, found) for item, found in zip(items, per_item, strict=True)]


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


async def list_for_event(
    conn: Connection,
    event_id: UUID,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[ReservationRecord]:
    """The event's reservations oldest first: `active`, `cancelled` or (None) both."""
    where = ["event_id = $1"]
    args: list[object] = [event_id]
    if status == "active":
        where.append("cancelled_at IS NULL")
    elif status == "cancelled":
        where.append("cancelled_at IS NOT NULL")
    if after is not None:
        args.extend(after)
        where.append(f"(created_at, id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM reservations WHERE {' AND '.join(where)}"
        f" ORDER BY created_at, id LIMIT ${len(args)}",
        *args,
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
