"""HTTP for seats: translate requests to SeatService calls and results to responses."""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import parse_qsl
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from ticketing.auth.caller import Caller, Role
from ticketing.auth.guards import admin_only
from ticketing.seats.schemas import SeatList, SeatPatch, SeatsAdd, SeatsAdded
from ticketing.seats.service import SeatService
from ticketing.seatview.schemas import Seat, SeatStatus
from ticketing.web.direct import direct
from ticketing.web.http import Body, accepts_gzip, encoded, etag, if_match
from ticketing.web.idempotency import Answer, json_answer

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]


async def direct_get_seat(request: Request[Any, Any, Any], seat_id: UUID, caller: Caller) -> Answer:
    """`GET /seats/{id}` served directly (ticketing.web.direct)."""
    seats: SeatService = request.app.state.seats
    if caller.role is Role.ANONYMOUS:
        body, version = await seats.get_anonymous(seat_id)
        return Answer(200, body, {"content-type": "application/json", **etag(version)})
    seat = await seats.get(seat_id, caller)
    return json_answer(seat, headers=etag(seat.version))


_PAGE_QUERY = {"status", "section", "limit", "cursor"}


def _page_query(query: bytes) -> dict[str, str] | None:
    """A seat page's query as the direct route serves it: each parameter once and well
    formed; None for anything else, which Litestar answers (with its own 400s)."""
    try:
        pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    found = dict(pairs)
    if len(found) != len(pairs) or not found.keys() <= _PAGE_QUERY:
        return None
    if found.get("status", "OPEN") not in ("OPEN", "ON_HOLD", "RESERVED"):
        return None
    if not 1 <= len(found.get("section", "x")) <= 50 or "\x00" in found.get("section", ""):
        return None
    limit = found.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and limit[0] != "0" and int(limit) <= 200):
        return None
    if len(found.get("cursor", "")) > 512:
        return None
    return found


async def _signed_out_page(
    request: Request[Any, Any, Any],
    event_id: UUID,
    status: SeatStatus | None,
    section: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[bytes, dict[str, str]]:
    """A page for a caller signed out, as sent (gzipped when the client takes it), and the
    headers that say how."""
    seats: SeatService = request.app.state.seats
    body, gzipped = await seats.list_for_event_anonymous(
        event_id,
        status=status,
        section=section,
        limit=limit,
        cursor=cursor,
        gzip=accepts_gzip(request.scope),
    )
    return body, encoded(gzipped)


async def direct_list_seats(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller
) -> Answer:
    """A page of seats served directly (ticketing.web.direct), for the queries
    `_page_query` accepts."""
    query = _page_query(request.scope["query_string"])
    assert query is not None  # (the route is served directly only then)
    seats: SeatService = request.app.state.seats
    status = cast("SeatStatus | None", query.get("status"))
    section, cursor = query.get("section"), query.get("cursor")
    limit = int(query.get("limit", "50"))
    if caller.role is Role.ANONYMOUS:
        body, headers = await _signed_out_page(request, event_id, status, section, limit, cursor)
        return Answer(200, body, {"content-type": "application/json", **headers})
    return json_answer(
        await seats.list_for_event(
            event_id, caller, status=status, section=section, limit=limit, cursor=cursor
        )
    )


class EventSeatsController(Controller):
    path = "/events/{event_id:uuid}/seats"
    tags = ["seats"]

    @get("/", opt=direct(direct_list_seats, lambda q: _page_query(q) is not None))
    async def list_seats(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        status: FromQuery[SeatStatus | None] = None,
        section: Annotated[str | None, QueryParameter(min_length=1, max_length=50)] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> SeatList:
        """The event's seats, front to back, with their live status.

        A page for a caller signed out that is larger than a packet is sent gzipped
        (`Content-Encoding: gzip`) when `Accept-Encoding` takes gzip; every such page says
        `Vary: Accept-Encoding` (a signed-in fan's page is built for the fan, and goes as it
        is)."""
        # One dependency on this hot read: see holds/controller.py.
        if caller.role is Role.ANONYMOUS:
            body, headers = await _signed_out_page(
                request, event_id, status, section, limit, cursor
            )
            return Response(  # type: ignore[return-value]
                body, media_type="application/json", headers=headers
            )
        seats: SeatService = request.app.state.seats
        return await seats.list_for_event(
            event_id, caller, status=status, section=section, limit=limit, cursor=cursor
        )

    @post("/", guards=[admin_only], dto=Body[SeatsAdd], return_dto=None, status_code=201)
    async def add_seats(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[SeatsAdd],
        seats: NamedDependency[SeatService],
    ) -> SeatsAdded:
        """Add seats (admin): `count` more, or new `sections`; numSeats grows with them."""
        return await seats.add(event_id, data)


class SeatController(Controller):
    path = "/seats"
    tags = ["seats"]

    @get("/{seat_id:uuid}", opt=direct(direct_get_seat))
    async def get_seat(
        self,
        seat_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        seats: NamedDependency[SeatService],
    ) -> Response[Seat]:
        """One seat. Signed out, at most a second old, like a page of seats."""
        if caller.role is Role.ANONYMOUS:
            body, version = await seats.get_anonymous(seat_id)
            return Response(body, media_type="application/json", headers=etag(version))  # type: ignore[arg-type]
        seat = await seats.get(seat_id, caller)
        return Response(seat, headers=etag(seat.version))

    @patch("/{seat_id:uuid}", guards=[admin_only], dto=Body[SeatPatch], return_dto=None)
    async def patch_seat(
        self,
        request: Request[Any, Any, Any],
        seat_id: FromPath[UUID],
        data: JSONBody[SeatPatch],
        seats: NamedDependency[SeatService],
    ) -> Response[Seat]:
        """Change price or place of an open seat (admin). Honours If-Match."""
        seat = await seats.patch(seat_id, data, if_match(request))
        return Response(seat, headers=etag(seat.version))

    @delete("/{seat_id:uuid}", guards=[admin_only], status_code=204)
    async def delete_seat(
        self, seat_id: FromPath[UUID], seats: NamedDependency[SeatService]
    ) -> None:
        """Remove an open seat (admin); numSeats shrinks with it."""
        await seats.delete(seat_id)
