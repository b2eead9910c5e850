"""HTTP for reservations."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from ticketing.auth.caller import Caller
from ticketing.auth.guards import admin_only, signed_in
from ticketing.reservations.schemas import Reservation, ReservationList
from ticketing.reservations.service import ReservationService

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]


class ReservationController(Controller):
    path = "/reservations"
    tags = ["reservations"]

    @get("/{reservation_id:uuid}", guards=[signed_in])
    async def get_reservation(
        self,
        reservation_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        reservations: NamedDependency[ReservationService],
    ) -> Reservation:
        """One reservation (owner, admin)."""
        return await reservations.get(reservation_id, caller)

    @delete("/{reservation_id:uuid}", guards=[admin_only], status_code=204)
    async def cancel_reservation(
        self, reservation_id: FromPath[UUID], reservations: NamedDependency[ReservationService]
    ) -> None:
        """Cancel a reservation (admin); its seats are open again."""
        await reservations.cancel(reservation_id)


class CustomerReservationsController(Controller):
    path = "/customers/{customer_id:uuid}/reservations"
    tags = ["reservations"]

    @get("/", guards=[signed_in])
    async def list_reservations(
        self,
        customer_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        reservations: NamedDependency[ReservationService],
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> ReservationList:
        """A customer's reservations, oldest first (admin, self)."""
        return await reservations.list_for_customer(customer_id, caller, limit=limit, cursor=cursor)
