"""The inventory audit on the wire (API.md v2, "Inventory audit")."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ticketing.validation import Schema


class AuditProblem(Schema):
    code: str
    detail: str
    seat_id: UUID | None = None
    hold_id: UUID | None = None
    customer_id: UUID | None = None


class InventoryAudit(Schema):
    event_id: UUID
    checked_at: datetime
    ok: bool
    num_seats: int
    open: int
    on_hold: int
    reserved: int
    problems: list[AuditProblem]
