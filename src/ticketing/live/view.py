"""One event's seats as live readers see them: statuses at a sequence number, kept current
by the event's change feed, and the Server-Sent Events frames made from them.

A view starts from `HoldEngine.status` (every seat at one sequence number) and then applies
each published change in order. A change out of order, or of another epoch (Redis lost the
event's state and the counter started again), cannot be applied: the view asks to be
loaded afresh, and its listeners get a new snapshot. Frames are encoded once per change and
shared by every listener.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec

from ticketing.holds.models import EventStatus, MirrorSeat
from ticketing.seatview.view import money
from ticketing.validation import instant

Status = Literal["OPEN", "ON_HOLD", "RESERVED"]
HISTORY = 1024  # changes kept per event for resuming streams from Last-Event-ID
QUEUE = 2048  # frames a slow listener may fall behind before it is sent a fresh snapshot


class Change(msgspec.Struct, frozen=True):
    """A change as the hold scripts publish it (scripts/_lib.lua, `announce`)."""

    e: str
    seq: int
    kind: str
    status: str
    seats: list[str] | dict[str, str] = []  # cjson writes an empty list as {}
    t: int | None = None


class Counts(msgspec.Struct, frozen=True, rename="camel"):
    open: int
    on_hold: int
    reserved: int
    total: int


class SectionCounts(msgspec.Struct, frozen=True, rename="camel"):
    name: str | None
    open: int
    on_hold: int
    reserved: int
    total: int


class Availability(msgspec.Struct, frozen=True, rename="camel"):
    event_id: UUID
    sequence: int
    open: int
    on_hold: int
    reserved: int
    total: int
    sections: list[SectionCounts]


class SeatState(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    section: str | None
    row: str | None
    seat_number: int | None
    status: Status
    hold_expires_at: datetime | None = None
    price: float = 0  # as every seat shows it: 10, 10.5


class Snapshot(msgspec.Struct, frozen=True, rename="camel"):
    event_id: UUID
    sequence: int
    general_admission: bool
    counts: Counts
    sections: list[SectionCounts]
    seats: list[SeatState]


class SeatsChanged(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    sequence: int
    change: str  # held, extended, released, expired, reserved, cancelled
    status: str
    seat_ids: list[str]
    hold_expires_at: datetime | None = None  # ISO 8601 with Z, as in every body


_encode = msgspec.json.Encoder().encode
decode_change = msgspec.json.Decoder(Change).decode


def _row_key(row: str) -> tuple[int, str]:
    return (len(row), row)  # A..Z, then AA, AB, ...


@dataclass(slots=True)
class Place:
    section: str
    row: str
    number: int | None
    price: str = "0"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(eq=False)
class Listener:
    """One stream subscriber: frames to send, in order. `None` ends the stream."""

    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE))

    def offer(self, frame: bytes | None) -> bool:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def restart(self, frame: bytes | None) -> None:
        """Drop what is queued and start over from `frame` (a snapshot, or the end)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(frame)


class EventView:
    def __init__(self, event_id: UUID, status: EventStatus, order: list[str] | None = None) -> None:
        self.event_id = event_id
        self.listeners: set[Listener] = set()
        self.verified_at = 0.0  # monotonic time at which the view was known to be current
        self.last_read = time.monotonic()
        self.polled: tuple[str, int, float] | None = None  # (epoch, seq, when) of the last poll
        self._history: deque[tuple[int, bytes]] = deque(maxlen=HISTORY)
        self._snapshot: bytes | None = None
        # Counts at a sequence number, good until the next hold expires by the clock.
        self._counted: tuple[int, int, Counts, list[SectionCounts]] | None = None
        self.reset(status, order)

    def reset(self, status: EventStatus, order: list[str] | None = None) -> None:
        """Start again from a fresh status; every listener gets a new snapshot. `order` is
        the seats as the organiser laid them out (sections, rows, seats): the snapshot, the
        counts per section and the map keep it."""
        self.epoch = status.epoch
        self.sequence = status.sequence
        self.general_admission = status.general_admission
        self.places: dict[str, Place] = {}
        for seat_id, packed in status.seats.items():
            seat = MirrorSeat.unpack(packed)
            self.places[seat_id] = Place(
                seat.section, seat.row, int(seat.number) if seat.number else None, seat.price
            )
        laid_out = [s for s in order or () if s in self.places]
        rest = sorted(
            set(self.places) - set(laid_out),
            key=lambda s: (
                self.places[s].section,
                _row_key(self.places[s].row),
                self.places[s].number or 0,
                s,
            ),
        )
        self.order = laid_out + rest
        self.reserved = set(status.reserved)
        self.held = dict(status.held)
        self._history.clear()
        self._snapshot = None
        self._counted = None
        frame = self.snapshot_frame()
        for listener in self.listeners:
            listener.restart(frame)

    def end(self) -> None:
        """The event is gone: end every stream."""
        for listener in self.listeners:
            listener.restart(None)
        self.listeners.clear()

    # --- reading -------------------------------------------------------------------------

    def status_of(self, seat_id: str, now: int) -> Status:
        if seat_id in self.reserved:
            return "RESERVED"
        expires = self.held.get(seat_id)
        if expires is not None and expires > now:
            return "ON_HOLD"
        return "OPEN"

    def _count(self, now: int) -> tuple[Counts, list[SectionCounts]]:
        cached = self._counted
        if cached is not None and cached[0] == self.sequence and now < cached[1]:
            return cached[2], cached[3]
        by_section: dict[str, list[int]] = {}
        for seat_id in self.order:
            tally = by_section.setdefault(self.places[seat_id].section, [0, 0, 0])
            status = self.status_of(seat_id, now)
            tally[0 if status == "OPEN" else 1 if status == "ON_HOLD" else 2] += 1
        sections = [
            SectionCounts(name or None, o, h, r, o + h + r)
            for name, (o, h, r) in by_section.items()
        ]
        o = sum(s.open for s in sections)
        h = sum(s.on_hold for s in sections)
        r = sum(s.reserved for s in sections)
        counts = Counts(o, h, r, o + h + r)
        until = min((t for t in self.held.values() if t > now), default=1 << 62)
        self._counted = (self.sequence, until, counts, sections)
        return counts, sections

    def availability(self) -> Availability:
        counts, sections = self._count(now_ms())
        return Availability(
            self.event_id,
            self.sequence,
            counts.open,
            counts.on_hold,
            counts.reserved,
            counts.total,
            sections,
        )

    def open_seats(self) -> int:
        return self._count(now_ms())[0].open

    def event_id_line(self, sequence: int) -> bytes:
        return f"id: {self.epoch}-{sequence}\n".encode()

    def snapshot_json(self) -> bytes:
        """The snapshot event's data alone (a page embeds it, to draw before it connects)."""
        frame = self.snapshot_frame()
        return frame[frame.index(b"data: ") + 6 : -2]

    def snapshot_frame(self) -> bytes:
        if self._snapshot is None:
            now = now_ms()
            counts, sections = self._count(now)
            seats = []
            for seat_id in self.order:
                place = self.places[seat_id]
                status = self.status_of(seat_id, now)
                seats.append(
                    SeatState(
                        seat_id,
                        place.section or None,
                        place.row or None,
                        place.number,
                        status,
                        instant(self.held[seat_id]) if status == "ON_HOLD" else None,
                        money(Decimal(place.price)),
                    )
                )
            body = Snapshot(
                self.event_id, self.sequence, self.general_admission, counts, sections, seats
            )
            self._snapshot = (
                self.event_id_line(self.sequence) + b"event: snapshot\ndata: " + _encode(body)
            ) + b"\n\n"
        return self._snapshot

    def since(self, epoch: str, sequence: int) -> list[bytes] | None:
        """The frames after `sequence`, or None when they are not all here (send a snapshot)."""
        if epoch != self.epoch or sequence > self.sequence:
            return None
        if sequence == self.sequence:
            return []
        if not self._history or self._history[0][0] > sequence + 1:
            return None
        return [frame for seq, frame in self._history if seq > sequence]

    # --- changing ------------------------------------------------------------------------

    def apply(self, change: Change) -> bool:
        """Apply the next change; False when it cannot be (out of order, new epoch, layout)."""
        if change.e == self.epoch and change.seq <= self.sequence:
            return True  # already in the status this view started from
        if change.e != self.epoch or change.seq != self.sequence + 1 or change.kind == "layout":
            return False
        seats = change.seats if isinstance(change.seats, list) else []
        if change.status == "ON_HOLD":
            expires = change.t or 0
            for seat in seats:
                self.held[seat] = expires
        elif change.status == "RESERVED":
            for seat in seats:
                self.held.pop(seat, None)
                self.reserved.add(seat)
        else:
            for seat in seats:
                self.held.pop(seat, None)
                self.reserved.discard(seat)
        self.sequence = change.seq
        self._snapshot = None
        until = instant(change.t) if change.t else None
        body = SeatsChanged(change.seq, change.kind, change.status, seats, until)
        frame = self.event_id_line(change.seq) + b"event: seats\ndata: " + _encode(body) + b"\n\n"
        self._history.append((change.seq, frame))
        for listener in self.listeners:
            if not listener.offer(frame):
                listener.restart(self.snapshot_frame())
        return True
