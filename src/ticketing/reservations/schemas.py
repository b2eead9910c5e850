"""Reservation bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ticketing.seatview.schemas import Seat
from ticketing.validation import Schema

ReservationStatus = Literal["active", "cancelled"]


class Reservation(Schema):
    id: UUID
    event_id: UUID
    customer_id: UUID
    seats: list[Seat]
    created_at: datetime
    status: ReservationStatus = "active"
    cancelled_at: datetime | None = None  # when an admin cancelled it; its seats are open


class ReservationList(Schema):
    items: list[Reservation]
    next_cursor: str | None
