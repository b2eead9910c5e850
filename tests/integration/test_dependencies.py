"""PostgreSQL or Redis down: 503 with Retry-After, nothing partial, recovery with no hand work.

Each test runs the application against servers of its own, so that stopping them does not
disturb the rest of the suite.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, ADMIN_TOKEN, event_body, problem
from ticketing.app import create_app
from ticketing.db import migrate
from ticketing.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from ticketing.settings import Settings


@pytest.fixture(scope="module")
def own_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedPostgres, EmbeddedValkey]]:
    root: Path = tmp_path_factory.mktemp("faults")
    postgres = EmbeddedPostgres(root / "postgres", durable=False)
    valkey = EmbeddedValkey(root / "valkey", durable=False)
    postgres.start()
    valkey.start()
    migrate.upgrade(postgres.url)
    yield postgres, valkey
    valkey.stop()
    postgres.stop()


def _settings(database_url: str, redis_url: str) -> Settings:
    return Settings.from_env(
        environ={
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TICKETING_ADMIN_TOKEN": ADMIN_TOKEN,
            "TICKETING_RETRY_AFTER": "7",
            "TICKETING_REDIS_TIMEOUT_MS": "300",
            "TICKETING_DB_TIMEOUT": "2",
        },
        env_file=None,
    )


@pytest.fixture
async def faulty(
    own_servers: tuple[EmbeddedPostgres, EmbeddedValkey],
) -> AsyncIterator[AsyncTestClient[Any]]:
    postgres, valkey = own_servers
    async with AsyncTestClient(app=create_app(_settings(postgres.url, valkey.url))) as client:
        yield client


async def _when_recovered(request: Any, within: float = 10.0) -> Any:
    """The first answer that is not a 503: the client reconnects by itself, in the background."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await request()
        if response.status_code != 503 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.2)


def _unavailable(response: Any, dependency: str) -> None:
    body = problem(response, 503, "DEPENDENCY_UNAVAILABLE")
    assert body["dependency"] == dependency
    assert response.headers["retry-after"] == "7"


async def test_service_starts_and_answers_503_when_both_are_missing() -> None:
    dead_pg = f"postgresql://postgres@127.0.0.1:{free_port()}/ticketing"
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with AsyncTestClient(app=create_app(_settings(dead_pg, dead_redis))) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/health/ready")
        body = problem(ready, 503, "DEPENDENCY_UNAVAILABLE")
        assert body["checks"]["postgresql"].startswith("unavailable")
        assert body["checks"]["redis"].startswith("unavailable")
        _unavailable(await client.get("/events"), "postgresql")
        _unavailable(
            await client.get("/events", headers={"Authorization": "Bearer tkt_x"}), "redis"
        )


async def test_postgres_restart_gives_503_then_recovers(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    postgres, _ = own_servers
    assert (await faulty.post("/events", json=event_body(), headers=ADMIN)).status_code == 201
    postgres.stop()
    try:
        _unavailable(await faulty.get("/events"), "postgresql")
        _unavailable(await faulty.post("/events", json=event_body(), headers=ADMIN), "postgresql")
        ready = await faulty.get("/health/ready")
        assert ready.status_code == 503
        assert "postgresql" in ready.json()["detail"]
    finally:
        postgres.start()
    assert (await _when_recovered(lambda: faulty.get("/events"))).status_code == 200
    assert (await _when_recovered(lambda: faulty.get("/health/ready"))).status_code == 200


async def test_redis_down_gives_503_and_sign_up_leaves_nothing_behind(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    postgres, valkey = own_servers
    email = f"down-{secrets.token_hex(4)}@example.com"
    valkey.stop()
    try:
        response = await faulty.post(
            "/customers", json={"firstName": "A", "lastName": "B", "email": email}
        )
        _unavailable(response, "redis")
        _unavailable(
            await faulty.get("/events", headers={"Authorization": "Bearer tkt_abc"}), "redis"
        )
        # Reads that need no token still work while Redis is away.
        assert (await faulty.get("/events")).status_code == 200
    finally:
        valkey.start()
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM customers WHERE email = $1", email) == 0
    finally:
        await conn.close()
    # Once the client has reconnected (by itself), the same sign-up succeeds: a 503 on the
    # way left no half-made customer holding the email.
    response = await _when_recovered(
        lambda: faulty.post("/customers", json={"firstName": "A", "lastName": "B", "email": email})
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    customer_id = response.json()["customer"]["id"]
    me = await faulty.get(f"/customers/{customer_id}", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_losing_redis_loses_sessions_only(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    _, valkey = own_servers
    signed = (await faulty.post("/customers", json={"firstName": "K", "lastName": "R"})).json()
    valkey.kill()  # not durable: its data is gone, as after a flush
    valkey.start()
    customer_id = signed["customer"]["id"]
    await _when_recovered(lambda: faulty.get("/health/ready"))
    response = await faulty.get(
        f"/customers/{customer_id}", headers={"Authorization": f"Bearer {signed['token']}"}
    )
    problem(response, 401, "UNAUTHORIZED")
    assert (await faulty.get(f"/customers/{customer_id}", headers=ADMIN)).status_code == 200


async def _sign_up(client: AsyncTestClient[Any]) -> tuple[str, dict[str, str]]:
    body = (await client.post("/customers", json={"firstName": "F", "lastName": "S"})).json()
    return body["customer"]["id"], {"Authorization": f"Bearer {body['token']}"}


async def test_postgres_down_during_confirm_leaves_nothing_partial(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    postgres, _ = own_servers
    event = (await faulty.post("/events", json=event_body(), headers=ADMIN)).json()
    _, fan = await _sign_up(faulty)
    hold = (
        await faulty.post(f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan)
    ).json()
    postgres.stop()
    try:
        _unavailable(
            await faulty.post(f"/holds/{hold['id']}/reservation", headers=fan), "postgresql"
        )
    finally:
        postgres.start()
    # The hold survived, unfenced: the customer simply tries again.
    response = await _when_recovered(
        lambda: faulty.post(f"/holds/{hold['id']}/reservation", headers=fan)
    )
    assert response.status_code == 201, response.text
    conn = await asyncpg.connect(postgres.url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM reservations WHERE event_id = $1", uuid.UUID(event["id"])
        )
    finally:
        await conn.close()
    assert count == 1


async def test_redis_restart_mid_flow_keeps_reservations_and_loses_holds_cleanly(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    _, valkey = own_servers
    event = (await faulty.post("/events", json=event_body(numSeats=10), headers=ADMIN)).json()
    _, fan = await _sign_up(faulty)
    sold = (
        await faulty.post(f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan)
    ).json()
    reservation = (await faulty.post(f"/holds/{sold['id']}/reservation", headers=fan)).json()
    held = (
        await faulty.post(f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan)
    ).json()
    valkey.kill()  # no persistence: every hold, session and mirror is gone
    valkey.start()
    await _when_recovered(lambda: faulty.get("/health/ready"))
    assert (
        await faulty.get(f"/reservations/{reservation['id']}", headers=ADMIN)
    ).status_code == 200
    _, rival = await _sign_up(faulty)
    sold_ids = [s["id"] for s in sold["seats"]]
    refused = await faulty.post(
        f"/events/{event['id']}/holds", json={"seatIds": sold_ids}, headers=rival
    )
    problem(refused, 409, "SEATS_UNAVAILABLE")
    freed = [s["id"] for s in held["seats"]]
    taken = await faulty.post(
        f"/events/{event['id']}/holds", json={"seatIds": freed}, headers=rival
    )
    assert taken.status_code == 201, taken.text
    availability = (await faulty.get(f"/events/{event['id']}")).json()["availability"]
    assert availability == {"open": 6, "onHold": 2, "reserved": 2}


async def test_hold_attempts_need_no_postgres(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    postgres, _ = own_servers
    event = (await faulty.post("/events", json=event_body(numSeats=10), headers=ADMIN)).json()
    _, first = await _sign_up(faulty)
    _, second = await _sign_up(faulty)
    warm = await faulty.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=first)
    assert warm.status_code == 201  # the mirror is built from PostgreSQL once, here
    postgres.stop()
    try:
        held = await faulty.post(
            f"/events/{event['id']}/holds", json={"quantity": 2}, headers=second
        )
        assert held.status_code == 201, held.text
        assert [s["status"] for s in held.json()["seats"]] == ["ON_HOLD", "ON_HOLD"]
        taken = [s["id"] for s in held.json()["seats"]]
        refused = await faulty.post(
            f"/events/{event['id']}/holds", json={"seatIds": taken}, headers=first
        )
        problem(refused, 409, "SEATS_UNAVAILABLE")
    finally:
        postgres.start()


async def test_joining_a_waiting_room_needs_no_postgres(
    faulty: AsyncTestClient[Any], own_servers: tuple[EmbeddedPostgres, EmbeddedValkey]
) -> None:
    """A crowd joining at the start is one Redis call each: whether the event has a room and
    when its sales end are the event's mirror's, the room's settings are in Redis."""
    postgres, _ = own_servers
    room = {"enabled": True, "admitPerMinute": 60, "opensBeforeSeconds": 3600}
    body = event_body(numSeats=10, waitingRoom=room)
    event = (await faulty.post("/events", json=body, headers=ADMIN)).json()
    path = f"/events/{event['id']}/queue"
    _, first = await _sign_up(faulty)
    _, second = await _sign_up(faulty)
    warm = await faulty.post(path, headers=first)
    assert warm.status_code == 201, warm.text  # (the mirror and the settings: from PostgreSQL)
    postgres.stop()
    try:
        joined = await faulty.post(path, headers=second)
        assert joined.status_code == 201, joined.text
        assert joined.headers["location"] == f"/queue/{joined.json()['id']}"
        again = await faulty.post(path, headers=first)
        assert (again.status_code, again.json()["id"]) == (200, warm.json()["id"])
        read = await faulty.get(f"/queue/{joined.json()['id']}", headers=second)
        assert read.status_code == 200, read.text
    finally:
        postgres.start()
