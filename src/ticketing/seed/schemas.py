"""The body of the seat route kept from the service this one replaces."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from ticketing.validation import Schema


class SeatStatusChange(Schema):
    """Hold, confirm or release one seat."""

    customer_id: UUID
    status: Literal["OPEN", "ON_HOLD", "RESERVED"]
