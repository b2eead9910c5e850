"""SQL the waiting room needs: which events have one, and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class Room:
    event_id: UUID
    enabled: bool
    admit_per_minute: int
    admission_seconds: int
    opens_before_seconds: int
    sales_start_at: datetime | None
    sales_end_at: datetime


class _Stored(msgspec.Struct, rename="camel"):
    enabled: bool = False
    admit_per_minute: int = 1000
    admission_seconds: int = 300
    opens_before_seconds: int = 1800


_SELECT = (
    "SELECT id, waiting_room::text, sales_start_at, coalesce(sales_end_at, event_at) FROM events"
)


def _room(row: Any) -> Room:
    event_id, raw, starts, ends = row[0], row[1], row[2], row[3]
    stored = msgspec.json.decode(raw, type=_Stored) if raw else _Stored()
    return Room(
        event_id,
        stored.enabled,
        stored.admit_per_minute,
        stored.admission_seconds,
        stored.opens_before_seconds,
        starts,
        ends,
    )


async def room(conn: Connection, event_id: UUID) -> Room | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE id = $1", event_id)
    return None if row is None else _room(row)


async def open_rooms(conn: Connection) -> list[Room]:
    """Events whose waiting room is on and whose sales have not ended."""
    rows = await conn.fetch(
        f"{_SELECT} WHERE (waiting_room->>'enabled')::boolean"
        " AND coalesce(sales_end_at, event_at) > now() ORDER BY coalesce(sales_start_at, now())"
        " LIMIT 1000"
    )
    return [_room(r) for r in rows]
