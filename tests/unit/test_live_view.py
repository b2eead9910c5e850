"""An event's live view on its own: changes applied in order, gaps and new epochs refused,
frames made once and resumable, slow listeners started over."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from ticketing.holds.models import EventStatus
from ticketing.live.view import QUEUE, Change, EventView, Listener, now_ms

EVENT = uuid.UUID("11111111-1111-4111-8111-111111111111")


def _status(sequence: int = 5, epoch: str = "100") -> EventStatus:
    seats = {
        "s-b2": "Stalls\tB\t2\t50.00\t1\t1",
        "s-a10": "Stalls\tA\t10\t50.00\t1\t2",
        "s-a2": "Stalls\tA\t2\t50.00\t1\t3",
        "s-aa1": "Stalls\tAA\t1\t50.00\t1\t4",
        "c-a1": "Circle\tA\t1\t30.00\t1\t5",
    }
    return EventStatus(epoch, sequence, False, seats, ["c-a1"], {"s-b2": now_ms() + 60_000})


def _frame(raw: bytes) -> tuple[str, str, dict[str, object]]:
    lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
    return lines["id"], lines["event"], json.loads(lines["data"])


def test_snapshot_orders_seats_by_section_row_and_number() -> None:
    ident, kind, data = _frame(EventView(EVENT, _status()).snapshot_frame())
    assert (ident, kind) == ("100-5", "snapshot")
    seats = data["seats"]
    assert isinstance(seats, list)
    assert [s["id"] for s in seats] == ["c-a1", "s-a2", "s-a10", "s-b2", "s-aa1"]
    assert [s["status"] for s in seats] == ["RESERVED", "OPEN", "OPEN", "ON_HOLD", "OPEN"]
    assert data["counts"] == {"open": 3, "onHold": 1, "reserved": 1, "total": 5}


def test_changes_apply_in_order_and_reach_listeners_once_each() -> None:
    view = EventView(EVENT, _status())
    listener = Listener()
    view.listeners.add(listener)
    expires = now_ms() + 30_000
    assert view.apply(Change("100", 6, "held", "ON_HOLD", ["s-a2", "s-a10"], expires))
    assert view.apply(Change("100", 7, "reserved", "RESERVED", ["s-a2", "s-a10"]))
    assert view.apply(Change("100", 6, "held", "ON_HOLD", ["s-a2"], expires))  # already seen
    assert view.apply(Change("100", 8, "expired", "OPEN", ["s-b2"]))
    frames = [_frame(listener.queue.get_nowait()) for _ in range(listener.queue.qsize())]
    assert [(i, k, d["change"]) for i, k, d in frames] == [
        ("100-6", "seats", "held"),
        ("100-7", "seats", "reserved"),
        ("100-8", "seats", "expired"),
    ]
    shown = datetime.fromisoformat(frames[0][2]["holdExpiresAt"].replace("Z", "+00:00"))
    assert frames[0][2]["holdExpiresAt"].endswith("Z")
    assert round(shown.timestamp() * 1000) == expires
    availability = view.availability()
    assert (availability.sequence, availability.open, availability.reserved) == (8, 2, 3)
    assert view.open_seats() == 2


def test_a_gap_a_new_epoch_or_a_new_layout_cannot_be_applied() -> None:
    view = EventView(EVENT, _status())
    assert not view.apply(Change("100", 7, "held", "ON_HOLD", ["s-a2"], now_ms() + 1000))
    assert not view.apply(Change("200", 1, "held", "ON_HOLD", ["s-a2"], now_ms() + 1000))
    assert not view.apply(Change("100", 6, "layout", "", {}))
    assert view.sequence == 5
    assert view.status_of("s-a2", now_ms()) == "OPEN"


def test_an_expired_hold_counts_as_open_before_its_expiry_is_announced() -> None:
    status = _status()
    status.held["s-b2"] = now_ms() - 1
    view = EventView(EVENT, status)
    assert view.availability().on_hold == 0


def test_resume_returns_exactly_the_missed_frames_or_none() -> None:
    view = EventView(EVENT, _status())
    for seq in range(6, 10):
        assert view.apply(Change("100", seq, "released", "OPEN", ["s-a2"]))
    assert [_frame(f)[0] for f in view.since("100", 7) or []] == ["100-8", "100-9"]
    assert view.since("100", 9) == []
    assert view.since("100", 4) is None  # from before the history this view holds
    assert view.since("100", 12) is None  # from the future
    assert view.since("99", 8) is None  # another epoch


def test_reset_sends_every_listener_a_fresh_snapshot() -> None:
    view = EventView(EVENT, _status())
    listener = Listener()
    view.listeners.add(listener)
    view.apply(Change("100", 6, "held", "ON_HOLD", ["s-a2"], now_ms() + 1000))
    view.reset(_status(sequence=1, epoch="300"))
    assert listener.queue.qsize() == 1
    ident, kind, _ = _frame(listener.queue.get_nowait())
    assert (ident, kind) == ("300-1", "snapshot")
    assert view.since("100", 5) is None


def test_a_listener_that_falls_too_far_behind_starts_over_from_a_snapshot() -> None:
    view = EventView(EVENT, _status())
    slow = Listener()
    view.listeners.add(slow)
    for seq in range(6, 6 + QUEUE + 1):
        assert view.apply(Change("100", seq, "released", "OPEN", ["s-a2"]))
    assert slow.queue.qsize() == 1  # what it missed is dropped: the snapshot has it all
    ident, kind, _ = _frame(slow.queue.get_nowait())
    assert (ident, kind) == (f"100-{6 + QUEUE}", "snapshot")


def test_end_closes_every_stream() -> None:
    view = EventView(EVENT, _status())
    listener = Listener()
    view.listeners.add(listener)
    view.end()
    assert listener.queue.get_nowait() is None
    assert not view.listeners
