"""Who hears of hold lifecycle events: the one place to subscribe.

Every fact of a hold's life (placed, extended, released, expired, confirmed, cancelled;
`ticketing.holds.lifecycle`) is told to the functions registered here, in this order, in
the process where it happened. To act on one (send a webhook when a hold expires, say), add
a subscriber here; nothing on the hold path changes. A subscriber must be quick and must
not block: one with I/O to do queues the event for a task of its own (decision 0010 says
how a durable consumer goes on top, with ordering and at-least-once delivery).
"""

from __future__ import annotations

from ticketing.holds.lifecycle import Cause, HoldEvent, HoldEvents, Kind
from ticketing.observe import metrics
from ticketing.seats.service import SeatService


def count(event: HoldEvent) -> None:
    """The hold metrics: placed, confirmed by their customer (a confirmation the sweeper
    finished is the same sale, told again), and expired."""
    if event.kind is Kind.PLACED:
        metrics.HOLDS.inc()
    elif event.kind is Kind.CONFIRMED and event.cause is Cause.CUSTOMER:
        metrics.CONFIRMS.inc()
    elif event.kind is Kind.EXPIRED:
        metrics.EXPIRIES.inc()


def subscribe(events: HoldEvents, *, seats: SeatService) -> None:
    events.subscribe(count)
    events.subscribe(seats.on_hold_event)  # this process's seat pages, dropped at once
