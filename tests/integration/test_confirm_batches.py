"""Confirmations committed together (reservations/batches.py, migration 0005): each is
decided as it would be alone, the others commit when one is refused, and an answer is
never a failure for a reservation that was committed.

With one call in flight, confirmations sent at once go as two calls: the first alone, and
every other one together in the next.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_customer, make_event, seats_of
from ticketing.db.database import Database
from ticketing.reservations.batches import Confirmations
from ticketing.reservations.repository import Reserved, ReserveItem, ReserveRefused
from ticketing.settings import Settings


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url, min_size=2, max_size=4, timeout_seconds=5, retry_after=1)
    await db.open()
    yield db
    await db.close()


async def _event(
    client: AsyncTestClient[Any], seats: int, most: int
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    event = await make_event(client, numSeats=seats, maxNumSeats=most)
    listed = await seats_of(client, event["id"])
    return uuid.UUID(event["id"]), [uuid.UUID(s["id"]) for s in listed]


def _item(
    event: uuid.UUID, customer: str, seats: list[uuid.UUID], hold: uuid.UUID | None = None
) -> ReserveItem:
    return ReserveItem(uuid.uuid4(), event, uuid.UUID(customer), hold or uuid.uuid4(), seats)


async def _all(
    confirmations: Confirmations, items: list[ReserveItem]
) -> list[Reserved | BaseException]:
    return await asyncio.gather(*(confirmations.reserve(i) for i in items), return_exceptions=True)


async def test_confirmations_sent_together_go_in_one_call_and_each_is_committed(
    client: AsyncTestClient[Any], database: Database, pg: asyncpg.Connection
) -> None:
    event, seats = await _event(client, 60, 10)
    fans = [(await make_customer(client)).id for _ in range(10)]
    items = [_item(event, fans[n % 10], seats[2 * n : 2 * n + 2]) for n in range(30)]
    confirmations = Confirmations(database, flights=1)
    answers = await _all(confirmations, items)
    assert (confirmations.calls, confirmations.sent) == (2, 30)
    for item, answer in zip(items, answers, strict=True):
        assert not isinstance(answer, BaseException), answer
        record, reserved = answer
        assert record.id == item.reservation_id
        assert record.hold_id == item.hold_id
        assert [s.id for s in reserved] == item.seat_ids
        assert all(s.status == "RESERVED" and s.reservation_id == record.id for s in reserved)
    rows = await pg.fetch(
        "SELECT reservation_id, customer_id FROM seats WHERE event_id = $1 ORDER BY position", event
    )
    assert [(r[0], r[1]) for r in rows] == [
        (i.reservation_id, i.customer_id) for i in items for _ in i.seat_ids
    ]
    assert await pg.fetchval(
        "SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id"
        " WHERE r.event_id = $1", event
    ) == 60  # fmt: skip


async def test_a_seat_confirmed_twice_in_one_call_is_reserved_once_and_the_rest_commit(
    client: AsyncTestClient[Any], database: Database, pg: asyncpg.Connection
) -> None:
    event, seats = await _event(client, 10, 10)
    fans = [(await make_customer(client)).id for _ in range(4)]
    # (the mirror behind: two holds both name seat 2)
    items = [
        _item(event, fans[0], seats[0:1]),
        _item(event, fans[1], seats[1:3]),
        _item(event, fans[2], seats[2:4]),
        _item(event, fans[3], seats[4:6]),
    ]
    confirmations = Confirmations(database, flights=1)
    answers = await _all(confirmations, items)
    assert confirmations.calls == 2
    refused = [a for a in answers if isinstance(a, ReserveRefused)]
    assert len(refused) == 1
    assert refused[0].reason == "SEATS_TAKEN"
    assert refused[0].detail == str(seats[2])
    loser = items[answers.index(refused[0])]
    assert (
        await pg.fetchval("SELECT count(*) FROM reservations WHERE id = $1", loser.reservation_id)
        == 0
    )  # (refused whole: its other seat is still open)
    other = next(s for s in loser.seat_ids if s != seats[2])
    assert await pg.fetchval("SELECT status FROM seats WHERE id = $1", other) == "OPEN"
    assert await pg.fetchval(
        "SELECT count(*) FROM seats WHERE event_id = $1 AND status = 'RESERVED'", event
    ) == 5  # fmt: skip


async def test_one_customers_holds_in_one_call_are_counted_together_against_its_limit(
    client: AsyncTestClient[Any], database: Database, pg: asyncpg.Connection
) -> None:
    event, seats = await _event(client, 20, 4)
    fan = (await make_customer(client)).id
    first = _item(event, (await make_customer(client)).id, seats[10:11])  # (goes alone)
    mine = [_item(event, fan, seats[2 * n : 2 * n + 2]) for n in range(3)]
    confirmations = Confirmations(database, flights=1)
    answers = await _all(confirmations, [first, *mine])
    assert confirmations.calls == 2
    limits = [a for a in answers if isinstance(a, ReserveRefused)]
    assert [(a.reason, a.detail) for a in limits] == [("LIMIT", "4")]
    assert await pg.fetchval(
        "SELECT count(*) FROM seats WHERE customer_id = $1", uuid.UUID(fan)
    ) == 4  # fmt: skip


async def test_a_hold_confirmed_twice_in_one_call_is_refused_once_as_unique(
    client: AsyncTestClient[Any], database: Database, pg: asyncpg.Connection
) -> None:
    event, seats = await _event(client, 10, 10)
    fan = (await make_customer(client)).id
    hold = uuid.uuid4()
    items = [
        _item(event, fan, seats[0:1]),
        _item(event, fan, seats[1:2], hold),
        _item(event, fan, seats[2:3], hold),
    ]
    confirmations = Confirmations(database, flights=1)
    answers = await _all(confirmations, items)
    assert [a.reason for a in answers if isinstance(a, ReserveRefused)] == ["UNIQUE"]
    assert await pg.fetchval("SELECT count(*) FROM reservations WHERE hold_id = $1", hold) == 1


async def test_unknown_customer_or_event_in_a_call_is_refused_alone(
    client: AsyncTestClient[Any], database: Database
) -> None:
    event, seats = await _event(client, 10, 10)
    fan = (await make_customer(client)).id
    items = [
        _item(event, fan, seats[0:1]),
        _item(event, str(uuid.uuid4()), seats[1:2]),
        _item(uuid.uuid4(), fan, seats[2:3]),
        _item(event, fan, seats[3:4]),
    ]
    answers = await _all(Confirmations(database, flights=1), items)
    reasons = [a.reason if isinstance(a, ReserveRefused) else type(a).__name__ for a in answers]
    assert reasons == ["tuple", "NO_CUSTOMER", "NO_EVENT", "tuple"]


async def test_a_call_refused_whole_is_sent_again_one_by_one_and_the_committed_are_answered(
    client: AsyncTestClient[Any],
    database: Database,
    pg: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL aborting the whole call (here a trigger that fails one item as a deadlock
    would, which no item's block catches) must not answer the others with that failure: they
    are sent again alone and committed, and only the failing one fails."""
    event, seats = await _event(client, 10, 10)
    fans = [(await make_customer(client)).id for _ in range(4)]
    doomed = uuid.uuid4()
    await pg.execute(
        f"""
        CREATE OR REPLACE FUNCTION test_fail_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.hold_id = '{doomed}' THEN
                RAISE EXCEPTION 'as a deadlock would' USING ERRCODE = '40P01';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_fail_one BEFORE INSERT ON reservations
            FOR EACH ROW EXECUTE FUNCTION test_fail_one();
        """
    )
    try:
        items = [
            _item(event, fans[0], seats[0:1]),
            _item(event, fans[1], seats[1:2]),
            _item(event, fans[2], seats[2:3], doomed),
            _item(event, fans[3], seats[3:4]),
        ]
        confirmations = Confirmations(database, flights=1)
        answers = await _all(confirmations, items)
    finally:
        await pg.execute(
            "DROP TRIGGER test_fail_one ON reservations; DROP FUNCTION test_fail_one()"
        )
    assert isinstance(answers[2], asyncpg.DeadlockDetectedError)
    assert confirmations.calls == 5  # (the first alone; three refused whole, then each alone)
    assert "a call of 3 confirmations was refused whole (DeadlockDetectedError" in caplog.text
    for n in (0, 1, 3):
        assert isinstance(answers[n], tuple), answers[n]
        assert await pg.fetchval(
            "SELECT status FROM seats WHERE id = $1", items[n].seat_ids[0]
        ) == "RESERVED"  # fmt: skip
    assert await pg.fetchval("SELECT status FROM seats WHERE id = $1", seats[2]) == "OPEN"


async def test_a_confirmation_whose_request_was_cancelled_before_it_was_sent_is_left_out(
    client: AsyncTestClient[Any], database: Database, pg: asyncpg.Connection
) -> None:
    event, seats = await _event(client, 10, 10)
    fans = [(await make_customer(client)).id for _ in range(3)]
    confirmations = Confirmations(database, flights=1)
    first = asyncio.ensure_future(confirmations.reserve(_item(event, fans[0], seats[0:1])))
    await asyncio.sleep(0)  # (sent: the next two wait for it)
    gone = _item(event, fans[1], seats[1:2])
    cancelled = asyncio.ensure_future(confirmations.reserve(gone))
    kept = asyncio.ensure_future(confirmations.reserve(_item(event, fans[2], seats[2:3])))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(first, kept)
    assert cancelled.cancelled()
    assert confirmations.sent == 2
    assert await pg.fetchval(
        "SELECT count(*) FROM reservations WHERE id = $1", gone.reservation_id
    ) == 0  # fmt: skip


async def test_a_seat_reserved_by_a_transaction_still_open_is_refused_once_it_commits(
    client: AsyncTestClient[Any], database: Database, settings: Settings
) -> None:
    """The seats are checked before anything is written, under a lock: a confirmation that
    finds one locked by another reservation waits for it, reads it again, and is refused
    with nothing written, its other seat left open."""
    event, seats = await _event(client, 10, 10)
    fans = [(await make_customer(client)).id for _ in range(2)]
    other = await asyncpg.connect(settings.database_url)
    try:
        tx = other.transaction()
        await tx.start()
        rows = await other.fetch(
            "SELECT * FROM reserve_hold_checked($1, $2, $3, $4, $5::uuid[])",
            uuid.uuid4(), event, uuid.UUID(fans[0]), uuid.uuid4(), [seats[1]],
        )  # fmt: skip
        assert rows[0]["refused"] is None
        waiting = asyncio.ensure_future(
            Confirmations(database).reserve(_item(event, fans[1], seats[0:2]))
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()  # (it waits for the lock)
        await tx.commit()
        with pytest.raises(ReserveRefused) as refused:
            await waiting
        assert (refused.value.reason, refused.value.detail) == ("SEATS_TAKEN", str(seats[1]))
        assert await other.fetchval("SELECT status FROM seats WHERE id = $1", seats[0]) == "OPEN"
        assert await other.fetchval(
            "SELECT count(*) FROM reservations WHERE customer_id = $1", uuid.UUID(fans[1])
        ) == 0  # fmt: skip
    finally:
        await other.close()


async def test_reserve_hold_keeps_raising_its_refusals_for_the_release_before(
    client: AsyncTestClient[Any], pg: asyncpg.Connection
) -> None:
    """reserve_hold() keeps its contract (a worker of the release before calls it while a
    new one starts): a refusal raises with its reason and detail, a success returns the
    seats."""
    event, seats = await _event(client, 10, 2)
    fan = uuid.UUID((await make_customer(client)).id)
    call = "SELECT * FROM reserve_hold($1, $2, $3, $4, $5::uuid[])"
    with pytest.raises(asyncpg.RaiseError) as limit:
        await pg.fetch(call, uuid.uuid4(), event, fan, uuid.uuid4(), seats[0:3])
    assert (limit.value.message, limit.value.detail) == ("LIMIT", "2")
    with pytest.raises(asyncpg.RaiseError) as nobody:
        await pg.fetch(call, uuid.uuid4(), event, uuid.uuid4(), uuid.uuid4(), seats[0:1])
    assert (nobody.value.message, nobody.value.detail) == ("NO_CUSTOMER", None)
    rows = await pg.fetch(call, uuid.uuid4(), event, fan, uuid.uuid4(), seats[0:2])
    assert [r["id"] for r in rows] == seats[0:2]
    assert {r["status"] for r in rows} == {"RESERVED"}
    with pytest.raises(asyncpg.RaiseError) as over:
        await pg.fetch(call, uuid.uuid4(), event, fan, uuid.uuid4(), seats[1:2])
    assert over.value.message == "LIMIT"
