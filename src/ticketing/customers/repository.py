"""SQL for customers. Functions take the caller's connection; they never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ticketing.db.database import Connection


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: UUID
    first_name: str
    last_name: str
    email: str | None
    created_at: datetime
    updated_at: datetime
    version: int


_COLUMNS = "id, first_name, last_name, email, created_at, updated_at, version"
UPDATABLE = {"first_name": "first_name", "last_name": "last_name", "email": "email"}


def _record(row: Any) -> CustomerRecord:
    return CustomerRecord(*row)


async def insert(
    conn: Connection, customer_id: UUID, first_name: str, last_name: str, email: str | None
) -> CustomerRecord:
    row = await conn.fetchrow(
        f"INSERT INTO customers (id, first_name, last_name, email) VALUES ($1, $2, $3, $4)"
        f" RETURNING {_COLUMNS}",
        customer_id,
        first_name,
        last_name,
        email,
    )
    return _record(row)


async def get(
    conn: Connection, customer_id: UUID, *, for_update: bool = False
) -> CustomerRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM customers WHERE id = $1{lock}", customer_id)
    return None if row is None else _record(row)


async def list_page(
    conn: Connection, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[CustomerRecord]:
    if after is None:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM customers ORDER BY created_at, id LIMIT $1", limit
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM customers WHERE (created_at, id) > ($1, $2)"
            " ORDER BY created_at, id LIMIT $3",
            *after,
            limit,
        )
    return [_record(r) for r in rows]


async def update(conn: Connection, customer_id: UUID, changes: dict[str, Any]) -> CustomerRecord:
    sets = ["version = version + 1", "updated_at = now()"]
    args: list[Any] = [customer_id]
    for name, value in changes.items():
        args.append(value)
        sets.append(f"{UPDATABLE[name]} = ${len(args)}")
    row = await conn.fetchrow(
        f"UPDATE customers SET {', '.join(sets)} WHERE id = $1 RETURNING {_COLUMNS}", *args
    )
    return _record(row)


async def live_reservation_count(conn: Connection, customer_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM reservations WHERE customer_id = $1 AND cancelled_at IS NULL",
        customer_id,
    )
    return value


async def delete(conn: Connection, customer_id: UUID) -> None:
    await conn.execute("DELETE FROM customers WHERE id = $1", customer_id)
