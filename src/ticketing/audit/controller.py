"""HTTP for the inventory audit (admin)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from ticketing.audit.schemas import InventoryAudit
from ticketing.audit.service import AuditService
from ticketing.auth.guards import admin_only


class AuditController(Controller):
    path = "/events/{event_id:uuid}"
    tags = ["audit"]

    @get("/audit", guards=[admin_only])
    async def audit(
        self, event_id: FromPath[UUID], audit: NamedDependency[AuditService]
    ) -> InventoryAudit:
        """The event's inventory checked across PostgreSQL and Redis at one moment (admin):
        `ok` exactly when `problems` is empty; open + onHold + reserved == numSeats."""
        return await audit.audit(event_id)
