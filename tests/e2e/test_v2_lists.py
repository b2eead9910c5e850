"""Finding one's own holds, and an event's holds and sales (API.md v2)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_customer, make_event, problem

Client = AsyncTestClient[Any]


async def _hold(client: Client, event_id: str, headers: dict[str, str], n: int = 1) -> Any:
    made = await client.post(f"/events/{event_id}/holds", json={"quantity": n}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


async def _all(client: Client, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        items.extend(answer.json()["items"])
        cursor = answer.json()["nextCursor"]
        if cursor is None:
            return items


async def test_a_customer_who_lost_a_holds_answer_finds_it_and_buys_it(client: Client) -> None:
    first, second = await make_event(client), await make_event(client)
    fan, other = await make_customer(client), await make_customer(client)
    made = [
        await _hold(client, first["id"], fan.headers, 2),
        await _hold(client, second["id"], fan.headers),
        await _hold(client, second["id"], fan.headers),
    ]
    await _hold(client, first["id"], other.headers)  # someone else's: never listed
    path = f"/customers/{fan.id}/holds"
    listed = await _all(client, path, fan.headers, limit=2)
    assert [h["id"] for h in listed] == [h["id"] for h in made]  # oldest first, across pages
    assert [len(h["seats"]) for h in listed] == [2, 1, 1]
    assert {s["holdId"] for s in listed[0]["seats"]} == {made[0]["id"]}
    # The customer's seatsOnHold name the hold that holds each seat.
    me = (await client.get(f"/customers/{fan.id}", headers=fan.headers)).json()
    assert sorted(s["holdId"] for s in me["seatsOnHold"]) == sorted(
        [made[0]["id"]] * 2 + [made[1]["id"], made[2]["id"]]
    )
    bought = await client.post(f"/holds/{listed[1]['id']}/reservation", headers=fan.headers)
    assert bought.status_code == 201, bought.text
    after = await _all(client, path, fan.headers)
    assert [h["id"] for h in after] == [made[0]["id"], made[2]["id"]]
    # Admins may look; another customer gets the 404 of an unknown customer; nobody else.
    assert len(await _all(client, path, ADMIN)) == 2
    problem(await client.get(path, headers=other.headers), 404, "NOT_FOUND")
    problem(await client.get(path), 401, "UNAUTHORIZED")
    problem(await client.get(f"/customers/{uuid4()}/holds", headers=ADMIN), 404, "NOT_FOUND")


async def test_an_admin_lists_an_events_live_holds_page_by_page(client: Client) -> None:
    event = await make_event(client)
    fans = [await make_customer(client) for _ in range(5)]
    made = [await _hold(client, event["id"], f.headers) for f in fans]
    released = made.pop(2)
    assert (
        await client.delete(f"/holds/{released['id']}", headers=fans[2].headers)
    ).status_code == 204
    path = f"/events/{event['id']}/holds"
    listed = await _all(client, path, ADMIN, limit=2)
    assert [h["id"] for h in listed] == [h["id"] for h in made]
    assert all(s["customerId"] == h["customerId"] for h in listed for s in h["seats"])
    problem(await client.get(path, headers=fans[0].headers), 403, "FORBIDDEN")
    problem(await client.get(f"/events/{uuid4()}/holds", headers=ADMIN), 404, "NOT_FOUND")
    page = (await client.get(path, params={"limit": 1}, headers=ADMIN)).json()
    other = await make_event(client)
    carried = await client.get(
        f"/events/{other['id']}/holds", params={"cursor": page["nextCursor"]}, headers=ADMIN
    )
    problem(carried, 400, "VALIDATION_FAILED")


async def test_an_admin_lists_an_events_reservations_active_or_cancelled(client: Client) -> None:
    event = await make_event(client)
    fans = [await make_customer(client) for _ in range(3)]
    sold = []
    for fan in fans:
        hold = await _hold(client, event["id"], fan.headers)
        done = await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
        sold.append(done.json())
    gone = await client.delete(f"/reservations/{sold[1]['id']}", headers=ADMIN)
    assert gone.status_code == 204
    path = f"/events/{event['id']}/reservations"
    both = await _all(client, path, ADMIN, limit=1)
    assert [r["id"] for r in both] == [r["id"] for r in sold]
    assert [r["status"] for r in both] == ["active", "cancelled", "active"]
    assert both[1]["cancelledAt"] is not None
    active = await _all(client, path, ADMIN, status="active")
    assert [r["id"] for r in active] == [sold[0]["id"], sold[2]["id"]]
    cancelled = await _all(client, path, ADMIN, status="cancelled")
    assert [r["id"] for r in cancelled] == [sold[1]["id"]]
    problem(
        await client.get(path, params={"status": "refunded"}, headers=ADMIN),
        400,
        "VALIDATION_FAILED",
    )
    problem(await client.get(path, headers=fans[0].headers), 403, "FORBIDDEN")
    problem(await client.get(f"/events/{uuid4()}/reservations", headers=ADMIN), 404, "NOT_FOUND")
