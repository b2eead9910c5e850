"""Waiting fans' places answered from memory: what a crowd polls costs no Redis call each.

Once the sales have started, a waiting entry changes only in ways its room's head shows:

- its place (its rank in `qorder`) never changes, since everyone who joins later queues
  behind;
- it stays WAITING until the admitter's head reaches its place (then it is admitted, or
  passed over if it had left), and reads SOLD_OUT while the room's flag says so;
- leaving is logged in the room (`qleft`);
- a room whose state Redis lost, or whose start the organiser moved, has another `room`
  value ("born:start"), and its entries are forgotten.

So each worker remembers the waiting entries it has read from Redis, and per room the head
as Redis had it at most FRESH_SECONDS ago: one call per room and worker a quarter second,
and only while someone polls that room. An entry the head has reached, one that left, one
from another state of its room, and every read while the head cannot be fetched, goes to
Redis as before (so a Redis that is away still answers 503, never an old place).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import msgspec

from ticketing.errors import AppError
from ticketing.holds import models as m
from ticketing.holds.service import HoldService
from ticketing.queue.schemas import QueueEntry
from ticketing.queue.shown import SOLD_OUT_POLL_SECONDS, shown, waiting_poll_after

FRESH_SECONDS = 0.25  # a place answered from memory is at most this old (one admitter tick)
IDLE_SECONDS = 60.0  # a room nobody polled for this long is forgotten
ENTRIES_KEPT = 200_000  # waiting entries remembered per worker; forgotten all at once past it
ROOMS_KEPT = 1_000


@dataclass(frozen=True, slots=True)
class _Waiting:
    """An entry read from Redis, WAITING or SOLD_OUT with its place, kept as it is shown
    (so that a poll parses and converts nothing: only its state and `ahead` change)."""

    event_id: UUID
    customer_id: UUID
    rank: int  # its place - 1: the head's count of fans admitted or passed before it
    room: str
    answer: QueueEntry


@dataclass(slots=True)
class _Head:
    head: m.QueueHead
    fetched: float  # monotonic
    used: float


class WaitingFans:
    def __init__(self, holds: HoldService, *, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._holds = holds
        self._fresh = fresh_seconds
        self._entries: dict[UUID, _Waiting] = {}
        self._heads: dict[UUID, _Head] = {}
        self._fetching: dict[UUID, asyncio.Future[m.QueueHead | None]] = {}

    def remember(self, event_id: UUID, entry: m.QueueEntry) -> None:
        """Keep an entry just read from Redis, if memory can answer for it from now on."""
        entry_id = UUID(entry.entry_id)
        if entry.state not in ("WAITING", "SOLD_OUT") or entry.place is None or not entry.room:
            self._entries.pop(entry_id, None)
            return
        if len(self._entries) >= ENTRIES_KEPT:
            self._entries.clear()
        self._entries[entry_id] = _Waiting(
            event_id, UUID(entry.customer_id), entry.place - 1, entry.room, shown(event_id, entry)
        )

    def forget(self, entry_id: UUID) -> None:
        self._entries.pop(entry_id, None)

    async def read(self, entry_id: UUID) -> tuple[UUID, QueueEntry] | None:
        """The entry's customer and the entry as it is now, from memory; None when Redis
        must be asked."""
        known = self._entries.get(entry_id)
        if known is None:
            return None
        head = await self._head(known.event_id)
        known = self._entries.get(entry_id)  # (a leave may have come with the head)
        if known is None or head is None:
            return None
        if head.room != known.room or known.rank < head.head:
            self._entries.pop(entry_id, None)
            return None
        ahead = known.rank - head.head
        if head.sold_out:
            state, poll = "SOLD_OUT", SOLD_OUT_POLL_SECONDS
        else:
            state, poll = "WAITING", waiting_poll_after(ahead, head.rate)
        answer = msgspec.structs.replace(
            known.answer, state=state, ahead=ahead, poll_after_seconds=poll
        )
        return known.customer_id, answer

    async def _head(self, event_id: UUID) -> m.QueueHead | None:
        now = time.monotonic()
        held = self._heads.get(event_id)
        if held is not None and now - held.fetched <= self._fresh:
            held.used = now
            return held.head
        pending = self._fetching.get(event_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[m.QueueHead | None] = asyncio.get_running_loop().create_future()
        self._fetching[event_id] = future
        try:
            head = await self._fetch(event_id, held)
            future.set_result(head)
            return head
        finally:
            del self._fetching[event_id]
            if not future.done():
                future.set_result(None)

    async def _fetch(self, event_id: UUID, held: _Head | None) -> m.QueueHead | None:
        seen = 0 if held is None else held.head.left
        try:
            head = await self._holds.queue_head(event_id, seen)
        except (AppError, m.EventUnknown):
            return None  # (the read goes to Redis, which answers or refuses as it should)
        if head is None:
            self._heads.pop(event_id, None)
            return None
        for gone in head.left_now:
            self._entries.pop(UUID(gone), None)
        now = time.monotonic()
        if held is None and len(self._heads) >= ROOMS_KEPT:
            self._heads = {e: h for e, h in self._heads.items() if now - h.used < IDLE_SECONDS}
            if len(self._heads) >= ROOMS_KEPT:  # (all polled lately: each is one call again)
                self._heads.clear()
        self._heads[event_id] = _Head(head, now, now)
        return head
