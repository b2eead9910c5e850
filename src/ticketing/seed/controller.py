"""HTTP for the seat route kept from the service this one replaces."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, caller_address, customer_only
from ticketing.seatview.schemas import Seat
from ticketing.seed.schemas import SeatStatusChange
from ticketing.seed.service import SeedService
from ticketing.validation import decode_body
from ticketing.web.direct import direct
from ticketing.web.http import Body
from ticketing.web.idempotency import Answer, json_answer


async def direct_change_seat(
    request: Request[Any, Any, Any], event_id: UUID, seat_id: UUID, caller: Caller
) -> Answer:
    """The seed's PATCH served directly (ticketing.web.direct), its body decoded as
    `Body[SeatStatusChange]` does."""
    seed: SeedService = request.app.state.seed
    change = decode_body(await request.body(), SeatStatusChange)
    return json_answer(
        await seed.change_seat(event_id, seat_id, change, caller, caller_address(request))
    )


class SeedSeatController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["holds"]

    @patch(
        "/seats/{seat_id:uuid}",
        guards=[customer_only],
        # Taking seats, as POST /events/{eventId}/holds; as hot, and as direct.
        opt={RATE_OPT: "holds", **direct(direct_change_seat)},
        dto=Body[SeatStatusChange],
        return_dto=None,
    )
    async def change_seat(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        seat_id: FromPath[UUID],
        data: JSONBody[SeatStatusChange],
        caller: NamedDependency[Caller],
        seed: NamedDependency[SeedService],
    ) -> Seat:
        """Hold (`ON_HOLD`), confirm (`RESERVED`) or release (`OPEN`) one seat, as the seed did."""
        return await seed.change_seat(event_id, seat_id, data, caller, caller_address(request))
