"""The small things a client integrating from API.md relies on: idempotency that compares
JSON, not bytes; headers a route does not honour refused, not ignored; bodies that must be
JSON; plain page sizes; names with something in them; HEAD and If-None-Match; money and
timestamps printed as the conventions say."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, event_body, make_customer, make_event, problem
from tests.e2e.sse import open_stream

Client = AsyncTestClient[Any]
JSON = {"content-type": "application/json"}


async def test_the_same_json_with_other_spacing_and_order_replays_the_first_hold(
    client: Client,
) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    path = f"/events/{event['id']}/holds"
    key = {"Idempotency-Key": "order-1", **JSON, **fan.headers}
    first = await client.post(path, content=b'{"quantity": 2, "adjacent": true}', headers=key)
    again = await client.post(path, content=b'{"adjacent":true,"quantity":2}', headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(path, content=b'{"quantity": 3}', headers=key)
    problem(other, 409, "IDEMPOTENCY_KEY_REUSED")


async def test_an_idempotency_key_where_none_is_honoured_is_refused(
    client: Client, pg: Any
) -> None:
    before = await pg.fetchval("SELECT count(*) FROM customers")
    answer = await client.post(
        "/customers",
        json={"firstName": "Ada", "lastName": "Twice"},
        headers={"Idempotency-Key": "signup-1"},
    )
    body = problem(answer, 400, "VALIDATION_FAILED")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert await pg.fetchval("SELECT count(*) FROM customers") == before


async def test_a_body_that_is_not_json_is_415_and_changes_nothing(client: Client, pg: Any) -> None:
    before = await pg.fetchval("SELECT count(*) FROM events")
    answer = await client.post(
        "/events",
        content=httpx.Request("POST", "/", json=event_body()).content,
        headers={**ADMIN, "content-type": "text/plain"},
    )
    problem(answer, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await pg.fetchval("SELECT count(*) FROM events") == before
    # A POST with no body at all needs no content type.
    event = await make_event(client)
    fan = await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers)
    ).json()
    assert (
        await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)
    ).status_code == 200


async def test_an_unknown_section_is_named_and_a_sold_out_one_is_a_conflict(client: Client) -> None:
    event = await make_event(
        client,
        numSeats=10,
        seating={"sections": [{"name": "Stalls", "rows": [{"name": "A", "seats": 10}]}]},
    )
    fan = await make_customer(client)
    path = f"/events/{event['id']}/holds"
    unknown = await client.post(
        path, json={"quantity": 1, "section": "Balcony"}, headers=fan.headers
    )
    body = problem(unknown, 400, "VALIDATION_FAILED")
    assert body["errors"][0]["field"] == "section"
    assert "Balcony" in body["errors"][0]["message"]
    too_many = await client.post(
        path, json={"quantity": 11, "section": "Stalls", "adjacent": False}, headers=fan.headers
    )
    assert too_many.status_code == 409  # the section is real: more than is left is a conflict


async def test_page_sizes_are_plain_numbers(client: Client) -> None:
    for value in ("1e2", "+5", "0x10", "5.0"):
        problem(await client.get("/events", params={"limit": value}), 400, "VALIDATION_FAILED")
    assert (await client.get("/events", params={"limit": "5"})).status_code == 200


async def test_names_of_spaces_and_bad_emails_are_told_in_words(client: Client) -> None:
    refused = await client.post("/events", json=event_body(eventName="   "), headers=ADMIN)
    assert problem(refused, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "eventName"
    signup = await client.post(
        "/customers", json={"firstName": " ", "lastName": "X", "email": "not-an-email"}
    )
    errors = {e["field"]: e["message"] for e in problem(signup, 400, "VALIDATION_FAILED")["errors"]}
    assert set(errors) == {"firstName", "email"}
    assert "regex" not in errors["email"]
    assert "@" in errors["email"]


async def test_head_and_if_none_match_on_reads(client: Client) -> None:
    event = await make_event(client)
    path = f"/events/{event['id']}"
    head = await client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    tag = head.headers["etag"]
    assert tag == f'"{event["version"]}"'
    unchanged = await client.get(path, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag
    await client.patch(path, json={"eventName": "Renamed"}, headers=ADMIN)
    changed = await client.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["eventName"] == "Renamed"
    options = await client.options(path)
    assert "HEAD" in options.headers["allow"]


async def test_money_prints_without_needless_decimals_and_times_end_in_z(client: Client) -> None:
    event = await make_event(client, seatHoldTime=10, seating={"price": 10})
    fan = await make_customer(client)
    page = await client.get(f"/events/{event['id']}/seats", params={"limit": 1})
    assert re.search(r'"price":10[,}]', page.text), page.text
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers)
    ).json()
    for _ in range(5):
        extended = await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)
        if extended.status_code == 409:
            break
    detail = problem(extended, 409, "EXTEND_LIMIT")["detail"]
    assert "+00:00" not in detail
    assert re.search(r"\d{4}-\d\d-\d\dT[\d:.]+Z", detail), detail


async def test_a_streams_hold_expiry_is_an_iso_timestamp_and_head_does_not_hang(
    http: httpx.AsyncClient,
) -> None:
    made = await http.post("/events", headers=ADMIN, json=event_body())
    event_id = made.json()["id"]
    signed = (await http.post("/customers", json={"firstName": "A", "lastName": "B"})).json()
    async with open_stream(http, event_id) as stream:
        await stream.next_of("snapshot")
        held = await http.post(
            f"/events/{event_id}/holds",
            json={"quantity": 1},
            headers={"Authorization": f"Bearer {signed['token']}"},
        )
        frame = await stream.next_of("seats")
    assert frame.data["holdExpiresAt"] == held.json()["expiresAt"]
    started = time.monotonic()
    head = await http.head(f"/events/{event_id}/stream")
    assert head.status_code == 200
    assert head.content == b""
    assert time.monotonic() - started < 5
    assert (await http.get("/health")).status_code == 200  # the connection is usable again
