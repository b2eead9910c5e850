"""Event rules: creation with its seats, listing, changes under optimistic locking, deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import msgspec

from ticketing.db.database import Database
from ticketing.errors import Conflict, FieldError, NotFound, ValidationFailed, VersionConflict
from ticketing.events import repository as events_repo
from ticketing.events.repository import EventRecord
from ticketing.events.schemas import (
    Event,
    EventCreate,
    EventList,
    EventPatch,
    SeatCounts,
    WaitingRoom,
)
from ticketing.holds.service import HoldService
from ticketing.seats import layout
from ticketing.seats.service import SeatService
from ticketing.validation import changed, decode_cursor, page, scope_of


def event_view(record: EventRecord, availability: SeatCounts | None = None) -> Event:
    view = Event(
        id=record.id,
        event_name=record.event_name,
        event_location=record.event_location,
        event_date_time_stamp=record.event_at.astimezone(UTC),
        num_seats=record.num_seats,
        max_num_seats=record.max_num_seats,
        seat_hold_time=record.seat_hold_time,
        assigned_seating=record.assigned_seating,
        version=record.version,
        created_at=record.created_at.astimezone(UTC),
        updated_at=record.updated_at.astimezone(UTC),
        sales_start_at=_utc(record.sales_start_at),
        sales_end_at=_utc(record.sales_end_at or record.event_at),
        waiting_room=_room(record.waiting_room),
    )
    if availability is not None:
        view.availability = availability
    return view


def _room(stored: str | None) -> WaitingRoom | None:
    return None if stored is None else msgspec.json.decode(stored, type=WaitingRoom)


def _stored_room(room: WaitingRoom | None) -> str | None:
    return None if room is None else msgspec.json.encode(room).decode()


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _to_ms(moment: datetime | None) -> datetime | None:
    """A sales window bound as the hold engine keeps it (milliseconds), so that a refusal
    names exactly the instant the event shows."""
    if moment is None:
        return None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _window_errors(
    starts: datetime | None, ends: datetime | None, event_at: datetime
) -> list[FieldError]:
    """The sales window must open before it closes (it closes at the event when not given)."""
    if starts is not None and starts >= (ends or event_at):
        field = "salesStartAt"
        closes = "salesEndAt" if ends is not None else "eventDateTimeStamp"
        return [FieldError(field, f"Must be earlier than {closes}")]
    return []


def _create_errors(body: EventCreate) -> list[FieldError]:
    errors = _window_errors(body.sales_start_at, body.sales_end_at, body.event_date_time_stamp)
    if body.max_num_seats > body.num_seats:
        errors.append(FieldError("maxNumSeats", "Must not exceed numSeats"))
    seating = body.seating
    if seating is not None and seating.sections is not None:
        if not seating.assigned_seating:
            errors.append(
                FieldError("seating.sections", "General admission seats have no sections")
            )
        total = sum(r.seats for s in seating.sections for r in s.rows)
        if total != body.num_seats:
            errors.append(
                FieldError(
                    "seating.sections", f"Sections hold {total} seats; numSeats is {body.num_seats}"
                )
            )
        specs = _specs(seating.sections)
        errors.extend(FieldError(path, "Named twice") for path in layout.duplicate_rows(specs))
    return errors


def _specs(sections: list) -> list[layout.SectionSpec]:  # type: ignore[type-arg]
    return [
        layout.SectionSpec(s.name, s.price, [layout.RowSpec(r.name, r.seats) for r in s.rows])
        for s in sections
    ]


class EventService:
    def __init__(self, db: Database, seats: SeatService, holds: HoldService) -> None:
        self._db = db
        self._seats = seats
        self._holds = holds

    async def create(self, body: EventCreate) -> Event:
        if errors := _create_errors(body):
            raise ValidationFailed(errors)
        seating = body.seating
        assigned = seating.assigned_seating if seating else True
        price = seating.price if seating else Decimal(0)
        if not assigned:
            planned = layout.plan_general_admission(body.num_seats, price, 0)
        elif seating is not None and seating.sections is not None:
            planned = layout.plan_sections(_specs(seating.sections), price, 0)
        else:
            planned = layout.plan_default(body.num_seats, price, 0)
        async with self._db.transaction() as conn:
            record = await events_repo.insert(
                conn,
                event_id=uuid4(),
                event_name=body.event_name,
                event_location=body.event_location,
                event_at=body.event_date_time_stamp,
                num_seats=body.num_seats,
                max_num_seats=body.max_num_seats,
                seat_hold_time=body.seat_hold_time,
                assigned_seating=assigned,
                sales_start_at=_to_ms(body.sales_start_at),
                sales_end_at=_to_ms(body.sales_end_at),
                waiting_room=_stored_room(body.waiting_room),
            )
            await self._seats.insert_for_event(conn, record.id, assigned, planned)
        self._holds.prepare(record.id)  # its first fans find the mirror built
        return event_view(record, self._availability(body.num_seats, 0, 0))

    async def get(self, event_id: UUID) -> Event:
        async with self._db.connection() as conn:
            record = await events_repo.get(conn, event_id)
            if record is None:
                raise NotFound.of("event", event_id)
            reserved = await events_repo.reserved_count(conn, event_id)
        on_hold = await self._holds.on_hold(event_id)
        return event_view(record, self._availability(record.num_seats, reserved, on_hold))

    async def list_events(
        self,
        *,
        starts_from: datetime | None,
        starts_to: datetime | None,
        location: str | None,
        limit: int,
        cursor: str | None,
    ) -> EventList:
        scope = scope_of("events", starts_from, starts_to, location)
        after = decode_cursor(cursor, tuple[datetime, UUID], scope) if cursor else None
        if starts_from is not None and starts_to is not None and starts_from > starts_to:
            raise ValidationFailed.one("from", "Must not be later than to")
        async with self._db.connection() as conn:
            records = await events_repo.list_page(
                conn,
                starts_from=starts_from,
                starts_to=starts_to,
                location=location,
                after=after,
                limit=limit + 1,
            )
        records, next_cursor = page(records, limit, lambda r: [r.event_at, r.id], scope)
        return EventList(items=[event_view(r) for r in records], next_cursor=next_cursor)

    async def patch(self, event_id: UUID, body: EventPatch, expected: list[int] | None) -> Event:
        changes = changed(body)
        for bound in ("sales_start_at", "sales_end_at"):
            if bound in changes:
                changes[bound] = _to_ms(changes[bound])  # type: ignore[arg-type]
        if "waiting_room" in changes:
            changes["waiting_room"] = _stored_room(changes["waiting_room"])  # type: ignore[arg-type]
        async with self._db.transaction() as conn:
            record = await events_repo.get(conn, event_id, for_update=True)
            if record is None:
                raise NotFound.of("event", event_id)
            if expected is not None and record.version not in expected:
                raise VersionConflict(record.version)
            num_seats = int(changes.pop("num_seats", record.num_seats))  # type: ignore[call-overload]
            if num_seats < record.num_seats:
                raise Conflict(
                    f"numSeats cannot go down (from {record.num_seats}); delete seats instead",
                    code="SEATS_CANNOT_SHRINK",
                )
            max_num_seats = int(changes.get("max_num_seats", record.max_num_seats))  # type: ignore[call-overload]
            if max_num_seats > num_seats:
                raise ValidationFailed.one("maxNumSeats", f"Must not exceed numSeats ({num_seats})")
            window = _window_errors(
                changes.get("sales_start_at", record.sales_start_at),  # type: ignore[arg-type]
                changes.get("sales_end_at", record.sales_end_at),  # type: ignore[arg-type]
                changes.get("event_date_time_stamp", record.event_at),  # type: ignore[arg-type]
            )
            if window:
                raise ValidationFailed(window)
            added = num_seats - record.num_seats
            if added:
                await self._seats.extend_event(conn, event_id, record.assigned_seating, added)
            if changes or added:
                record = await events_repo.update(conn, event_id, changes, seats_added=added)
                await self._holds.inventory_changed(event_id)
            reserved = await events_repo.reserved_count(conn, event_id)
        if changes or added:
            await self._holds.inventory_changed(event_id)
            self._holds.prepare(event_id)
            if added:
                self._seats.forget_pages(event_id)
        on_hold = await self._holds.on_hold(event_id)
        return event_view(record, self._availability(record.num_seats, reserved, on_hold))

    async def delete(self, event_id: UUID) -> None:
        async with self._db.transaction() as conn:
            record = await events_repo.get(conn, event_id, for_update=True)
            if record is None:
                raise NotFound.of("event", event_id)
            if reserved := await events_repo.reserved_count(conn, event_id):
                raise Conflict(
                    f"{reserved} seats of this event are reserved", code="EVENT_HAS_RESERVATIONS"
                )
            # No hold can be placed from here on: the mirror is gone, and its rebuild waits
            # for this transaction (the row lock), to find no event. A hold placed before is
            # seen just below.
            await self._holds.inventory_changed(event_id, seats_changed=False)
            if held := await self._holds.held_seats(event_id):
                raise Conflict(
                    f"{len(held)} seats of this event are on hold", code="EVENT_HAS_HOLDS"
                )
            await events_repo.delete(conn, event_id)
        await self._holds.inventory_changed(event_id)  # live readers learn it is gone
        self._seats.forget_pages(event_id)

    @staticmethod
    def _availability(num_seats: int, reserved: int, on_hold: int) -> SeatCounts:
        return SeatCounts(open=num_seats - reserved - on_hold, on_hold=on_hold, reserved=reserved)
