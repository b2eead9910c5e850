"""Hold lifecycle events: the facts "hold H of customer C on event E began or ended, because X".

Six kinds, each produced where the fact happens:

| kind        | produced by                          | after                                 |
|-------------|--------------------------------------|---------------------------------------|
| `placed`    | `HoldService.create`                 | the hold script took the seats        |
| `extended`  | `HoldService.extend`                 | the extend script moved the expiry    |
| `released`  | `HoldService.release`, `release_all`, `abandon` | the hold was let go        |
| `expired`   | the sweeper                          | a script found the hold past its time |
| `confirmed` | `HoldService.confirmed`              | the reservation committed in PostgreSQL |
| `cancelled` | `HoldService.unreserved`             | a cancelled reservation committed     |

Expiry happens inside the scripts, whichever meets the hold first; each writes the expired
hold (id, owner, seats) to the event's `expired` list, and the sweeper turns those into
events, removing them only once every subscriber was told.

Subscribers are plain functions registered in one place (`ticketing.subscribers`). They run
in the producing process, in order, on the event loop, right after the fact: they must be
quick and must not block (a subscriber with I/O to do hands the event to its own task). One
that raises is logged and never fails the request. How a durable consumer (an outbox for
webhooks) goes on top, with ordering and at-least-once delivery: docs/decisions/0010.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

log = logging.getLogger("ticketing.holds.lifecycle")


class Kind(StrEnum):
    PLACED = "placed"
    EXTENDED = "extended"
    RELEASED = "released"
    EXPIRED = "expired"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Cause(StrEnum):
    """Why the fact happened."""

    CUSTOMER = "customer"  # the hold's owner asked (placed, extended, released, confirmed)
    ADMIN = "admin"  # an admin released the hold or cancelled the reservation
    CUSTOMER_DELETED = "customer_deleted"  # the owner's account was deleted
    SEATS_TAKEN = "seats_taken"  # PostgreSQL had some seats reserved already: dropped
    TIMEOUT = "timeout"  # the hold ran out
    SETTLED = "settled"  # a confirmation that died mid-way was finished by the sweeper


@dataclass(frozen=True, slots=True)
class HoldEvent:
    """One fact of a hold's life.

    `sequence` is the event's change counter when the fact was announced to live readers
    (0 when Redis could not say, as when a reservation committed while Redis was away): it
    orders the facts of one event, across processes, within one `epoch` of the counter.
    `at_ms` is when it happened (for `expired`, when the hold ran out), ms since the epoch.
    """

    kind: Kind
    event_id: UUID
    hold_id: UUID
    customer_id: UUID
    seat_ids: tuple[str, ...]
    at_ms: int
    cause: Cause
    sequence: int = 0
    expires_ms: int | None = None  # placed, extended: when the hold now runs out
    reservation_id: UUID | None = None  # confirmed, cancelled


Subscriber = Callable[[HoldEvent], None]


class HoldEvents:
    """The lifecycle events of this process's holds, told to every subscriber in turn."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)

    def emit(self, event: HoldEvent) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("hold event subscriber %r failed on %s", subscriber, event.kind)
