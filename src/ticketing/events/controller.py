"""HTTP for events: translate requests to EventService calls and results to responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec.enums import OpenAPIFormat
from litestar.params import FromPath, JSONBody, QueryParameter

from ticketing.auth.guards import admin_only
from ticketing.errors import ValidationFailed
from ticketing.events.schemas import Event, EventCreate, EventList, EventPatch
from ticketing.events.service import EventService
from ticketing.validation import check_instant
from ticketing.web.http import Body, etag, if_match

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @post("/", guards=[admin_only], dto=Body[EventCreate], return_dto=None, status_code=201)
    async def create_event(
        self, data: JSONBody[EventCreate], events: NamedDependency[EventService]
    ) -> Response[Event]:
        """Create an event and its seats (admin)."""
        event = await events.create(data)
        return Response(
            event,
            status_code=201,
            headers={"Location": f"/events/{event.id}", **etag(event.version)},
        )

    @get("/")
    async def list_events(
        self,
        events: NamedDependency[EventService],
        starts_from: Annotated[
            str | None,
            QueryParameter(
                name="from", format=OpenAPIFormat.DATE_TIME, description="events at or after"
            ),
        ] = None,
        to: Annotated[
            str | None,
            QueryParameter(format=OpenAPIFormat.DATE_TIME, description="events at or before"),
        ] = None,
        location: Annotated[
            str | None, QueryParameter(min_length=1, max_length=200, description="substring")
        ] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> EventList:
        """List events in time order."""
        return await events.list_events(
            starts_from=_instant("from", starts_from),
            starts_to=_instant("to", to),
            location=location,
            limit=limit,
            cursor=cursor,
        )

    @get("/{event_id:uuid}")
    async def get_event(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> Response[Event]:
        """One event with its availability."""
        event = await events.get(event_id)
        return Response(event, headers=etag(event.version))

    @patch("/{event_id:uuid}", guards=[admin_only], dto=Body[EventPatch], return_dto=None)
    async def patch_event(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        data: JSONBody[EventPatch],
        events: NamedDependency[EventService],
    ) -> Response[Event]:
        """Change fields (admin); raising numSeats adds seats. Honours If-Match."""
        event = await events.patch(event_id, data, if_match(request))
        return Response(event, headers=etag(event.version))

    @delete("/{event_id:uuid}", guards=[admin_only], status_code=204)
    async def delete_event(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> None:
        """Delete an event (admin); 409 while any seat is held or reserved."""
        await events.delete(event_id)


def _instant(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 date-time with its offset (or Z); numbers and bare dates are refused."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed.one(
            name, "Must be an ISO 8601 date-time such as 2027-05-01T19:30:00Z"
        ) from None
    if value.tzinfo is None or "T" not in raw.upper():
        raise ValidationFailed.one(
            name, "Must be an ISO 8601 date-time with a time zone (Z or +hh:mm)"
        )
    if (problem := check_instant(value)) is not None:
        raise ValidationFailed.one(name, problem)
    return value
