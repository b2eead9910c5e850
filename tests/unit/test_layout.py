"""Seat layout rules: rows of 20 named A..Z, AA, AB..., numbered from 1."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ticketing.seats import layout


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "A"),
        (25, "Z"),
        (26, "AA"),
        (27, "AB"),
        (51, "AZ"),
        (52, "BA"),
        (701, "ZZ"),
        (702, "AAA"),
    ],
)
def test_row_names_round_trip(index: int, name: str) -> None:
    assert layout.row_name(index) == name
    assert layout.row_index(name) == index


@pytest.mark.parametrize("name", ["", "a", "A1", "Ä", "ROW-1"])
def test_rows_not_named_by_the_default_layout_have_no_index(name: str) -> None:
    assert layout.row_index(name) is None


def test_default_layout_fills_rows_of_twenty() -> None:
    seats = layout.plan_default(1000, Decimal("5"), 0)
    assert len(seats) == 1000
    assert (seats[0].row, seats[0].seat_number) == ("A", 1)
    assert (seats[19].row, seats[19].seat_number) == ("A", 20)
    assert (seats[20].row, seats[20].seat_number) == ("B", 1)
    assert (seats[999].row, seats[999].seat_number) == ("AX", 20)
    assert [s.position for s in seats] == list(range(1000))
    assert len({(s.section, s.row, s.seat_number) for s in seats}) == 1000


def test_default_layout_continues_after_used_rows() -> None:
    seats = layout.plan_default(3, Decimal(0), 40, rows_used=2)
    assert [(s.row, s.seat_number, s.position) for s in seats] == [
        ("C", 1, 40),
        ("C", 2, 41),
        ("C", 3, 42),
    ]


def test_duplicate_sections_and_rows_are_found() -> None:
    specs = [
        layout.SectionSpec("A", None, [layout.RowSpec("1", 2), layout.RowSpec("1", 2)]),
        layout.SectionSpec("A", None, [layout.RowSpec("1", 2)]),
    ]
    assert layout.duplicate_rows(specs) == [
        "seating.sections[0].rows[1].name",
        "seating.sections[1].name",
    ]
