"""The seat route kept from the service this one replaces: one seat's status set directly.

`PATCH /events/{eventId}/seats/{seatId}` speaks of seats, not holds: `ON_HOLD` holds the seat
for the caller, `RESERVED` confirms the caller's hold on it, `OPEN` releases that hold. Each
is the same step as the hold and reservation routes, asked of their services.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from ticketing.auth.caller import Caller
from ticketing.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ticketing.holds.schemas import HoldCreate
from ticketing.holds.service import HoldService
from ticketing.reservations.service import ReservationService
from ticketing.seats.service import SeatService
from ticketing.seatview.schemas import Seat
from ticketing.seed.schemas import SeatStatusChange


class SeedService:
    def __init__(
        self, seats: SeatService, holds: HoldService, reservations: ReservationService
    ) -> None:
        self._seats = seats
        self._holds = holds
        self._reservations = reservations

    async def change_seat(
        self,
        event_id: UUID,
        seat_id: UUID,
        change: SeatStatusChange,
        caller: Caller,
        address: str = "",
    ) -> Seat:
        """One read at most: holding is the hold script alone (its answer carries the seat);
        confirming and releasing read the seat and its hold once, then act."""
        if change.customer_id != caller.require_customer():
            raise Forbidden("customerId must be the customer of the token")
        if change.status == "ON_HOLD":
            try:
                hold = await self._holds.create(
                    event_id, caller, HoldCreate(seat_ids=[seat_id]), address
                )
            except ValidationFailed:  # (the one seat named is not a seat of this event)
                raise NotFound.of("seat", seat_id) from None
            return hold.seats[0]
        current, live = await self._seats.get_with_hold(seat_id, caller)
        if current.event_id != event_id:
            raise NotFound.of("seat", seat_id)
        mine_already = current.customer_id == change.customer_id
        if change.status == "RESERVED" and current.status == "RESERVED" and mine_already:
            return current  # already the caller's: nothing to do
        if change.status == "OPEN" and current.status == "RESERVED":
            raise Conflict(
                "A reserved seat is released by cancelling its reservation", code="SEAT_NOT_OPEN"
            )
        mine = live is not None and live.customer_id == str(change.customer_id)
        if change.status == "RESERVED":
            if not mine or live is None:
                raise Conflict("You hold no hold on this seat", code="HOLD_EXPIRED")
            reservation = await self._reservations.confirm(UUID(live.hold_id), caller)
            sold = [s for s in reservation.seats if s.id == seat_id]  # (the hold had it)
            return sold[0] if sold else await self._seats.get(seat_id, caller)
        if live is None:
            return current  # open already
        if not mine:
            raise Conflict("Another customer holds this seat", code="SEATS_UNAVAILABLE")
        await self._holds.release(UUID(live.hold_id), caller)
        return msgspec.structs.replace(
            current, status="OPEN", customer_id=None, hold_expires_at=None
        )
