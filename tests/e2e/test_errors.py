"""Every error is problem+json; bad input changes nothing."""

from __future__ import annotations

import base64
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, event_body, make_customer, make_event, problem

Client = AsyncTestClient[Any]


async def test_unknown_route_is_404_problem(client: Client) -> None:
    problem(await client.get("/nowhere"), 404, "NOT_FOUND")


async def test_malformed_id_is_404_problem(client: Client) -> None:
    problem(await client.get("/events/not-a-uuid"), 404, "NOT_FOUND")


async def test_wrong_method_is_405_problem(client: Client) -> None:
    problem(await client.put("/events", json={}, headers=ADMIN), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post(
        "/events", content=b'{"eventName": ', headers={**ADMIN, "content-type": "application/json"}
    )
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "body"


async def test_body_that_is_not_an_object_is_400(client: Client) -> None:
    response = await client.post("/events", json=[1, 2], headers=ADMIN)
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "body"


async def test_empty_body_is_400(client: Client) -> None:
    response = await client.post(
        "/customers", content=b"", headers={"content-type": "application/json"}
    )
    problem(response, 400, "VALIDATION_FAILED")


async def test_body_too_large_is_413(client: Client) -> None:
    body = event_body(eventName="x" * (2 * 1024 * 1024))
    response = await client.post("/events", json=body, headers=ADMIN)
    problem(response, 413, "PAYLOAD_TOO_LARGE")


async def test_refused_create_changes_nothing(client: Client, pg: Any) -> None:
    before = await pg.fetchval("SELECT count(*) FROM events")
    response = await client.post("/events", json=event_body(numSeats=5000), headers=ADMIN)
    problem(response, 400, "VALIDATION_FAILED")
    assert await pg.fetchval("SELECT count(*) FROM events") == before


async def test_a_date_that_leaves_the_storable_range_in_utc_is_400(client: Client) -> None:
    body = event_body(eventDateTimeStamp="9999-12-31T23:59:59-23:59")
    response = await client.post("/events", json=body, headers=ADMIN)
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == (
        "eventDateTimeStamp"
    )
    listed = await client.get("/events", params={"from": "9999-12-31T23:59:59-23:59"})
    assert problem(listed, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "from"


async def test_a_body_that_is_not_utf8_is_400(client: Client) -> None:
    body = (
        b'{"eventName":"\xff\xfe","eventLocation":"y","eventDateTimeStamp":"2027-01-01T00:00:00Z"'
    )
    response = await client.post(
        "/events",
        content=body + b',"numSeats":10}',
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "eventName"


async def test_json_nested_thousands_deep_is_400(client: Client) -> None:
    event = await make_event(client)
    customer = await make_customer(client)
    deep = b'{"seatIds":' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await client.post(
        f"/events/{event['id']}/holds",
        content=deep,
        headers={**customer.headers, "content-type": "application/json"},
    )
    refused = problem(response, 400, "VALIDATION_FAILED")
    assert refused["errors"][0]["message"] == "Nested too deeply"
    nested = b"[" * 20000 + b"]" * 20000
    response = await client.post(
        "/events", content=nested, headers={**ADMIN, "content-type": "application/json"}
    )
    problem(response, 400, "VALIDATION_FAILED")


async def test_cursors_cannot_be_forged_or_carried_to_another_list(client: Client) -> None:
    first, second = await make_event(client), await make_event(client)
    page = (await client.get(f"/events/{first['id']}/seats", params={"limit": 2})).json()
    cursor = page["nextCursor"]
    assert (
        await client.get(f"/events/{first['id']}/seats", params={"cursor": cursor})
    ).status_code == 200
    for path, params in [
        (f"/events/{second['id']}/seats", {"cursor": cursor}),  # another event's seats
        (f"/events/{first['id']}/seats", {"cursor": cursor, "status": "OPEN"}),  # another filter
        ("/events", {"cursor": cursor}),  # another list
    ]:
        problem(await client.get(path, params=params), 400, "VALIDATION_FAILED")
    # A cursor holding a number past int32, made by hand as the old cursors were.
    overflow = base64.urlsafe_b64encode(b"[1180591620717411303424]").decode().rstrip("=")
    response = await client.get(f"/events/{first['id']}/seats", params={"cursor": overflow})
    problem(response, 400, "VALIDATION_FAILED")
