"""What the holds domain knows, as plain data: the types that cross its face.

Other domains get these from `HoldService` (and the lifecycle events in `lifecycle.py`);
how they are kept in Redis is the engine's business alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID


class MirrorSeat(NamedTuple):
    """A seat as the mirror packs it (K.seats): empty strings for general admission's nulls."""

    section: str
    row: str
    number: str
    price: str
    version: str
    position: int

    @classmethod
    def unpack(cls, packed: str) -> MirrorSeat:
        """From "section\trow\tnumber\tprice\tversion\tposition"."""
        section, row, number, price, version, position = packed.split("\t")
        return cls(section, row, number, price, version, int(position))

    def pack(self) -> str:
        """The seat as K.seats keeps it. (The mirror's snapshot packs its rows in SQL the
        same way: repository.mirror_snapshot.)"""
        return "\t".join((*self[:5], str(self.position)))


@dataclass(frozen=True, slots=True)
class MirrorSnapshot:
    """What a hold needs to know of an event, read from PostgreSQL."""

    max_num_seats: int
    seat_hold_time: int
    general_admission: bool
    # (id, packed) in best-available order: cheapest first, then front to back. `packed` is
    # the seat as K.seats keeps it (MirrorSeat.pack).
    seats: list[tuple[str, str]]
    reserved: list[str]
    reserved_by_customer: dict[str, int]
    starts_ms: int = 1 << 62  # when the event takes place (ms since the epoch)
    sales_from_ms: int | None = None  # the sales window: None for at once ...
    sales_until_ms: int = 1 << 62  # ... until this (the event's own time unless set)
    waiting_room: bool = False  # only admitted fans may hold


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A fan's place in an event's waiting room as Redis has it now."""

    entry_id: str
    customer_id: str
    state: str  # WAITING, ADMITTED, EXPIRED, DONE, SOLD_OUT
    place: int | None  # None before the places are drawn (the sales start)
    ahead: int | None
    until_ms: int | None  # while ADMITTED
    joined_ms: int
    rate: int  # admissions per minute
    room: str = ""  # which state of its room it was read from ("born:start"), when known


@dataclass(frozen=True, slots=True)
class QueueHead:
    """How far a waiting room has admitted (queue_head.lua)."""

    room: str  # "born:start": a different value means a different room state
    head: int  # places before this one (0-based, in qorder) have been reached
    sold_out: bool
    rate: int
    left: int  # entries that left while waiting, so far
    left_now: tuple[str, ...]  # the ids of those after the count asked about


@dataclass(frozen=True, slots=True)
class QueueCounts:
    on: bool
    rate: int
    joined: int
    waiting: int
    admitted: int
    done: int
    expired: int
    left: int
    next_place: int
    sold_out: bool


@dataclass(frozen=True, slots=True)
class EventStatus:
    """Every seat of an event at one point of its change sequence."""

    epoch: str  # changes when the sequence starts again (Redis lost the event's state)
    sequence: int
    general_admission: bool
    seats: dict[str, str]  # seat id -> "section\trow\tnumber\tprice\tversion"
    reserved: list[str]
    held: dict[str, int]  # seat id -> hold expiry, ms since the epoch


@dataclass(frozen=True, slots=True)
class SeatDetails:
    """A held seat as the mirror knows it, enough to answer without PostgreSQL."""

    seat_id: str
    section: str | None
    row: str | None
    seat_number: int | None
    price: str
    version: int


@dataclass(frozen=True, slots=True)
class PlacedHold:
    hold_id: UUID
    seat_ids: list[str]
    expires_ms: int
    created_ms: int
    sequence: int
    seats: list[SeatDetails]


@dataclass(frozen=True, slots=True)
class FencedHold:
    """A hold's record: its customer, seats and times."""

    hold_id: UUID
    customer_id: str
    seat_ids: list[str]
    created_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class LiveHold:
    """One held seat: whose hold it is and when it runs out."""

    seat_id: str
    hold_id: str
    customer_id: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class PagedSeat:
    """A seat of a page of open or of held seats: its place in the organiser's order, and
    its hold on a page of held seats."""

    seat_id: str
    position: int
    hold: LiveHold | None


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A hold as Redis keeps it."""

    customer_id: str
    seat_ids: list[str]
    created_ms: int
    expires_ms: int
    fenced: bool


@dataclass(frozen=True, slots=True)
class Inventory:
    """An event's whole hold state in Redis at one moment (for the inventory audit)."""

    now_ms: int
    mirrored: bool  # a mirror is registered: holds are decided by it
    max_num_seats: int | None
    reserved: set[str]  # seats the mirror holds reserved
    held: dict[str, str]  # seat id -> hold id
    holds: dict[str, HoldRecord]
    held_by_customer: dict[str, int]
    mirror_seats: dict[str, str]  # seat id -> packed as `MirrorSeat` unpacks
    free: set[str] = field(default_factory=set)  # seat ids in the free index (best available)
    open_at: set[str] = field(default_factory=set)  # members of the open seats' position index
    held_at: set[str] = field(default_factory=set)  # members of the held seats' one
    placed: bool = False  # those two indexes are built (by the first page that needs them)


@dataclass(frozen=True, slots=True)
class Ended:
    """What a script says of a hold it ended: the change's sequence, the owner, the seats."""

    sequence: int
    customer_id: str
    seat_ids: list[str]


@dataclass(frozen=True, slots=True)
class ExpiredHold:
    """A hold that ran out, as a script recorded it for the sweeper."""

    hold_id: str
    customer_id: str
    seat_ids: list[str]
    expired_ms: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Swept:
    next_expiry_ms: int | None
    expired: list[ExpiredHold]  # handed on by this sweep; `acknowledge` when delivered
    stale_fenced: list[str]  # holds whose confirmation died mid-way, for PostgreSQL to settle
    gone: bool = False  # nothing of the event is left in Redis: it leaves the sweep
    records: list[str] = field(default_factory=list)  # `expired` as stored, to acknowledge


# Outcomes a caller must handle. They carry data, not HTTP: the service decides the answer.
class HoldRefused(Exception):
    """Base of the reasons a hold attempt holds nothing."""


class EventUnknown(HoldRefused):
    pass


class UnknownSeats(HoldRefused):
    def __init__(self, seat_ids: list[str]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


class SeatsUnavailable(HoldRefused):
    def __init__(self, seat_ids: list[str]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


class LimitExceeded(HoldRefused):
    """Over the customer's limit: maxNumSeats, or fewer when the waiting room admitted the
    customer for the last seats (`admitted_for`)."""

    def __init__(self, already: int, maximum: int, *, admitted_for: bool = False) -> None:
        super().__init__(already, maximum)
        self.already = already
        self.maximum = maximum
        self.admitted_for = admitted_for


class AddressLimit(HoldRefused):
    """The client's address already holds its share of the event's seats."""

    def __init__(self, held: int, most: int) -> None:
        super().__init__(held, most)
        self.held = held
        self.most = most


class NotAdmitted(HoldRefused):
    """The event's waiting room has not admitted this customer (or its admission ran out)."""


class NoQueue(Exception):
    """The event has no waiting room."""


class QueueClosed(Exception):
    """The waiting room opens at `opens` (ms), or (None) its settings are not in Redis."""

    def __init__(self, opens: int | None) -> None:
        super().__init__(opens)
        self.opens = opens


class SalesClosed(HoldRefused):
    """Outside the event's sales window (ms since the epoch; opens None: at once)."""

    def __init__(self, opens_ms: int | None, closes_ms: int) -> None:
        super().__init__(opens_ms, closes_ms)
        self.opens_ms = opens_ms
        self.closes_ms = closes_ms


class NoneAvailable(HoldRefused):
    """Best available found no seats (or no adjacent run) that fit."""


class HoldGone(Exception):
    """The hold expired, was released or confirmed, or never existed."""


class NotOwner(Exception):
    pass


class Fenced(Exception):
    """The hold is being confirmed."""


class ExtendLimit(Exception):
    def __init__(self, latest_ms: int) -> None:
        super().__init__(latest_ms)
        self.latest_ms = latest_ms
