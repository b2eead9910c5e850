"""A simulated onsale: 2,000 customers, 1,000 seats, a minute of random holds, best-available
holds, extends, confirms and releases (and expiries: holds last ten seconds). Afterwards every
seat is in one consistent state in PostgreSQL and Redis, and the log of confirmations shows
no seat sold twice. ONSALE_SECONDS shortens or lengthens the run.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, make_event

Client = AsyncTestClient[Any]
CUSTOMERS = 2000
SEATS = 1000
WORKERS = 64


def _redis(port: int, *args: str) -> Any:
    """One command over a plain socket (RESP), for reading the engine's keys as they are."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        parts.append(f"${len(a.encode())}\r\n{a}\r\n".encode())
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"".join(parts))
        data = b""
        while True:
            chunk = s.recv(1 << 20)
            data += chunk
            if _complete(data):
                return _parse(data)[0]


def _complete(data: bytes) -> bool:
    try:
        _parse(data)
    except (IndexError, ValueError):
        return False
    return True


def _parse(data: bytes, i: int = 0) -> tuple[Any, int]:
    kind, end = data[i : i + 1], data.index(b"\r\n", i)
    head = data[i + 1 : end]
    if kind in (b"+", b"-"):
        return head.decode(), end + 2
    if kind == b":":
        return int(head), end + 2
    if kind == b"$":
        n = int(head)
        if n < 0:
            return None, end + 2
        if len(data) < end + 2 + n + 2:
            raise IndexError
        return data[end + 2 : end + 2 + n].decode(), end + 2 + n + 2
    items, j = [], end + 2
    for _ in range(int(head)):
        item, j = _parse(data, j)
        items.append(item)
    return items, j


@pytest.mark.slow
async def test_simulated_onsale_sells_every_seat_at_most_once(
    client: Client, pg: Any, stack: Any
) -> None:
    await _onsale([client], float(os.environ.get("ONSALE_SECONDS", "60")), pg, stack)


@pytest.mark.slow
async def test_simulated_onsale_through_two_servers_sells_every_seat_at_most_once(
    http: httpx.AsyncClient, http_too: httpx.AsyncClient, pg: Any, stack: Any
) -> None:
    """Two `ticketing serve` processes on one PostgreSQL and one Redis; every request goes
    to either at random, so a hold made on one is extended or confirmed on the other."""
    seconds = float(os.environ.get("ONSALE_SECONDS", "60")) / 3
    await _onsale([http, http_too], seconds, pg, stack)


async def _onsale(clients: list[Any], seconds: float, pg: Any, stack: Any) -> None:
    client = clients[0]
    event = await make_event(client, numSeats=SEATS, maxNumSeats=4, seatHoldTime=10)
    cursor = None
    seat_ids = []
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/events/{event['id']}/seats", params=params)).json()
        seat_ids += [s["id"] for s in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seat_ids) == SEATS

    async def sign_up(i: int) -> tuple[str, dict[str, str]]:
        body = (
            await client.post("/customers", json={"firstName": "Fan", "lastName": str(i)})
        ).json()
        return body["customer"]["id"], {"Authorization": f"Bearer {body['token']}"}

    customers: list[tuple[str, dict[str, str]]] = []
    for start in range(0, CUSTOMERS, 200):
        customers += await asyncio.gather(*(sign_up(i) for i in range(start, start + 200)))

    statuses: Counter[int] = Counter()
    confirmed: list[tuple[str, str, list[str]]] = []  # reservation, customer, seats
    holds: dict[str, tuple[str, dict[str, str]]] = {}
    stop = time.monotonic() + seconds
    rng = random.Random(2026)
    base = f"/events/{event['id']}"

    async def fan() -> None:
        while time.monotonic() < stop:
            customer_id, headers = rng.choice(customers)
            roll = rng.random()
            if roll < 0.35 or not holds:
                body: dict[str, Any] = {"seatIds": rng.sample(seat_ids, rng.randint(1, 3))}
                if roll < 0.15:
                    body = {"quantity": rng.randint(1, 3), "adjacent": rng.random() < 0.5}
                r = await rng.choice(clients).post(f"{base}/holds", json=body, headers=headers)
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    holds[r.json()["id"]] = (customer_id, headers)
                continue
            hold_id = rng.choice(list(holds))
            owner, owner_headers = holds[hold_id]
            client = rng.choice(clients)  # any server may take the hold's next step
            if roll < 0.75:
                r = await client.post(f"/holds/{hold_id}/reservation", headers=owner_headers)
                if r.status_code == 201:
                    confirmed.append((r.json()["id"], owner, [s["id"] for s in r.json()["seats"]]))
                holds.pop(hold_id, None)
            elif roll < 0.85:
                r = await client.delete(f"/holds/{hold_id}", headers=owner_headers)
                holds.pop(hold_id, None)
            elif roll < 0.92:
                r = await client.post(f"/holds/{hold_id}/extend", headers=owner_headers)
            else:
                holds.pop(hold_id, None)  # walk away: the hold expires by itself
                continue
            statuses[r.status_code] += 1

    await asyncio.gather(*(fan() for _ in range(WORKERS)))
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[201] > 0

    # Let every hold left behind expire and be swept (three hold times is the longest).
    deadline = time.monotonic() + 35
    tag = f"{{ev:{event['id']}}}"
    while time.monotonic() < deadline and _redis(stack.valkey.port, "HLEN", f"{tag}:holds"):
        await asyncio.sleep(0.5)
    assert _redis(stack.valkey.port, "HLEN", f"{tag}:holds") == 0
    assert _redis(stack.valkey.port, "HLEN", f"{tag}:held") == 0
    assert _redis(stack.valkey.port, "ZCARD", f"{tag}:expiry") == 0
    assert _redis(stack.valkey.port, "HLEN", f"{tag}:custheld") == 0

    sold = Counter(seat for _, _, seats in confirmed for seat in seats)
    assert sold, "nothing was sold"
    assert max(sold.values()) == 1, "a seat was confirmed twice"
    owner_of = {seat: customer for _, customer, seats in confirmed for seat in seats}
    rows = await pg.fetch(
        "SELECT id, status, customer_id FROM seats WHERE event_id = $1", uuid.UUID(event["id"])
    )
    pg_reserved = {str(r[0]): str(r[2]) for r in rows if r[1] == "RESERVED"}
    assert pg_reserved == owner_of
    per_customer = Counter(owner_of.values())
    assert max(per_customer.values()) <= 4
    mirror = set(_redis(stack.valkey.port, "SMEMBERS", f"{tag}:reserved") or [])
    if _redis(stack.valkey.port, "EXISTS", f"{tag}:meta"):
        assert mirror == set(pg_reserved)
        counts = _redis(stack.valkey.port, "HGETALL", f"{tag}:rescount")
        assert {counts[i]: int(counts[i + 1]) for i in range(0, len(counts), 2)} == dict(
            per_customer
        )
    listing = (await client.get(f"/events/{event['id']}", headers=ADMIN)).json()["availability"]
    assert listing == {"open": SEATS - len(pg_reserved), "onHold": 0, "reserved": len(pg_reserved)}
    audit = (await client.get(f"/events/{event['id']}/audit", headers=ADMIN)).json()
    assert audit["ok"], audit["problems"]
    assert (audit["reserved"], audit["onHold"]) == (len(pg_reserved), 0)
