"""Reservation bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ticketing.seatview.schemas import Seat
from ticketing.validation import Schema


class Reservation(Schema):
    id: UUID
    event_id: UUID
    customer_id: UUID
    seats: list[Seat]
    created_at: datetime


class ReservationList(Schema):
    items: list[Reservation]
    next_cursor: str | None
