"""Real PostgreSQL and Valkey for the whole session, started by the suite itself.

The servers come from the same embedded stack `ticketing serve` uses, in a temporary
folder, with fsync off (what the tests prove does not depend on it). The application runs
in-process through Litestar's test client, lifespan included.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from bench.service import LOAD_TEST_LIMITS
from ticketing.app import create_app
from ticketing.db import migrate
from ticketing.embedded import EmbeddedStack, EmbeddedValkeyCluster
from ticketing.settings import Settings

ADMIN_TOKEN = "test-admin-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(tmp_path_factory.mktemp("stack"), durable=False) as running:
        assert running.postgres is not None
        migrate.upgrade(running.postgres.url)
        yield running


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedValkeyCluster]:
    """A real three-master Valkey cluster on loopback."""
    with EmbeddedValkeyCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


def make_settings(stack: EmbeddedStack, **env: str) -> Settings:
    assert stack.postgres is not None
    assert stack.valkey is not None
    base = {
        "DATABASE_URL": stack.postgres.url,
        "REDIS_URL": stack.valkey.url,
        "TICKETING_ADMIN_TOKEN": ADMIN_TOKEN,
        "TICKETING_DB_POOL_MIN": "1",
        "TICKETING_RETRY_AFTER": "3",
        "TICKETING_LOG_FORMAT": "text",
        **LOAD_TEST_LIMITS,  # the suite signs up thousands of customers from one address
    }
    base.update(env)
    return Settings.from_env(environ=base, env_file=None)


_SERVERS: dict[str, str] = {}  # the session's Redis URL, for reserve_directly


@pytest.fixture(scope="session")
def settings(stack: EmbeddedStack) -> Settings:
    made = make_settings(stack)
    assert made.redis_url is not None
    _SERVERS["redis"] = made.redis_url
    return made


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def pg(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for setting up states the API cannot reach yet and for checks."""
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def command_counts(info: object) -> dict[str, int]:
    """Valkey's count of calls per command (scripts' calls included), from the reply to
    `INFO commandstats`."""
    text = info.decode() if isinstance(info, bytes) else str(info)
    found: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line.partition(":")
            found[name.removeprefix("cmdstat_")] = int(stats.split(",")[0].split("=")[1])
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class CustomerHandle:
    id: str
    token: str
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


# The in-process client, or httpx against a server process (tests/e2e/conftest.py).
HttpClient = AsyncTestClient[Any] | httpx.AsyncClient


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventName": "Test Night",
        "eventLocation": "Hall " + secrets.token_hex(4),
        "eventDateTimeStamp": "2027-06-01T19:30:00Z",
        "numSeats": 30,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def make_event(client: HttpClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/events", json=event_body(**overrides), headers=ADMIN)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_customer(client: HttpClient, **overrides: Any) -> CustomerHandle:
    body = {"firstName": "Fan", "lastName": secrets.token_hex(3)}
    body.update(overrides)
    response = await client.post("/customers", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return CustomerHandle(data["customer"]["id"], data["token"], data["customer"])


async def seats_of(
    client: AsyncTestClient[Any], event_id: str, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 200, **params}
        if cursor:
            query["cursor"] = cursor
        response = await client.get(f"/events/{event_id}/seats", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items


async def reserve_directly(
    pg: asyncpg.Connection, customer_id: str, seat_ids: list[str], *, mirror_unaware: bool = False
) -> str:
    """A confirmed reservation written straight to PostgreSQL, and the event's hold mirror
    dropped after it (as the service does after a change it did not make through a hold), so
    that the next hold rebuilds it: mirrors are built ahead of fans, so one may exist from
    before. `mirror_unaware` leaves the mirror as it is (a Redis step that was lost)."""
    import uuid

    reservation_id = uuid.uuid4()
    async with pg.transaction():
        event_id = await pg.fetchval(
            "SELECT event_id FROM seats WHERE id = $1", uuid.UUID(seat_ids[0])
        )
        await pg.execute(
            "INSERT INTO reservations (id, event_id, customer_id) VALUES ($1, $2, $3)",
            reservation_id,
            event_id,
            uuid.UUID(customer_id),
        )
        for seat_id in seat_ids:
            await pg.execute(
                "UPDATE seats SET status = 'RESERVED', customer_id = $2, reservation_id = $3"
                " WHERE id = $1",
                uuid.UUID(seat_id),
                uuid.UUID(customer_id),
                reservation_id,
            )
            await pg.execute(
                "INSERT INTO reservation_seats (reservation_id, seat_id, price)"
                " SELECT $1, id, price FROM seats WHERE id = $2",
                reservation_id,
                uuid.UUID(seat_id),
            )
    if not mirror_unaware:
        await _drop_mirror(event_id)
    return str(reservation_id)


async def _drop_mirror(event_id: Any) -> None:
    """As the `forget` script does: the mirror's header goes and its generation moves, so a
    build under way from before is refused too."""
    from ticketing.cache.redis import Redis
    from ticketing.holds.keys import EventKeys

    keys = EventKeys.of(event_id)
    redis = Redis(_SERVERS["redis"], cluster=False, timeout_ms=2000, retry_after=1)
    await redis.open()
    try:
        await redis.call(lambda c: c.delete([keys.meta]))
        await redis.call(lambda c: c.incr(keys.gen))
    finally:
        await redis.close()


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert {"type", "title", "detail"} <= body.keys()
    return body


PROJECT_ROOT = Path(__file__).resolve().parent.parent
