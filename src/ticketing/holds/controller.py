"""HTTP for holds, confirmation, and the seed service's seat routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, customer_only, signed_in
from ticketing.cache.idempotency import Answer, Idempotency, check_key
from ticketing.errors import Conflict, Forbidden, NotFound
from ticketing.holds.schemas import Hold, HoldCreate, SeatStatusChange
from ticketing.holds.service import HoldService
from ticketing.live.feed import LiveFeed
from ticketing.reservations.schemas import Reservation
from ticketing.reservations.service import ReservationService
from ticketing.seats.schemas import Seat
from ticketing.seats.service import SeatService
from ticketing.validation import decode_body
from ticketing.web import Body

_encoder = msgspec.json.Encoder()
# Taking seats has its own rate limit; extending, releasing and confirming a hold one has
# are ordinary writes, so a fan who retried many holds can still buy the one they got.
HOLDS = {RATE_OPT: "holds"}

# The onsale's hot handlers (hold, extend, release, confirm) take one dependency, `caller`,
# and their services from the app's state: Litestar resolves two or more dependencies of a
# handler in an anyio task group per request, which cost a quarter of the hold throughput
# (docs/decisions/0008-one-dependency-on-the-hot-path.md).


async def idempotent(
    request: Request[Any, Any, Any],
    caller: Caller,
    status: int,
    work: Callable[[], Awaitable[msgspec.Struct]],
    location: Callable[[Any], str],
) -> Answer:
    """Run `work` once per Idempotency-Key (when one is sent) and answer as the first time."""

    async def answer() -> Answer:
        result = await work()
        headers = {"content-type": "application/json", "location": location(result)}
        return Answer(status, _encoder.encode(result), headers)

    key = check_key(request.headers.get("idempotency-key"))
    if key is None:
        return await answer()
    customer = caller.require_customer()
    store: Idempotency = request.app.state.idempotency
    fingerprint = f"{request.method} {request.url.path}\n".encode() + await request.body()
    return await store.run(customer, key, fingerprint, answer)


def respond(answer: Answer) -> Response[bytes]:
    headers = {k: v for k, v in answer.headers.items() if k != "content-type"}
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.headers.get("content-type", "application/json"),
        headers=headers,
    )


# The two routes below are also served directly (ticketing.direct, registered in
# ticketing.app): `hold_seats` and `confirm` are what both ways run.


async def hold_seats(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller, data: HoldCreate
) -> Answer:
    holds: HoldService = request.app.state.holds
    return await idempotent(
        request, caller, 201, lambda: holds.create(event_id, caller, data), _hold_location
    )


async def direct_hold(request: Request[Any, Any, Any], event_id: UUID, caller: Caller) -> Answer:
    """`POST /events/{eventId}/holds`, its body decoded as `Body[HoldCreate]` does."""
    data = decode_body(await request.body(), HoldCreate)
    return await hold_seats(request, event_id, caller, data)


async def confirm(request: Request[Any, Any, Any], hold_id: UUID, caller: Caller) -> Answer:
    """`POST /holds/{holdId}/reservation`."""
    reservations: ReservationService = request.app.state.reservations
    return await idempotent(
        request, caller, 201, lambda: reservations.confirm(hold_id, caller), _reservation_location
    )


def _hold_location(hold: Hold) -> str:
    return f"/holds/{hold.id}"


def _reservation_location(reservation: Reservation) -> str:
    return f"/reservations/{reservation.id}"


class EventHoldsController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["holds"]

    @post(
        "/holds",
        guards=[customer_only],
        opt=HOLDS,
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

    @get("/open-count")
    async def open_count(
        self, event_id: FromPath[UUID], live: NamedDependency[LiveFeed]
    ) -> dict[str, int]:
        """Seats neither held nor reserved (kept from the service this replaces); at most a
        second old, like every live count."""
        view = await live.view(event_id)
        return {"openSeats": view.open_seats()}

    @patch(
        "/seats/{seat_id:uuid}",
        guards=[customer_only],
        opt=HOLDS,
        dto=Body[SeatStatusChange],
        return_dto=None,
    )
    async def change_seat(
        self,
        event_id: FromPath[UUID],
        seat_id: FromPath[UUID],
        data: JSONBody[SeatStatusChange],
        caller: NamedDependency[Caller],
        holds: NamedDependency[HoldService],
        reservations: NamedDependency[ReservationService],
        seats: NamedDependency[SeatService],
    ) -> Seat:
        """Hold (`ON_HOLD`), confirm (`RESERVED`) or release (`OPEN`) one seat, as the seed did."""
        if data.customer_id != caller.require_customer():
            raise Forbidden("customerId must be the customer of the token")
        current = await seats.get(seat_id, caller)
        if current.event_id != event_id:
            raise NotFound.of("seat", seat_id)
        if data.status == "ON_HOLD":
            await holds.create(event_id, caller, HoldCreate(seat_ids=[seat_id]))
        else:
            live = (await holds.overlay(event_id)).get(str(seat_id))
            mine = live is not None and live.customer_id == str(data.customer_id)
            if data.status == "RESERVED":
                if current.status == "RESERVED" and current.customer_id == data.customer_id:
                    return current
                if not mine or live is None:
                    raise Conflict("You hold no hold on this seat", code="HOLD_EXPIRED")
                await reservations.confirm(UUID(live.hold_id), caller)
            else:
                if current.status == "RESERVED":
                    raise Conflict(
                        "A reserved seat is released by cancelling its reservation",
                        code="SEAT_NOT_OPEN",
                    )
                if live is not None:
                    if not mine:
                        raise Conflict("Another customer holds this seat", code="SEATS_UNAVAILABLE")
                    await holds.release(UUID(live.hold_id), caller)
        return await seats.get(seat_id, caller)


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

    @post("/{hold_id:uuid}/reservation", guards=[customer_only], status_code=201)
    async def confirm_hold(
        self,
        request: Request[Any, Any, Any],
        hold_id: FromPath[UUID],
        caller: NamedDependency[Caller],
    ) -> Response[Reservation]:
        """Confirm the hold into a reservation (owner); 409 HOLD_EXPIRED if it is gone."""
        return respond(await confirm(request, hold_id, caller))  # type: ignore[return-value]
