"""Waiting-room bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ticketing.validation import Schema

QueueState = Literal["WAITING", "ADMITTED", "EXPIRED", "DONE", "SOLD_OUT"]


class QueueEntry(Schema):
    id: UUID
    event_id: UUID
    customer_id: UUID
    state: QueueState
    position: int | None  # null until the places are drawn, at salesStartAt
    ahead: int | None  # fans still to be admitted before this one
    admitted_until: datetime | None  # while ADMITTED: hold seats before then
    poll_after_seconds: int
    joined_at: datetime


class QueueCounts(Schema):
    event_id: UUID
    enabled: bool
    admit_per_minute: int
    joined: int
    waiting: int
    admitted: int
    done: int
    expired: int
    left: int
    sold_out: bool
    next_position: int  # the place the next admission goes to
