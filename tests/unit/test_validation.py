"""Body decoding names every bad field, and money is exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ticketing.errors import ValidationFailed
from ticketing.events.schemas import EventCreate
from ticketing.validation import check_money, decode_body, decode_cursor, encode_cursor


def _fields(body: bytes) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        decode_body(body, EventCreate)
    return [e.field for e in caught.value.errors]


def test_every_bad_field_is_reported() -> None:
    assert _fields(b'{"eventName": 5, "numSeats": "x", "extra": 1}') == [
        "eventName",
        "numSeats",
        "extra",
        "eventLocation",
        "eventDateTimeStamp",
    ]


def test_nested_errors_name_their_path() -> None:
    body = (
        b'{"eventName":"a","eventLocation":"b","eventDateTimeStamp":"2027-01-01T00:00:00Z","numSeats":10,'
        b'"seating":{"sections":[{"name":"S","rows":[{"name":"A","seats":0}]}]}}'
    )
    assert _fields(body) == ["seating.sections[0].rows[0].seats"]


def test_nested_money_is_checked() -> None:
    body = (
        b'{"eventName":"a","eventLocation":"b","eventDateTimeStamp":"2027-01-01T00:00:00Z","numSeats":10,'
        b'"seating":{"price": 0.001}}'
    )
    assert _fields(body) == ["seating.price"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0", True),
        ("0.01", True),
        ("1000000", True),
        ("1000000.01", False),
        ("-0.01", False),
        ("1.005", False),
        ("NaN", False),
    ],
)
def test_money_bounds(value: str, ok: bool) -> None:
    assert (check_money(Decimal(value)) is None) is ok


def test_money_is_decoded_exactly() -> None:
    body = (
        b'{"eventName":"a","eventLocation":"b","eventDateTimeStamp":"2027-01-01T00:00:00Z",'
        b'"numSeats":10,"seating":{"price":19.99}}'
    )
    event = decode_body(body, EventCreate)
    assert event.seating is not None
    assert event.seating.price == Decimal("19.99")


def test_cursor_round_trip_and_tampering() -> None:
    cursor = encode_cursor([42])
    assert decode_cursor(cursor, tuple[int]) == (42,)
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, tuple[str, str])
    with pytest.raises(ValidationFailed):
        decode_cursor("%%%", tuple[int])
