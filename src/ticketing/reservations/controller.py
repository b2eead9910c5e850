"""HTTP for reservations: confirming a hold into one, reading and cancelling them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from ticketing.auth.caller import Caller
from ticketing.auth.guards import IDEMPOTENT, admin_only, customer_only, signed_in
from ticketing.reservations.schemas import Reservation, ReservationList, ReservationStatus
from ticketing.reservations.service import ReservationService
from ticketing.web.direct import direct
from ticketing.web.idempotency import Answer, idempotent, respond

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]


async def confirm(request: Request[Any, Any, Any], hold_id: UUID, caller: Caller) -> Answer:
    """`POST /holds/{holdId}/reservation`, also served directly (ticketing.web.direct)."""
    reservations: ReservationService = request.app.state.reservations
    return await idempotent(
        request, caller, 201, lambda: reservations.confirm(hold_id, caller), _location
    )


def _location(reservation: Reservation) -> str:
    return f"/reservations/{reservation.id}"


class HoldReservationController(Controller):
    path = "/holds"
    tags = ["holds"]

    @post(
        "/{hold_id:uuid}/reservation",
        guards=[customer_only],
        status_code=201,
        opt={IDEMPOTENT: True, **direct(confirm)},
    )
    async def confirm_hold(
        self,
        request: Request[Any, Any, Any],
        hold_id: FromPath[UUID],
        caller: NamedDependency[Caller],
    ) -> Response[Reservation]:
        """Confirm the hold into a reservation (owner); 409 HOLD_EXPIRED if it is gone."""
        # One dependency on this hot write: see holds/controller.py.
        return respond(await confirm(request, hold_id, caller))  # type: ignore[return-value]


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


class EventReservationsController(Controller):
    path = "/events/{event_id:uuid}/reservations"
    tags = ["reservations"]

    @get("/", guards=[admin_only])
    async def list_event_reservations(
        self,
        event_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        reservations: NamedDependency[ReservationService],
        status: Annotated[
            ReservationStatus | None,
            QueryParameter(description="only active or only cancelled ones; both when absent"),
        ] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> ReservationList:
        """The event's reservations, oldest first (admin)."""
        return await reservations.list_for_event(
            event_id, caller, status=status, limit=limit, cursor=cursor
        )


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
