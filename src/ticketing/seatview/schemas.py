"""A seat on the wire, as every domain that shows seats shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ticketing.validation import Schema

SeatStatus = Literal["OPEN", "ON_HOLD", "RESERVED"]


class Seat(Schema):
    id: UUID
    event_id: UUID
    price: float
    status: SeatStatus
    assigned_seating: bool
    customer_id: UUID | None
    row: str | None
    seat_number: int | None
    section: str | None
    hold_expires_at: datetime | None
    version: int
    hold_id: UUID | None = None  # the hold on it while ON_HOLD, shown to its holder and admins
