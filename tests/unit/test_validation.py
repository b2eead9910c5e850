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
    cursor = encode_cursor("seats", [42])
    assert decode_cursor(cursor, tuple[int], "seats") == (42,)
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, tuple[str, str], "seats")
    with pytest.raises(ValidationFailed):
        decode_cursor("%%%", tuple[int], "seats")


def test_a_cursor_works_only_on_the_list_that_gave_it_out() -> None:
    cursor = encode_cursor("seats\x1fevent-a", [42])
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, tuple[int], "seats\x1fevent-b")
    # Forged: the values of the real cursor changed, its signature kept.
    payload, _, mac = cursor.partition(".")
    forged = encode_cursor("anything", [2**70]).partition(".")[0] + "." + mac
    with pytest.raises(ValidationFailed):
        decode_cursor(forged, tuple[int], "seats\x1fevent-a")
    unsigned = payload
    with pytest.raises(ValidationFailed):
        decode_cursor(unsigned, tuple[int], "seats\x1fevent-a")


@pytest.mark.parametrize(
    "body",
    [
        b'{"eventName":"\xff\xfe","eventLocation":"b"}',  # not UTF-8
        b'{"seating":' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested past any decoder's stack
        b"[" * 20000 + b"]" * 20000,
    ],
)
def test_undecodable_bodies_are_validation_errors(body: bytes) -> None:
    with pytest.raises(ValidationFailed):
        decode_body(body, EventCreate)


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1899-12-31T23:59:59Z"]
)
def test_instants_out_of_storable_range_are_refused(stamp: str) -> None:
    body = (
        b'{"eventName":"a","eventLocation":"b","numSeats":10,"eventDateTimeStamp":"%s"}'
        % stamp.encode()
    )
    with pytest.raises(ValidationFailed) as refused:
        decode_body(body, EventCreate)
    assert refused.value.errors[0].field == "eventDateTimeStamp"
