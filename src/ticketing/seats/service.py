"""Seat rules: listing with live status, adding seats, editing and removing open seats."""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from ticketing.auth.caller import ADMIN, ANONYMOUS, Caller
from ticketing.db.database import Connection, Database
from ticketing.errors import Conflict, FieldError, NotFound, ValidationFailed, VersionConflict
from ticketing.holds.lifecycle import HoldEvent, Kind
from ticketing.holds.models import LiveHold
from ticketing.holds.service import HoldService
from ticketing.seats import layout
from ticketing.seats import repository as seats_repo
from ticketing.seats.schemas import SeatList, SeatPatch, SeatsAdd, SeatsAdded
from ticketing.seatview.repository import SeatRecord
from ticketing.seatview.schemas import Seat, SeatStatus
from ticketing.seatview.view import seat_view
from ticketing.validation import changed, decode_cursor, encode_cursor, page, scope_of

_encode = msgspec.json.Encoder().encode


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


PAGE_SECONDS = 1.0
# Pages signed-out fans read are sent gzipped, to clients that take it, from this size: below
# about one packet it saves nothing on the way.
GZIP_FROM_BYTES = 1400
Position = Annotated[int, Meta(ge=0, le=2**31 - 1)]  # a seat's place in its event (int4)
PAGE_CACHE_EVENTS = 1024
SEAT_CACHE = 20_000  # seat records kept per process for GET /seats/{id}, at most PAGE_SECONDS


@dataclass(slots=True)
class _Page:
    read_at: float
    records: list[SeatRecord]
    next_cursor: str | None
    held: dict[str, LiveHold]
    anonymous: bytes | None = None  # the page as anyone signed out sees it, encoded...
    anonymous_until: int = 0  # ...until the first hold on it runs out (ms since the epoch)
    gzipped: bytes | None = None  # `anonymous` gzipped, once asked for (None until then)


class _Row(NamedTuple):
    """A seat's row as PostgreSQL had it (its live hold is read afresh every time)."""

    read_at: float  # monotonic
    edits: int  # the event's sales and edits made by this process, then
    record: SeatRecord


class _SignedOut(NamedTuple):
    """GET /seats/{id} as anyone signed out sees it, encoded."""

    read_at: float  # monotonic
    until_ms: int  # the end of the hold on it (ms since the epoch)
    record: SeatRecord
    changes: int | None  # the event's changes made by this process, then
    body: bytes


def seat_conflict(exc: asyncpg.UniqueViolationError) -> Conflict:
    return Conflict(
        "A seat with that section, row and seat number already exists in this event",
        code="SEAT_EXISTS",
    )


async def plan_more_seats(
    conn: Connection,
    event_id: UUID,
    assigned_seating: bool,
    count: int,
    *,
    price: Decimal | None = None,
    section: str | None = None,
) -> list[layout.PlannedSeat]:
    """`count` seats after the event's last one, in rows of 20 (API.md, "Event").

    Assigned seats continue the named section (default: the section of the last seat) in
    new rows named after the last spreadsheet-style row; the price is `price`, or the
    price of the last seat.
    """
    last = await seats_repo.last_seat(conn, event_id)
    position = await seats_repo.next_position(conn, event_id)
    seat_price = price if price is not None else (last.price if last else Decimal(0))
    if not assigned_seating:
        return layout.plan_general_admission(count, seat_price, position)
    target = section or (last.section if last and last.section else layout.DEFAULT_SECTION)
    used = [layout.row_index(name) for name in await seats_repo.row_names(conn, event_id, target)]
    rows_used = max((i for i in used if i is not None), default=-1) + 1
    return layout.plan_default(count, seat_price, position, section=target, rows_used=rows_used)


class SeatService:
    def __init__(self, db: Database, holds: HoldService) -> None:
        self._db = db
        self._holds = holds
        self._pages: dict[UUID, dict[tuple[object, ...], _Page]] = {}
        self._changes: dict[UUID, int] = {}  # per event: changes made by this process
        self._reading: dict[tuple[UUID, tuple[object, ...]], asyncio.Future[_Page]] = {}
        self._records: dict[UUID, _Row] = {}
        self._edits: dict[UUID, int] = {}  # per event: sales and edits made by this process
        self._edit_total = 0  # of every event
        self._anonymous: dict[UUID, _SignedOut] = {}

    def on_hold_event(self, event: HoldEvent) -> None:
        """A hold began or ended in this process: what readers see of the event changed (an
        expiry is seen by the clock, without being told). A sale or a cancellation also
        changes the seats' rows."""
        if event.kind in (Kind.CONFIRMED, Kind.CANCELLED):
            self.forget_pages(event.event_id)
        elif event.kind is not Kind.EXPIRED:
            self._forget_pages_only(event.event_id)

    def forget_pages(self, event_id: UUID) -> None:
        """The event's seats changed: this process's cached pages and rows of them go now."""
        self._forget_pages_only(event_id)
        if len(self._edits) >= PAGE_CACHE_EVENTS:
            self._edits.clear()
            self._records.clear()
        self._edits[event_id] = self._edits.get(event_id, 0) + 1
        self._edit_total += 1

    def _forget_pages_only(self, event_id: UUID) -> None:
        self._pages.pop(event_id, None)
        if len(self._changes) >= PAGE_CACHE_EVENTS:
            self._changes.clear()
            self._anonymous.clear()
        self._changes[event_id] = self._changes.get(event_id, 0) + 1

    async def list_for_event(
        self,
        event_id: UUID,
        caller: Caller,
        *,
        status: SeatStatus | None,
        section: str | None,
        limit: int,
        cursor: str | None,
    ) -> SeatList:
        """A page of the event's seats, at most PAGE_SECONDS old: during an onsale thousands
        of fans list the same seats, and each page is read from PostgreSQL and Redis once a
        second per worker, not once per request. A change made through this process drops
        the event's pages at once (`forget_pages`, told of holds by `on_hold_event`)."""
        cached = await self._page(event_id, status, section, limit, cursor)
        return self._render(cached, caller)

    async def list_for_event_anonymous(
        self,
        event_id: UUID,
        *,
        status: SeatStatus | None,
        section: str | None,
        limit: int,
        cursor: str | None,
        gzip: bool = False,
    ) -> tuple[bytes, bool]:
        """The same page for a caller signed out, as JSON, encoded once per page read: the
        page most read during an onsale costs neither building nor encoding per request.
        With `gzip` (the client takes it), a page larger than a packet is sent gzipped,
        compressed once per page read too: a 200-seat page is 50 KB, about 6 KB gzipped.
        Returns the body and whether it is gzipped."""
        cached = await self._page(event_id, status, section, limit, cursor)
        now = _now_ms()
        if cached.anonymous is None or now >= cached.anonymous_until:
            cached.anonymous = _encode(self._render(cached, ANONYMOUS))
            cached.gzipped = None
            ends = [h.expires_ms for h in cached.held.values() if h.expires_ms > now]
            cached.anonymous_until = min(ends, default=1 << 62)
        if not gzip or len(cached.anonymous) < GZIP_FROM_BYTES:
            return cached.anonymous, False
        if cached.gzipped is None:
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # (31: the gzip format)
            cached.gzipped = packer.compress(cached.anonymous) + packer.flush()
        return cached.gzipped, True

    @staticmethod
    def _render(cached: _Page, caller: Caller) -> SeatList:
        # A hold that ran out since the page was read is open, before the sweeper says so.
        now = _now_ms()
        held = {s: h for s, h in cached.held.items() if h.expires_ms > now}
        return SeatList(
            items=[seat_view(r, caller, held.get(str(r.id))) for r in cached.records],
            next_cursor=cached.next_cursor,
        )

    async def _page(
        self,
        event_id: UUID,
        status: SeatStatus | None,
        section: str | None,
        limit: int,
        cursor: str | None,
    ) -> _Page:
        key = (status, section, cursor, limit)
        now = time.monotonic()
        pages = self._pages.get(event_id)
        cached = pages.get(key) if pages else None
        if cached is not None and now - cached.read_at <= PAGE_SECONDS:
            return cached
        # One read per page at a time: the fans who ask while it is read wait for it (not
        # those who ask after a change made here: theirs is read after the change).
        flight = (event_id, (*key, self._changes.get(event_id)))
        reading = self._reading.get(flight)
        if reading is None:
            reading = asyncio.ensure_future(
                self._read_and_keep(event_id, key, status, section, limit, cursor)
            )
            self._reading[flight] = reading
            reading.add_done_callback(lambda _: self._reading.pop(flight, None))
        return await asyncio.shield(reading)

    async def _read_and_keep(
        self,
        event_id: UUID,
        key: tuple[object, ...],
        status: SeatStatus | None,
        section: str | None,
        limit: int,
        cursor: str | None,
    ) -> _Page:
        now = time.monotonic()
        changes = self._changes.get(event_id)
        records, next_cursor, held = await self._read_page(
            event_id, status=status, section=section, limit=limit, cursor=cursor
        )
        cached = _Page(now, records, next_cursor, held)
        if self._changes.get(event_id) == changes:  # else it may predate that change
            if len(self._pages) >= PAGE_CACHE_EVENTS:
                self._pages.clear()  # a crude bound: they are a second's worth anyway
            self._pages.setdefault(event_id, {})[key] = cached
        return cached

    async def _read_page(
        self,
        event_id: UUID,
        *,
        status: SeatStatus | None,
        section: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[SeatRecord], str | None, dict[str, LiveHold]]:
        scope = scope_of("seats", event_id, status, section)
        after = decode_cursor(cursor, tuple[Position], scope)[0] if cursor else None
        async with self._db.connection() as conn:
            if await seats_repo.event_seating(conn, event_id) is None:
                raise NotFound.of("event", event_id)
            if status in ("ON_HOLD", "OPEN"):
                return await self._read_by_hold(
                    conn, event_id, status == "ON_HOLD", section, after, limit, scope
                )
            records = await seats_repo.list_page(
                conn,
                event_id,
                status=status,
                section=section,
                after_position=after,
                limit=limit + 1,
            )
        records, next_cursor = page(records, limit, lambda r: [r.position], scope)
        # Only the holds on the page's own seats: a cost of the page, not of the event.
        held = await self._holds.held_seats(
            event_id, [str(r.id) for r in records if r.status == "OPEN"]
        )
        return records, next_cursor, held

    async def _read_by_hold(
        self,
        conn: Connection,
        event_id: UUID,
        held: bool,
        section: str | None,
        after: int | None,
        limit: int,
        scope: str,
    ) -> tuple[list[SeatRecord], str | None, dict[str, LiveHold]]:
        """A page of the open or of the held seats: which seats, in order, from the mirror's
        position indexes in Redis (a range read, whatever the event's holds), then their rows
        from PostgreSQL (those still open there: a sale committing now is left out)."""
        if section is not None and any(c < " " or c == "\x7f" for c in section):
            return [], None, {}  # no seat has such a section (and it would end the range)
        paged = await self._holds.seat_page(
            event_id, held=held, section=section, after=after, count=limit + 1
        )
        kept = paged[:limit]
        records = []
        if kept:
            records = await seats_repo.list_page(
                conn,
                event_id,
                status="OPEN",
                section=section,
                after_position=None,
                limit=len(kept),
                only=[p.seat_id for p in kept],
            )
        next_cursor = encode_cursor(scope, [kept[-1].position]) if len(paged) > limit else None
        return records, next_cursor, {p.seat_id: p.hold for p in kept if p.hold is not None}

    async def add(self, event_id: UUID, body: SeatsAdd) -> SeatsAdded:
        if (body.count is None) == (body.sections is None):
            raise ValidationFailed(
                [
                    FieldError("count", "Give either count or sections"),
                    FieldError("sections", "Give either count or sections"),
                ]
            )
        async with self._db.transaction() as conn:
            event = await seats_repo.event_seating(conn, event_id, for_update=True)
            if event is None:
                raise NotFound.of("event", event_id)
            if body.count is not None:
                if body.section is not None and not event.assigned_seating:
                    raise ValidationFailed.one("section", "General admission seats have no section")
                planned = await plan_more_seats(
                    conn,
                    event_id,
                    event.assigned_seating,
                    body.count,
                    price=body.price,
                    section=body.section,
                )
            else:
                assert body.sections is not None
                if not event.assigned_seating:
                    raise ValidationFailed.one(
                        "sections", "General admission seats have no sections"
                    )
                specs = [
                    layout.SectionSpec(
                        s.name, s.price, [layout.RowSpec(r.name, r.seats) for r in s.rows]
                    )
                    for s in body.sections
                ]
                if dupes := layout.duplicate_rows(specs):
                    raise ValidationFailed(
                        [FieldError(d.removeprefix("seating."), "Named twice") for d in dupes]
                    )
                pairs = [(s.name, r.name) for s in specs for r in s.rows]
                if taken := await seats_repo.existing_rows(conn, event_id, pairs):
                    raise Conflict(
                        "These rows already have seats: " + ", ".join(f"{s}/{r}" for s, r in taken),
                        code="SEAT_EXISTS",
                    )
                price = body.price if body.price is not None else Decimal(0)
                position = await seats_repo.next_position(conn, event_id)
                planned = layout.plan_sections(specs, price, position)
            if event.num_seats + len(planned) > layout.MAX_SEATS:
                raise Conflict(
                    f"The event has {event.num_seats} seats; {len(planned)} more would pass"
                    f" {layout.MAX_SEATS}",
                    code="CAPACITY_EXCEEDED",
                )
            records = await self.insert_for_event(conn, event_id, event.assigned_seating, planned)
            num_seats = await seats_repo.count_seats(conn, event_id, len(records))
            await self._holds.inventory_changed(event_id)
        await self._changed(event_id)
        return SeatsAdded(items=[seat_view(r, ADMIN) for r in records], num_seats=num_seats)

    async def insert_for_event(
        self,
        conn: Connection,
        event_id: UUID,
        assigned_seating: bool,
        planned: list[layout.PlannedSeat],
    ) -> list[SeatRecord]:
        """Insert planned seats, inside the caller's transaction (which also counts them in
        the event's numSeats)."""
        try:
            return await seats_repo.insert_many(conn, event_id, assigned_seating, planned)
        except asyncpg.UniqueViolationError as exc:
            raise seat_conflict(exc) from exc

    async def extend_event(
        self, conn: Connection, event_id: UUID, assigned_seating: bool, count: int
    ) -> None:
        """`count` seats after the event's last ones, inside the caller's transaction (an
        event's numSeats going up)."""
        planned = await plan_more_seats(conn, event_id, assigned_seating, count)
        await self.insert_for_event(conn, event_id, assigned_seating, planned)

    async def _changed(self, event_id: UUID) -> None:
        """After the commit of a change to the event's seats."""
        await self._holds.inventory_changed(event_id)
        self._holds.prepare(event_id)
        self.forget_pages(event_id)

    async def get(self, seat_id: UUID, caller: Caller) -> Seat:
        return (await self.get_with_hold(seat_id, caller))[0]

    async def get_with_hold(self, seat_id: UUID, caller: Caller) -> tuple[Seat, LiveHold | None]:
        """The seat as `caller` sees it, and the live hold on it: the hold read now (one
        script), the row at most PAGE_SECONDS old, like a page of seats (a sale or an edit
        made through this process is seen at once)."""
        record = await self._record(seat_id)
        held = (await self._holds.held_seats(record.event_id, [str(seat_id)])).get(str(seat_id))
        return seat_view(record, caller, held), held

    async def get_anonymous(self, seat_id: UUID) -> tuple[bytes, int]:
        """The seat as anyone signed out sees it, as JSON, and its version: encoded once and
        kept, like a page of seats, at most PAGE_SECONDS and never past the end of the hold
        on it, dropped by any change made through this process. A fan polling a seat costs
        neither PostgreSQL nor Redis."""
        now = time.monotonic()
        kept = self._anonymous.get(seat_id)
        if (
            kept is not None
            and now - kept.read_at <= PAGE_SECONDS
            and _now_ms() < kept.until_ms
            and self._changes.get(kept.record.event_id) == kept.changes
        ):
            return kept.body, kept.record.version
        record = await self._record(seat_id)
        changes = self._changes.get(record.event_id)
        held = (await self._holds.held_seats(record.event_id, [str(seat_id)])).get(str(seat_id))
        body = _encode(seat_view(record, ANONYMOUS, held))
        if len(self._anonymous) >= SEAT_CACHE:
            self._anonymous.clear()
        until = held.expires_ms if held is not None else 1 << 62
        self._anonymous[seat_id] = _SignedOut(now, until, record, changes, body)
        return body, record.version

    async def _record(self, seat_id: UUID) -> SeatRecord:
        """The seat's row, at most PAGE_SECONDS old (a sale or an edit made here drops it)."""
        now = time.monotonic()
        kept = self._records.get(seat_id)
        if (
            kept is not None
            and now - kept.read_at <= PAGE_SECONDS
            and self._edits.get(kept.record.event_id, 0) == kept.edits
        ):
            return kept.record
        edits = self._edit_total
        async with self._db.connection() as conn:
            record = await seats_repo.get(conn, seat_id)
        if record is None:
            raise NotFound.of("seat", seat_id)
        if self._edit_total == edits:  # (else the row may predate an edit made meanwhile)
            if len(self._records) >= SEAT_CACHE:
                self._records.clear()  # a crude bound: they are a second's worth anyway
            self._records[seat_id] = _Row(now, self._edits.get(record.event_id, 0), record)
        return record

    async def patch(self, seat_id: UUID, body: SeatPatch, expected: list[int] | None) -> Seat:
        changes = changed(body)
        async with self._db.transaction() as conn:
            record = await seats_repo.get(conn, seat_id, for_update=True)
            if record is None:
                raise NotFound.of("seat", seat_id)
            if expected is not None and record.version not in expected:
                raise VersionConflict(record.version)
            placement = {"row", "seat_number", "section"} & changes.keys()
            if placement and not record.assigned_seating:
                raise ValidationFailed(
                    [
                        FieldError(_wire(f), "General admission seats have no place")
                        for f in sorted(placement)
                    ]
                )
            if changes:
                await self._hold_still(conn, record)
            await self._require_open(record)
            if not changes:
                return seat_view(record, ADMIN)
            try:
                updated = await seats_repo.update(conn, seat_id, changes)
            except asyncpg.UniqueViolationError as exc:
                raise seat_conflict(exc) from exc
        await self._changed(record.event_id)
        return seat_view(updated, ADMIN)

    async def delete(self, seat_id: UUID) -> None:
        async with self._db.transaction() as conn:
            record = await seats_repo.get(conn, seat_id, for_update=True)
            if record is None:
                raise NotFound.of("seat", seat_id)
            event = await self._hold_still(conn, record)
            await self._require_open(record)
            if event.num_seats <= 10:
                raise Conflict("An event keeps at least 10 seats", code="MIN_SEATS")
            if event.max_num_seats > event.num_seats - 1:
                raise Conflict(
                    "maxNumSeats would exceed numSeats; lower maxNumSeats first", code="MAX_SEATS"
                )
            await seats_repo.delete(conn, seat_id)
            await seats_repo.count_seats(conn, record.event_id, -1)
        await self._changed(record.event_id)

    async def _hold_still(self, conn: Connection, record: SeatRecord) -> seats_repo.EventSeating:
        """Stop new holds of the event's seats until this transaction ends: take the
        event's row lock (which every mirror rebuild waits for, FOR SHARE) and drop the
        mirror (so every hold attempt must rebuild it). A hold placed before is then seen by
        `_require_open`; one attempted after gets the seat as this change leaves it. A
        Redis outage here changes nothing (503)."""
        event = await seats_repo.event_seating(conn, record.event_id, for_update=True)
        assert event is not None  # the seat's row, locked, keeps its event
        await self._holds.inventory_changed(record.event_id, seats_changed=False)
        return event

    async def _require_open(self, record: SeatRecord) -> None:
        status = record.status
        seat = str(record.id)
        if status == "OPEN" and seat in await self._holds.held_seats(record.event_id, [seat]):
            status = "ON_HOLD"
        if status != "OPEN":
            raise Conflict(f"The seat is {status}; only open seats change", code="SEAT_NOT_OPEN")


def _wire(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
