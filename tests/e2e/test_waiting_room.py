"""The waiting room (API.md v2, invariant 11): a fair order, admission at the organiser's
rate and never past the open seats, NOT_ADMITTED holds refused in the hold's own step,
SOLD_OUT while nothing is left and admission resuming when seats come back."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, CustomerHandle, make_customer, make_event, problem

Client = AsyncTestClient[Any]


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _room(rate: int = 6000, **more: Any) -> dict[str, Any]:
    return {"enabled": True, "admitPerMinute": rate, "opensBeforeSeconds": 3600, **more}


async def _join(client: Client, event_id: str, fan: CustomerHandle) -> dict[str, Any]:
    joined = await client.post(f"/events/{event_id}/queue", headers=fan.headers)
    assert joined.status_code in (200, 201), joined.text
    result: dict[str, Any] = joined.json()
    return result


async def _entry(client: Client, entry_id: str, headers: dict[str, str]) -> dict[str, Any]:
    read = await client.get(f"/queue/{entry_id}", headers=headers)
    assert read.status_code == 200, read.text
    result: dict[str, Any] = read.json()
    return result


async def _until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "did not happen in time"
        await asyncio.sleep(0.1)


async def _counts(client: Client, event_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get(f"/events/{event_id}/queue", headers=ADMIN)).json()
    return result


async def _sleep_until(moment: str) -> None:
    left = (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, left) + 0.3)


async def test_fans_who_join_before_the_start_get_a_uniformly_random_place(client: Client) -> None:
    start = _at(8)
    event = await make_event(client, numSeats=10, salesStartAt=start, waitingRoom=_room(rate=1))
    fans = [await make_customer(client) for _ in range(200)]
    entries = [await _join(client, event["id"], fan) for fan in fans]
    assert {e["state"] for e in entries} == {"WAITING"}
    assert {e["position"] for e in entries} == {None}  # places are drawn at the start
    late = await make_customer(client)
    await _sleep_until(start)
    after = await _join(client, event["id"], late)
    places = [
        (await _entry(client, e["id"], f.headers))["position"]
        for e, f in zip(entries, fans, strict=True)
    ]
    assert sorted(places) == list(range(1, 201))  # every place once
    assert after["position"] == 201  # a fan who joins after the start queues behind them
    # Arrival order would give a correlation of 1 between joining and place; a uniformly
    # random order gives about 0 (its spread is 1/sqrt(199) = 0.07: 0.25 is 3.5 of them).
    rho = statistics.correlation(list(range(200)), places)
    assert abs(rho) < 0.25, rho
    # The first to join is not first in line more than chance allows: among the first 20
    # joiners, about 10 % land in the first 20 places, not all of them.
    early = sum(1 for p in places[:20] if p <= 20)
    assert early <= 10, early


async def test_admission_follows_the_rate_and_never_passes_the_open_seats(client: Client) -> None:
    start = _at(6)
    event = await make_event(
        client, numSeats=20, maxNumSeats=2, salesStartAt=start, waitingRoom=_room(rate=240)
    )
    fans = [await make_customer(client) for _ in range(30)]
    entries = [await _join(client, event["id"], fan) for fan in fans]
    assert datetime.now(UTC) < datetime.fromisoformat(start)  # (all in before admission)
    await _sleep_until(start)
    seen: list[int] = []

    def admitted(at_least: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            seen.append((await _counts(client, event["id"]))["admitted"])
            return seen[-1] >= at_least

        return check

    # Timed from a count seen once admission has begun (a few ticks in at most).
    await _until(admitted(1))
    started = asyncio.get_running_loop().time()
    assert seen[-1] <= 7, seen
    await _until(admitted(seen[-1] + 3))
    took = asyncio.get_running_loop().time() - started
    # 240 a minute is one a quarter-second tick: three more take three ticks, the first of
    # which may come at once.
    assert took >= 0.5, (took, seen)
    await asyncio.sleep(4)
    counts = await _counts(client, event["id"])
    # As many as the open seats let buy all they may (two each), and no more: then every
    # admitted fan can still buy, however many of its two seats the others take first.
    assert counts["admitted"] == 10
    assert counts["waiting"] == 20
    assert counts["joined"] == 30
    # Those admitted read ADMITTED with their deadline.
    states = [await _entry(client, e["id"], f.headers) for e, f in zip(entries, fans, strict=True)]
    admitted = sorted(s["position"] or 0 for s in states if s["state"] == "ADMITTED")
    assert len(admitted) == 10
    assert all(s["admittedUntil"] for s in states if s["state"] == "ADMITTED")
    assert all(
        s["state"] == "WAITING" and s["ahead"] >= 0 for s in states if s["state"] != "ADMITTED"
    )


async def test_only_admitted_fans_may_hold_and_buying_passes_the_slot_on(client: Client) -> None:
    event = await make_event(client, numSeats=10, maxNumSeats=10, waitingRoom=_room())
    first, second, stranger = [await make_customer(client) for _ in range(3)]
    path = f"/events/{event['id']}/holds"
    problem(
        await client.post(path, json={"quantity": 1}, headers=stranger.headers), 409, "NOT_ADMITTED"
    )
    one = await _join(client, event["id"], first)

    async def admitted(entry: dict[str, Any], fan: CustomerHandle) -> bool:
        return (await _entry(client, entry["id"], fan.headers))["state"] == "ADMITTED"

    await _until(lambda: admitted(one, first))
    hold = await client.post(path, json={"quantity": 10}, headers=first.headers)
    assert hold.status_code == 201, hold.text
    two = await _join(client, event["id"], second)  # no seat open: it waits
    await asyncio.sleep(1)
    assert (await _entry(client, two["id"], second.headers))["state"] == "WAITING"
    problem(
        await client.post(path, json={"quantity": 1}, headers=stranger.headers), 409, "NOT_ADMITTED"
    )
    bought = await client.post(f"/holds/{hold.json()['id']}/reservation", headers=first.headers)
    assert bought.status_code == 201
    assert (await _entry(client, one["id"], first.headers))["state"] == "DONE"

    # Nothing left open or held: the fan still waiting reads SOLD_OUT ...
    async def sold_out() -> bool:
        return (await _entry(client, two["id"], second.headers))["state"] == "SOLD_OUT"

    await _until(sold_out)
    assert (await _counts(client, event["id"]))["soldOut"] is True
    # ... until seats come back: a cancelled reservation, and admission resumes.
    cancelled = await client.delete(f"/reservations/{bought.json()['id']}", headers=ADMIN)
    assert cancelled.status_code == 204
    await _until(lambda: admitted(two, second))
    held = await client.post(path, json={"quantity": 2}, headers=second.headers)
    assert held.status_code == 201, held.text


async def test_an_admission_never_used_expires_and_its_slot_passes_on(client: Client) -> None:
    event = await make_event(client, numSeats=10, waitingRoom=_room())
    first, second = await make_customer(client), await make_customer(client)
    one = await _join(client, event["id"], first)

    async def state_of(entry: dict[str, Any], fan: CustomerHandle) -> str:
        return str((await _entry(client, entry["id"], fan.headers))["state"])

    async def first_admitted() -> bool:
        return await state_of(one, first) == "ADMITTED"

    await _until(first_admitted)
    # Its admission runs out (as after admissionSeconds, brought forward here).
    key = f"{{ev:{event['id']}}}:qadmitted"
    redis = client.app.state.redis  # (the app's own client, on the app's loop)
    client.blocking_portal.call(redis.call, lambda c: c.zadd(key, {first.id: 1.0}))
    two = await _join(client, event["id"], second)

    async def passed_on() -> bool:
        return await state_of(one, first) == "EXPIRED" and await state_of(two, second) == "ADMITTED"

    await _until(passed_on)
    problem(
        await client.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=first.headers
        ),
        409,
        "NOT_ADMITTED",
    )
    counts = await _counts(client, event["id"])
    assert (counts["expired"], counts["admitted"]) == (1, 1)


async def test_one_entry_per_customer_private_to_it_and_leaving_frees_the_place(
    client: Client,
) -> None:
    event = await make_event(client, numSeats=10, salesStartAt=_at(3600), waitingRoom=_room())
    fan, other = await make_customer(client), await make_customer(client)
    joined = await client.post(f"/events/{event['id']}/queue", headers=fan.headers)
    again = await client.post(f"/events/{event['id']}/queue", headers=fan.headers)
    assert (joined.status_code, again.status_code) == (201, 200)
    assert joined.json()["id"] == again.json()["id"]
    assert joined.headers["location"] == f"/queue/{joined.json()['id']}"
    entry_id = joined.json()["id"]
    problem(await client.get(f"/queue/{entry_id}", headers=other.headers), 404, "NOT_FOUND")
    problem(await client.get(f"/queue/{uuid4()}", headers=fan.headers), 404, "NOT_FOUND")
    assert (await client.get(f"/queue/{entry_id}", headers=ADMIN)).status_code == 200
    problem(await client.delete(f"/queue/{entry_id}", headers=other.headers), 404, "NOT_FOUND")
    assert (await client.delete(f"/queue/{entry_id}", headers=fan.headers)).status_code == 204
    assert (await _entry(client, entry_id, fan.headers))["state"] == "DONE"
    counts = await _counts(client, event["id"])
    assert (counts["joined"], counts["waiting"], counts["left"]) == (1, 0, 1)


async def test_no_waiting_room_or_not_open_yet_are_told(client: Client) -> None:
    plain = await make_event(client)
    fan = await make_customer(client)
    problem(await client.post(f"/events/{plain['id']}/queue", headers=fan.headers), 409, "NO_QUEUE")
    later = await make_event(
        client, salesStartAt=_at(7200), waitingRoom=_room(opensBeforeSeconds=60)
    )
    refused = await client.post(f"/events/{later['id']}/queue", headers=fan.headers)
    assert problem(refused, 409, "QUEUE_NOT_OPEN")["opensAt"].endswith("Z")
    # Turned off by its organiser, the event sells to anyone again.
    room = await make_event(client, waitingRoom=_room())
    path = f"/events/{room['id']}/holds"
    problem(await client.post(path, json={"quantity": 1}, headers=fan.headers), 409, "NOT_ADMITTED")
    off = await client.patch(f"/events/{room['id']}", json={"waitingRoom": None}, headers=ADMIN)
    assert off.status_code == 200, off.text
    assert off.json()["waitingRoom"] is None
    assert (await client.post(path, json={"quantity": 1}, headers=fan.headers)).status_code == 201
    assert UUID(room["id"])


async def test_admission_across_two_servers_is_one_admitter_and_one_count(
    http: Any, http_too: Any
) -> None:
    made = await http.post(
        "/events",
        headers=ADMIN,
        json={
            "eventName": "Two doors",
            "eventLocation": "Hall W",
            "eventDateTimeStamp": "2030-06-01T19:30:00Z",
            "numSeats": 20,
            "maxNumSeats": 1,  # (so twenty fans fit the twenty seats)
            "waitingRoom": _room(rate=6000),
        },
    )
    assert made.status_code == 201, made.text
    event_id = made.json()["id"]
    fans = []
    for i in range(40):
        door = http if i % 2 else http_too
        signed = (await door.post("/customers", json={"firstName": "F", "lastName": str(i)})).json()
        headers = {"Authorization": f"Bearer {signed['token']}"}
        entry = (await door.post(f"/events/{event_id}/queue", headers=headers)).json()
        fans.append((entry["id"], headers))

    async def all_seats_admitted() -> bool:
        counts = (await http_too.get(f"/events/{event_id}/queue", headers=ADMIN)).json()
        return bool(counts["admitted"] == 20)

    await _until(all_seats_admitted, within=15)
    await asyncio.sleep(1)  # (a second admitter would now overshoot)
    states = []
    for i, (entry_id, headers) in enumerate(fans):
        door = http_too if i % 2 else http  # read through the other door
        states.append((await door.get(f"/queue/{entry_id}", headers=headers)).json()["state"])
    assert states.count("ADMITTED") == 20
    assert states.count("WAITING") == 20
    counts = (await http.get(f"/events/{event_id}/queue", headers=ADMIN)).json()
    assert (counts["admitted"], counts["waiting"]) == (20, 20)
    # An admitted fan holds through either door; a waiting one through neither.
    admitted = [h for (_, h), s in zip(fans, states, strict=True) if s == "ADMITTED"]
    waiting = [h for (_, h), s in zip(fans, states, strict=True) if s == "WAITING"]
    path = f"/events/{event_id}/holds"
    assert (await http_too.post(path, json={"quantity": 1}, headers=admitted[0])).status_code == 201
    refused = await http.post(path, json={"quantity": 1}, headers=waiting[0])
    assert refused.json()["code"] == "NOT_ADMITTED"


async def test_joining_follows_the_organisers_changes_and_a_redis_that_lost_the_room(
    client: Client,
) -> None:
    from ticketing.holds.engine import event_keys

    event = await make_event(client, numSeats=10, waitingRoom=_room())
    path = f"/events/{event['id']}/queue"
    first, second, third = [await make_customer(client) for _ in range(3)]
    assert (await client.post(path, headers=first.headers)).status_code == 201
    # Sales closed by the organiser: the next join is told when, a re-join too.
    ended = _at(-60)
    closed = await client.patch(f"/events/{event['id']}", json={"salesEndAt": ended}, headers=ADMIN)
    assert closed.status_code == 200, closed.text
    for fan in (third, first):
        refused = problem(await client.post(path, headers=fan.headers), 409, "SALES_CLOSED")
        assert datetime.fromisoformat(refused["salesEndAt"]) == datetime.fromisoformat(
            closed.json()["salesEndAt"]
        )
    reopened = await client.patch(
        f"/events/{event['id']}", json={"salesEndAt": None}, headers=ADMIN
    )
    assert reopened.status_code == 200, reopened.text
    # Redis lost the room's settings (not the event's mirror): they are read again.
    redis = client.app.state.redis
    qmeta = event_keys(UUID(event["id"])).qmeta
    client.blocking_portal.call(redis.call, lambda c: c.delete([qmeta]))
    assert (await client.post(path, headers=second.headers)).status_code == 201
    # Turned off by the organiser: told at once, whatever Redis still has of the room.
    off = await client.patch(f"/events/{event['id']}", json={"waitingRoom": None}, headers=ADMIN)
    assert off.status_code == 200, off.text
    problem(await client.post(path, headers=third.headers), 409, "NO_QUEUE")
