"""The floor: the least a hold can cost on this stack, to measure the service against.

Same framework (Litestar), same server (Granian, uvloop), same Redis client and the very same
hold script as the service, but nothing else: no auth, no validation beyond decoding the
body, no hold index, no database. `POST /events/{id}/holds` with `{"seatIds": [...]}` is
one Lua call; its mirror is loaded beforehand by the harness. `GET /events/{id}/read` is the
floor of a read: a constant JSON body from memory; `GET /sized/{n}` the same, n bytes long.

Served by `granian --factory bench.floor:create_floor` with REDIS_URL set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import msgspec
from litestar import Litestar, Response, get, post
from litestar.datastructures import State

from ticketing.cache.redis import Redis
from ticketing.holds.engine import HoldEngine
from ticketing.holds.models import MirrorSnapshot, SeatsUnavailable


class FloorHold(msgspec.Struct, rename="camel"):
    seat_ids: list[str]


class Held(msgspec.Struct, rename="camel"):
    id: UUID
    seat_ids: list[str]
    expires_at: int


_decode = msgspec.json.Decoder(FloorHold).decode
_encode = msgspec.json.Encoder().encode
CUSTOMER = UUID("00000000-0000-4000-8000-00000000f100")


async def _no_database(_: UUID) -> MirrorSnapshot | None:
    raise RuntimeError("the floor has no database: the harness loads its mirrors")


@post("/events/{event_id:uuid}/holds")
async def hold(event_id: UUID, body: bytes, state: State) -> Response[bytes]:
    engine: HoldEngine = state.engine
    request = _decode(body)
    try:
        placed = await engine.hold_seats(event_id, CUSTOMER, uuid4(), request.seat_ids, index=False)
    except SeatsUnavailable:
        return Response(b'{"code":"SEATS_UNAVAILABLE"}', status_code=409)
    held = Held(placed.hold_id, placed.seat_ids, placed.expires_ms)
    return Response(_encode(held), status_code=201, media_type="application/json")


_READ = _encode({"openSeats": 998})


@get("/events/{event_id:uuid}/read")
async def bare_read(event_id: UUID) -> Response[bytes]:
    """The floor of a read: a small JSON answer from memory, nothing looked up."""
    return Response(_READ, media_type="application/json")


_SIZED: dict[int, bytes] = {}


@get("/sized/{size:int}")
async def sized_read(size: int) -> Response[bytes]:
    """The floor of a read whose answer is `size` bytes of JSON (a seat page's size): what
    sending that much costs on this stack, nothing looked up."""
    body = _SIZED.get(size)
    if body is None:
        body = _SIZED[size] = b'"' + b"x" * max(0, min(size, 10_000_000) - 2) + b'"'
    return Response(body, media_type="application/json")


@get("/ready")
async def ready() -> str:
    return "ok"


def create_floor() -> Litestar:
    redis = Redis(os.environ["REDIS_URL"], cluster=False, timeout_ms=2000, retry_after=1)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await redis.open()
        app.state.engine = HoldEngine(redis, _no_database)
        try:
            yield
        finally:
            await redis.close()

    return Litestar([hold, bare_read, sized_read, ready], lifespan=[lifespan], openapi_config=None)
