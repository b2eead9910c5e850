"""Event bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from ticketing.seats.schemas import SectionIn
from ticketing.validation import PRINTABLE, Instant, Money, Schema, check_money

Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=PRINTABLE)]
NumSeats = Annotated[int, Meta(ge=10, le=1000)]
MaxNumSeats = Annotated[int, Meta(ge=1, le=1000)]
HoldTime = Annotated[int, Meta(ge=10, le=3600)]
AwareTime = Instant


class SeatingIn(Schema):
    assigned_seating: bool = True
    price: Money = Decimal(0)
    sections: Annotated[list[SectionIn], Meta(min_length=1, max_length=100)] | None = None

    def __post_init__(self) -> None:
        if problem := check_money(self.price):
            raise ValueError(f"price: {problem}")


class WaitingRoom(Schema):
    """An event's waiting room (API.md v2): fans join before the sale, get a fair place, and
    are admitted at `admitPerMinute`, never more at once than there are open seats."""

    enabled: bool = False
    admit_per_minute: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    admission_seconds: Annotated[int, Meta(ge=30, le=3600)] = 300
    opens_before_seconds: Annotated[int, Meta(ge=0, le=86_400)] = 1800


class EventCreate(Schema):
    event_name: Name
    event_location: Name
    event_date_time_stamp: AwareTime
    num_seats: NumSeats
    max_num_seats: MaxNumSeats = 10
    seat_hold_time: HoldTime = 60
    seating: SeatingIn | None = None
    sales_start_at: AwareTime | None = None
    sales_end_at: AwareTime | None = None
    waiting_room: WaitingRoom | None = None


class EventPatch(Schema):
    event_name: Name | UnsetType = UNSET
    event_location: Name | UnsetType = UNSET
    event_date_time_stamp: AwareTime | UnsetType = UNSET
    num_seats: NumSeats | UnsetType = UNSET
    max_num_seats: MaxNumSeats | UnsetType = UNSET
    seat_hold_time: HoldTime | UnsetType = UNSET
    sales_start_at: AwareTime | UnsetType | None = UNSET  # null: on sale at once
    sales_end_at: AwareTime | UnsetType | None = UNSET  # null: until the event's own time
    waiting_room: WaitingRoom | UnsetType | None = UNSET  # null: none


class SeatCounts(Schema):
    open: int
    on_hold: int
    reserved: int


class Event(Schema):
    id: UUID
    event_name: str
    event_location: str
    event_date_time_stamp: datetime
    num_seats: int
    max_num_seats: int
    seat_hold_time: int
    assigned_seating: bool
    version: int
    created_at: datetime
    updated_at: datetime
    sales_start_at: datetime | None = None  # null: on sale from creation
    sales_end_at: datetime | None = None  # eventDateTimeStamp unless set (and follows it)
    waiting_room: WaitingRoom | None = None
    availability: SeatCounts | UnsetType = UNSET


class EventList(Schema):
    items: list[Event]
    next_cursor: str | None
