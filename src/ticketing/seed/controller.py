"""HTTP for the seat route kept from the service this one replaces."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, customer_only
from ticketing.seatview.schemas import Seat
from ticketing.seed.schemas import SeatStatusChange
from ticketing.seed.service import SeedService
from ticketing.web.http import Body


class SeedSeatController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["holds"]

    @patch(
        "/seats/{seat_id:uuid}",
        guards=[customer_only],
        opt={RATE_OPT: "holds"},  # taking seats, as POST /events/{eventId}/holds
        dto=Body[SeatStatusChange],
        return_dto=None,
    )
    async def change_seat(
        self,
        event_id: FromPath[UUID],
        seat_id: FromPath[UUID],
        data: JSONBody[SeatStatusChange],
        caller: NamedDependency[Caller],
        seed: NamedDependency[SeedService],
    ) -> Seat:
        """Hold (`ON_HOLD`), confirm (`RESERVED`) or release (`OPEN`) one seat, as the seed did."""
        return await seed.change_seat(event_id, seat_id, data, caller)
