"""Hold bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta

from ticketing.seatview.schemas import Seat
from ticketing.validation import PRINTABLE, Schema


class HoldCreate(Schema):
    """Either explicit `seatIds`, or best available: `quantity` (+ `section`, `adjacent`)."""

    seat_ids: Annotated[list[UUID], Meta(min_length=1, max_length=100)] | None = None
    quantity: Annotated[int, Meta(ge=1, le=100)] | None = None
    section: Annotated[str, Meta(min_length=1, max_length=50, pattern=PRINTABLE)] | None = None
    adjacent: bool = True


class Hold(Schema):
    id: UUID
    event_id: UUID
    customer_id: UUID
    seats: list[Seat]
    expires_at: datetime
    created_at: datetime


class HoldList(Schema):
    items: list[Hold]
    next_cursor: str | None
