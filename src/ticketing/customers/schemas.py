"""Customer bodies on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from ticketing.seatview.schemas import Seat
from ticketing.validation import EMAIL, PRINTABLE, Schema

PersonName = Annotated[str, Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=EMAIL)]


class CustomerCreate(Schema):
    first_name: PersonName
    last_name: PersonName
    email: Email | None = None


class CustomerPatch(Schema):
    first_name: PersonName | UnsetType = UNSET
    last_name: PersonName | UnsetType = UNSET
    email: Email | UnsetType | None = UNSET


class Customer(Schema):
    id: UUID
    first_name: str
    last_name: str
    email: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    seats_on_hold: list[Seat] | UnsetType = UNSET
    seats_reserved: list[Seat] | UnsetType = UNSET


class CustomerList(Schema):
    items: list[Customer]
    next_cursor: str | None


class SignUp(Schema):
    customer: Customer
    token: str


class IssuedToken(Schema):
    token: str
    customer_id: UUID
    expires_in_seconds: int
