"""Hold rules over the engine: who may hold, see, extend and release, and what they see.

A hold attempt is one engine script. Two small indexes outside the event's keys answer
"which event is this hold in" (`hold:<holdId>`) and "what does this customer hold"
(`cholds:<customerId>`); both are written after the hold exists and only ever point at
holds that may have gone, which every reader checks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from glide import Batch, ClusterBatch, ExpirySet, ExpiryType, GlideClient, GlideClusterClient

from ticketing.auth.caller import Caller
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.errors import Conflict, FieldError, NotFound, ValidationFailed
from ticketing.holds import engine as eng
from ticketing.holds.engine import HoldEngine, LiveHold, SeatDetails
from ticketing.holds.schemas import Hold, HoldCreate
from ticketing.observe import metrics
from ticketing.seats import repository as seats_repo
from ticketing.seats.schemas import Seat
from ticketing.seats.service import live_holds, seat_view

_hold_key = eng.hold_key
_customer_key = eng.customer_holds_key


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _held_seat(event_id: UUID, seat: SeatDetails, customer_id: UUID, expires_ms: int) -> Seat:
    """A seat just held, shown to its holder."""
    return Seat(
        id=UUID(seat.seat_id),
        event_id=event_id,
        price=float(Decimal(seat.price)),
        status="ON_HOLD",
        assigned_seating=seat.section is not None,
        customer_id=customer_id,
        row=seat.row,
        seat_number=seat.seat_number,
        section=seat.section,
        hold_expires_at=_time(expires_ms),
        version=seat.version,
    )


class HoldService:
    def __init__(self, db: Database, redis: Redis, engine: HoldEngine) -> None:
        self._db = db
        self._redis = redis
        self.engine = engine

    async def create(self, event_id: UUID, caller: Caller, body: HoldCreate) -> Hold:
        customer_id = caller.require_customer()
        hold_id = uuid4()
        try:
            if body.seat_ids is not None:
                if body.quantity is not None or body.section is not None:
                    raise ValidationFailed.one("seatIds", "Give seatIds or quantity, not both")
                ids = [str(s) for s in body.seat_ids]
                if len(set(ids)) != len(ids):
                    raise ValidationFailed.one("seatIds", "A seat is named twice")
                placed = await self.engine.hold_seats(event_id, customer_id, hold_id, ids)
            elif body.quantity is not None:
                placed = await self.engine.hold_best(
                    event_id, customer_id, hold_id, body.quantity, body.section, body.adjacent
                )
            else:
                raise ValidationFailed(
                    [
                        FieldError("seatIds", "Give seatIds or quantity"),
                        FieldError("quantity", "Give seatIds or quantity"),
                    ]
                )
        except eng.EventUnknown:
            raise NotFound.of("event", event_id) from None
        except eng.UnknownSeats as exc:
            raise ValidationFailed.one(
                "seatIds", f"Not seats of this event: {', '.join(exc.seat_ids)}"
            ) from None
        except eng.SeatsUnavailable as exc:
            metrics.HOLDS_TAKEN.inc()
            raise Conflict(
                "Some seats are held or reserved; nothing was held",
                code="SEATS_UNAVAILABLE",
                unavailableSeatIds=exc.seat_ids,
            ) from None
        except eng.NoneAvailable:
            metrics.HOLDS_TAKEN.inc()
            what = "side by side " if body.adjacent else ""
            raise Conflict(
                f"Not enough open seats {what}to hold {body.quantity}",
                code="SEATS_UNAVAILABLE",
                unavailableSeatIds=[],
            ) from None
        except eng.LimitExceeded as exc:
            metrics.HOLDS_OVER_LIMIT.inc()
            raise Conflict(
                f"A customer may hold and reserve at most {exc.maximum} seats of this event;"
                f" you have {exc.already}",
                code="LIMIT_EXCEEDED",
                maxNumSeats=exc.maximum,
            ) from None
        metrics.HOLDS.inc()
        if not self.engine.indexes_holds:
            await self._index(event_id, customer_id, hold_id)
        # The answer is built from what the hold script returned: no PostgreSQL on this path.
        return Hold(
            id=hold_id,
            event_id=event_id,
            customer_id=customer_id,
            seats=[_held_seat(event_id, d, customer_id, placed.expires_ms) for d in placed.seats],
            expires_at=_time(placed.expires_ms),
            created_at=_time(placed.created_ms),
        )

    async def _index(self, event_id: UUID, customer_id: UUID, hold_id: UUID) -> None:
        """On a cluster: record which event the hold is in and whose it is, in one pipelined
        round trip after the hold (the keys are in other slots than the event's)."""
        ttl = eng.INDEX_TTL_SECONDS
        ckey = _customer_key(customer_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.set(_hold_key(hold_id), str(event_id), expiry=ExpirySet(ExpiryType.SEC, ttl))
            batch.sadd(ckey, [f"{event_id}/{hold_id}"])
            batch.expire(ckey, ttl)

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

    async def event_of(self, hold_id: UUID) -> UUID | None:
        raw = await self._redis.call(lambda c: c.get(_hold_key(hold_id)))
        return None if raw is None else UUID(raw.decode())

    async def _live(self, hold_id: UUID) -> tuple[UUID, list[LiveHold]]:
        event_id = await self.event_of(hold_id)
        if event_id is None:
            raise NotFound.of("hold", hold_id)
        seats = [h for h in await self.engine.live_holds(event_id) if h.hold_id == str(hold_id)]
        if not seats:
            raise NotFound.of("hold", hold_id)
        return event_id, seats

    async def get(self, hold_id: UUID, caller: Caller) -> Hold:
        event_id, seats = await self._live(hold_id)
        customer = seats[0].customer_id
        if not caller.is_admin and str(caller.customer_id) != customer:
            raise NotFound.of("hold", hold_id)
        created = await self._created(event_id, hold_id)
        return await self._view(
            hold_id,
            event_id,
            customer,
            [s.seat_id for s in seats],
            created,
            seats[0].expires_ms,
            caller,
        )

    async def _created(self, event_id: UUID, hold_id: UUID) -> int:
        record = await self.engine.record(event_id, hold_id)
        if record is None:
            raise NotFound.of("hold", hold_id)
        return record.created_ms

    async def extend(self, hold_id: UUID, caller: Caller) -> Hold:
        customer_id = caller.require_customer()
        event_id = await self.event_of(hold_id)
        if event_id is None:
            raise NotFound.of("hold", hold_id)
        try:
            await self.engine.extend(event_id, hold_id, customer_id)
        except (eng.HoldGone, eng.NotOwner):
            raise NotFound.of("hold", hold_id) from None
        except eng.Fenced:
            raise Conflict("The hold is being confirmed", code="HOLD_CONFIRMING") from None
        except eng.ExtendLimit as exc:
            ends = _time(exc.latest_ms).isoformat()
            raise Conflict(
                f"A hold lasts at most 3 x seatHoldTime; this one ends at {ends}",
                code="EXTEND_LIMIT",
            ) from None
        return await self.get(hold_id, caller)

    async def release(self, hold_id: UUID, caller: Caller) -> None:
        if not caller.is_admin:
            caller.require_customer()
        event_id = await self.event_of(hold_id)
        if event_id is None:
            raise NotFound.of("hold", hold_id)
        owner = None if caller.is_admin else caller.customer_id
        try:
            await self.engine.release(event_id, hold_id, owner)
        except (eng.HoldGone, eng.NotOwner):
            raise NotFound.of("hold", hold_id) from None
        except eng.Fenced:
            raise Conflict("The hold is being confirmed", code="HOLD_CONFIRMING") from None

    async def holds_of(self, customer_id: UUID) -> list[tuple[UUID, LiveHold]]:
        """The customer's live held seats, with their events, across events."""
        members = await self._redis.call(lambda c: c.smembers(_customer_key(customer_id)))
        events: dict[UUID, set[str]] = {}
        for member in members:
            event, _, hold = member.decode().partition("/")
            events.setdefault(UUID(event), set()).add(hold)
        found: list[tuple[UUID, LiveHold]] = []
        for event_id, hold_ids in events.items():
            found.extend(
                (event_id, h)
                for h in await self.engine.live_holds(event_id)
                if h.hold_id in hold_ids and h.customer_id == str(customer_id)
            )
        return found

    async def release_all(self, customer_id: UUID) -> None:
        for event_id, hold_id in {(e, h.hold_id) for e, h in await self.holds_of(customer_id)}:
            try:
                await self.engine.release(event_id, UUID(hold_id), None)
            except (eng.HoldGone, eng.Fenced):
                continue

    async def seats_on_hold(self, customer_id: UUID, caller: Caller) -> list[Seat]:
        held = await self.holds_of(customer_id)
        if not held:
            return []
        live = {h.seat_id: h for _, h in held}
        async with self._db.connection() as conn:
            records = await seats_repo.by_ids(conn, [UUID(s) for s in live])
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
            records = await seats_repo.by_ids(conn, [UUID(s) for s in seat_ids])
        live = LiveHold("", str(hold_id), customer_id, expires_ms)
        return Hold(
            id=hold_id,
            event_id=event_id,
            customer_id=UUID(customer_id),
            seats=[seat_view(r, caller, live) for r in records],
            expires_at=_time(expires_ms),
            created_at=_time(created_ms),
        )

    async def overlay(self, event_id: UUID) -> dict[str, LiveHold]:
        return await live_holds(self.engine, event_id)
