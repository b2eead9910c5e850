"""A seat as one caller may see it, at this moment: shared by seats, holds, reservations and
customers, none of which owns the others' view of a seat."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol
from uuid import UUID

from ticketing.auth.caller import Caller
from ticketing.seatview.repository import SeatRecord
from ticketing.seatview.schemas import Seat, SeatStatus
from ticketing.validation import instant


class Held(Protocol):
    """What a view needs of a live hold on the seat (a `holds.models.LiveHold` is one)."""

    @property
    def customer_id(self) -> str: ...

    @property
    def hold_id(self) -> str: ...

    @property
    def expires_ms(self) -> int: ...


def money(amount: Decimal) -> float:
    """A price as a JSON number with no needless decimals: 10 and 10.5, never 10.0."""
    whole = amount.to_integral_value()
    return int(whole) if amount == whole else float(amount)


def seat_view(record: SeatRecord, caller: Caller, hold: Held | None = None) -> Seat:
    """PostgreSQL says OPEN or RESERVED; a live hold in Redis makes an open seat ON_HOLD. The
    holder or owner is shown only to themselves and to admins."""
    status: SeatStatus = "OPEN"
    customer_id = record.customer_id
    expires = None
    hold_id = None
    if record.status == "RESERVED":
        status = "RESERVED"
    elif hold is not None:
        status = "ON_HOLD"
        customer_id = UUID(hold.customer_id)
        expires = instant(hold.expires_ms)
        hold_id = hold.hold_id
    shown = caller.sees_customer(customer_id)
    return Seat(
        id=record.id,
        event_id=record.event_id,
        price=money(record.price),
        status=status,
        assigned_seating=record.assigned_seating,
        customer_id=customer_id if shown else None,
        row=record.row,
        seat_number=record.seat_number,
        section=record.section,
        hold_expires_at=expires,
        version=record.version,
        hold_id=UUID(hold_id) if shown and hold_id else None,
    )
