"""Every error is problem+json; bad input changes nothing."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, event_body, problem

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
