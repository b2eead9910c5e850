"""Where new seats go: the default layout and explicit sections (API.md, "Event").

Pure functions: they decide section, row, number, price and front-to-back position of
each new seat and know nothing of storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ROW_LENGTH = 20
DEFAULT_SECTION = "MAIN"
MAX_SEATS = 1000


@dataclass(frozen=True, slots=True)
class PlannedSeat:
    position: int
    section: str | None
    row: str | None
    seat_number: int | None
    price: Decimal


@dataclass(frozen=True, slots=True)
class RowSpec:
    name: str
    seats: int


@dataclass(frozen=True, slots=True)
class SectionSpec:
    name: str
    price: Decimal | None
    rows: list[RowSpec]


def row_name(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, 27 -> AB, ... (spreadsheet column names)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def row_index(name: str) -> int | None:
    """The inverse of row_name, or None for a row not named that way."""
    if not name or not name.isascii() or not name.isalpha() or not name.isupper():
        return None
    index = 0
    for ch in name:
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return index - 1


def plan_general_admission(count: int, price: Decimal, first_position: int) -> list[PlannedSeat]:
    return [PlannedSeat(first_position + i, None, None, None, price) for i in range(count)]


def plan_default(
    count: int,
    price: Decimal,
    first_position: int,
    *,
    section: str = DEFAULT_SECTION,
    rows_used: int = 0,
) -> list[PlannedSeat]:
    """`count` seats in rows of 20, starting at row number `rows_used` (0 is row A)."""
    return [
        PlannedSeat(
            first_position + i,
            section,
            row_name(rows_used + i // ROW_LENGTH),
            i % ROW_LENGTH + 1,
            price,
        )
        for i in range(count)
    ]


def plan_sections(
    sections: list[SectionSpec], default_price: Decimal, first_position: int
) -> list[PlannedSeat]:
    planned: list[PlannedSeat] = []
    position = first_position
    for section in sections:
        price = section.price if section.price is not None else default_price
        for row in section.rows:
            for number in range(1, row.seats + 1):
                planned.append(PlannedSeat(position, section.name, row.name, number, price))
                position += 1
    return planned


def duplicate_rows(sections: list[SectionSpec]) -> list[str]:
    """Field paths of rows named twice in one section, and of sections named twice."""
    problems: list[str] = []
    seen_sections: set[str] = set()
    for si, section in enumerate(sections):
        if section.name in seen_sections:
            problems.append(f"seating.sections[{si}].name")
        seen_sections.add(section.name)
        seen_rows: set[str] = set()
        for ri, row in enumerate(section.rows):
            if row.name in seen_rows:
                problems.append(f"seating.sections[{si}].rows[{ri}].name")
            seen_rows.add(row.name)
    return problems
