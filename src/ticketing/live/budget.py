"""Open streams are a bounded resource with a budget of their own.

A stream holds a connection for as long as it is open. Left unbounded, anonymous streams
alone fill the server's connection cap and nobody else (not even a health probe) gets in.
So a stream is opened only within three bounds, and closed after a maximum lifetime:

- each worker serves at most `stream_budget` streams (a quarter of its connections by
  default): past it, 503 with `Retry-After`, and the other requests still get through;
- each client address (its IPv6 /64) and each customer may have a few open on all servers
  together (counted in Redis, `ticketing.cache.slots`): past it, 429 with `Retry-After`;
- a stream ends after `stream_max_seconds` (spread by up to a tenth, so that a crowd that
  arrived together does not reconnect together); the client reconnects with
  `Last-Event-ID` and loses nothing.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from ticketing.cache.redis import Redis
from ticketing.cache.slots import Slots
from ticketing.errors import AppError, RateLimited
from ticketing.observe import metrics

LEASE_SLACK_MS = 30_000  # a slot outlives its stream's longest life by this much


class StreamsFull(AppError):
    status = 503
    code = "STREAMS_FULL"
    title = "No stream can be opened on this server now"

    def __init__(self, retry_after: int) -> None:
        super().__init__("This server has as many open streams as it serves; retry shortly")
        self.headers["Retry-After"] = str(retry_after)


@dataclass(slots=True)
class Ticket:
    """One open stream's place: its slots, and when it must end (loop time)."""

    held: list[tuple[str, str]]  # (subject, slot id) taken in Redis
    ends_at: float
    closed: bool = False


class StreamBudget:
    def __init__(
        self,
        redis: Redis,
        *,
        per_worker: int,
        per_address: int,
        per_customer: int,
        max_seconds: float,
        retry_after: int,
    ) -> None:
        self._slots = Slots(redis, "streams")
        self._per_worker = per_worker
        self._per_address = per_address
        self._per_customer = per_customer
        self._max_seconds = max_seconds
        self._lease_ms = int(max_seconds * 1000) + LEASE_SLACK_MS
        self._retry_after = retry_after
        self._open = 0
        self._giving_back: set[asyncio.Task[None]] = set()

    @property
    def open(self) -> int:
        return self._open

    async def open_stream(self, address: str, customer_id: object | None) -> Ticket:
        """A ticket for one stream, or StreamsFull / RateLimited; give it back with `close`.
        `address` is the client's as limits count it (`auth.guards.caller_address`)."""
        if self._open >= self._per_worker:
            metrics.RATE_LIMITED.labels("streams_open").inc()
            raise StreamsFull(self._retry_after)
        self._open += 1  # counted before any await, so a crowd cannot overshoot the budget
        ticket = Ticket([], 0.0)
        try:
            wanted = [(address, self._per_address, "address")]
            if customer_id is not None:
                wanted.append((f"c:{customer_id}", self._per_customer, "customer"))
            for subject, limit, whose in wanted:
                slot = await self._slots.take(subject, limit, self._lease_ms)
                if slot is None:
                    metrics.RATE_LIMITED.labels("streams_open").inc()
                    raise RateLimited(
                        f"At most {limit} streams may be open at once per {whose}; close one "
                        "or retry later",
                        self._retry_after,
                    )
                ticket.held.append((subject, slot))
        except BaseException:
            self.close(ticket)
            raise
        life = self._max_seconds * (1 - 0.1 * random.random())  # noqa: S311 (spread, not secrecy)
        ticket.ends_at = asyncio.get_running_loop().time() + life
        return ticket

    def close(self, ticket: Ticket) -> None:
        """Give a stream's place back (from a generator's `finally`: nothing awaited here)."""
        if ticket.closed:
            return
        ticket.closed = True
        self._open -= 1
        held, ticket.held = ticket.held, []
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # collected outside the loop: the slots' leases end by themselves
        for subject, slot in held:
            task = loop.create_task(self._slots.give_back(subject, slot))
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)
