"""The sales window (API.md v2): holds only from `salesStartAt` until `salesEndAt` (the
event's own time unless set), answered in the hold's one Redis step; reads at any time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, event_body, make_customer, make_event, problem, seats_of

Client = AsyncTestClient[Any]


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_the_window_closes_at_the_event_unless_set_and_shows_on_the_event(
    client: Client,
) -> None:
    event = await make_event(client)
    assert event["salesStartAt"] is None
    assert event["salesEndAt"] == event["eventDateTimeStamp"]
    moved = await client.patch(
        f"/events/{event['id']}", json={"eventDateTimeStamp": "2028-01-01T20:00:00Z"}, headers=ADMIN
    )
    assert moved.json()["salesEndAt"] == "2028-01-01T20:00:00Z"  # it follows the event


async def test_no_hold_for_an_event_that_has_taken_place(client: Client) -> None:
    event = await make_event(client, eventDateTimeStamp="2021-03-01T20:00:00Z")
    fan = await make_customer(client)
    refused = await client.post(
        f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers
    )
    body = problem(refused, 409, "SALES_CLOSED")
    assert body["salesEndAt"] == "2021-03-01T20:00:00Z"
    assert "closed" in body["detail"]
    seat = (await seats_of(client, event["id"]))[0]
    seed = await client.patch(
        f"/events/{event['id']}/seats/{seat['id']}",
        json={"customerId": fan.id, "status": "ON_HOLD"},
        headers=fan.headers,
    )
    problem(seed, 409, "SALES_CLOSED")
    # Nothing was held, and reads work at any time.
    availability = (await client.get(f"/events/{event['id']}/availability")).json()
    assert availability["onHold"] == 0
    assert (await client.get(f"/seats/{seat['id']}")).json()["status"] == "OPEN"


async def test_holds_open_when_the_window_opens_to_the_second(client: Client) -> None:
    event = await make_event(client, salesStartAt=_at(1.5))
    fan = await make_customer(client)
    path = f"/events/{event['id']}/holds"
    early = problem(
        await client.post(path, json={"quantity": 1}, headers=fan.headers), 409, "SALES_CLOSED"
    )
    assert early["salesStartAt"] == event["salesStartAt"]
    assert "open at" in early["detail"]
    await asyncio.sleep(2.0)
    assert (await client.post(path, json={"quantity": 1}, headers=fan.headers)).status_code == 201


async def test_an_organiser_opening_or_closing_sales_applies_to_the_next_hold(
    client: Client,
) -> None:
    event = await make_event(client, salesStartAt=_at(3600))
    fan = await make_customer(client)
    path = f"/events/{event['id']}/holds"
    problem(await client.post(path, json={"quantity": 1}, headers=fan.headers), 409, "SALES_CLOSED")
    opened = await client.patch(
        f"/events/{event['id']}", json={"salesStartAt": None}, headers=ADMIN
    )
    assert opened.status_code == 200, opened.text
    held = await client.post(path, json={"quantity": 1}, headers=fan.headers)
    assert held.status_code == 201
    closed = await client.patch(
        f"/events/{event['id']}", json={"salesEndAt": _at(-60)}, headers=ADMIN
    )
    assert closed.status_code == 200, closed.text
    problem(await client.post(path, json={"quantity": 1}, headers=fan.headers), 409, "SALES_CLOSED")
    # A hold taken inside the window can still be bought: the window gates taking seats.
    bought = await client.post(f"/holds/{held.json()['id']}/reservation", headers=fan.headers)
    assert bought.status_code == 201, bought.text


async def test_a_window_that_closes_before_it_opens_is_refused_and_changes_nothing(
    client: Client, pg: Any
) -> None:
    body = event_body(salesStartAt="2027-05-01T00:00:00Z", salesEndAt="2027-04-01T00:00:00Z")
    refused = await client.post("/events", json=body, headers=ADMIN)
    assert problem(refused, 400, "VALIDATION_FAILED")["errors"][0]["field"] == "salesStartAt"
    event = await make_event(client, salesStartAt="2027-05-01T00:00:00Z")
    for change in (
        {"eventDateTimeStamp": "2027-04-01T00:00:00Z"},  # the event moved before sales open
        {"salesEndAt": "2027-04-30T00:00:00Z"},
    ):
        answer = await client.patch(f"/events/{event['id']}", json=change, headers=ADMIN)
        problem(answer, 400, "VALIDATION_FAILED")
    version = await pg.fetchval("SELECT version FROM events WHERE id = $1", event["id"])
    assert version == event["version"]
