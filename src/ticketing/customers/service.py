"""Customer rules: sign-up with a first token, self-service, and tokens minted by admins."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from ticketing.auth.caller import Caller
from ticketing.auth.tokens import TokenService
from ticketing.customers import repository as customers_repo
from ticketing.customers.repository import CustomerRecord
from ticketing.customers.schemas import (
    Customer,
    CustomerCreate,
    CustomerList,
    CustomerPatch,
    IssuedToken,
    SignUp,
)
from ticketing.db.database import Database
from ticketing.errors import Conflict, NotFound, VersionConflict
from ticketing.holds.schemas import HoldList
from ticketing.holds.service import HoldService
from ticketing.seatview import repository as seat_reads
from ticketing.seatview.view import seat_view
from ticketing.validation import changed, decode_cursor, page


def customer_view(record: CustomerRecord) -> Customer:
    return Customer(
        id=record.id,
        first_name=record.first_name,
        last_name=record.last_name,
        email=record.email,
        created_at=record.created_at.astimezone(UTC),
        updated_at=record.updated_at.astimezone(UTC),
        version=record.version,
    )


def _email_taken(exc: asyncpg.UniqueViolationError) -> Conflict:
    return Conflict("Another customer already uses this email", code="EMAIL_TAKEN")


class CustomerService:
    def __init__(self, db: Database, tokens: TokenService, holds: HoldService) -> None:
        self._db = db
        self._tokens = tokens
        self._holds = holds

    async def sign_up(self, body: CustomerCreate) -> SignUp:
        customer_id = uuid4()
        try:
            async with self._db.transaction() as conn:
                record = await customers_repo.insert(
                    conn, customer_id, body.first_name, body.last_name, body.email
                )
                # Issued before the commit: if Redis is down the sign-up rolls back (503).
                token = await self._tokens.issue(customer_id)
        except asyncpg.UniqueViolationError as exc:
            raise _email_taken(exc) from exc
        return SignUp(customer=customer_view(record), token=token)

    async def list_customers(self, *, limit: int, cursor: str | None) -> CustomerList:
        after = decode_cursor(cursor, tuple[datetime, UUID], "customers") if cursor else None
        async with self._db.connection() as conn:
            records = await customers_repo.list_page(conn, after=after, limit=limit + 1)
        records, next_cursor = page(records, limit, lambda r: [r.created_at, r.id], "customers")
        return CustomerList(items=[customer_view(r) for r in records], next_cursor=next_cursor)

    async def get(self, customer_id: UUID, caller: Caller) -> Customer:
        caller.require_self_or_admin(customer_id)
        async with self._db.connection() as conn:
            record = await customers_repo.get(conn, customer_id)
            if record is None:
                raise NotFound.of("customer", customer_id)
            reserved = await seat_reads.reserved_by_customer(conn, customer_id)
        view = customer_view(record)
        view.seats_on_hold = await self._holds.seats_on_hold(customer_id, caller)
        view.seats_reserved = [seat_view(s, caller) for s in reserved]
        return view

    async def patch(
        self, customer_id: UUID, caller: Caller, body: CustomerPatch, expected: list[int] | None
    ) -> Customer:
        caller.require_self_or_admin(customer_id)
        changes = changed(body)
        try:
            async with self._db.transaction() as conn:
                record = await customers_repo.get(conn, customer_id, for_update=True)
                if record is None:
                    raise NotFound.of("customer", customer_id)
                if expected is not None and record.version not in expected:
                    raise VersionConflict(record.version)
                if changes:
                    record = await customers_repo.update(conn, customer_id, changes)
        except asyncpg.UniqueViolationError as exc:
            raise _email_taken(exc) from exc
        return customer_view(record)

    async def delete(self, customer_id: UUID, caller: Caller) -> None:
        caller.require_self_or_admin(customer_id)
        async with self._db.transaction() as conn:
            record = await customers_repo.get(conn, customer_id, for_update=True)
            if record is None:
                raise NotFound.of("customer", customer_id)
            if count := await customers_repo.live_reservation_count(conn, customer_id):
                raise Conflict(
                    f"The customer has {count} reservations; cancel them first",
                    code="CUSTOMER_HAS_RESERVATIONS",
                )
            await customers_repo.delete(conn, customer_id)
            # Released and revoked before the commit: if Redis is down nothing is deleted (503).
            await self._holds.release_all(customer_id)
            await self._tokens.revoke_all(customer_id)

    async def holds(
        self, customer_id: UUID, caller: Caller, *, limit: int, cursor: str | None
    ) -> HoldList:
        """The customer's live holds (admin, self), so a client that lost a hold's answer can
        still confirm or release it."""
        caller.require_self_or_admin(customer_id)
        await self.require(customer_id)
        return await self._holds.of_customer(customer_id, caller, limit=limit, cursor=cursor)

    async def require(self, customer_id: UUID) -> None:
        """NotFound unless the customer exists."""
        async with self._db.connection() as conn:
            if await customers_repo.get(conn, customer_id) is None:
                raise NotFound.of("customer", customer_id)

    async def mint_token(self, customer_id: UUID) -> IssuedToken:
        await self.require(customer_id)
        token = await self._tokens.issue(customer_id)
        return IssuedToken(
            token=token, customer_id=customer_id, expires_in_seconds=self._tokens.ttl_seconds
        )
