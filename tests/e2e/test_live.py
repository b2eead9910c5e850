"""Live availability against a real server process: counts, and the Server-Sent Events stream
in order, resumed, repaired after a lost change, and agreeing with PostgreSQL under load."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, CustomerHandle, make_customer, make_event, problem, seats_of
from tests.e2e.sse import Seats, open_stream
from tests.integration.holds.conftest import age_hold
from ticketing.cache.redis import Redis
from ticketing.holds.engine import event_keys
from ticketing.settings import Settings

SECTIONS = {
    "sections": [
        {
            "name": "Stalls",
            "price": 50,
            "rows": [{"name": "A", "seats": 5}, {"name": "B", "seats": 5}],
        },
        {"name": "Circle", "price": 30, "rows": [{"name": "A", "seats": 10}]},
    ]
}


@pytest.fixture
async def redis(settings: Settings, client: AsyncTestClient[Any]) -> AsyncIterator[Redis]:
    # `client` first: see tests/integration/holds/conftest.py (engine_parts).
    assert settings.redis_url is not None
    side = Redis(settings.redis_url, cluster=False, timeout_ms=2000, retry_after=1)
    await side.open()
    yield side
    await side.close()


async def _hold(
    http: httpx.AsyncClient, event_id: str, fan: CustomerHandle, **body: Any
) -> dict[str, Any]:
    response = await http.post(f"/events/{event_id}/holds", json=body, headers=fan.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _availability(http: httpx.AsyncClient, event_id: str) -> dict[str, Any]:
    response = await http.get(f"/events/{event_id}/availability")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _availability_after(
    http: httpx.AsyncClient, event_id: str, sequence: int
) -> dict[str, Any]:
    """Counts past `sequence`: they follow the change feed, which may take a moment (never
    more than a second) to bring a change even to the worker that made it."""
    async with asyncio.timeout(1.0):
        while True:
            found = await _availability(http, event_id)
            if found["sequence"] > sequence:
                return found
            await asyncio.sleep(0.02)


def _section(availability: dict[str, Any], name: str | None) -> dict[str, Any]:
    return next(s for s in availability["sections"] if s["name"] == name)


async def test_availability_counts_overall_and_per_section(http: httpx.AsyncClient) -> None:
    event = await make_event(http, numSeats=20, seating=SECTIONS)
    seats = await seats_of(http, event["id"])
    stalls = [s["id"] for s in seats if s["section"] == "Stalls"]
    fan = await make_customer(http)

    first = await _availability(http, event["id"])
    assert first["eventId"] == event["id"]
    assert (first["open"], first["onHold"], first["reserved"], first["total"]) == (20, 0, 0, 20)
    assert _section(first, "Stalls") == {
        "name": "Stalls",
        "open": 10,
        "onHold": 0,
        "reserved": 0,
        "total": 10,
    }
    assert _section(first, "Circle")["open"] == 10

    await _hold(http, event["id"], fan, seatIds=stalls[:3])
    held = await _availability_after(http, event["id"], first["sequence"])
    assert (held["open"], held["onHold"], held["reserved"]) == (17, 3, 0)
    assert _section(held, "Stalls")["onHold"] == 3

    hold = await _hold(http, event["id"], fan, quantity=2, section="Circle")
    confirmed = await http.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    assert confirmed.status_code == 201
    after = await _availability_after(http, event["id"], held["sequence"] + 1)
    assert (after["open"], after["onHold"], after["reserved"]) == (15, 3, 2)
    assert _section(after, "Circle") == {
        "name": "Circle",
        "open": 8,
        "onHold": 0,
        "reserved": 2,
        "total": 10,
    }
    # The other readings of the same event agree.
    assert (await http.get(f"/events/{event['id']}/open-count")).json() == {"openSeats": 15}
    whole = (await http.get(f"/events/{event['id']}")).json()["availability"]
    assert whole == {"open": 15, "onHold": 3, "reserved": 2}


async def test_availability_of_general_admission_is_one_block(http: httpx.AsyncClient) -> None:
    event = await make_event(http, numSeats=12, seating={"assignedSeating": False})
    fan = await make_customer(http)
    await _hold(http, event["id"], fan, quantity=4)
    availability = await _availability(http, event["id"])
    assert availability["sections"] == [
        {"name": None, "open": 8, "onHold": 4, "reserved": 0, "total": 12}
    ]


async def test_unknown_event_is_404_for_availability_stream_and_map(
    http: httpx.AsyncClient,
) -> None:
    missing = uuid.uuid4()
    for path in ("availability", "stream"):
        problem(await http.get(f"/events/{missing}/{path}"), 404, "NOT_FOUND")
    page = await http.get(f"/events/{missing}/map")  # a page, for the person who opened it
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No such event" in page.text


async def test_stream_carries_every_kind_of_change_in_order(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    event = await make_event(http, numSeats=20, seating=SECTIONS)
    fan = await make_customer(http)
    async with open_stream(http, event["id"]) as stream:
        snapshot = await stream.next_of("snapshot")
        assert snapshot.data["eventId"] == event["id"]
        assert snapshot.data["counts"] == {"open": 20, "onHold": 0, "reserved": 0, "total": 20}
        assert len(snapshot.data["seats"]) == 20
        first = snapshot.data["seats"][0]
        assert first.keys() == {
            "id", "section", "row", "seatNumber", "status", "holdExpiresAt", "price"
        }  # fmt: skip
        assert "customerId" not in str(snapshot.data)  # anonymous readers never see who
        sequence = snapshot.data["sequence"]
        assert snapshot.id is not None
        assert snapshot.id.endswith(f"-{sequence}")

        seen: list[tuple[str, str, list[str]]] = []

        async def expect(change: str, status: str, seat_ids: list[str]) -> None:
            nonlocal sequence
            frame = await stream.next_of("seats")
            sequence += 1
            assert frame.data["sequence"] == sequence, frame
            assert frame.id is not None
            assert frame.id.endswith(f"-{sequence}")
            assert (frame.data["change"], frame.data["status"]) == (change, status)
            assert sorted(frame.data["seatIds"]) == sorted(seat_ids)
            seen.append((change, status, seat_ids))

        a = await _hold(http, event["id"], fan, quantity=2)
        a_seats = [s["id"] for s in a["seats"]]
        await expect("held", "ON_HOLD", a_seats)
        assert (await http.post(f"/holds/{a['id']}/extend", headers=fan.headers)).status_code == 200
        await expect("extended", "ON_HOLD", a_seats)
        assert (await http.delete(f"/holds/{a['id']}", headers=fan.headers)).status_code == 204
        await expect("released", "OPEN", a_seats)

        b = await _hold(http, event["id"], fan, quantity=2, section="Stalls")
        b_seats = [s["id"] for s in b["seats"]]
        await expect("held", "ON_HOLD", b_seats)
        confirm = await http.post(f"/holds/{b['id']}/reservation", headers=fan.headers)
        assert confirm.status_code == 201
        await expect("reserved", "RESERVED", b_seats)
        cancel = await http.delete(f"/reservations/{confirm.json()['id']}", headers=ADMIN)
        assert cancel.status_code == 204
        await expect("cancelled", "OPEN", b_seats)

        # The cancel dropped the mirror; its rebuild at the next hold starts readers afresh
        # with a snapshot, which holds the new hold or is followed by it.
        c = await _hold(http, event["id"], fan, quantity=1)
        c_seats = [s["id"] for s in c["seats"]]
        rebuilt = await stream.next_of("snapshot")
        state = Seats()
        state.take(rebuilt)
        if state.status[c_seats[0]] != "ON_HOLD":
            state.take(await stream.next_of("seats"))
        assert state.gaps == []
        assert state.counts() == {"OPEN": 19, "ON_HOLD": 1, "RESERVED": 0}
        sequence = state.sequence
        await age_hold(redis, uuid.UUID(event["id"]), uuid.UUID(c["id"]), 120_000)
        await expect("expired", "OPEN", c_seats)  # released by the sweeper, no request needed

        # The seat endpoint agrees with what the stream said.
        assert len(await seats_of(http, event["id"], status="OPEN")) == 20
    assert [change for change, _, _ in seen] == [
        "held",
        "extended",
        "released",
        "held",
        "reserved",
        "cancelled",
        "expired",
    ]


async def test_heartbeat_on_a_quiet_stream(http: httpx.AsyncClient) -> None:
    event = await make_event(http, numSeats=10)
    async with open_stream(http, event["id"]) as stream:
        snapshot = await stream.next_of("snapshot")
        beat = await stream.next(within=3)  # the test server beats every second
        assert beat.event == "heartbeat"
        assert beat.id is None  # a heartbeat never moves Last-Event-ID
        assert beat.data == {"sequence": snapshot.data["sequence"]}


async def test_resume_from_last_event_id(http: httpx.AsyncClient) -> None:
    event = await make_event(http, numSeats=10)
    fan = await make_customer(http)
    async with open_stream(http, event["id"]) as stream:
        snapshot = await stream.next_of("snapshot")
        holds = [await _hold(http, event["id"], fan, quantity=1) for _ in range(3)]
        frames = [await stream.next_of("seats") for _ in holds]
    resume_from = frames[0]
    assert resume_from.id is not None
    await http.delete(f"/holds/{holds[0]['id']}", headers=fan.headers)
    await _hold(http, event["id"], fan, quantity=1)

    async with open_stream(http, event["id"], last_event_id=resume_from.id) as stream:
        replay = [await stream.next_of("seats", "snapshot") for _ in range(4)]
    assert [f.event for f in replay] == ["seats"] * 4  # no snapshot: nothing was missed
    first = resume_from.data["sequence"]
    assert [f.data["sequence"] for f in replay] == [first + 1, first + 2, first + 3, first + 4]
    assert [f.data["change"] for f in replay] == ["held", "held", "released", "held"]
    assert [f.data for f in replay[:2]] == [f.data for f in frames[1:]]

    # Up to date: nothing is replayed, and the next change follows.
    async with open_stream(http, event["id"], last_event_id=replay[-1].id) as stream:
        await http.delete(f"/holds/{holds[1]['id']}", headers=fan.headers)
        nxt = await stream.next_of("seats", "snapshot")
        assert (nxt.event, nxt.data["sequence"]) == ("seats", first + 5)

    # An id the server cannot resume from gets a fresh snapshot.
    epoch = snapshot.id.rpartition("-")[0] if snapshot.id else ""
    for bad in ("0-3", "garbage", f"{epoch}-999999"):
        async with open_stream(http, event["id"], last_event_id=bad) as stream:
            fresh = await stream.next_of("seats", "snapshot")
            assert fresh.event == "snapshot", bad
            assert fresh.data["sequence"] == first + 5


async def test_a_lost_change_is_repaired_with_a_fresh_snapshot(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    event = await make_event(http, numSeats=10)
    fan = await make_customer(http)
    seq_key = event_keys(uuid.UUID(event["id"])).seq
    async with open_stream(http, event["id"]) as stream:
        snapshot = await stream.next_of("snapshot")
        # A change counted in Redis whose message never arrived (pub/sub lost it).
        await redis.call(lambda c: c.incr(seq_key))
        repaired = await stream.next_of("snapshot", "seats", within=3)
        assert repaired.event == "snapshot"
        assert repaired.data["sequence"] == snapshot.data["sequence"] + 1
        await _hold(http, event["id"], fan, quantity=1)
        after = await stream.next_of("seats", "snapshot")
        assert (after.event, after.data["sequence"]) == ("seats", snapshot.data["sequence"] + 2)


async def test_redis_losing_the_event_starts_a_new_epoch(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    event = await make_event(http, numSeats=10)
    fan = await make_customer(http)
    await _hold(http, event["id"], fan, quantity=2)
    async with open_stream(http, event["id"]) as stream:
        before = await stream.next_of("snapshot")
        assert before.data["counts"]["onHold"] == 2
        # Everything of the event gone, as after a restart without persistence.
        keys: list[str | bytes] = event_keys(uuid.UUID(event["id"])).ordered()
        await redis.call(lambda c: c.delete(keys))
        fresh = await stream.next_of("snapshot", "seats", within=3)
        assert fresh.event == "snapshot"
        assert fresh.id is not None
        assert before.id is not None
        assert fresh.id.rpartition("-")[0] != before.id.rpartition("-")[0]
        assert fresh.data["counts"] == {"open": 10, "onHold": 0, "reserved": 0, "total": 10}
        await _hold(http, event["id"], fan, quantity=1)
        nxt = await stream.next_of("seats", "snapshot")
        assert nxt.event == "seats"
        assert nxt.data["sequence"] == fresh.data["sequence"] + 1


async def test_admin_seat_changes_send_a_fresh_snapshot_and_deletion_ends_streams(
    http: httpx.AsyncClient,
) -> None:
    event = await make_event(http, numSeats=10)
    async with open_stream(http, event["id"]) as stream:
        assert len((await stream.next_of("snapshot")).data["seats"]) == 10
        added = await http.post(f"/events/{event['id']}/seats", json={"count": 5}, headers=ADMIN)
        assert added.status_code == 201, added.text
        fresh = await stream.next_of("snapshot", "seats")
        assert fresh.event == "snapshot"
        assert len(fresh.data["seats"]) == 15
        assert (await http.delete(f"/events/{event['id']}", headers=ADMIN)).status_code == 204
        with pytest.raises(EOFError):
            await stream.next_of("snapshot", "seats")


async def test_snapshots_and_changes_agree_with_postgres_under_concurrent_load(
    http: httpx.AsyncClient, http_too: httpx.AsyncClient, pg: asyncpg.Connection
) -> None:
    """Streams opened at different moments of a burst (changes made by two server processes)
    all end where a fresh snapshot and PostgreSQL are, with no change missing or reordered."""
    event = await make_event(http, numSeats=120, maxNumSeats=6)
    seat_ids = [s["id"] for s in await seats_of(http, event["id"])]
    fans = [await make_customer(http) for _ in range(24)]
    running = True
    rng = random.Random(7)

    async def shopper(fan: CustomerHandle, via: httpx.AsyncClient) -> None:
        while running:
            if rng.random() < 0.5:
                body: dict[str, Any] = {"seatIds": rng.sample(seat_ids, rng.randint(1, 3))}
            else:
                body = {"quantity": rng.randint(1, 3), "adjacent": False}
            response = await via.post(
                f"/events/{event['id']}/holds", json=body, headers=fan.headers
            )
            if response.status_code != 201:
                assert response.status_code == 409, response.text
                await asyncio.sleep(0.01)
                continue
            hold = response.json()
            if rng.random() < 0.3:
                done = await via.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
                assert done.status_code in (201, 409), done.text
            else:
                done = await via.delete(f"/holds/{hold['id']}", headers=fan.headers)
                assert done.status_code == 204, done.text

    done = asyncio.Event()
    final = Seats()

    async def watcher(delay: float, views: list[Seats]) -> None:
        await asyncio.sleep(delay)
        seats = Seats()
        views.append(seats)
        async with open_stream(http, event["id"]) as stream:
            seats.take(await stream.next_of("snapshot"))
            while not done.is_set() or seats.sequence < final.sequence:
                seats.take(await stream.next())  # heartbeats (every second) change nothing

    views: list[Seats] = []
    watchers = [asyncio.create_task(watcher(d, views)) for d in (0.0, 0.3, 0.9, 1.6)]
    shoppers = [
        asyncio.create_task(shopper(fan, http if i % 2 else http_too)) for i, fan in enumerate(fans)
    ]
    await asyncio.sleep(3)
    running = False
    await asyncio.gather(*shoppers)
    async with open_stream(http, event["id"]) as stream:
        final.take(await stream.next_of("snapshot"))
    done.set()
    async with asyncio.timeout(30):
        await asyncio.gather(*watchers)

    reserved = {
        str(r["id"])
        for r in await pg.fetch(
            "SELECT id FROM seats WHERE event_id = $1 AND status = 'RESERVED'",
            uuid.UUID(event["id"]),
        )
    }
    assert reserved, "the burst confirmed nothing"
    assert {s for s, status in final.status.items() if status == "RESERVED"} == reserved
    assert final.counts()["ON_HOLD"] == 0  # every hold was confirmed or released
    for seats in views:
        assert seats.gaps == []
        assert seats.snapshots == 1
        assert seats.sequence == final.sequence
        assert seats.status == final.status


async def test_many_subscribers_all_get_each_change(http: httpx.AsyncClient) -> None:
    event = await make_event(http, numSeats=10)
    fan = await make_customer(http)
    async with httpx.AsyncClient(
        base_url=str(http.base_url), timeout=10, limits=httpx.Limits(max_connections=300)
    ) as many:
        streams = [open_stream(many, event["id"]) for _ in range(150)]
        opened = [await s.__aenter__() for s in streams]
        try:
            for stream in opened:
                await stream.next_of("snapshot")
            hold = await _hold(http, event["id"], fan, quantity=2)
            got = await asyncio.gather(*(s.next_of("seats") for s in opened))
            assert {tuple(sorted(f.data["seatIds"])) for f in got} == {
                tuple(sorted(s["id"] for s in hold["seats"]))
            }
        finally:
            for s in streams:
                await s.__aexit__(None, None, None)


async def test_lists_and_counts_show_a_change_made_on_another_server_within_a_second(
    http: httpx.AsyncClient, http_too: httpx.AsyncClient
) -> None:
    """Seat pages are cached for at most a second per process: a hold made through another
    process shows in this one's list, availability and open count a second later."""
    event = await make_event(http, numSeats=10)
    fan = await make_customer(http)
    listed = await http.get(f"/events/{event['id']}/seats", params={"limit": 50})
    assert {s["status"] for s in listed.json()["items"]} == {"OPEN"}
    assert (await http.get(f"/events/{event['id']}/open-count")).json() == {"openSeats": 10}
    await _hold(http_too, event["id"], fan, quantity=3)
    await asyncio.sleep(1.1)
    listed = await http.get(f"/events/{event['id']}/seats", params={"limit": 50})
    statuses = [s["status"] for s in listed.json()["items"]]
    assert statuses.count("ON_HOLD") == 3
    assert (await http.get(f"/events/{event['id']}/open-count")).json() == {"openSeats": 7}
    assert (await _availability(http, event["id"]))["onHold"] == 3
