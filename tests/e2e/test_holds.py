"""Holds and reservations over HTTP, as a client following API.md would use them."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_customer, make_event, problem, seats_of

Client = AsyncTestClient[Any]


async def _hold(
    client: Client, event_id: str, customer: Any, body: dict[str, Any], **headers: str
) -> Any:
    return await client.post(
        f"/events/{event_id}/holds", json=body, headers={**customer.headers, **headers}
    )


async def test_hold_shows_on_seats_for_its_owner_only(client: Client) -> None:
    event = await make_event(client)
    seats = await seats_of(client, event["id"])
    fan, other = await make_customer(client), await make_customer(client)
    response = await _hold(client, event["id"], fan, {"seatIds": [seats[0]["id"], seats[1]["id"]]})
    assert response.status_code == 201, response.text
    hold = response.json()
    assert response.headers["location"] == f"/holds/{hold['id']}"
    assert hold["customerId"] == fan.id
    assert [s["status"] for s in hold["seats"]] == ["ON_HOLD", "ON_HOLD"]
    assert hold["seats"][0]["holdExpiresAt"] == hold["expiresAt"]
    as_owner = (await client.get(f"/seats/{seats[0]['id']}", headers=fan.headers)).json()
    assert (as_owner["status"], as_owner["customerId"]) == ("ON_HOLD", fan.id)
    anonymous = (await client.get(f"/seats/{seats[0]['id']}")).json()
    assert (anonymous["status"], anonymous["customerId"]) == ("ON_HOLD", None)
    assert (await client.get(f"/seats/{seats[0]['id']}", headers=other.headers)).json()[
        "customerId"
    ] is None
    availability = (await client.get(f"/events/{event['id']}")).json()["availability"]
    assert availability == {"open": 28, "onHold": 2, "reserved": 0}
    assert (await client.get(f"/events/{event['id']}/open-count")).json() == {"openSeats": 28}
    on_hold = await seats_of(client, event["id"], status="ON_HOLD")
    assert [s["id"] for s in on_hold] == [seats[0]["id"], seats[1]["id"]]
    assert len(await seats_of(client, event["id"], status="OPEN")) == 28
    me = (await client.get(f"/customers/{fan.id}", headers=fan.headers)).json()
    assert [s["id"] for s in me["seatsOnHold"]] == [seats[0]["id"], seats[1]["id"]]


async def test_second_customer_gets_409_naming_the_seats_and_holds_nothing(client: Client) -> None:
    event = await make_event(client)
    seats = await seats_of(client, event["id"])
    a, b = await make_customer(client), await make_customer(client)
    await _hold(client, event["id"], a, {"seatIds": [seats[0]["id"]]})
    response = await _hold(client, event["id"], b, {"seatIds": [seats[1]["id"], seats[0]["id"]]})
    body = problem(response, 409, "SEATS_UNAVAILABLE")
    assert body["unavailableSeatIds"] == [seats[0]["id"]]
    assert (await client.get(f"/seats/{seats[1]['id']}")).json()["status"] == "OPEN"


async def test_unknown_or_foreign_seat_is_400(client: Client) -> None:
    event, other = await make_event(client), await make_event(client)
    foreign = (await seats_of(client, other["id"]))[0]
    fan = await make_customer(client)
    response = await _hold(client, event["id"], fan, {"seatIds": [foreign["id"]]})
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "seatIds"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seatIds": []},
        {"quantity": 0},
        {"seatIds": ["not-a-uuid"]},
        {"quantity": 2, "seatIds": []},
    ],
)
async def test_bad_hold_bodies_are_400(client: Client, body: dict[str, Any]) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    problem(await _hold(client, event["id"], fan, body), 400, "VALIDATION_FAILED")


async def test_hold_on_unknown_event_is_404(client: Client) -> None:
    fan = await make_customer(client)
    response = await _hold(client, "00000000-0000-4000-8000-000000000000", fan, {"quantity": 1})
    problem(response, 404, "NOT_FOUND")


async def test_limit_exceeded(client: Client) -> None:
    event = await make_event(client, maxNumSeats=2)
    fan = await make_customer(client)
    assert (await _hold(client, event["id"], fan, {"quantity": 2})).status_code == 201
    body = problem(await _hold(client, event["id"], fan, {"quantity": 1}), 409, "LIMIT_EXCEEDED")
    assert body["maxNumSeats"] == 2


async def test_best_available_adjacent(client: Client) -> None:
    event = await make_event(client, numSeats=20)
    fan = await make_customer(client)
    response = await _hold(client, event["id"], fan, {"quantity": 3, "section": "MAIN"})
    assert [(s["row"], s["seatNumber"]) for s in response.json()["seats"]] == [
        ("A", 1),
        ("A", 2),
        ("A", 3),
    ]
    problem(
        await _hold(client, event["id"], fan, {"quantity": 3, "section": "NOPE"}),
        400,
        "VALIDATION_FAILED",  # no such section (docs/api-notes.md)
    )


async def test_get_extend_release(client: Client) -> None:
    event = await make_event(client)
    fan, other = await make_customer(client), await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 1})).json()
    assert (await client.get(f"/holds/{hold['id']}", headers=fan.headers)).json()["id"] == hold[
        "id"
    ]
    assert (await client.get(f"/holds/{hold['id']}", headers=ADMIN)).status_code == 200
    problem(await client.get(f"/holds/{hold['id']}", headers=other.headers), 404, "NOT_FOUND")
    problem(
        await client.post(f"/holds/{hold['id']}/extend", headers=other.headers), 404, "NOT_FOUND"
    )
    first = (await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)).json()
    second = (await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)).json()
    assert first["expiresAt"] < second["expiresAt"]
    problem(
        await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers), 409, "EXTEND_LIMIT"
    )
    problem(await client.delete(f"/holds/{hold['id']}", headers=other.headers), 404, "NOT_FOUND")
    assert (await client.delete(f"/holds/{hold['id']}", headers=fan.headers)).status_code == 204
    problem(await client.get(f"/holds/{hold['id']}", headers=fan.headers), 404, "NOT_FOUND")
    assert (await client.get(f"/seats/{hold['seats'][0]['id']}")).json()["status"] == "OPEN"


async def test_confirm_reserves_and_cancel_reopens(client: Client) -> None:
    event = await make_event(client)
    fan, other = await make_customer(client), await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 2})).json()
    response = await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    assert response.status_code == 201, response.text
    reservation = response.json()
    assert response.headers["location"] == f"/reservations/{reservation['id']}"
    assert [s["status"] for s in reservation["seats"]] == ["RESERVED", "RESERVED"]
    problem(await client.get(f"/holds/{hold['id']}", headers=fan.headers), 404, "NOT_FOUND")
    again = problem(
        await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers),
        409,
        "HOLD_EXPIRED",
    )
    assert again["reservationId"] == reservation["id"]
    assert (
        await client.get(f"/reservations/{reservation['id']}", headers=fan.headers)
    ).status_code == 200
    problem(
        await client.get(f"/reservations/{reservation['id']}", headers=other.headers),
        404,
        "NOT_FOUND",
    )
    listed = (await client.get(f"/customers/{fan.id}/reservations", headers=fan.headers)).json()
    assert [r["id"] for r in listed["items"]] == [reservation["id"]]
    problem(
        await client.get(f"/customers/{fan.id}/reservations", headers=other.headers),
        404,
        "NOT_FOUND",
    )
    assert (await client.get(f"/events/{event['id']}")).json()["availability"]["reserved"] == 2
    problem(
        await client.delete(f"/customers/{fan.id}", headers=fan.headers),
        409,
        "CUSTOMER_HAS_RESERVATIONS",
    )
    problem(
        await _hold(client, event["id"], other, {"seatIds": [hold["seats"][0]["id"]]}),
        409,
        "SEATS_UNAVAILABLE",
    )
    problem(
        await client.delete(f"/reservations/{reservation['id']}", headers=fan.headers),
        403,
        "FORBIDDEN",
    )
    assert (
        await client.delete(f"/reservations/{reservation['id']}", headers=ADMIN)
    ).status_code == 204
    problem(await client.get(f"/reservations/{reservation['id']}", headers=ADMIN), 404, "NOT_FOUND")
    assert (
        await _hold(client, event["id"], other, {"seatIds": [hold["seats"][0]["id"]]})
    ).status_code == 201


async def test_other_customer_cannot_confirm(client: Client) -> None:
    event = await make_event(client)
    fan, other = await make_customer(client), await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 1})).json()
    problem(
        await client.post(f"/holds/{hold['id']}/reservation", headers=other.headers),
        409,
        "HOLD_EXPIRED",  # as for a hold that is gone: a live hold id is not confirmed to exist
    )
    assert (await client.get(f"/holds/{hold['id']}", headers=fan.headers)).status_code == 200


async def test_idempotency_key_replays_the_first_answer(client: Client) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    body = {"quantity": 2}
    first = await _hold(client, event["id"], fan, body, **{"Idempotency-Key": "k-1"})
    second = await _hold(client, event["id"], fan, body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert (await client.get(f"/events/{event['id']}")).json()["availability"]["onHold"] == 2
    problem(
        await _hold(client, event["id"], fan, {"quantity": 1}, **{"Idempotency-Key": "k-1"}),
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_concurrent_replays_do_the_work_once(client: Client) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    answers = await asyncio.gather(
        *(
            _hold(client, event["id"], fan, {"quantity": 1}, **{"Idempotency-Key": "same"})
            for _ in range(10)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await client.get(f"/events/{event['id']}")).json()["availability"]["onHold"] == 1


async def test_idempotent_confirm(client: Client) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 1})).json()
    key = {**fan.headers, "Idempotency-Key": "confirm-1"}
    first = await client.post(f"/holds/{hold['id']}/reservation", headers=key)
    second = await client.post(f"/holds/{hold['id']}/reservation", headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]


async def test_seed_seat_route(client: Client) -> None:
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    fan, other = await make_customer(client), await make_customer(client)
    path = f"/events/{event['id']}/seats/{seat['id']}"
    forbidden = await client.patch(
        path, json={"customerId": other.id, "status": "ON_HOLD"}, headers=fan.headers
    )
    problem(forbidden, 403, "FORBIDDEN")
    held = await client.patch(
        path, json={"customerId": fan.id, "status": "ON_HOLD"}, headers=fan.headers
    )
    assert (held.status_code, held.json()["status"]) == (200, "ON_HOLD")
    taken = await client.patch(
        path, json={"customerId": other.id, "status": "ON_HOLD"}, headers=other.headers
    )
    problem(taken, 409, "SEATS_UNAVAILABLE")
    released = await client.patch(
        path, json={"customerId": fan.id, "status": "OPEN"}, headers=fan.headers
    )
    assert released.json()["status"] == "OPEN"
    await client.patch(path, json={"customerId": fan.id, "status": "ON_HOLD"}, headers=fan.headers)
    reserved = await client.patch(
        path, json={"customerId": fan.id, "status": "RESERVED"}, headers=fan.headers
    )
    assert (reserved.status_code, reserved.json()["status"], reserved.json()["customerId"]) == (
        200,
        "RESERVED",
        fan.id,
    )


async def test_held_seats_block_deletes(client: Client) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 1})).json()
    problem(await client.delete(f"/events/{event['id']}", headers=ADMIN), 409, "EVENT_HAS_HOLDS")
    problem(
        await client.delete(f"/seats/{hold['seats'][0]['id']}", headers=ADMIN), 409, "SEAT_NOT_OPEN"
    )
    problem(
        await client.patch(f"/seats/{hold['seats'][0]['id']}", json={"price": 3}, headers=ADMIN),
        409,
        "SEAT_NOT_OPEN",
    )


async def test_deleting_a_customer_releases_its_holds(client: Client) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 2})).json()
    assert (await client.delete(f"/customers/{fan.id}", headers=fan.headers)).status_code == 204
    assert (await client.get(f"/events/{event['id']}")).json()["availability"]["onHold"] == 0
    assert (await client.get(f"/seats/{hold['seats'][0]['id']}")).json()["status"] == "OPEN"


async def test_admin_price_change_reaches_new_holds(client: Client) -> None:
    event = await make_event(client, numSeats=10, seating={"price": 50})
    fan = await make_customer(client)
    await _hold(client, event["id"], fan, {"quantity": 1})  # mirror built
    seats = await seats_of(client, event["id"])
    await client.patch(f"/seats/{seats[9]['id']}", json={"price": 5}, headers=ADMIN)
    cheapest = (await _hold(client, event["id"], fan, {"quantity": 1})).json()
    assert cheapest["seats"][0]["id"] == seats[9]["id"]  # best available saw the new price


@pytest.mark.slow
async def test_hold_expires_for_every_reader_within_a_second(client: Client, stack: Any) -> None:
    event = await make_event(client, seatHoldTime=10)
    fan = await make_customer(client)
    hold = (await _hold(client, event["id"], fan, {"quantity": 2})).json()
    await asyncio.sleep(10.0)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if (await client.get(f"/seats/{hold['seats'][0]['id']}")).json()["status"] == "OPEN":
            break
        await asyncio.sleep(0.05)
    assert (await client.get(f"/seats/{hold['seats'][0]['id']}")).json()["status"] == "OPEN"
    assert time.monotonic() <= deadline + 0.2
    # Nothing of it is left in Redis: the background sweeper released it, not a reader.
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    holds_key = f"{{ev:{event['id']}}}:holds".encode()
    with socket.create_connection(("127.0.0.1", stack.valkey.port)) as s:
        s.sendall(b"*2\r\n$4\r\nHLEN\r\n$%d\r\n%s\r\n" % (len(holds_key), holds_key))
        assert s.recv(64) == b":0\r\n"
    problem(await client.get(f"/holds/{hold['id']}", headers=fan.headers), 404, "NOT_FOUND")
    problem(
        await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers),
        409,
        "HOLD_EXPIRED",
    )
