"""What a waiting crowd polls is answered from each worker's memory (ticketing/queue/waiting.py,
and the tokens it remembers, ticketing/auth/tokens.py), yet never says what is no longer
true: an admission, a leave through another server, a revoked token, a Redis that lost its
data are all seen within a fraction of a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, CustomerHandle, command_counts, make_customer, make_event
from ticketing.auth.tokens import hash_token
from ticketing.cache import ratelimit
from ticketing.cache.ratelimit import RateLimiter
from ticketing.holds.service import HoldService
from ticketing.queue.service import QueueService
from ticketing.settings import Rate

Client = AsyncTestClient[Any]
ROOM = {"enabled": True, "admitPerMinute": 6000, "opensBeforeSeconds": 3600}


def _calls(client: Client) -> dict[str, int]:
    """Valkey's own count of calls per command (scripts' calls included)."""
    redis = client.app.state.redis  # (the app's own client, on the app's loop)
    return command_counts(
        client.blocking_portal.call(
            redis.call, lambda c: c.custom_command(["INFO", "commandstats"])
        )
    )


async def _within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """How long until `check` holds; fails past `seconds`."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, f"not seen within {seconds} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@contextmanager
def _entry_reads(client: Client) -> Iterator[list[object]]:
    """Every read of a queue entry from Redis while the block runs."""
    holds: HoldService = client.app.state.holds
    asked: list[object] = []
    read_entry = holds.queue_entry

    async def counted(*args: Any) -> Any:
        asked.append(args)
        return await read_entry(*args)

    holds.queue_entry = counted  # type: ignore[method-assign]
    try:
        yield asked
    finally:
        del holds.queue_entry


async def _queue(client: Client, fans: int) -> tuple[str, list[tuple[str, Any]]]:
    # One fan a second, ten seats, and a fan may take all ten.
    room = {**ROOM, "admitPerMinute": 60}
    event = await make_event(client, numSeats=10, maxNumSeats=10, waitingRoom=room)
    joined = []
    for _ in range(fans):
        fan = await make_customer(client)
        made = await client.post(f"/events/{event['id']}/queue", headers=fan.headers)
        assert made.status_code == 201, made.text
        joined.append((made.json()["id"], fan))
    return event["id"], joined


async def test_a_waiting_fan_polls_from_memory_and_still_sees_its_turn_come(
    client: Client,
) -> None:
    event_id, fans = await _queue(client, fans=3)
    first, second = fans[0], fans[1]

    async def state(entry: tuple[str, CustomerHandle]) -> dict[str, Any]:
        read = await client.get(f"/queue/{entry[0]}", headers=entry[1].headers)
        assert read.status_code == 200, read.text
        found: dict[str, Any] = read.json()
        return found

    async def first_admitted() -> bool:
        return (await state(first))["state"] == "ADMITTED"

    await _within(5, first_admitted)
    # The first takes every seat (so nobody more is admitted while it holds them).
    hold = await client.post(
        f"/events/{event_id}/holds", json={"quantity": 10}, headers=first[1].headers
    )
    assert hold.status_code == 201, hold.text
    assert (await state(second))["ahead"] == 0  # (read once from Redis, now remembered)
    with _entry_reads(client) as asked:
        await asyncio.sleep(1.2)  # (longer than a token used to be remembered)
        before = _calls(client)
        for _ in range(100):
            seen = await state(second)
            assert (seen["state"], seen["position"], seen["ahead"]) == ("WAITING", 2, 0)
        after = _calls(client)
        assert asked == []  # no entry read from Redis: 100 polls from memory
        assert after.get("getex", 0) - before.get("getex", 0) == 0  # nor a token check
        bought = await client.post(
            f"/holds/{hold.json()['id']}/reservation", headers=first[1].headers
        )
        assert bought.status_code == 201, bought.text
        # Every seat is sold: nobody more is admitted, and those waiting read SOLD_OUT.

        async def sold_out() -> bool:
            return (await state(second))["state"] == "SOLD_OUT"

        assert await _within(1.5, sold_out) < 1.5
        # The box office cancels that sale: admission resumes, and memory follows.
        reservation = bought.json()["id"]
        cancelled = await client.delete(f"/reservations/{reservation}", headers=ADMIN)
        assert cancelled.status_code == 204, cancelled.text

        async def second_admitted() -> bool:
            return (await state(second))["state"] == "ADMITTED"

        await _within(5, second_admitted)
        assert len(asked) >= 1  # an entry the head has passed is read from Redis again


async def test_an_answer_from_memory_is_the_answer_redis_gives(client: Client) -> None:
    """Byte for byte, for a fan waiting and, once nothing is left, for one sold out."""
    event_id, fans = await _queue(client, fans=3)
    first, third = fans[0], fans[2]
    queue: QueueService = client.app.state.queue

    async def both_ways(entry_id: str, fan: CustomerHandle) -> tuple[bytes, bytes]:
        with _entry_reads(client) as asked:
            remembered = await client.get(f"/queue/{entry_id}", headers=fan.headers)
            assert asked == [], "not answered from memory"
            queue.waiting.forget(UUID(entry_id))
            read = await client.get(f"/queue/{entry_id}", headers=fan.headers)
            assert len(asked) == 1, "not read from Redis"
        assert remembered.status_code == read.status_code == 200
        return remembered.content, read.content

    async def first_admitted() -> bool:
        read = await client.get(f"/queue/{first[0]}", headers=first[1].headers)
        return bool(read.json()["state"] == "ADMITTED")

    await _within(5, first_admitted)
    # The first takes every seat: nobody more is admitted, so the third's place stays.
    hold = await client.post(
        f"/events/{event_id}/holds", json={"quantity": 10}, headers=first[1].headers
    )
    assert hold.status_code == 201, hold.text
    memory, redis = await both_ways(*third)
    assert memory == redis
    assert b'"state":"WAITING"' in memory
    bought = await client.post(f"/holds/{hold.json()['id']}/reservation", headers=first[1].headers)
    assert bought.status_code == 201, bought.text

    async def sold_out() -> bool:
        read = await client.get(f"/queue/{third[0]}", headers=third[1].headers)
        return bool(read.json()["state"] == "SOLD_OUT")

    await _within(3, sold_out)
    memory, redis = await both_ways(*third)
    assert memory == redis
    assert b'"state":"SOLD_OUT"' in memory


async def test_a_leave_or_a_revocation_through_another_server_is_seen_at_once(
    http: Any, http_too: Any
) -> None:
    room = {**ROOM, "admitPerMinute": 1}  # (nobody admitted for a minute)
    event = await make_event(http, numSeats=10, maxNumSeats=1, waitingRoom=room)
    fans = []
    for _ in range(3):
        headers = (await make_customer(http)).headers
        entry = (await http.post(f"/events/{event['id']}/queue", headers=headers)).json()
        fans.append((entry["id"], headers))
    leaver, revoked = fans[1], fans[2]
    for door in (http, http_too):  # both servers remember both waiting fans
        for entry_id, headers in (leaver, revoked):
            read = await door.get(f"/queue/{entry_id}", headers=headers)
            assert read.json()["state"] == "WAITING", read.text

    gone = await http_too.delete(f"/queue/{leaver[0]}", headers=leaver[1])
    assert gone.status_code == 204, gone.text

    async def left() -> bool:
        read = await http.get(f"/queue/{leaver[0]}", headers=leaver[1])
        return bool(read.json()["state"] != "WAITING")

    assert await _within(1.0, left) < 1.0

    signed_out = await http_too.delete("/sessions/current", headers=revoked[1])
    assert signed_out.status_code == 204, signed_out.text

    async def refused() -> bool:
        return bool((await http.get(f"/queue/{revoked[0]}", headers=revoked[1])).status_code == 401)

    assert await _within(1.0, refused) < 1.0


async def test_a_redis_that_lost_its_tokens_is_not_outlived_by_a_workers_memory(
    client: Client,
) -> None:
    fan = await make_customer(client)
    assert (await client.get(f"/customers/{fan.id}", headers=fan.headers)).status_code == 200
    # As after a Redis restart without its data: the token and the revocation log are gone.
    redis = client.app.state.redis
    keys = [f"tok:{hash_token(fan.token)}", "{tokrev}:log", "{tokrev}:n", "{tokrev}:born"]
    for key in keys:
        client.blocking_portal.call(redis.call, lambda c, k=key: c.delete([k]))

    async def refused() -> bool:
        read = await client.get(f"/customers/{fan.id}", headers=fan.headers)
        return bool(read.status_code == 401)

    assert await _within(1.0, refused) < 1.0


async def test_polls_are_limited_by_each_worker_without_asking_redis(client: Client) -> None:
    redis = client.app.state.redis
    limiter = RateLimiter(redis, {"polls": Rate(3, 60)}, local=frozenset({"polls"}))
    verdicts = [await limiter.hit("polls", "t:someone") for _ in range(4)]
    assert [v.allowed for v in verdicts if v is not None] == [True, True, True, False]
    assert verdicts[-1] is not None
    assert verdicts[-1].reset_seconds == 60
    # Other servers of the suite share this Redis and run scripts meanwhile, so its command
    # counts cannot tell; the counter key that a limiter asking Redis writes can.
    portal = client.blocking_portal  # (the app's own client, on the app's loop)

    def counted() -> Any:
        return portal.call(redis.call, lambda c: c.exists(["rl:polls:t:someone"]))

    assert counted() == 0
    shared = RateLimiter(redis, {"polls": Rate(3, 60)})
    assert portal.call(shared.hit, "polls", "t:someone") is not None
    assert counted() == 1
    assert (await limiter.hit("polls", "t:another")) is not None  # each subject its own


async def test_a_crowd_of_live_windows_stays_within_the_table(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More fans polling at once than the table holds: it stays bounded (a pass over it
    once per quarter of its size, not once per new fan), keeping the newest windows."""
    monkeypatch.setattr(ratelimit, "LEASES_MAX", 40)
    limiter = RateLimiter(
        client.app.state.redis, {"polls": Rate(3, 60)}, local=frozenset({"polls"})
    )
    most = 0
    for n in range(200):
        await limiter.hit("polls", f"t:fan{n}")
        most = max(most, limiter.subjects)
    assert most <= 40
    latest = await limiter.hit("polls", "t:fan199")
    assert latest is not None
    assert latest.count == 2  # (its window was kept: the second request in it)
