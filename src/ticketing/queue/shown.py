"""A waiting-room entry as a fan reads it: the wire shape, and when to ask again."""

from __future__ import annotations

from uuid import UUID

from ticketing.holds import models as m
from ticketing.queue.schemas import QueueEntry
from ticketing.validation import instant

SOLD_OUT_POLL_SECONDS = 30  # a room with nothing left asks its fans back this rarely


def waiting_poll_after(ahead: int, rate: int) -> int:
    """When a fan waiting behind `ahead` others should ask again, at `rate` admissions a
    minute: soon when its turn is near, rarely when it is far."""
    per_second = max(rate / 60, 0.01)
    return int(min(30, max(2, ahead / per_second / 4)))


def poll_after(entry: m.QueueEntry) -> int:
    """When a fan should ask again: soon when its turn is near, rarely when it is far or
    settled, so that a crowd's polling costs what the admissions need."""
    if entry.state == "ADMITTED":
        return 5
    if entry.state != "WAITING":
        return SOLD_OUT_POLL_SECONDS if entry.state == "SOLD_OUT" else 60
    if entry.ahead is None:  # before the draw: until the start, at most every 30 s
        return 10
    return waiting_poll_after(entry.ahead, entry.rate)


def shown(event_id: UUID, entry: m.QueueEntry) -> QueueEntry:
    return QueueEntry(
        id=UUID(entry.entry_id),
        event_id=event_id,
        customer_id=UUID(entry.customer_id),
        state=entry.state,  # type: ignore[arg-type]
        position=entry.place,
        ahead=entry.ahead,
        admitted_until=None if entry.until_ms is None else instant(entry.until_ms),
        poll_after_seconds=poll_after(entry),
        joined_at=instant(entry.joined_ms),
    )
