"""Seat bodies on the wire."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from ticketing.seatview.schemas import Seat
from ticketing.validation import PRINTABLE, Money, Schema, check_money

SectionName = Annotated[str, Meta(min_length=1, max_length=50, pattern=PRINTABLE)]
RowName = Annotated[str, Meta(min_length=1, max_length=20, pattern=PRINTABLE)]
SeatNumber = Annotated[int, Meta(ge=1, le=100_000)]


class RowIn(Schema):
    name: RowName
    seats: Annotated[int, Meta(ge=1, le=1000)]


class SectionIn(Schema):
    name: SectionName
    rows: Annotated[list[RowIn], Meta(min_length=1, max_length=1000)]
    price: Money | None = None

    def __post_init__(self) -> None:
        if self.price is not None and (problem := check_money(self.price)):
            raise ValueError(f"price: {problem}")


class SeatsAdd(Schema):
    """Either `count` more seats (continuing the last rows) or whole new `sections`."""

    count: Annotated[int, Meta(ge=1, le=990)] | None = None
    price: Money | None = None
    section: SectionName | None = None
    sections: Annotated[list[SectionIn], Meta(min_length=1, max_length=100)] | None = None


class SeatPatch(Schema):
    price: Money | UnsetType = UNSET
    row: RowName | UnsetType = UNSET
    seat_number: SeatNumber | UnsetType = UNSET
    section: SectionName | UnsetType = UNSET


class SeatList(Schema):
    items: list[Seat]
    next_cursor: str | None


class SeatsAdded(Schema):
    items: list[Seat]
    num_seats: int
