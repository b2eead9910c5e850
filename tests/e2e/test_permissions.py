"""Who may do what: every endpoint as anonymous, customer A, customer B and admin.

Customer A owns the customer resources used; B is another customer. Another customer's
private resource answers 404, so that its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_customer, make_event, seats_of

Client = AsyncTestClient[Any]
ROLES = ("anonymous", "customer_a", "customer_b", "admin")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {event}, {seat}, {a} are filled in per test
    body: dict[str, Any] | None
    expected: tuple[int, int, int, int]  # anonymous, A, B, admin


CASES = {
    "create event": Case(
        "POST",
        "/events",
        {
            "eventName": "P",
            "eventLocation": "L",
            "eventDateTimeStamp": "2027-01-01T00:00:00Z",
            "numSeats": 10,
        },
        (401, 403, 403, 201),
    ),
    "list events": Case("GET", "/events", None, (200, 200, 200, 200)),
    "get event": Case("GET", "/events/{event}", None, (200, 200, 200, 200)),
    "patch event": Case("PATCH", "/events/{event}", {"eventName": "N"}, (401, 403, 403, 200)),
    "delete event": Case("DELETE", "/events/{event}", None, (401, 403, 403, 204)),
    "list seats": Case("GET", "/events/{event}/seats", None, (200, 200, 200, 200)),
    "add seats": Case("POST", "/events/{event}/seats", {"count": 1}, (401, 403, 403, 201)),
    "get seat": Case("GET", "/seats/{seat}", None, (200, 200, 200, 200)),
    "patch seat": Case("PATCH", "/seats/{seat}", {"price": 1}, (401, 403, 403, 200)),
    "delete seat": Case("DELETE", "/seats/{seat}", None, (401, 403, 403, 204)),
    "sign up": Case(
        "POST", "/customers", {"firstName": "S", "lastName": "U"}, (201, 201, 201, 201)
    ),
    "list customers": Case("GET", "/customers", None, (401, 403, 403, 200)),
    "get customer": Case("GET", "/customers/{a}", None, (401, 200, 404, 200)),
    "patch customer": Case("PATCH", "/customers/{a}", {"lastName": "Z"}, (401, 200, 404, 200)),
    "delete customer": Case("DELETE", "/customers/{a}", None, (401, 204, 404, 204)),
    "mint token": Case("POST", "/customers/{a}/tokens", None, (401, 403, 403, 201)),
    "sign out": Case("DELETE", "/sessions/current", None, (401, 204, 204, 403)),
    "hold seats": Case("POST", "/events/{event}/holds", {"quantity": 1}, (401, 201, 201, 403)),
    "get hold": Case("GET", "/holds/{hold}", None, (401, 200, 404, 200)),
    "extend hold": Case("POST", "/holds/{hold}/extend", None, (401, 200, 404, 403)),
    "release hold": Case("DELETE", "/holds/{hold}", None, (401, 204, 404, 204)),
    "confirm hold": Case("POST", "/holds/{hold}/reservation", None, (401, 201, 409, 403)),
    "get reservation": Case("GET", "/reservations/{reservation}", None, (401, 200, 404, 200)),
    "cancel reservation": Case("DELETE", "/reservations/{reservation}", None, (401, 403, 403, 204)),
    "list reservations": Case("GET", "/customers/{a}/reservations", None, (401, 200, 404, 200)),
    "list customer holds": Case("GET", "/customers/{a}/holds", None, (401, 200, 404, 200)),
    "list event holds": Case("GET", "/events/{event}/holds", None, (401, 403, 403, 200)),
    "list event reservations": Case(
        "GET", "/events/{event}/reservations", None, (401, 403, 403, 200)
    ),
    "audit": Case("GET", "/events/{event}/audit", None, (401, 403, 403, 200)),
    # (The event has no waiting room: a customer joining it is told so.)
    "join queue": Case("POST", "/events/{event}/queue", None, (401, 409, 409, 403)),
    "queue counts": Case("GET", "/events/{event}/queue", None, (401, 403, 403, 200)),
    "open count": Case("GET", "/events/{event}/open-count", None, (200, 200, 200, 200)),
    "seed seat route": Case(
        "PATCH",
        "/events/{event}/seats/{seat}",
        {"customerId": "{a}", "status": "ON_HOLD"},
        (401, 200, 403, 403),
    ),
    "liveness": Case("GET", "/health", None, (200, 200, 200, 200)),
    "readiness": Case("GET", "/health/ready", None, (200, 200, 200, 200)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
async def test_permission_matrix(client: Client, name: str, role: str) -> None:
    case = CASES[name]
    event = await make_event(client, numSeats=12, maxNumSeats=5, seating={"price": 1})
    seat = (await seats_of(client, event["id"]))[-1]  # best available takes the front seats
    a = await make_customer(client)
    b = await make_customer(client)
    headers = {
        "anonymous": {},
        "customer_a": a.headers,
        "customer_b": b.headers,
        "admin": ADMIN,
    }[role]
    names = {"event": event["id"], "seat": seat["id"], "a": a.id}
    if "{hold}" in case.path:
        hold = await client.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=a.headers
        )
        names["hold"] = hold.json()["id"]
    if "{reservation}" in case.path:
        sold = await client.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=a.headers
        )
        done = await client.post(f"/holds/{sold.json()['id']}/reservation", headers=a.headers)
        names["reservation"] = done.json()["id"]
    path = case.path.format(**names)
    body = None
    if case.body is not None:
        body = {k: v.format(**names) if isinstance(v, str) else v for k, v in case.body.items()}
    response = await client.request(case.method, path, json=body, headers=headers)
    expected = case.expected[ROLES.index(role)]
    assert response.status_code == expected, f"{name} as {role}: {response.text}"
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "detail"}


async def test_another_customers_reservation_reads_like_an_unknown_one(client: Client) -> None:
    event = await make_event(client)
    a, b = await make_customer(client), await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=a.headers)
    ).json()
    reservation = (await client.post(f"/holds/{hold['id']}/reservation", headers=a.headers)).json()
    theirs = await client.get(f"/reservations/{reservation['id']}", headers=b.headers)
    unknown_id = str(uuid4())
    unknown = await client.get(f"/reservations/{unknown_id}", headers=b.headers)
    assert theirs.status_code == unknown.status_code == 404
    assert a.id not in theirs.text
    assert theirs.json()["detail"] == f"No reservation with id {reservation['id']}"
    assert unknown.json()["detail"] == f"No reservation with id {unknown_id}"


async def test_confirming_another_customers_live_hold_reads_like_an_unknown_hold(
    client: Client,
) -> None:
    event = await make_event(client)
    a, b = await make_customer(client), await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=a.headers)
    ).json()
    theirs = await client.post(f"/holds/{hold['id']}/reservation", headers=b.headers)
    unknown = await client.post(f"/holds/{uuid4()}/reservation", headers=b.headers)
    assert theirs.status_code == unknown.status_code == 409
    assert _without_ids(theirs.json()) == _without_ids(unknown.json())
    assert a.id not in theirs.text
    # A's hold is untouched by the attempt.
    assert (await client.get(f"/holds/{hold['id']}", headers=a.headers)).status_code == 200
