"""Seats over HTTP: listing, adding, editing and removing, and what a reservation locks."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_customer, make_event, problem, reserve_directly, seats_of
from ticketing.seats.service import PAGE_SECONDS

Client = AsyncTestClient[Any]


async def test_seat_list_pages_front_to_back(client: Client) -> None:
    event = await make_event(client, numSeats=25)
    first = (await client.get(f"/events/{event['id']}/seats", params={"limit": 10})).json()
    assert len(first["items"]) == 10
    second = (
        await client.get(
            f"/events/{event['id']}/seats", params={"limit": 20, "cursor": first["nextCursor"]}
        )
    ).json()
    assert len(second["items"]) == 15
    assert second["nextCursor"] is None
    numbers = [(s["row"], s["seatNumber"]) for s in first["items"] + second["items"]]
    assert numbers[9:11] == [("A", 10), ("A", 11)]
    assert len(set(numbers)) == 25


async def test_seat_list_of_unknown_event_is_404(client: Client) -> None:
    response = await client.get("/events/00000000-0000-4000-8000-000000000000/seats")
    problem(response, 404, "NOT_FOUND")


async def test_status_filter_and_customer_visibility(client: Client, pg: Any) -> None:
    event = await make_event(client)
    owner = await make_customer(client)
    other = await make_customer(client)
    seat = (await seats_of(client, event["id"]))[3]
    await reserve_directly(pg, owner.id, [seat["id"]])
    reserved = await seats_of(client, event["id"], status="RESERVED")
    assert [s["id"] for s in reserved] == [seat["id"]]
    assert reserved[0]["customerId"] is None  # anonymous never sees who
    assert len(await seats_of(client, event["id"], status="OPEN")) == 29
    as_owner = (await client.get(f"/seats/{seat['id']}", headers=owner.headers)).json()
    assert as_owner["customerId"] == owner.id
    as_other = (await client.get(f"/seats/{seat['id']}", headers=other.headers)).json()
    assert as_other["customerId"] is None
    as_admin = (await client.get(f"/seats/{seat['id']}", headers=ADMIN)).json()
    assert as_admin["customerId"] == owner.id


async def _filtered(
    client: Client, event_id: str, status: str, section: str | None, limit: int
) -> list[str]:
    query: dict[str, Any] = {"status": status, "limit": limit}
    if section is not None:
        query["section"] = section
    found: list[str] = []
    while True:
        page = await client.get(f"/events/{event_id}/seats", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(s["status"] == status for s in body["items"])
        assert len(body["items"]) <= limit
        found += [s["id"] for s in body["items"]]
        if body["nextCursor"] is None:
            return found
        query["cursor"] = body["nextCursor"]


async def _pages_agree(client: Client, event_id: str) -> dict[str, list[str]]:
    """Every page of open and of held seats, of the event and of each section, in small
    pages and in one, is what the unfiltered list says of each seat, in its order."""
    every = await seats_of(client, event_id)
    by_status: dict[str, list[str]] = {}
    for status in ("OPEN", "ON_HOLD"):
        for section in (None, "LEFT", "RIGHT", "NOWHERE", "LEFT\t0"):
            expected = [
                s["id"] for s in every if s["status"] == status and section in (None, s["section"])
            ]
            for limit in (2, 200):
                assert await _filtered(client, event_id, status, section, limit) == expected
        by_status[status] = [s["id"] for s in every if s["status"] == status]
    return by_status


async def test_pages_of_open_and_held_seats_follow_holds_sales_and_rebuilds(
    client: Client, pg: Any
) -> None:
    seating = {
        "sections": [
            {"name": "LEFT", "price": 20, "rows": [{"name": "A", "seats": 5}]},
            {"name": "RIGHT", "price": 30, "rows": [{"name": "A", "seats": 5}]},
        ]
    }
    event = await make_event(client, numSeats=10, seating=seating)
    added = await client.post(  # LEFT again after RIGHT, in the organiser's order
        f"/events/{event['id']}/seats", json={"count": 5, "section": "LEFT"}, headers=ADMIN
    )
    assert added.status_code == 201, added.text
    seats = [s["id"] for s in await seats_of(client, event["id"])]
    fan, other = await make_customer(client), await make_customer(client)

    async def hold(who: Any, ids: list[str]) -> str:
        response = await client.post(
            f"/events/{event['id']}/holds", json={"seatIds": ids}, headers=who.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    first = await hold(fan, [seats[1], seats[2]])
    second = await hold(other, [seats[6], seats[11]])
    pages = await _pages_agree(client, event["id"])
    assert pages["ON_HOLD"] == [seats[1], seats[2], seats[6], seats[11]]
    # A sale, a release, a new hold, a cancellation, and a sale behind the service's back
    # (which drops the mirror: it is rebuilt under the holds there are).
    bought = await client.post(f"/holds/{second}/reservation", headers=other.headers)
    assert bought.status_code == 201, bought.text
    assert (await client.delete(f"/holds/{first}", headers=fan.headers)).status_code == 204
    await hold(fan, [seats[14], seats[0]])
    pages = await _pages_agree(client, event["id"])
    assert pages["ON_HOLD"] == [seats[0], seats[14]]
    assert seats[6] not in pages["OPEN"]
    assert seats[1] in pages["OPEN"]
    cancelled = await client.delete(f"/reservations/{bought.json()['id']}", headers=ADMIN)
    assert cancelled.status_code == 204
    await reserve_directly(pg, other.id, [seats[8]])
    await asyncio.sleep(PAGE_SECONDS + 0.1)  # pages read before that change are let go
    pages = await _pages_agree(client, event["id"])
    assert seats[6] in pages["OPEN"]
    assert seats[8] not in pages["OPEN"]
    assert pages["ON_HOLD"] == [seats[0], seats[14]]


async def test_a_page_of_open_or_held_seats_never_reads_the_events_holds(
    client: Client,
) -> None:
    event = await make_event(client, numSeats=30)
    fan = await make_customer(client)
    held = await client.post(
        f"/events/{event['id']}/holds", json={"quantity": 4}, headers=fan.headers
    )
    assert held.status_code == 201
    engine = client.app.state.holds.engine
    ran: list[str] = []
    run = engine._run

    async def counted(name: str, event_id: Any, *args: Any, **kw: Any) -> Any:
        if str(event_id) == event["id"]:
            ran.append(name)
        return await run(name, event_id, *args, **kw)

    engine._run = counted
    try:
        for status in ("ON_HOLD", "OPEN"):
            page = await client.get(f"/events/{event['id']}/seats", params={"status": status})
            assert page.status_code == 200
    finally:
        engine._run = run
    # One range read a page; never `overlay`, which reads the event's every hold. (The
    # sweeper and the mirror's builder may run other scripts on the event meanwhile.)
    assert ran.count("seatpage") == 2
    assert "overlay" not in ran


async def _raw(client: Client, path: str, headers: dict[str, str]) -> tuple[Any, bytes]:
    """An answer and its body as sent (httpx would undo the gzip)."""
    async with client.stream("GET", path, headers=headers) as response:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])


async def test_a_large_page_goes_gzipped_to_a_client_that_takes_it(client: Client) -> None:
    event = await make_event(client, numSeats=200)
    path = f"/events/{event['id']}/seats?limit=200"
    plain, body = await _raw(client, path, {"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "accept-encoding"
    for accept in ("gzip", "br, gzip;q=0.5", "*", "x-gzip"):
        packed, raw = await _raw(client, path, {"accept-encoding": accept})
        assert packed.headers["content-encoding"] == "gzip", accept
        assert packed.headers["vary"] == "accept-encoding"
        assert int(packed.headers["content-length"]) == len(raw)
        assert gzip.decompress(raw) == body
        assert len(raw) * 4 < len(body)  # 200 seats: about 50 KB, some 6 KB gzipped
    for refused in ("gzip;q=0", "br", "gzip; q=0.0, identity", "gzip;q=nonsense"):
        answer, raw = await _raw(client, path, {"accept-encoding": refused})
        assert "content-encoding" not in answer.headers, refused
        assert raw == body
    # A page smaller than a packet, and a signed-in fan's page, go as they are.
    small, raw = await _raw(client, f"{path[:-3]}1", {"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert json.loads(raw)["items"]
    fan = await make_customer(client)
    mine, raw = await _raw(client, path, {"accept-encoding": "gzip", **fan.headers})
    assert "content-encoding" not in mine.headers
    assert len(json.loads(raw)["items"]) == 200


async def test_unknown_status_filter_is_400(client: Client) -> None:
    event = await make_event(client)
    response = await client.get(f"/events/{event['id']}/seats", params={"status": "SOLD"})
    problem(response, 400, "VALIDATION_FAILED")


async def test_get_seat_with_etag(client: Client) -> None:
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    response = await client.get(f"/seats/{seat['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == seat


async def test_add_count_continues_rows_and_grows_num_seats(client: Client) -> None:
    event = await make_event(client, numSeats=30)
    response = await client.post(
        f"/events/{event['id']}/seats", json={"count": 12, "price": 15}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["numSeats"] == 42
    assert [(s["row"], s["seatNumber"], s["price"]) for s in added["items"][:1]] == [("C", 1, 15)]
    fetched = (await client.get(f"/events/{event['id']}")).json()
    assert fetched["numSeats"] == 42
    assert fetched["version"] == 2


async def test_add_sections_block(client: Client) -> None:
    event = await make_event(client, numSeats=20)
    body = {"sections": [{"name": "BOX", "price": 99, "rows": [{"name": "1", "seats": 4}]}]}
    response = await client.post(f"/events/{event['id']}/seats", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert [(s["section"], s["row"], s["seatNumber"]) for s in response.json()["items"]] == [
        ("BOX", "1", n) for n in range(1, 5)
    ]


async def test_add_sections_that_exist_is_409(client: Client) -> None:
    event = await make_event(client, numSeats=20)
    body = {"sections": [{"name": "MAIN", "rows": [{"name": "A", "seats": 2}]}]}
    response = await client.post(f"/events/{event['id']}/seats", json=body, headers=ADMIN)
    problem(response, 409, "SEAT_EXISTS")
    assert len(await seats_of(client, event["id"])) == 20


async def test_add_needs_count_or_sections_not_both(client: Client) -> None:
    event = await make_event(client)
    for body in (
        {},
        {"count": 2, "sections": [{"name": "X", "rows": [{"name": "A", "seats": 1}]}]},
    ):
        response = await client.post(f"/events/{event['id']}/seats", json=body, headers=ADMIN)
        problem(response, 400, "VALIDATION_FAILED")


async def test_seats_never_pass_1000(client: Client) -> None:
    event = await make_event(client, numSeats=995)
    response = await client.post(f"/events/{event['id']}/seats", json={"count": 6}, headers=ADMIN)
    problem(response, 409, "CAPACITY_EXCEEDED")
    response = await client.post(f"/events/{event['id']}/seats", json={"count": 5}, headers=ADMIN)
    assert response.status_code == 201
    assert response.json()["numSeats"] == 1000


async def test_add_to_general_admission(client: Client) -> None:
    event = await make_event(client, numSeats=10, seating={"assignedSeating": False})
    response = await client.post(f"/events/{event['id']}/seats", json={"count": 3}, headers=ADMIN)
    assert response.status_code == 201
    assert all(s["row"] is None for s in response.json()["items"])
    body = {"sections": [{"name": "X", "rows": [{"name": "A", "seats": 1}]}]}
    response = await client.post(f"/events/{event['id']}/seats", json=body, headers=ADMIN)
    problem(response, 400, "VALIDATION_FAILED")


async def test_patch_open_seat(client: Client) -> None:
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    response = await client.patch(
        f"/seats/{seat['id']}",
        json={"price": 42.5, "row": "ZZ", "seatNumber": 7, "section": "SIDE"},
        headers={**ADMIN, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert (body["price"], body["row"], body["seatNumber"], body["section"]) == (
        42.5,
        "ZZ",
        7,
        "SIDE",
    )


async def test_patch_seat_stale_if_match_is_412(client: Client) -> None:
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    response = await client.patch(
        f"/seats/{seat['id']}", json={"price": 1}, headers={**ADMIN, "If-Match": '"9"'}
    )
    problem(response, 412, "VERSION_CONFLICT")
    assert (await client.get(f"/seats/{seat['id']}")).json()["price"] == 0


async def test_patch_seat_onto_taken_place_is_409(client: Client) -> None:
    event = await make_event(client)
    seats = await seats_of(client, event["id"])
    response = await client.patch(f"/seats/{seats[0]['id']}", json={"seatNumber": 2}, headers=ADMIN)
    problem(response, 409, "SEAT_EXISTS")


async def test_patch_general_admission_place_is_400(client: Client) -> None:
    event = await make_event(client, numSeats=10, seating={"assignedSeating": False})
    seat = (await seats_of(client, event["id"]))[0]
    response = await client.patch(f"/seats/{seat['id']}", json={"row": "A"}, headers=ADMIN)
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "row"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": 1000000.01}, "price"),
        ({"price": 0.001}, "price"),
        ({"seatNumber": 0}, "seatNumber"),
        ({"row": ""}, "row"),
        ({"section": "s" * 51}, "section"),
        ({"status": "OPEN"}, "status"),
    ],
)
async def test_patch_seat_bad_fields(client: Client, body: dict[str, Any], field: str) -> None:
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    response = await client.patch(f"/seats/{seat['id']}", json=body, headers=ADMIN)
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == field


async def test_reserved_seat_cannot_be_changed_or_deleted(client: Client, pg: Any) -> None:
    event = await make_event(client)
    customer = await make_customer(client)
    seat = (await seats_of(client, event["id"]))[0]
    await reserve_directly(pg, customer.id, [seat["id"]])
    problem(
        await client.patch(f"/seats/{seat['id']}", json={"price": 5}, headers=ADMIN),
        409,
        "SEAT_NOT_OPEN",
    )
    problem(await client.delete(f"/seats/{seat['id']}", headers=ADMIN), 409, "SEAT_NOT_OPEN")


async def test_delete_open_seat_shrinks_event(client: Client) -> None:
    event = await make_event(client, numSeats=12)
    seat = (await seats_of(client, event["id"]))[0]
    assert (await client.delete(f"/seats/{seat['id']}", headers=ADMIN)).status_code == 204
    problem(await client.get(f"/seats/{seat['id']}"), 404, "NOT_FOUND")
    assert (await client.get(f"/events/{event['id']}")).json()["numSeats"] == 11


async def test_event_keeps_at_least_ten_seats(client: Client) -> None:
    event = await make_event(client, numSeats=10, maxNumSeats=5)
    seat = (await seats_of(client, event["id"]))[0]
    problem(await client.delete(f"/seats/{seat['id']}", headers=ADMIN), 409, "MIN_SEATS")


async def test_delete_seat_below_max_num_seats_is_409(client: Client) -> None:
    event = await make_event(client, numSeats=11, maxNumSeats=11)
    seat = (await seats_of(client, event["id"]))[0]
    problem(await client.delete(f"/seats/{seat['id']}", headers=ADMIN), 409, "MAX_SEATS")


async def test_a_seat_read_again_shows_a_sale_or_an_edit_at_once(
    client: AsyncTestClient[Any],
) -> None:
    """A seat's row is kept for a second between reads; a sale or an edit made through this
    server is seen by the very next read, not a second later."""
    event = await make_event(client)
    first, second = (await seats_of(client, event["id"]))[:2]
    fan = await make_customer(client)
    assert (await client.get(f"/seats/{first['id']}")).json()["status"] == "OPEN"
    held = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [first["id"]]}, headers=fan.headers
    )
    assert (await client.get(f"/seats/{first['id']}")).json()["status"] == "ON_HOLD"
    bought = await client.post(f"/holds/{held.json()['id']}/reservation", headers=fan.headers)
    assert bought.status_code == 201
    assert (await client.get(f"/seats/{first['id']}")).json()["status"] == "RESERVED"
    assert (await client.get(f"/seats/{second['id']}")).json()["price"] == second["price"]
    edited = await client.patch(
        f"/seats/{second['id']}", json={"price": 77}, headers={**ADMIN, "If-Match": '"1"'}
    )
    assert edited.status_code == 200, edited.text
    again = await client.get(f"/seats/{second['id']}")
    assert again.json()["price"] == 77
    assert again.headers["etag"] == f'"{edited.json()["version"]}"'
