"""HTTP for live availability: counts, the Server-Sent Events stream, and the seat map page."""

from __future__ import annotations

import asyncio
import html
import json
import re
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, caller_address, resolve_caller
from ticketing.errors import NotFound, Stopping
from ticketing.events.service import EventService
from ticketing.live.budget import StreamBudget, Ticket
from ticketing.live.feed import LiveFeed
from ticketing.live.view import Availability, EventView, Listener
from ticketing.observe import metrics
from ticketing.settings import Settings
from ticketing.validation import iso
from ticketing.web.direct import direct
from ticketing.web.idempotency import Answer, json_answer

_HERE = Path(__file__).parent
MAP_PAGE = (_HERE / "map.html").read_text()
ONSALE_PAGE = (_HERE / "onsale.html").read_text()
MISSING_PAGE = (_HERE / "missing.html").read_text()
SEATMAP_JS = (_HERE / "seatmap.js").read_text()
SEATMAP_CSS = (_HERE / "seatmap.css").read_text()
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:"
)
_SLOT = re.compile(r"\{\{(\w+)\}\}")


def _page(template: str, **slots: str) -> str:
    """The template with each {{slot}} filled in one pass (what is filled in is never read
    for slots again, whatever an event's name says)."""
    return _SLOT.sub(lambda m: slots[m.group(1)], template)


def _embedded(raw: bytes) -> str:
    """JSON safe inside a <script> element: no `</script>` can end it early."""
    return raw.decode().replace("<", "\\u003c")


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Frames that come within this long of each other go out in one write: during an onsale a
# subscriber costs a few writes a second, not one per change.
COALESCE_SECONDS = 0.25


async def _frames(
    feed: LiveFeed,
    view: EventView,
    listener: Listener,
    heartbeat: float,
    budget: StreamBudget,
    ticket: Ticket,
) -> AsyncIterator[bytes]:
    # Tells EventSource clients to reconnect after 2 s; they send Last-Event-ID and resume.
    yield b"retry: 2000\n\n"
    metrics.SUBSCRIBERS.inc()
    loop = asyncio.get_running_loop()
    try:
        while True:
            left = ticket.ends_at - loop.time()
            if left <= 0:
                return  # its lifetime is over: the client reconnects and resumes
            try:
                frame = await asyncio.wait_for(listener.queue.get(), min(heartbeat, left))
            except TimeoutError:
                if ticket.ends_at - loop.time() > 0:
                    yield b'event: heartbeat\ndata: {"sequence":%d}\n\n' % view.sequence
                continue
            if frame is None:
                return
            await asyncio.sleep(COALESCE_SECONDS)
            batch = [frame]
            while not listener.queue.empty():
                frame = listener.queue.get_nowait()
                if frame is None:
                    yield b"".join(batch)
                    return
                batch.append(frame)
            yield b"".join(batch)
    finally:
        metrics.SUBSCRIBERS.dec()
        feed.leave(view, listener)
        budget.close(ticket)


async def direct_open_count(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller
) -> Answer:
    """`GET /events/{id}/open-count` served directly (ticketing.web.direct)."""
    live: LiveFeed = request.app.state.live
    return json_answer({"openSeats": (await live.view(event_id)).open_seats()})


async def direct_availability(
    request: Request[Any, Any, Any], event_id: UUID, caller: Caller
) -> Answer:
    """`GET /events/{id}/availability` served directly (ticketing.web.direct)."""
    live: LiveFeed = request.app.state.live
    return json_answer((await live.view(event_id)).availability())


class OpenCountController(Controller):
    """The open count kept from the service this replaces, where its clients look for it."""

    path = "/events/{event_id:uuid}"
    tags = ["holds"]

    @get("/open-count", opt=direct(direct_open_count))
    async def open_count(
        self, event_id: FromPath[UUID], live: NamedDependency[LiveFeed]
    ) -> dict[str, int]:
        """Seats neither held nor reserved (kept from the service this replaces); at most a
        second old, like every live count."""
        view = await live.view(event_id)
        return {"openSeats": view.open_seats()}


class LiveController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["availability"]

    @get("/availability", opt=direct(direct_availability))
    async def availability(
        self, event_id: FromPath[UUID], live: NamedDependency[LiveFeed]
    ) -> Availability:
        """Open, on-hold and reserved counts, overall and per section, at a sequence number.

        The sequence grows with every change; it starts again (with a fresh stream snapshot)
        only if Redis lost the event's state.
        """
        view = await live.view(event_id)
        return view.availability()

    @get(
        "/stream",
        opt={RATE_OPT: "streams"},
        media_type="text/event-stream",
        responses=None,
        description=(
            "Server-Sent Events. First a `snapshot` event (every seat with its status, counts "
            "overall and per section), then a `seats` event for each change: "
            '`{"sequence", "change", "status", "seatIds", "holdExpiresAt"?}`, where change is '
            "held, extended, released, expired, reserved or cancelled. Each event's id is "
            "`<epoch>-<sequence>`; reconnecting with `Last-Event-ID` resumes after it, or starts "
            "with a fresh snapshot when that is no longer possible. A `heartbeat` event comes "
            "after every quiet interval (15 s by default)."
        ),
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        live: NamedDependency[LiveFeed],
    ) -> Stream:
        """The event's seats as they change, as Server-Sent Events."""
        state = request.app.state
        settings: Settings = state.settings  # one dependency: see holds/controller
        if live.draining:
            raise Stopping(settings.retry_after_seconds)
        view = await live.view(event_id)
        caller = await resolve_caller(request)
        budget: StreamBudget = state.streams
        ticket = await budget.open_stream(caller_address(request), caller.customer_id)
        try:
            listener = live.listen(view, request.headers.get("last-event-id"))
        except BaseException:
            budget.close(ticket)
            raise
        frames = _frames(live, view, listener, settings.stream_heartbeat_seconds, budget, ticket)
        # A stream whose client left before its first frame never runs the generator's
        # `finally`; its place is given back when the generator is collected.
        weakref.finalize(frames, budget.close, ticket)
        return Stream(
            frames,
            media_type="text/event-stream",
            headers=STREAM_HEADERS,
        )

    @get("/map", media_type="text/html", opt={RATE_OPT: "streams"}, include_in_schema=True)
    async def seat_map(
        self,
        event_id: FromPath[UUID],
        events: NamedDependency[EventService],
        live: NamedDependency[LiveFeed],
    ) -> Response[str]:
        """An HTML seat map of the event, coloured by status, updating live from the stream:
        drawn at once from the page itself, then kept current."""
        try:
            event = await events.get(event_id)
            view = await live.view(event_id)
        except NotFound:
            return _missing()
        page = _page(
            MAP_PAGE,
            title=html.escape(event.event_name),
            config=html.escape(json.dumps({"eventId": str(event_id), "name": event.event_name})),
            style=SEATMAP_CSS,
            script=SEATMAP_JS,
            snapshot=_embedded(view.snapshot_json()),
        )
        return Response(page, media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP})

    @get("/onsale", media_type="text/html", opt={RATE_OPT: "streams"}, include_in_schema=True)
    async def onsale_page(
        self, event_id: FromPath[UUID], events: NamedDependency[EventService]
    ) -> Response[str]:
        """The fan's page: sign up (or keep the token this browser has), join the waiting
        room, watch the place, then pick seats or ask for the best, hold them with a
        countdown, and buy. Self-contained; usable on a phone and by keyboard."""
        try:
            event = await events.get(event_id)
        except NotFound:
            return _missing()
        config = {
            "eventId": str(event_id),
            "name": event.event_name,
            "maxNumSeats": event.max_num_seats,
            "waitingRoom": bool(event.waiting_room and event.waiting_room.enabled),
            "startsAt": iso(event.event_date_time_stamp),
        }
        page = _page(
            ONSALE_PAGE,
            title=html.escape(event.event_name),
            config=html.escape(json.dumps(config)),
            style=SEATMAP_CSS,
            script=SEATMAP_JS,
        )
        return Response(page, media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP})


def _missing() -> Response[str]:
    return Response(
        MISSING_PAGE,
        status_code=404,
        media_type="text/html",
        headers={"Content-Security-Policy": PAGE_CSP},
    )
