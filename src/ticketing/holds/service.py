"""The holds face: every other domain asks this service, never the engine or its keys.

Hold rules over the engine: who may hold, see, extend and release, and what they see; and
the steps of a confirmation (fence, committed, failed, refused) that the reservations
domain drives. Every step that begins or ends a hold emits its lifecycle event
(`lifecycle.py`) once the fact is certain.

A hold attempt is one engine script. Two small indexes outside the event's keys answer
"which event is this hold in" (`hold:<holdId>`) and "what does this customer hold"
(`cholds:<customerId>`); both are written after the hold exists and only ever point at
holds that may have gone, which every reader checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from glide import (
    Batch,
    ClusterBatch,
    ExpirySet,
    ExpiryType,
    GlideClient,
    GlideClusterClient,
    UpdateOptions,
)

from ticketing.auth.caller import Caller
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.errors import (
    AppError,
    Conflict,
    DependencyUnavailable,
    FieldError,
    NotFound,
    ValidationFailed,
)
from ticketing.holds import keys
from ticketing.holds import models as m
from ticketing.holds import repository as holds_repo
from ticketing.holds.engine import INDEX_TTL_SECONDS, HoldEngine
from ticketing.holds.lifecycle import Cause, HoldEvent, HoldEvents, Kind
from ticketing.holds.models import EventStatus, FencedHold, LiveHold, PagedSeat, SeatDetails
from ticketing.holds.schemas import Hold, HoldCreate, HoldList
from ticketing.ids import EventsByPrefix, scoped_id
from ticketing.observe import metrics
from ticketing.seatview import repository as seat_reads
from ticketing.seatview.schemas import Seat
from ticketing.seatview.view import money, seat_view
from ticketing.validation import decode_cursor, instant, iso, page, scope_of

log = logging.getLogger("ticketing.holds")
T = TypeVar("T")

KEY_PATTERNS = keys.PATTERNS  # every Redis key of holds, as SCAN patterns (`db reset`)
WARM_EVENTS = 200  # upcoming events whose mirrors are kept built ahead of their fans
WARM_SECONDS = 5.0  # how often the sweeping process looks for one missing
ACTIVE_SECONDS = 300.0  # an event swept this recently is still active (for the audit)
SECTIONS_SECONDS = 5.0  # how long an event's section names are kept (unknown-section check)
SECTIONS_KEPT = 1024


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _held_seat(
    event_id: UUID, seat: SeatDetails, customer_id: UUID, expires_ms: int, hold_id: UUID
) -> Seat:
    """A seat just held, shown to its holder."""
    return Seat(
        id=UUID(seat.seat_id),
        event_id=event_id,
        price=money(Decimal(seat.price)),
        status="ON_HOLD",
        assigned_seating=seat.section is not None,
        customer_id=customer_id,
        row=seat.row,
        seat_number=seat.seat_number,
        section=seat.section,
        hold_expires_at=instant(expires_ms),
        version=seat.version,
        hold_id=hold_id,
    )


class HoldService:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        *,
        events: HoldEvents | None = None,
        engine: HoldEngine | None = None,
        address_share: int | None = None,
    ) -> None:
        self._db = db
        # Percent of an event's seats one client address may hold at once (None: no bound).
        self._address_share = address_share or 0
        self._redis = redis
        self.events = events or HoldEvents()
        self._known_sections: dict[UUID, tuple[float, frozenset[str]]] = {}
        self._events = EventsByPrefix()  # the events this process held seats of, or looked up

        async def snapshot(event_id: UUID) -> m.MirrorSnapshot | None:
            async with db.connection() as conn:
                return await holds_repo.mirror_snapshot(conn, event_id)

        self.engine = engine or HoldEngine(redis, snapshot)

    def _emit(
        self,
        kind: Kind,
        event_id: UUID,
        hold_id: UUID,
        customer_id: UUID | str,
        seat_ids: list[str],
        cause: Cause,
        *,
        sequence: int = 0,
        expires_ms: int | None = None,
        reservation_id: UUID | None = None,
        at_ms: int | None = None,
    ) -> None:
        self.events.emit(
            HoldEvent(
                kind=kind,
                event_id=event_id,
                hold_id=hold_id,
                customer_id=customer_id if isinstance(customer_id, UUID) else UUID(customer_id),
                seat_ids=tuple(seat_ids),
                at_ms=_now_ms() if at_ms is None else at_ms,
                cause=cause,
                sequence=sequence,
                expires_ms=expires_ms,
                reservation_id=reservation_id,
            )
        )

    # --- holding -------------------------------------------------------------------------

    async def create(
        self, event_id: UUID, caller: Caller, body: HoldCreate, address: str = ""
    ) -> Hold:
        """Hold seats for the caller; `address` is the client's (its rate-limit subject), whose
        share of the event's seats on hold is bounded."""
        customer_id = caller.require_customer()
        hold_id = scoped_id(event_id)  # (its confirmation finds the event from the id)
        share = self._address_share if address else 0
        try:
            if body.seat_ids is not None:
                if body.quantity is not None or body.section is not None:
                    raise ValidationFailed.one("seatIds", "Give seatIds or quantity, not both")
                ids = [str(s) for s in body.seat_ids]
                if len(set(ids)) != len(ids):
                    raise ValidationFailed.one("seatIds", "A seat is named twice")
                placed = await self.engine.hold_seats(
                    event_id, customer_id, hold_id, ids, address=address, address_share=share
                )
            elif body.quantity is not None:
                placed = await self.engine.hold_best(
                    event_id,
                    customer_id,
                    hold_id,
                    body.quantity,
                    body.section,
                    body.adjacent,
                    address=address,
                    address_share=share,
                )
            else:
                raise ValidationFailed(
                    [
                        FieldError("seatIds", "Give seatIds or quantity"),
                        FieldError("quantity", "Give seatIds or quantity"),
                    ]
                )
        except m.EventUnknown:
            raise NotFound.of("event", event_id) from None
        except m.UnknownSeats as exc:
            raise ValidationFailed.one(
                "seatIds", f"Not seats of this event: {', '.join(exc.seat_ids)}"
            ) from None
        except m.SeatsUnavailable as exc:
            metrics.HOLDS_TAKEN.inc()
            raise Conflict(
                "Some seats are held or reserved; nothing was held",
                code="SEATS_UNAVAILABLE",
                unavailableSeatIds=exc.seat_ids,
            ) from None
        except m.SalesClosed as exc:
            opens = None if exc.opens_ms is None else instant(exc.opens_ms)
            closes = instant(exc.closes_ms)
            now = datetime.now(UTC)
            said = (
                f"Sales open at {iso(opens)}"
                if opens is not None and now < opens
                else f"Sales closed at {iso(closes)}"
            )
            raise Conflict(
                f"{said}; nothing was held",
                code="SALES_CLOSED",
                salesStartAt=None if opens is None else iso(opens),
                salesEndAt=iso(closes),
            ) from None
        except m.NoneAvailable:
            if body.section is not None and body.section not in await self._sections(event_id):
                raise ValidationFailed.one(
                    "section", f"This event has no section named {body.section!r}"
                ) from None
            metrics.HOLDS_TAKEN.inc()
            what = "side by side " if body.adjacent else ""
            raise Conflict(
                f"Not enough open seats {what}to hold {body.quantity}",
                code="SEATS_UNAVAILABLE",
                unavailableSeatIds=[],
            ) from None
        except m.NotAdmitted:
            raise Conflict(
                "This event has a waiting room: join it (POST /events/{id}/queue) and hold"
                " seats once admitted, before admittedUntil",
                code="NOT_ADMITTED",
            ) from None
        except m.AddressLimit as exc:
            metrics.HOLDS_OVER_LIMIT.inc()
            raise Conflict(
                f"One network address may hold at most {exc.most} seats of this event at once;"
                f" {exc.held} are held from yours. Buy or release some first",
                code="ADDRESS_LIMIT_EXCEEDED",
                addressLimit=exc.most,
            ) from None
        except m.LimitExceeded as exc:
            metrics.HOLDS_OVER_LIMIT.inc()
            who = (
                "You were admitted for the last seats: you may"
                if exc.admitted_for
                else "A customer may"
            )
            raise Conflict(
                f"{who} hold and reserve at most {exc.maximum} seats of this event;"
                f" you have {exc.already}",
                code="LIMIT_EXCEEDED",
                maxNumSeats=exc.maximum,
            ) from None
        if not self.engine.indexes_holds:
            await self._index(event_id, customer_id, hold_id, placed.expires_ms)
        self._events.learn(event_id)
        self._emit(
            Kind.PLACED,
            event_id,
            hold_id,
            customer_id,
            placed.seat_ids,
            Cause.CUSTOMER,
            sequence=placed.sequence,
            expires_ms=placed.expires_ms,
            at_ms=placed.created_ms,
        )
        # The answer is built from what the hold script returned: no PostgreSQL on this path.
        return Hold(
            id=hold_id,
            event_id=event_id,
            customer_id=customer_id,
            seats=[
                _held_seat(event_id, d, customer_id, placed.expires_ms, hold_id)
                for d in placed.seats
            ],
            expires_at=instant(placed.expires_ms),
            created_at=instant(placed.created_ms),
        )

    async def _sections(self, event_id: UUID) -> frozenset[str]:
        """The event's section names, read at most once a few seconds per event (only a
        refused best-available request with a section asks: is the section unknown?)."""
        now = time.monotonic()
        known = self._known_sections.get(event_id)
        if known is not None and known[0] > now:
            return known[1]
        async with self._db.connection() as conn:
            names = await holds_repo.sections(conn, event_id)
        if len(self._known_sections) >= SECTIONS_KEPT:
            self._known_sections.clear()
        self._known_sections[event_id] = (now + SECTIONS_SECONDS, names)
        return names

    async def _index(
        self, event_id: UUID, customer_id: UUID, hold_id: UUID, expires_ms: int
    ) -> None:
        """On a cluster: record which event the hold is in, whose it is, and when the
        sweeper must look at the event, in one pipelined round trip after the hold (the keys
        are in other slots than the event's)."""
        ttl = INDEX_TTL_SECONDS
        ckey = keys.customer_holds_key(customer_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.set(keys.hold_key(hold_id), str(event_id), expiry=ExpirySet(ExpiryType.SEC, ttl))
            batch.sadd(ckey, [f"{event_id}/{hold_id}"])
            batch.expire(ckey, ttl)
            batch.zadd(
                keys.DUE, {str(event_id): expires_ms}, update_condition=UpdateOptions.LESS_THAN
            )

        async def run(client: GlideClient | GlideClusterClient) -> None:
            if isinstance(client, GlideClusterClient):
                cluster_batch = ClusterBatch(is_atomic=False)
                fill(cluster_batch)
                await client.exec(cluster_batch, raise_on_error=True)
            else:
                batch = Batch(is_atomic=False)
                fill(batch)
                await client.exec(batch, raise_on_error=True)

        await self._redis.call(run)

    async def in_event(self, hold_id: UUID, step: Callable[[UUID], Awaitable[T]]) -> tuple[UUID, T]:
        """The hold's event, and `step` run on it. The event is the one the hold's id names
        (ticketing.ids) when this process knows it, with no Redis call; when `step` raises
        `HoldGone` there (or the id names no event known here), the hold's index says which
        event it is in. Raises `HoldGone` when no event has it."""
        guess = self._events.guess(hold_id)
        if guess is not None:
            try:
                return guess, await step(guess)
            except m.HoldGone:
                pass
        raw = await self._redis.call(lambda c: c.get(keys.hold_key(hold_id)))
        indexed = None if raw is None else UUID(raw.decode())
        if indexed is None or indexed == guess:
            raise m.HoldGone()
        self._events.learn(indexed)
        return indexed, await step(indexed)

    async def _record(self, event_id: UUID, hold_id: UUID) -> FencedHold:
        record = await self.engine.record(event_id, hold_id)
        if record is None:
            raise m.HoldGone()
        return record

    async def _live(self, hold_id: UUID) -> tuple[UUID, list[LiveHold], FencedHold]:
        """The hold's event, its seats as live holds (none once it has run out, by Redis's
        clock) and its record: a cost of the hold's own seats."""
        try:
            event_id, record = await self.in_event(hold_id, lambda e: self._record(e, hold_id))
        except m.HoldGone:
            raise NotFound.of("hold", hold_id) from None
        held = await self.engine.live_holds(event_id, record.seat_ids)
        seats = [h for h in held if h.hold_id == str(hold_id)]
        if not seats:
            raise NotFound.of("hold", hold_id)
        return event_id, seats, record

    async def get(self, hold_id: UUID, caller: Caller) -> Hold:
        event_id, seats, record = await self._live(hold_id)
        customer = seats[0].customer_id
        if not caller.is_admin and str(caller.customer_id) != customer:
            raise NotFound.of("hold", hold_id)
        return await self._view(
            hold_id,
            event_id,
            customer,
            [s.seat_id for s in seats],
            record.created_ms,
            seats[0].expires_ms,
            caller,
        )

    async def extend(self, hold_id: UUID, caller: Caller) -> Hold:
        customer_id = caller.require_customer()
        try:
            event_id, (expires_ms, change) = await self.in_event(
                hold_id, lambda e: self.engine.extend(e, hold_id, customer_id)
            )
        except (m.HoldGone, m.NotOwner):
            raise NotFound.of("hold", hold_id) from None
        except m.Fenced:
            raise Conflict("The hold is being confirmed", code="HOLD_CONFIRMING") from None
        except m.ExtendLimit as exc:
            ends = iso(instant(exc.latest_ms))
            raise Conflict(
                f"A hold lasts at most 3 x seatHoldTime; this one ends at {ends}",
                code="EXTEND_LIMIT",
            ) from None
        self._emit(
            Kind.EXTENDED,
            event_id,
            hold_id,
            customer_id,
            change.seat_ids,
            Cause.CUSTOMER,
            sequence=change.sequence,
            expires_ms=expires_ms,
        )
        return await self.get(hold_id, caller)

    async def release(self, hold_id: UUID, caller: Caller) -> None:
        if not caller.is_admin:
            caller.require_customer()
        owner = None if caller.is_admin else caller.customer_id
        try:
            event_id, ended = await self.in_event(
                hold_id, lambda e: self.engine.release(e, hold_id, owner)
            )
        except (m.HoldGone, m.NotOwner):
            raise NotFound.of("hold", hold_id) from None
        except m.Fenced:
            raise Conflict("The hold is being confirmed", code="HOLD_CONFIRMING") from None
        cause = Cause.ADMIN if caller.is_admin else Cause.CUSTOMER
        self._released(event_id, hold_id, ended, cause)

    def _released(self, event_id: UUID, hold_id: UUID, ended: m.Ended, cause: Cause) -> None:
        self._emit_ended(Kind.RELEASED, event_id, hold_id, ended, cause)

    def _emit_ended(
        self,
        kind: Kind,
        event_id: UUID,
        hold_id: UUID,
        ended: m.Ended,
        cause: Cause,
        reservation_id: UUID | None = None,
    ) -> None:
        self._emit(
            kind,
            event_id,
            hold_id,
            ended.customer_id,
            ended.seat_ids,
            cause,
            sequence=ended.sequence,
            reservation_id=reservation_id,
        )

    async def holds_of(self, customer_id: UUID) -> list[tuple[UUID, LiveHold]]:
        """The customer's live held seats, with their events, across events."""
        members = await self._redis.call(lambda c: c.smembers(keys.customer_holds_key(customer_id)))
        events: dict[UUID, set[str]] = {}
        for member in members:
            event, _, hold = member.decode().partition("/")
            events.setdefault(UUID(event), set()).add(hold)
        found: list[tuple[UUID, LiveHold]] = []
        for event_id, hold_ids in events.items():
            records = await self.engine.records(event_id, sorted(hold_ids))
            seats = [
                s for r in records.values() if r.customer_id == str(customer_id) for s in r.seat_ids
            ]
            found.extend(
                (event_id, h)
                for h in await self.engine.live_holds(event_id, seats)
                if h.hold_id in hold_ids and h.customer_id == str(customer_id)
            )
        return found

    async def release_all(self, customer_id: UUID) -> None:
        """Release every hold of a customer whose account is going."""
        for event_id, hold_id in {(e, h.hold_id) for e, h in await self.holds_of(customer_id)}:
            try:
                ended = await self.engine.release(event_id, UUID(hold_id), None)
            except (m.HoldGone, m.Fenced):
                continue
            self._released(event_id, UUID(hold_id), ended, Cause.CUSTOMER_DELETED)

    async def seats_on_hold(self, customer_id: UUID, caller: Caller) -> list[Seat]:
        held = await self.holds_of(customer_id)
        if not held:
            return []
        live = {h.seat_id: h for _, h in held}
        async with self._db.connection() as conn:
            records = await seat_reads.by_ids(conn, [UUID(s) for s in live])
        return [seat_view(r, caller, live[str(r.id)]) for r in records if r.status == "OPEN"]

    async def _view(
        self,
        hold_id: UUID,
        event_id: UUID,
        customer_id: str,
        seat_ids: list[str],
        created_ms: int,
        expires_ms: int,
        caller: Caller,
    ) -> Hold:
        async with self._db.connection() as conn:
            records = await seat_reads.by_ids(conn, [UUID(s) for s in seat_ids])
        live = LiveHold("", str(hold_id), customer_id, expires_ms)
        return Hold(
            id=hold_id,
            event_id=event_id,
            customer_id=UUID(customer_id),
            seats=[seat_view(r, caller, live) for r in records],
            expires_at=instant(expires_ms),
            created_at=instant(created_ms),
        )

    # --- the waiting room: its state lives beside the event's holds ----------------------

    async def queue_configure(
        self, event_id: UUID, *, on: bool, rate: int, window_ms: int, opens_ms: int, start_ms: int
    ) -> None:
        await self.engine.queue_configure(
            event_id, on=on, rate=rate, window_ms=window_ms, opens_ms=opens_ms, start_ms=start_ms
        )

    async def queue_join(
        self, event_id: UUID, entry_id: UUID, customer_id: UUID, draw: int
    ) -> tuple[bool, m.QueueEntry]:
        return await self.engine.queue_join(event_id, entry_id, customer_id, draw)

    async def queue_event(self, entry_id: UUID) -> UUID | None:
        return await self.engine.queue_event(entry_id)

    async def queue_entry(self, event_id: UUID, entry_id: UUID) -> m.QueueEntry | None:
        return await self.engine.queue_entry(event_id, entry_id)

    async def queue_head(self, event_id: UUID, left_seen: int) -> m.QueueHead | None:
        return await self.engine.queue_head(event_id, left_seen)

    async def queue_leave(self, event_id: UUID, entry_id: UUID, customer_id: UUID) -> bool:
        return await self.engine.queue_leave(event_id, entry_id, customer_id)

    async def queue_admit(self, event_id: UUID, tick_ms: int) -> tuple[int, int, bool]:
        return await self.engine.queue_admit(event_id, tick_ms)

    async def queue_counts(self, event_id: UUID) -> m.QueueCounts:
        return await self.engine.queue_counts(event_id)

    # --- lists of holds (API.md v2) -------------------------------------------------------

    async def of_customer(
        self, customer_id: UUID, caller: Caller, *, limit: int, cursor: str | None
    ) -> HoldList:
        """The customer's live holds across events, oldest first (the caller is checked by
        the customers domain, which owns the customer)."""
        scope = scope_of("customer holds", customer_id)
        return await self._listed(await self.holds_of(customer_id), caller, limit, cursor, scope)

    async def of_event(
        self, event_id: UUID, caller: Caller, *, limit: int, cursor: str | None
    ) -> HoldList:
        """The event's live holds, oldest first (admin): a cost of the event's holds."""
        caller.require_admin()
        scope = scope_of("event holds", event_id)
        after = decode_cursor(cursor, tuple[int, str], scope) if cursor else None
        await self.require_event(event_id)
        held = [(event_id, h) for h in (await self.held_seats(event_id)).values()]
        return await self._listed(held, caller, limit, cursor, scope, after)

    async def require_event(self, event_id: UUID) -> None:
        """NotFound unless the event exists (for the lists of an event's holds and sales)."""
        async with self._db.connection() as conn:
            if not await holds_repo.event_exists(conn, event_id):
                raise NotFound.of("event", event_id)

    async def _listed(
        self,
        held: list[tuple[UUID, LiveHold]],
        caller: Caller,
        limit: int,
        cursor: str | None,
        scope: str,
        after: tuple[int, str] | None = None,
    ) -> HoldList:
        if cursor and after is None:
            after = decode_cursor(cursor, tuple[int, str], scope)
        seats_of: dict[tuple[UUID, str], list[LiveHold]] = {}
        for event_id, live in held:
            seats_of.setdefault((event_id, live.hold_id), []).append(live)
        by_event: dict[UUID, list[str]] = {}
        for event_id, hold_id in seats_of:
            by_event.setdefault(event_id, []).append(hold_id)
        found: list[tuple[int, str, UUID]] = []  # (created, hold id, event), the list's order
        for event_id, hold_ids in by_event.items():
            records = await self.engine.records(event_id, hold_ids)
            found.extend((r.created_ms, h, event_id) for h, r in records.items())
        found.sort()
        if after is not None:
            found = [f for f in found if (f[0], f[1]) > (after[0], after[1])]
        kept, next_cursor = page(found[: limit + 1], limit, lambda f: [f[0], f[1]], scope)
        wanted = [UUID(s.seat_id) for _, h, e in kept for s in seats_of[(e, h)]]
        async with self._db.connection() as conn:
            rows = await seat_reads.by_ids(conn, wanted)  # in seat order
        place = {str(r.id): i for i, r in enumerate(rows)}
        items = []
        for created_ms, hold_id, event_id in kept:
            lives = sorted(
                (s for s in seats_of[(event_id, hold_id)] if s.seat_id in place),
                key=lambda s: place[s.seat_id],
            )
            if not lives:
                continue  # its seats were deleted meanwhile
            items.append(
                Hold(
                    id=UUID(hold_id),
                    event_id=event_id,
                    customer_id=UUID(lives[0].customer_id),
                    seats=[seat_view(rows[place[s.seat_id]], caller, s) for s in lives],
                    expires_at=instant(lives[0].expires_ms),
                    created_at=instant(created_ms),
                )
            )
        return HoldList(items=items, next_cursor=next_cursor)

    # --- what readers and the other domains ask ------------------------------------------

    async def held_seats(
        self, event_id: UUID, seat_ids: Sequence[str] | None = None
    ) -> dict[str, LiveHold]:
        """The event's live holds by seat id, on every seat (a cost of the event's holds) or
        on `seat_ids` only (a cost of those); an expired hold is never among them."""
        return {h.seat_id: h for h in await self.engine.live_holds(event_id, seat_ids)}

    async def seat_page(
        self, event_id: UUID, *, held: bool, section: str | None, after: int | None, count: int
    ) -> list[PagedSeat]:
        """At most `count` open seats of the event, or held ones (with their live holds),
        after position `after` in the organiser's order: a cost of the page, not of the
        event's seats or holds. Expired holds are released first."""
        try:
            return await self.engine.seat_page(
                event_id, held=held, section=section, after=after, count=count
            )
        except m.EventUnknown:
            raise NotFound.of("event", event_id) from None

    async def seat_order(self, event_id: UUID) -> list[str]:
        """The event's seats as its organiser laid them out (for the map and the stream)."""
        async with self._db.connection() as conn:
            return await holds_repo.seat_order(conn, event_id)

    async def on_hold(self, event_id: UUID) -> int:
        """How many of the event's seats are on hold now."""
        return await self.engine.on_hold(event_id)

    async def inventory(self, event_id: UUID) -> m.Inventory:
        """Everything Redis holds of the event at one moment, as it is (the audit's view)."""
        return await self.engine.inventory(event_id)

    async def active_events(self) -> list[UUID]:
        """Events with something going on: holds now, or holds this process swept within
        ACTIVE_SECONDS (the background audit's events). Past and idle events are not among
        them, however many there are."""
        return await self.engine.active_events(ACTIVE_SECONDS)

    async def status(self, event_id: UUID) -> EventStatus:
        """Every seat's status at one sequence number; `models.EventUnknown` if no event."""
        return await self.engine.status(event_id)

    async def sequence(self, event_id: UUID) -> tuple[str, int]:
        """The event's change counter: (epoch, sequence)."""
        return await self.engine.sequence(event_id)

    @staticmethod
    def channel(event_id: UUID) -> str:
        """Where every change of the event is published (`live.view.decode_change` reads it)."""
        return keys.channel(event_id)

    def prepare(self, event_id: UUID) -> None:
        """The event was created or changed (committed): build its mirror now, in the
        background, so that its first fans find it ready."""
        self.engine.prepare(event_id)

    async def warm_upcoming(self) -> int:
        """Build the mirror of every upcoming event (the WARM_EVENTS soonest) that has none,
        one at a time: after a Redis restart or flush, the events about to sell are ready
        again before their fans ask. Returns how many were built."""
        async with self._db.connection() as conn:
            upcoming = await holds_repo.upcoming_events(conn, WARM_EVENTS)
        built = 0
        ready = await self.engine.mirrored_many(upcoming)
        for event_id in upcoming:
            if event_id not in ready:
                try:
                    await self.engine.ensure_mirror(event_id)
                except m.EventUnknown:
                    continue  # deleted meanwhile
                built += 1
        return built

    async def keep_warm(self, leading: Callable[[], bool], interval: float = WARM_SECONDS) -> None:
        """`warm_upcoming` every `interval`, in the process that sweeps (one at a time)."""
        while True:
            await asyncio.sleep(interval)
            if not leading():
                continue
            try:
                if built := await self.warm_upcoming():
                    log.info("built %d mirrors of upcoming events ahead of their fans", built)
            except AppError as exc:
                log.debug("warming waiting: %s", exc.detail)
            except Exception:
                log.exception("warming upcoming events failed")

    async def inventory_changed(self, event_id: UUID, *, seats_changed: bool = True) -> None:
        """The event or its seats changed in PostgreSQL: the hold mirror is rebuilt from it.

        Call it inside the change's transaction (a Redis outage then changes nothing) and
        again after the commit, so that no hold can rebuild the mirror from the old rows in
        between. `seats_changed` tells live readers to start afresh.
        """
        await self.engine.invalidate(event_id, seats_changed=seats_changed)

    # --- the steps of a confirmation (driven by ReservationService) ----------------------

    async def fence(self, event_id: UUID, hold_id: UUID, customer_id: UUID) -> FencedHold:
        """Stop the hold from expiring or being released while its reservation commits.
        Raises `models.HoldGone`, `NotOwner` or `Fenced`."""
        return await self.engine.fence(event_id, hold_id, customer_id)

    async def confirmed(
        self,
        event_id: UUID,
        hold_id: UUID,
        reservation_id: UUID,
        *,
        fenced: FencedHold | None = None,
    ) -> None:
        """The reservation committed: clear the hold and emit `confirmed`.

        With `fenced` (the customer's own confirmation) the fact is emitted even when Redis
        cannot take it now (the fence runs out and the sweeper settles, emitting it again)
        or already let the hold go; without it (the sweeper settling), only when this call
        is the one that cleared the hold.
        """
        cause = Cause.CUSTOMER if fenced is not None else Cause.SETTLED
        try:
            ended = await self.engine.confirmed(event_id, hold_id)
        except DependencyUnavailable:
            if fenced is None:
                raise
            # Committed: the reservation stands. The fence runs out and the sweeper settles.
            log.warning(
                "reservation %s committed; Redis update deferred to the sweeper", reservation_id
            )
            ended = None
        if ended is None and fenced is not None:
            ended = m.Ended(0, fenced.customer_id, fenced.seat_ids)
        if ended is not None:
            self._emit_ended(Kind.CONFIRMED, event_id, hold_id, ended, cause, reservation_id)

    async def confirm_failed(self, event_id: UUID, hold_id: UUID) -> None:
        """The reservation did not commit: lift the fence, so it may be retried while the
        hold lasts (the sweeper lifts it at the fence deadline if this cannot)."""
        try:
            await self.engine.unfence(event_id, hold_id)
        except DependencyUnavailable:
            log.warning("could not lift the fence of hold %s; it settles by itself", hold_id)

    async def abandon(self, event_id: UUID, hold_id: UUID) -> None:
        """PostgreSQL refused the hold's seats (the mirror was behind): drop the hold, and
        the mirror with it."""
        ended = await self.engine.abandon(event_id, hold_id)
        self.prepare(event_id)  # (the mirror went with the hold)
        if ended is not None:
            self._released(event_id, hold_id, ended, Cause.SEATS_TAKEN)

    async def unreserved(
        self,
        event_id: UUID,
        customer_id: UUID,
        seat_ids: list[str],
        *,
        hold_id: UUID | None,
        reservation_id: UUID,
    ) -> None:
        """A reservation's cancellation committed: its seats are open again (when Redis is
        away, the mirror, dropped before the commit, is rebuilt at the next hold)."""
        try:
            sequence = await self.engine.unreserved(event_id, customer_id, seat_ids)
        except DependencyUnavailable:
            log.warning(
                "reservation %s cancelled; the mirror is rebuilt at the next hold", reservation_id
            )
            sequence = 0
        if hold_id is not None:  # (every reservation made through a hold has one)
            self._emit(
                Kind.CANCELLED,
                event_id,
                hold_id,
                customer_id,
                seat_ids,
                Cause.ADMIN,
                sequence=sequence,
                reservation_id=reservation_id,
            )
