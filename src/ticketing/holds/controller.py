"""HTTP for holds: taking seats, reading, extending and releasing a hold."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ticketing.auth.caller import Caller
from ticketing.auth.guards import (
    IDEMPOTENT,
    RATE_OPT,
    admin_only,
    caller_address,
    customer_only,
    signed_in,
)
from ticketing.holds.schemas import Hold, HoldCreate, HoldList
from ticketing.holds.service import HoldService
from ticketing.validation import decode_body
from ticketing.web.direct import direct
from ticketing.web.http import Body
from ticketing.web.idempotency import Answer, idempotent, respond

# Taking seats has its own rate limit; extending, releasing and confirming a hold one has
# are ordinary writes, so a fan who retried many holds can still buy the one they got.
HOLDS = {RATE_OPT: "holds", IDEMPOTENT: True}

# The onsale's hot handlers (hold, extend, release, confirm) take one dependency, `caller`,
# and their services from the app's state: Litestar resolves two or more dependencies of a
# handler in an anyio task group per request, which cost a quarter of the hold throughput
# (docs/decisions/0008-one-dependency-on-the-hot-path.md).


async def hold_seats(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller, data: HoldCreate
) -> Answer:
    holds: HoldService = request.app.state.holds
    address = caller_address(request)
    return await idempotent(
        request,
        caller,
        201,
        lambda: holds.create(event_id, caller, data, address),
        _hold_location,
    )


async def direct_hold(request: Request[Any, Any, Any], event_id: UUID, caller: Caller) -> Answer:
    """`POST /events/{eventId}/holds` served directly (ticketing.web.direct), its body
    decoded as `Body[HoldCreate]` does."""
    data = decode_body(await request.body(), HoldCreate)
    return await hold_seats(request, event_id, caller, data)


def _hold_location(hold: Hold) -> str:
    return f"/holds/{hold.id}"


class EventHoldsController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["holds"]

    @post(
        "/holds",
        guards=[customer_only],
        opt={**HOLDS, **direct(direct_hold)},
        dto=Body[HoldCreate],
        return_dto=None,
        status_code=201,
    )
    async def create_hold(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        data: JSONBody[HoldCreate],
        caller: NamedDependency[Caller],
    ) -> Response[Hold]:
        """Hold seats: explicit `seatIds`, or best available by `quantity` (customer)."""
        return respond(await hold_seats(request, event_id, caller, data))  # type: ignore[return-value]

    @get("/holds", guards=[admin_only])
    async def list_event_holds(
        self,
        event_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        holds: NamedDependency[HoldService],
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="page size")] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> HoldList:
        """The event's live holds, oldest first (admin)."""
        return await holds.of_event(event_id, caller, limit=limit, cursor=cursor)


class HoldController(Controller):
    path = "/holds"
    tags = ["holds"]

    @get("/{hold_id:uuid}", guards=[signed_in])
    async def get_hold(
        self,
        hold_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        holds: NamedDependency[HoldService],
    ) -> Hold:
        """A live hold (owner, admin); 404 once expired, released or confirmed."""
        return await holds.get(hold_id, caller)

    @post("/{hold_id:uuid}/extend", guards=[customer_only], status_code=200)
    async def extend_hold(
        self,
        request: Request[Any, Any, Any],
        hold_id: FromPath[UUID],
        caller: NamedDependency[Caller],
    ) -> Hold:
        """Push the expiry out by seatHoldTime, up to 3 x seatHoldTime after creation (owner)."""
        holds: HoldService = request.app.state.holds
        return await holds.extend(hold_id, caller)

    @delete("/{hold_id:uuid}", guards=[signed_in], status_code=204)
    async def release_hold(
        self,
        request: Request[Any, Any, Any],
        hold_id: FromPath[UUID],
        caller: NamedDependency[Caller],
    ) -> None:
        """Release a hold (owner, admin)."""
        holds: HoldService = request.app.state.holds
        await holds.release(hold_id, caller)
