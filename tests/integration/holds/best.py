"""What best available should pick, written plainly: the reference the property tests hold
the hold script to (scripts/hold.lua), and the judge of "a lone seat left behind"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from ticketing.holds.models import MirrorSeat, MirrorSnapshot


@dataclass(frozen=True)
class Place:
    seat: str
    section: str
    row: str
    number: int


class Snapshots:
    """The engine's mirror loader over venues made here (no PostgreSQL: the hold script is
    under test, and Valkey is real)."""

    def __init__(self) -> None:
        self.venues: dict[UUID, MirrorSnapshot] = {}
        self.loads: dict[UUID, int] = {}  # snapshots read, per event

    def add(self, order: list[Place], free: set[str]) -> tuple[UUID, dict[str, str]]:
        event_id = uuid4()
        ids = {p.seat: str(uuid4()) for p in order}
        self.venues[event_id] = MirrorSnapshot(
            max_num_seats=100,
            seat_hold_time=60,
            general_admission=False,
            seats=[
                (ids[p.seat], MirrorSeat(p.section, p.row, str(p.number), "10.00", "1", i).pack())
                for i, p in enumerate(order)
            ],
            reserved=[ids[p.seat] for p in order if p.seat not in free],
            reserved_by_customer={},
        )
        return event_id, ids

    async def __call__(self, event_id: UUID) -> MirrorSnapshot | None:
        self.loads[event_id] = self.loads.get(event_id, 0) + 1
        return self.venues.get(event_id)


def runs(order: Sequence[Place], free: set[str], section: str | None) -> list[list[Place]]:
    """Open seats side by side (next in the order, one row, numbers one apart), in order."""
    found: list[list[Place]] = []
    last: tuple[int, Place] | None = None
    for rank, place in enumerate(order):
        if place.seat not in free or (section is not None and place.section != section):
            continue
        if last is not None and (
            rank == last[0] + 1
            and (place.section, place.row) == (last[1].section, last[1].row)
            and place.number == last[1].number + 1
        ):
            found[-1].append(place)
        else:
            found.append([place])
        last = (rank, place)
    return found


def lone_seats(order: Sequence[Place], free: set[str]) -> set[str]:
    """Open seats with no open neighbour in their row."""
    return {run[0].seat for run in runs(order, free, None) if len(run) == 1}


def leaves_lone(order: Sequence[Place], free: set[str], taken: Sequence[str]) -> bool:
    """Whether taking `taken` leaves an open seat alone that was not alone before."""
    return bool(lone_seats(order, free - set(taken)) - lone_seats(order, free))


def pick(
    order: Sequence[Place], free: set[str], quantity: int, section: str | None, adjacent: bool
) -> list[str] | None:
    """The seats best available holds, or None (409)."""
    if len(free) < quantity:
        return None
    open_runs = runs(order, free, section)
    if adjacent:
        fallback = None
        for run in open_runs:
            if fallback is not None and run[0].section != fallback[0].section:
                break  # never another section to spare a lone seat
            if len(run) == quantity or len(run) >= quantity + 2:
                return [p.seat for p in run[:quantity]]
            if len(run) == quantity + 1 and fallback is None:
                fallback = run
        return None if fallback is None else [p.seat for p in fallback[:quantity]]
    best: list[str] = []
    sections: set[str] = set()
    alone = False
    for run in open_runs:
        t = min(quantity - len(best), len(run))
        best += [p.seat for p in run[:t]]
        sections.add(run[0].section)
        alone = alone or len(run) - t == 1
        if len(best) == quantity:
            break
    if len(best) < quantity:
        return None
    if not alone:
        return best
    chosen: list[str] = []
    for run in open_runs:
        if run[0].section not in sections:
            break
        t = min(quantity - len(chosen), len(run))
        if len(run) - t == 1:
            t -= 1
        chosen += [p.seat for p in run[:t]]
        if len(chosen) == quantity:
            return chosen
    return best
