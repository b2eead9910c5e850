"""Two server processes on one PostgreSQL and one Redis: what one process remembers for a
second (checked tokens) never outlives that second on the other."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import ADMIN, make_customer, make_event


async def test_a_token_revoked_on_one_server_stops_working_on_the_other_within_a_second(
    http: httpx.AsyncClient, http_too: httpx.AsyncClient
) -> None:
    fan = await make_customer(http)
    event = await make_event(http, numSeats=10)
    # Both servers have checked the token just now.
    assert (await http.get("/customers/" + fan.id, headers=fan.headers)).status_code == 200
    assert (await http_too.get("/customers/" + fan.id, headers=fan.headers)).status_code == 200
    assert (await http.delete("/sessions/current", headers=fan.headers)).status_code == 204
    # At once where it was revoked...
    assert (await http.get("/customers/" + fan.id, headers=fan.headers)).status_code == 401
    await asyncio.sleep(1.05)
    # ...and a second later everywhere: no hold can be made with it.
    held = await http_too.post(
        f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers
    )
    assert held.status_code == 401, held.text


async def test_deleting_a_customer_signs_them_out_on_every_server(
    http: httpx.AsyncClient, http_too: httpx.AsyncClient
) -> None:
    fan = await make_customer(http)
    assert (await http_too.get("/customers/" + fan.id, headers=fan.headers)).status_code == 200
    assert (await http.delete("/customers/" + fan.id, headers=ADMIN)).status_code == 204
    await asyncio.sleep(1.05)
    assert (await http_too.get("/customers/" + fan.id, headers=fan.headers)).status_code == 401
