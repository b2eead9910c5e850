"""Events over HTTP: creation with seats, reads, changes under If-Match, deletion."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import (
    ADMIN,
    event_body,
    make_customer,
    make_event,
    problem,
    reserve_directly,
    seats_of,
)

Client = AsyncTestClient[Any]


async def test_admin_creates_event_with_default_layout(client: Client) -> None:
    response = await client.post("/events", json=event_body(numSeats=45), headers=ADMIN)
    assert response.status_code == 201
    event = response.json()
    assert response.headers["location"] == f"/events/{event['id']}"
    assert response.headers["etag"] == '"1"'
    assert event["numSeats"] == 45
    assert event["maxNumSeats"] == 10
    assert event["seatHoldTime"] == 60
    assert event["availability"] == {"open": 45, "onHold": 0, "reserved": 0}
    assert event["eventDateTimeStamp"] == "2027-06-01T19:30:00Z"
    assert event["createdAt"].endswith("Z")
    seats = await seats_of(client, event["id"])
    assert len(seats) == 45
    assert [(s["section"], s["row"], s["seatNumber"]) for s in seats[:2]] == [
        ("MAIN", "A", 1),
        ("MAIN", "A", 2),
    ]
    assert [(s["row"], s["seatNumber"]) for s in seats[19:21]] == [("A", 20), ("B", 1)]
    assert (seats[-1]["row"], seats[-1]["seatNumber"]) == ("C", 5)
    assert all(s["status"] == "OPEN" and s["price"] == 0 for s in seats)


async def test_event_time_is_stored_in_utc_whatever_the_offset(client: Client) -> None:
    event = await make_event(client, eventDateTimeStamp="2027-06-01T21:30:00+02:00")
    assert event["eventDateTimeStamp"] == "2027-06-01T19:30:00Z"


async def test_sections_set_rows_and_prices(client: Client) -> None:
    seating = {
        "price": 20,
        "sections": [
            {
                "name": "STALLS",
                "price": 55.5,
                "rows": [{"name": "A", "seats": 6}, {"name": "B", "seats": 4}],
            },
            {"name": "BALCONY", "rows": [{"name": "A", "seats": 10}]},
        ],
    }
    event = await make_event(client, numSeats=20, seating=seating)
    seats = await seats_of(client, event["id"])
    assert [(s["section"], s["row"], s["seatNumber"], s["price"]) for s in seats[5:7]] == [
        ("STALLS", "A", 6, 55.5),
        ("STALLS", "B", 1, 55.5),
    ]
    balcony = await seats_of(client, event["id"], section="BALCONY")
    assert len(balcony) == 10
    assert {s["price"] for s in balcony} == {20}


async def test_general_admission_seats_have_no_place(client: Client) -> None:
    event = await make_event(client, numSeats=12, seating={"assignedSeating": False, "price": 9.99})
    assert event["assignedSeating"] is False
    seats = await seats_of(client, event["id"])
    assert len(seats) == 12
    assert all(s["row"] is None and s["seatNumber"] is None and s["section"] is None for s in seats)
    assert all(s["assignedSeating"] is False and s["price"] == 9.99 for s in seats)


async def test_sections_must_add_up_to_num_seats(client: Client) -> None:
    seating = {"sections": [{"name": "S", "rows": [{"name": "A", "seats": 5}]}]}
    response = await client.post(
        "/events", json=event_body(numSeats=10, seating=seating), headers=ADMIN
    )
    body = problem(response, 400, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["seating.sections"]


async def test_rows_named_twice_in_a_section_are_refused(client: Client) -> None:
    seating = {
        "sections": [{"name": "S", "rows": [{"name": "A", "seats": 5}, {"name": "A", "seats": 5}]}]
    }
    response = await client.post(
        "/events", json=event_body(numSeats=10, seating=seating), headers=ADMIN
    )
    body = problem(response, 400, "VALIDATION_FAILED")
    assert body["errors"][0]["field"] == "seating.sections[0].rows[1].name"


async def test_every_bad_field_is_named_at_once(client: Client) -> None:
    response = await client.post(
        "/events",
        json={
            "eventName": "",
            "eventLocation": "x" * 201,
            "eventDateTimeStamp": "2027-06-01T19:30:00",
            "numSeats": 5,
            "seatHoldTime": 5000,
            "colour": "red",
        },
        headers=ADMIN,
    )
    body = problem(response, 400, "VALIDATION_FAILED")
    assert {e["field"] for e in body["errors"]} == {
        "eventName",
        "eventLocation",
        "eventDateTimeStamp",
        "numSeats",
        "seatHoldTime",
        "colour",
    }


async def test_missing_required_fields_are_named(client: Client) -> None:
    response = await client.post("/events", json={}, headers=ADMIN)
    body = problem(response, 400, "VALIDATION_FAILED")
    assert {e["field"] for e in body["errors"]} == {
        "eventName",
        "eventLocation",
        "eventDateTimeStamp",
        "numSeats",
    }


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("eventName", "", False),
        ("eventName", "n", True),
        ("eventName", "n" * 200, True),
        ("eventName", "n" * 201, False),
        ("eventLocation", "", False),
        ("eventLocation", "l" * 200, True),
        ("eventLocation", "l" * 201, False),
        ("numSeats", 9, False),
        ("numSeats", 10, True),
        ("numSeats", 1000, True),
        ("numSeats", 1001, False),
        ("numSeats", "30", False),
        ("maxNumSeats", 0, False),
        ("maxNumSeats", 1, True),
        ("maxNumSeats", 30, True),
        ("maxNumSeats", 31, False),
        ("seatHoldTime", 9, False),
        ("seatHoldTime", 10, True),
        ("seatHoldTime", 3600, True),
        ("seatHoldTime", 3601, False),
        ("eventDateTimeStamp", "tomorrow", False),
        ("eventDateTimeStamp", "2027-06-01T19:30:00", False),
        ("eventDateTimeStamp", "2027-06-01T19:30:00-05:00", True),
        ("seating", {"price": -0.01}, False),
        ("seating", {"price": 1000000}, True),
        ("seating", {"price": 1000000.01}, False),
        ("seating", {"price": 1.234}, False),
        ("seating", {"price": 12.34}, True),
    ],
)
async def test_event_field_bounds(client: Client, field: str, value: Any, ok: bool) -> None:
    num_seats = value if field == "numSeats" else 30
    body = event_body(**{field: value})
    if field != "numSeats":
        body["numSeats"] = num_seats
    response = await client.post("/events", json=body, headers=ADMIN)
    if ok:
        assert response.status_code == 201, response.text
    else:
        errors = problem(response, 400, "VALIDATION_FAILED")["errors"]
        assert errors[0]["field"].split(".")[0] == field, errors


async def test_get_event_has_availability_and_etag(client: Client) -> None:
    event = await make_event(client)
    response = await client.get(f"/events/{event['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["availability"] == {"open": 30, "onHold": 0, "reserved": 0}


async def test_unknown_event_is_404(client: Client) -> None:
    response = await client.get("/events/00000000-0000-4000-8000-000000000000")
    problem(response, 404, "NOT_FOUND")


async def test_list_filters_by_time_and_location(client: Client) -> None:
    tag = "Venue-" + secrets.token_hex(4)
    early = await make_event(
        client, eventLocation=f"North {tag}", eventDateTimeStamp="2030-01-01T10:00:00Z"
    )
    late = await make_event(
        client, eventLocation=f"South {tag}", eventDateTimeStamp="2030-02-01T10:00:00Z"
    )
    response = await client.get("/events", params={"location": tag.lower()})
    assert [e["id"] for e in response.json()["items"]] == [early["id"], late["id"]]
    assert "availability" not in response.json()["items"][0]
    response = await client.get("/events", params={"location": tag, "from": "2030-01-15T00:00:00Z"})
    assert [e["id"] for e in response.json()["items"]] == [late["id"]]
    response = await client.get("/events", params={"location": tag, "to": "2030-01-15T00:00:00Z"})
    assert [e["id"] for e in response.json()["items"]] == [early["id"]]


async def test_location_filter_treats_wildcards_literally(client: Client) -> None:
    tag = secrets.token_hex(4)
    await make_event(client, eventLocation=f"Room {tag}")
    response = await client.get("/events", params={"location": f"%{tag}"})
    assert response.json()["items"] == []


async def test_from_after_to_is_refused(client: Client) -> None:
    response = await client.get(
        "/events", params={"from": "2030-02-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
    )
    problem(response, 400, "VALIDATION_FAILED")


async def test_list_pages_with_cursor_without_gaps_or_repeats(client: Client) -> None:
    tag = "Paged-" + secrets.token_hex(4)
    made = [
        (await make_event(client, eventLocation=tag, eventDateTimeStamp=f"2031-01-0{d}T10:00:00Z"))[
            "id"
        ]
        for d in (3, 1, 2, 1, 5)
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"location": tag, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/events", params=params)).json()
        seen.extend(e["id"] for e in page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(made)
    assert len(set(seen)) == 5


@pytest.mark.parametrize(("limit", "ok"), [(0, False), (1, True), (200, True), (201, False)])
async def test_limit_bounds(client: Client, limit: int, ok: bool) -> None:
    response = await client.get("/events", params={"limit": limit})
    if ok:
        assert response.status_code == 200
    else:
        assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "limit"


async def test_bad_cursor_is_400(client: Client) -> None:
    response = await client.get("/events", params={"cursor": "not-ours"})
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "cursor"


async def test_patch_changes_fields_and_bumps_version(client: Client) -> None:
    event = await make_event(client)
    response = await client.patch(
        f"/events/{event['id']}",
        json={"eventName": "Renamed", "seatHoldTime": 300},
        headers={**ADMIN, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json()["eventName"] == "Renamed"
    assert response.json()["seatHoldTime"] == 300


async def test_patch_with_stale_if_match_is_412_and_changes_nothing(client: Client) -> None:
    event = await make_event(client)
    await client.patch(f"/events/{event['id']}", json={"eventName": "First"}, headers=ADMIN)
    response = await client.patch(
        f"/events/{event['id']}", json={"eventName": "Second"}, headers={**ADMIN, "If-Match": '"1"'}
    )
    problem(response, 412, "VERSION_CONFLICT")
    assert response.headers["etag"] == '"2"'
    assert (await client.get(f"/events/{event['id']}")).json()["eventName"] == "First"


async def test_raising_num_seats_adds_seats_in_new_rows(client: Client) -> None:
    event = await make_event(client, numSeats=30)
    response = await client.patch(f"/events/{event['id']}", json={"numSeats": 45}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["numSeats"] == 45
    seats = await seats_of(client, event["id"])
    assert len(seats) == 45
    assert [(s["row"], s["seatNumber"]) for s in seats[30:32]] == [("C", 1), ("C", 2)]


async def test_lowering_num_seats_is_409(client: Client) -> None:
    event = await make_event(client, numSeats=30)
    response = await client.patch(f"/events/{event['id']}", json={"numSeats": 20}, headers=ADMIN)
    problem(response, 409, "SEATS_CANNOT_SHRINK")
    assert len(await seats_of(client, event["id"])) == 30


async def test_max_num_seats_cannot_pass_num_seats_on_patch(client: Client) -> None:
    event = await make_event(client, numSeats=20)
    response = await client.patch(f"/events/{event['id']}", json={"maxNumSeats": 21}, headers=ADMIN)
    problem(response, 400, "VALIDATION_FAILED")


async def test_patch_num_seats_never_past_1000(client: Client) -> None:
    event = await make_event(client, numSeats=30)
    response = await client.patch(f"/events/{event['id']}", json={"numSeats": 1001}, headers=ADMIN)
    problem(response, 400, "VALIDATION_FAILED")


async def test_delete_event_then_404(client: Client) -> None:
    event = await make_event(client)
    assert (await client.delete(f"/events/{event['id']}", headers=ADMIN)).status_code == 204
    problem(await client.get(f"/events/{event['id']}"), 404, "NOT_FOUND")
    problem(await client.delete(f"/events/{event['id']}", headers=ADMIN), 404, "NOT_FOUND")


async def test_event_with_reserved_seats_cannot_be_deleted(client: Client, pg: Any) -> None:
    event = await make_event(client)
    customer = await make_customer(client)
    seat = (await seats_of(client, event["id"]))[0]
    await reserve_directly(pg, customer.id, [seat["id"]])
    problem(
        await client.delete(f"/events/{event['id']}", headers=ADMIN), 409, "EVENT_HAS_RESERVATIONS"
    )
    assert (await client.get(f"/events/{event['id']}")).json()["availability"]["reserved"] == 1
