"""Confirming holds into reservations, and cancelling them.

Confirm fences the hold first (it cannot expire or be released while the reservation
commits), then commits in PostgreSQL (together with the confirmations that arrive
meanwhile: reservations/batches.py), whose seat locks and unique index decide, then clears
the hold in Redis. If the process dies after the commit, the fence runs out and the
sweeper finds the reservation by its hold id and finishes the job; if PostgreSQL refuses a
seat (the mirror was behind), the hold and the mirror are dropped and nothing is sold twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from ticketing.auth.caller import Caller
from ticketing.customers.service import CustomerService
from ticketing.db.database import Database
from ticketing.errors import AppError, Conflict, NotFound
from ticketing.holds import models as holds
from ticketing.holds.service import HoldService
from ticketing.observe import metrics
from ticketing.reservations import repository as reservations_repo
from ticketing.reservations.batches import Confirmations
from ticketing.reservations.repository import ReservationRecord, ReserveItem
from ticketing.reservations.schemas import Reservation, ReservationList, ReservationStatus
from ticketing.seatview import repository as seat_reads
from ticketing.seatview.repository import SeatRecord
from ticketing.seatview.view import seat_view
from ticketing.validation import decode_cursor, page, scope_of


class _SeatsTaken(Exception):
    def __init__(self, seat_ids: list[str]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


class ReservationService:
    def __init__(self, db: Database, holds: HoldService, customers: CustomerService) -> None:
        self._db = db
        self._holds = holds
        self._customers = customers
        self._confirmations = Confirmations(db)

    async def _expired(self, hold_id: UUID, customer_id: UUID) -> Conflict:
        extra = {}
        async with self._db.connection() as conn:
            done = await reservations_repo.by_hold(conn, hold_id)
        if done is not None and done.customer_id == customer_id:
            extra["reservationId"] = str(done.id)
        return Conflict(
            "The hold has expired, been released or been confirmed", code="HOLD_EXPIRED", **extra
        )

    async def confirm(self, hold_id: UUID, caller: Caller) -> Reservation:
        customer_id = caller.require_customer()
        try:
            event_id, fenced = await self._holds.in_event(
                hold_id, lambda e: self._holds.fence(e, hold_id, customer_id)
            )
        except holds.HoldGone:
            raise await self._expired(hold_id, customer_id) from None
        except holds.NotOwner:
            # Another customer's live hold is answered like one that is gone: whether a hold
            # id is live must not be learnt by trying to confirm it.
            raise await self._expired(hold_id, customer_id) from None
        except holds.Fenced:
            raise Conflict("The hold is already being confirmed", code="HOLD_CONFIRMING") from None
        try:
            record, seats = await self._commit(event_id, customer_id, hold_id, fenced.seat_ids)
        except _SeatsTaken as taken:
            metrics.CONFIRMS_TAKEN.inc()
            await self._holds.abandon(event_id, hold_id)
            raise Conflict(
                "Some seats were reserved meanwhile; nothing was reserved",
                code="SEATS_UNAVAILABLE",
                unavailableSeatIds=taken.seat_ids,
            ) from None
        except (AppError, asyncpg.PostgresError):
            await self._holds.confirm_failed(event_id, hold_id)
            raise
        await self._holds.confirmed(event_id, hold_id, record.id, fenced=fenced)
        return self._shown(record, seats, caller)

    async def _commit(
        self, event_id: UUID, customer_id: UUID, hold_id: UUID, seat_ids: list[str]
    ) -> tuple[ReservationRecord, list[SeatRecord]]:
        item = ReserveItem(uuid4(), event_id, customer_id, hold_id, [UUID(s) for s in seat_ids])
        try:
            return await self._confirmations.reserve(item)
        except reservations_repo.ReserveRefused as refused:
            if refused.reason == "NO_CUSTOMER":
                raise NotFound.of("customer", customer_id) from None
            if refused.reason == "NO_EVENT":
                raise NotFound.of("event", event_id) from None
            if refused.reason == "LIMIT":
                metrics.CONFIRMS_OVER_LIMIT.inc()
                maximum = int(refused.detail)
                raise Conflict(
                    f"A customer may reserve at most {maximum} seats of this event",
                    code="LIMIT_EXCEEDED",
                    maxNumSeats=maximum,
                ) from None
            if refused.reason == "UNIQUE":  # (the hold or a seat reserved already)
                raise _SeatsTaken(seat_ids) from None
            raise _SeatsTaken(sorted(refused.detail.split(","))) from None

    async def settle(self, event_id: UUID, hold_id: UUID) -> None:
        """A fenced hold's fence ran out: finish its confirmation, or lift the fence."""
        async with self._db.connection() as conn:
            done = await reservations_repo.by_hold(conn, hold_id)
        if done is not None:
            await self._holds.confirmed(event_id, hold_id, done.id)
        else:
            await self._holds.confirm_failed(event_id, hold_id)

    async def get(self, reservation_id: UUID, caller: Caller) -> Reservation:
        async with self._db.connection() as conn:
            record = await reservations_repo.get_live(conn, reservation_id)
        if record is None:
            raise NotFound.of("reservation", reservation_id)
        caller.require_owner_or_admin(record.customer_id, "reservation", reservation_id)
        return await self._view(record, caller)

    async def list_for_customer(
        self, customer_id: UUID, caller: Caller, *, limit: int, cursor: str | None
    ) -> ReservationList:
        caller.require_self_or_admin(customer_id)
        scope = scope_of("customer reservations", customer_id)
        after = decode_cursor(cursor, tuple[datetime, UUID], scope) if cursor else None
        await self._customers.require(customer_id)
        async with self._db.connection() as conn:
            records = await reservations_repo.list_live(conn, customer_id, after, limit + 1)
            records, next_cursor = page(records, limit, lambda r: [r.created_at, r.id], scope)
            seats = await seat_reads.by_reservations(conn, [r.id for r in records])
        return ReservationList(
            items=[self._shown(r, seats[r.id], caller) for r in records], next_cursor=next_cursor
        )

    async def list_for_event(
        self,
        event_id: UUID,
        caller: Caller,
        *,
        status: ReservationStatus | None,
        limit: int,
        cursor: str | None,
    ) -> ReservationList:
        """The event's reservations, oldest first (admin), active, cancelled or both."""
        caller.require_admin()
        scope = scope_of("event reservations", event_id, status)
        after = decode_cursor(cursor, tuple[datetime, UUID], scope) if cursor else None
        await self._holds.require_event(event_id)
        async with self._db.connection() as conn:
            records = await reservations_repo.list_for_event(
                conn, event_id, status, after, limit + 1
            )
            records, next_cursor = page(records, limit, lambda r: [r.created_at, r.id], scope)
            seats = await seat_reads.by_reservations(conn, [r.id for r in records])
        return ReservationList(
            items=[self._shown(r, seats[r.id], caller) for r in records], next_cursor=next_cursor
        )

    async def cancel(self, reservation_id: UUID) -> None:
        async with self._db.transaction() as conn:
            record = await reservations_repo.get_live(conn, reservation_id, for_update=True)
            if record is None:
                raise NotFound.of("reservation", reservation_id)
            seats = await reservations_repo.cancel(conn, reservation_id)
            # Forget the mirror before the commit (a Redis outage then cancels nothing) ...
            await self._holds.inventory_changed(record.event_id, seats_changed=False)
        # ... and open the seats in it after, so a mirror rebuilt meanwhile is right too.
        await self._holds.unreserved(
            record.event_id,
            record.customer_id,
            [str(s) for s in seats],
            hold_id=record.hold_id,
            reservation_id=reservation_id,
        )

    async def _view(self, record: ReservationRecord, caller: Caller) -> Reservation:
        async with self._db.connection() as conn:
            seats = await seat_reads.by_reservations(conn, [record.id])
        return self._shown(record, seats[record.id], caller)

    @staticmethod
    def _shown(record: ReservationRecord, seats: list[SeatRecord], caller: Caller) -> Reservation:
        return Reservation(
            id=record.id,
            event_id=record.event_id,
            customer_id=record.customer_id,
            seats=[seat_view(s, caller) for s in seats],
            created_at=record.created_at.astimezone(UTC),
            status="active" if record.cancelled_at is None else "cancelled",
            cancelled_at=None
            if record.cancelled_at is None
            else record.cancelled_at.astimezone(UTC),
        )
