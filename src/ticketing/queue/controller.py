"""HTTP for the waiting room: join, read one's place, leave, and the organiser's counts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, admin_only, customer_only, signed_in
from ticketing.queue.schemas import QueueCounts, QueueEntry
from ticketing.queue.service import QueueService
from ticketing.web.direct import direct
from ticketing.web.idempotency import Answer, json_answer


async def direct_get_queue_entry(
    request: Request[Any, Any, Any], entry_id: UUID, caller: Caller
) -> Answer:
    """`GET /queue/{id}` served directly (ticketing.web.direct): what a waiting crowd polls."""
    queue: QueueService = request.app.state.queue
    return json_answer(await queue.get(entry_id, caller))


async def direct_join_queue(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller
) -> Answer:
    """`POST /events/{id}/queue` served directly (ticketing.web.direct): a crowd joins at once."""
    queue: QueueService = request.app.state.queue
    entry, made = await queue.join(event_id, caller)
    return json_answer(entry, 201 if made else 200, {"location": f"/queue/{entry.id}"})


class EventQueueController(Controller):
    path = "/events/{event_id:uuid}/queue"
    tags = ["waiting room"]

    @post("/", guards=[customer_only], status_code=201, opt=direct(direct_join_queue))
    async def join_queue(
        self,
        event_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        queue: NamedDependency[QueueService],
    ) -> Response[QueueEntry]:
        """Join the event's waiting room (customer): 201, or 200 with the entry this customer
        already has."""
        entry, made = await queue.join(event_id, caller)
        return Response(
            entry, status_code=201 if made else 200, headers={"Location": f"/queue/{entry.id}"}
        )

    @get("/", guards=[admin_only])
    async def queue_counts(
        self,
        event_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        queue: NamedDependency[QueueService],
    ) -> QueueCounts:
        """The waiting room's counts per state, its rate and the next place to admit (admin)."""
        return await queue.counts(event_id, caller)


class QueueEntryController(Controller):
    path = "/queue"
    tags = ["waiting room"]

    @get(
        "/{entry_id:uuid}",
        guards=[signed_in],
        opt={**direct(direct_get_queue_entry), RATE_OPT: "polls"},
    )
    async def get_queue_entry(
        self,
        entry_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        queue: NamedDependency[QueueService],
    ) -> QueueEntry:
        """A fan's place and state (owner, admin); ask again after pollAfterSeconds. A waiting
        fan's place is answered from the server's memory and may be a quarter second old.
        Polls are limited per token by each server (TICKETING_RATE_LIMIT_POLLS)."""
        return await queue.get(entry_id, caller)

    @delete("/{entry_id:uuid}", guards=[customer_only], status_code=204)
    async def leave_queue(
        self,
        entry_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        queue: NamedDependency[QueueService],
    ) -> None:
        """Leave the waiting room, or give back an admission (owner)."""
        await queue.leave(entry_id, caller)
