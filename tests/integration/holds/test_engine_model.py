"""A stateful property test: the engine against a plain in-memory model of the rules.

Hypothesis drives holds (explicit and best available), extends, releases, expiries,
confirmations, cancellations, mirror loss and sweeps in any order, on the real Valkey and
PostgreSQL, and after every step checks that the engine shows exactly what the model says:
no seat in two holds, no seat both held and reserved, every hold whole, every limit kept.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.events.schemas import EventCreate
from ticketing.events.service import EventService
from ticketing.holds import repository
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.models import (
    ExtendLimit,
    HoldGone,
    LimitExceeded,
    MirrorSnapshot,
    NoneAvailable,
    NotOwner,
    PagedSeat,
    PlacedHold,
    SeatsUnavailable,
)
from ticketing.holds.service import HoldService
from ticketing.seats.service import SeatService
from ticketing.settings import Settings

from .best import Place, pick

T = TypeVar("T")
MAX_PER_CUSTOMER = 4
CUSTOMERS = 3


class World:
    """The engine and its servers on an event loop of the test's own."""

    def __init__(self, app_settings: Settings) -> None:
        assert app_settings.database_url is not None
        assert app_settings.redis_url is not None
        self.loop = asyncio.new_event_loop()
        self.db = Database(
            app_settings.database_url, min_size=1, max_size=4, timeout_seconds=5, retry_after=1
        )
        self.redis = Redis(app_settings.redis_url, cluster=False, timeout_ms=2000, retry_after=1)
        self.run(self.db.open())
        self.run(self.redis.open())

        async def load(event_id: uuid.UUID) -> MirrorSnapshot | None:
            async with self.db.connection() as conn:
                return await repository.mirror_snapshot(conn, event_id)

        self.engine = HoldEngine(self.redis, load)
        self.holds = HoldService(self.db, self.redis, engine=self.engine)
        self.customers = self.run(self._make_customers())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    async def _make_customers(self) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(CUSTOMERS)]
        async with self.db.transaction() as conn:
            for cid in ids:
                await conn.execute(
                    "INSERT INTO customers (id, first_name, last_name) VALUES ($1, 'Model', 'Fan')",
                    cid,
                )
        return ids

    def close(self) -> None:
        self.run(self.redis.close())
        self.run(self.db.close())
        self.loop.close()


@pytest.fixture(scope="module")
def world(settings: Settings) -> Any:
    made = World(settings)
    yield made
    made.close()


class HoldModel(RuleBasedStateMachine):
    world: World

    @initialize()
    def new_event(self) -> None:
        w = self.world
        event = w.run(
            EventService(w.db, SeatService(w.db, w.holds), w.holds).create(
                EventCreate(
                    event_name="Model",
                    event_location="Model hall",
                    event_date_time_stamp=datetime(2030, 1, 1, tzinfo=UTC),
                    num_seats=10,
                    max_num_seats=MAX_PER_CUSTOMER,
                )
            )
        )
        self.event = event.id
        self.seats: list[str] = w.run(self._seat_ids())
        self.held: dict[str, str] = {}  # seat -> hold
        self.holds: dict[
            str, tuple[uuid.UUID, list[str], int]
        ] = {}  # hold -> customer, seats, extends
        self.reserved: dict[str, uuid.UUID] = {}  # seat -> customer
        self.reservations: dict[str, tuple[uuid.UUID, list[str]]] = {}
        self.expired: list[str] = []

    async def _seat_ids(self) -> list[str]:
        async with self.world.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id FROM seats WHERE event_id = $1 ORDER BY position", self.event
            )
        return [str(r[0]) for r in rows]

    def _count(self, customer: uuid.UUID) -> int:
        held = sum(len(s) for c, s, _ in self.holds.values() if c == customer)
        return held + sum(1 for c in self.reserved.values() if c == customer)

    def _drop(self, hold_id: str) -> tuple[uuid.UUID, list[str], int]:
        entry = self.holds.pop(hold_id)
        for seat in entry[1]:
            del self.held[seat]
        return entry

    @rule(
        customer=st.integers(0, CUSTOMERS - 1),
        picks=st.sets(st.integers(0, 9), min_size=1, max_size=3),
    )
    def hold(self, customer: int, picks: set[int]) -> None:
        cid = self.world.customers[customer]
        wanted = [self.seats[i] for i in sorted(picks)]
        hold_id = uuid.uuid4()
        taken = [s for s in wanted if s in self.held or s in self.reserved]
        outcome: PlacedHold | SeatsUnavailable | LimitExceeded
        try:
            outcome = self.world.run(self.world.engine.hold_seats(self.event, cid, hold_id, wanted))
        except (SeatsUnavailable, LimitExceeded) as refused:
            outcome = refused
        if isinstance(outcome, SeatsUnavailable):
            assert sorted(outcome.seat_ids) == sorted(taken)
            return
        if isinstance(outcome, LimitExceeded):
            assert not taken
            assert self._count(cid) + len(wanted) > MAX_PER_CUSTOMER
            return
        placed = outcome
        assert not taken, f"held {wanted} over {taken}"
        assert self._count(cid) + len(wanted) <= MAX_PER_CUSTOMER
        assert placed.seat_ids == wanted
        self.holds[str(hold_id)] = (cid, wanted, 0)
        for seat in wanted:
            self.held[seat] = str(hold_id)

    @rule(customer=st.integers(0, CUSTOMERS - 1), quantity=st.integers(1, 3))
    def hold_best(self, customer: int, quantity: int) -> None:
        cid = self.world.customers[customer]
        free = [s for s in self.seats if s not in self.held and s not in self.reserved]
        hold_id = uuid.uuid4()
        try:
            placed = self.world.run(
                self.world.engine.hold_best(
                    self.event, cid, hold_id, quantity, None, adjacent=False
                )
            )
        except NoneAvailable:
            assert len(free) < quantity
            return
        except LimitExceeded:
            assert self._count(cid) + quantity > MAX_PER_CUSTOMER
            return
        # All seats cost the same, in one row of ten: front first, sparing lone seats.
        order = [Place(s, "", "A", n) for n, s in enumerate(self.seats, start=1)]
        assert placed.seat_ids == pick(order, set(free), quantity, None, adjacent=False)
        self.holds[str(hold_id)] = (cid, placed.seat_ids, 0)
        for seat in placed.seat_ids:
            self.held[seat] = str(hold_id)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(list(self.holds)))
        customer = self.holds[hold_id][0]
        freed = self.world.run(self.world.engine.release(self.event, uuid.UUID(hold_id), customer))
        assert sorted(freed.seat_ids) == sorted(self._drop(hold_id)[1])

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def extend(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(list(self.holds)))
        customer, seats, extends = self.holds[hold_id]
        try:
            self.world.run(self.world.engine.extend(self.event, uuid.UUID(hold_id), customer))
        except ExtendLimit:
            assert extends == 2
            return
        assert extends < 2
        self.holds[hold_id] = (customer, seats, extends + 1)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def time_runs_out(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(list(self.holds)))
        # Only the clock moves: nothing is swept, and every later step must still see the
        # hold as gone.
        self.world.run(self._age(hold_id, 400_000))
        self._drop(hold_id)
        self.expired.append(hold_id)

    @precondition(lambda self: self.expired)
    @rule(data=st.data())
    def act_on_an_expired_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(self.expired))
        owner = self.world.customers[0]
        with pytest.raises((HoldGone, NotOwner)):
            self.world.run(self.world.engine.extend(self.event, uuid.UUID(hold_id), owner))

    async def _age(self, hold_id: str, by_ms: int) -> None:
        keys = event_keys(self.event)
        raw = await self.world.redis.call(lambda c: c.hget(keys.holds, hold_id))
        assert raw is not None
        record = json.loads(raw)
        record["t"] -= by_ms
        record["t0"] -= by_ms
        await self.world.redis.call(lambda c: c.hset(keys.holds, {hold_id: json.dumps(record)}))
        await self.world.redis.call(lambda c: c.zadd(keys.expiry, {hold_id: record["t"]}))

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(list(self.holds)))
        customer, seats, _ = self.holds[hold_id]
        w = self.world
        fenced = w.run(w.engine.fence(self.event, uuid.UUID(hold_id), customer))
        assert sorted(fenced.seat_ids) == sorted(seats)
        reservation = w.run(self._reserve(customer, seats))
        w.run(w.engine.confirmed(self.event, uuid.UUID(hold_id)))
        self._drop(hold_id)
        self.reservations[reservation] = (customer, seats)
        for seat in seats:
            self.reserved[seat] = customer

    async def _reserve(self, customer: uuid.UUID, seats: list[str]) -> str:
        reservation = uuid.uuid4()
        async with self.world.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO reservations (id, event_id, customer_id) VALUES ($1, $2, $3)",
                reservation,
                self.event,
                customer,
            )
            moved = await conn.fetch(
                "UPDATE seats SET status = 'RESERVED', customer_id = $2, reservation_id = $3"
                " WHERE id = ANY($1::uuid[]) AND status = 'OPEN' RETURNING id",
                [uuid.UUID(s) for s in seats],
                customer,
                reservation,
            )
            assert len(moved) == len(seats), "PostgreSQL refused seats the engine held"
        return str(reservation)

    @precondition(lambda self: self.reservations)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        reservation = data.draw(st.sampled_from(list(self.reservations)))
        customer, seats = self.reservations.pop(reservation)
        w = self.world
        w.run(self._cancel(reservation))
        w.run(w.engine.unreserved(self.event, customer, seats))
        for seat in seats:
            del self.reserved[seat]

    async def _cancel(self, reservation: str) -> None:
        async with self.world.db.transaction() as conn:
            await conn.execute(
                "UPDATE seats SET status = 'OPEN', customer_id = NULL, reservation_id = NULL"
                " WHERE reservation_id = $1",
                uuid.UUID(reservation),
            )
            await conn.execute(
                "UPDATE reservations SET cancelled_at = now() WHERE id = $1", uuid.UUID(reservation)
            )

    @rule()
    def redis_loses_the_mirror(self) -> None:
        self.world.run(self.world.engine.invalidate(self.event))

    @rule()
    def sweep(self) -> None:
        self.world.run(self.world.engine.sweep(self.event))
        counts = self.world.run(self._custheld())
        expected: dict[str, int] = {}
        for customer, seats, _ in self.holds.values():
            expected[str(customer)] = expected.get(str(customer), 0) + len(seats)
        assert counts == expected

    async def _custheld(self) -> dict[str, int]:
        raw = await self.world.redis.call(lambda c: c.hgetall(event_keys(self.event).custheld))
        return {k.decode(): int(v) for k, v in raw.items()}

    @invariant()
    def engine_shows_exactly_the_model(self) -> None:
        if not hasattr(self, "event"):
            return
        live = self.world.run(self.world.engine.live_holds(self.event))
        assert {h.seat_id: h.hold_id for h in live} == self.held
        for hold in live:
            customer, seats, _ = self.holds[hold.hold_id]
            assert hold.customer_id == str(customer)
            assert hold.seat_id in seats
        assert not set(self.held) & set(self.reserved)

    @invariant()
    def pages_of_open_and_held_seats_are_the_model(self) -> None:
        if not hasattr(self, "event"):
            return
        held = [s for s in self.seats if s in self.held]
        open_ = [s for s in self.seats if s not in self.held and s not in self.reserved]
        for kind, expected in ((True, held), (False, open_)):
            # The whole list in one page, then in pages of three from each page's last place.
            whole = self.world.run(self._page(kind, None, 100))
            assert [p.seat_id for p in whole] == expected
            paged: list[str] = []
            after: int | None = None
            while page := self.world.run(self._page(kind, after, 3)):
                paged += [p.seat_id for p in page]
                after = page[-1].position
            assert paged == expected
        holds = self.world.run(self._page(True, None, 100))
        assert {p.seat_id: p.hold.hold_id for p in holds if p.hold} == self.held

    async def _page(self, held: bool, after: int | None, count: int) -> list[PagedSeat]:
        return await self.world.engine.seat_page(
            self.event, held=held, section=None, after=after, count=count
        )

    @invariant()
    def postgres_has_exactly_the_reservations(self) -> None:
        if not hasattr(self, "event"):
            return
        rows = self.world.run(self._reserved_rows())
        assert rows == {seat: str(c) for seat, c in self.reserved.items()}

    async def _reserved_rows(self) -> dict[str, str]:
        async with self.world.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id, customer_id FROM seats WHERE event_id = $1 AND status = 'RESERVED'",
                self.event,
            )
        return {str(r[0]): str(r[1]) for r in rows}


def test_engine_follows_the_model(world: World) -> None:
    HoldModel.world = world
    run_state_machine_as_test(
        HoldModel,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
