"""Waiting-room rules: joining, reading one's place, leaving, the organiser's counts, and
the admitter that lets fans in.

The queue's state lives in Redis beside the event's holds (ticketing/holds/scripts/queue_*),
so that the hold script itself refuses a customer who is not admitted (NOT_ADMITTED) in its
one round trip. Its settings live in PostgreSQL with the event; the admitter writes them into
Redis again every second, so a Redis that lost them has them back.

One admitter runs at a time across every worker and host: the process that holds the
sweeper's lease (`leading`). Each tick (a quarter second) it admits, per open room, as many
fans as the rate, the open seats and the queue allow (queue_admit.lua).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from ticketing.auth.caller import Caller
from ticketing.db.database import Database
from ticketing.errors import AppError, Conflict, NotFound
from ticketing.holds import models as m
from ticketing.holds.service import HoldService
from ticketing.ids import prefix_of, scoped_id
from ticketing.queue import repository as queue_repo
from ticketing.queue.repository import Room
from ticketing.queue.schemas import QueueCounts, QueueEntry
from ticketing.queue.shown import shown
from ticketing.queue.waiting import WaitingFans
from ticketing.validation import instant, iso

log = logging.getLogger("ticketing.queue")

TICK_SECONDS = 0.25  # how often the admitter admits
REFRESH_SECONDS = 1.0  # how often it reads the open rooms from PostgreSQL, while there are
REFRESH_IDLE_SECONDS = 2.0  # ... and while there are none (the cost of a box office at rest)
ENTRIES_KEPT = 100_000  # entry id -> event id remembered per worker


def _ms(moment: datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp() * 1000)


def _no_queue() -> Conflict:
    return Conflict("This event has no waiting room: hold seats directly", code="NO_QUEUE")


def _sales_closed(closed_at: datetime) -> Conflict:
    return Conflict(
        f"Sales for this event closed at {iso(closed_at)}",
        code="SALES_CLOSED",
        salesEndAt=iso(closed_at),
    )


class QueueService:
    def __init__(self, db: Database, holds: HoldService) -> None:
        self._db = db
        self._holds = holds
        self._event_of: dict[UUID, UUID] = {}
        self._by_prefix: dict[str, UUID] = {}  # an open room's id prefix -> its id
        self._prefixes_read = -REFRESH_IDLE_SECONDS
        self.waiting = WaitingFans(holds)
        self.admitted = 0  # admissions this process made (for tests and the bench)

    async def _room(self, event_id: UUID) -> Room:
        async with self._db.connection() as conn:
            room = await queue_repo.room(conn, event_id)
        if room is None:
            raise NotFound.of("event", event_id)
        return room

    async def configure(self, room: Room) -> None:
        start = _ms(room.sales_start_at)
        await self._holds.queue_configure(
            room.event_id,
            on=room.enabled,
            rate=room.admit_per_minute,
            window_ms=room.admission_seconds * 1000,
            opens_ms=max(0, start - room.opens_before_seconds * 1000) if start else 0,
            start_ms=start,
        )

    async def join(self, event_id: UUID, caller: Caller) -> tuple[QueueEntry, bool]:
        """The caller's entry, and whether it joined now (one entry per customer and event)."""
        customer_id = caller.require_customer()
        # One Redis call: whether the event has a room and when its sales end are its
        # mirror's (built from PostgreSQL, and again after every change of the event); the
        # room's own settings are read from PostgreSQL only when Redis has lost them.
        # (A worker that has never seen the entry finds its event among the open rooms it
        # knows, with no Redis call.)
        entry_id = scoped_id(event_id)
        room: Room | None = None
        while True:
            try:
                made, entry = await self._holds.queue_join(
                    event_id, entry_id, customer_id, secrets.randbits(52)
                )
                break
            except m.EventUnknown:
                raise NotFound.of("event", event_id) from None
            except m.NoQueue:
                raise _no_queue() from None
            except m.SalesClosed as ended:
                raise _sales_closed(instant(ended.closes_ms)) from None
            except m.QueueClosed as closed:
                if closed.opens is None and room is None:  # (Redis lost the room's settings)
                    room = await self._room(event_id)
                    if not room.enabled:  # (turned off just now)
                        raise _no_queue() from None
                    if room.sales_end_at <= datetime.now(UTC):
                        raise _sales_closed(room.sales_end_at) from None
                    await self.configure(room)
                    continue
                opens = iso(instant(closed.opens or _ms(room.sales_start_at if room else None)))
                raise Conflict(
                    f"The waiting room opens at {opens}", code="QUEUE_NOT_OPEN", opensAt=opens
                ) from None
        self._remember(UUID(entry.entry_id), event_id)
        self.waiting.remember(event_id, entry)  # (its first poll here is then from memory)
        return shown(event_id, entry), made

    def _remember(self, entry_id: UUID, event_id: UUID) -> None:
        if len(self._event_of) >= ENTRIES_KEPT:
            self._event_of.clear()
        self._event_of[entry_id] = event_id

    async def _event_by_prefix(self, entry_id: UUID) -> UUID | None:
        """The open room whose id begins as `entry_id` does (ticketing.ids), from the rooms
        this worker knows, read again from PostgreSQL at most every REFRESH_IDLE_SECONDS."""
        prefix = prefix_of(entry_id)
        found = self._by_prefix.get(prefix)
        if found is None and time.monotonic() - self._prefixes_read >= REFRESH_IDLE_SECONDS:
            self._prefixes_read = time.monotonic()
            async with self._db.connection() as conn:
                rooms = await queue_repo.open_rooms(conn)
            self._by_prefix = {prefix_of(r.event_id): r.event_id for r in rooms}
            found = self._by_prefix.get(prefix)
        return found

    async def _found(self, entry_id: UUID) -> tuple[UUID, m.QueueEntry]:
        """An entry and its event: one Redis call while its room is open (the entry id names
        the event), else through the entry's index first."""
        guess = self._event_of.get(entry_id) or await self._event_by_prefix(entry_id)
        entry = None if guess is None else await self._holds.queue_entry(guess, entry_id)
        if guess is not None and entry is not None:
            event_id = guess
        else:
            indexed = await self._holds.queue_event(entry_id)
            if indexed is None:
                raise NotFound.of("queue entry", entry_id)
            event_id = indexed
            entry = await self._holds.queue_entry(event_id, entry_id)
            if entry is None:
                raise NotFound.of("queue entry", entry_id)
        self._remember(entry_id, event_id)
        return event_id, entry

    async def get(self, entry_id: UUID, caller: Caller) -> QueueEntry:
        """One entry (owner, admin): a waiting fan's from memory (WaitingFans), any other's
        in one Redis call once this worker knows its event."""
        known = await self.waiting.read(entry_id)
        if known is not None:
            customer_id, answer = known
            caller.require_owner_or_admin(customer_id, "queue entry", entry_id)
            return answer
        event_id, entry = await self._found(entry_id)
        self.waiting.remember(event_id, entry)
        caller.require_owner_or_admin(UUID(entry.customer_id), "queue entry", entry_id)
        return shown(event_id, entry)

    async def leave(self, entry_id: UUID, caller: Caller) -> None:
        customer_id = caller.require_customer()
        event_id, entry = await self._found(entry_id)
        caller.require_owner_or_admin(UUID(entry.customer_id), "queue entry", entry_id)
        self.waiting.forget(entry_id)
        await self._holds.queue_leave(event_id, entry_id, customer_id)

    async def counts(self, event_id: UUID, caller: Caller) -> QueueCounts:
        caller.require_admin()
        room = await self._room(event_id)
        found = await self._holds.queue_counts(event_id)
        return QueueCounts(
            event_id=event_id,
            enabled=room.enabled,
            admit_per_minute=room.admit_per_minute,
            joined=found.joined,
            waiting=found.waiting,
            admitted=found.admitted,
            done=found.done,
            expired=found.expired,
            left=found.left,
            sold_out=found.sold_out,
            next_position=found.next_place,
        )

    # --- the admitter ---------------------------------------------------------------------

    async def admit_once(self, rooms: list[Room]) -> int:
        """One tick over the open rooms: the fans admitted."""
        now = datetime.now(UTC)
        made = 0
        for room in rooms:
            if room.sales_start_at is not None and room.sales_start_at > now:
                continue
            try:
                admitted, _, _ = await self._holds.queue_admit(
                    room.event_id, int(TICK_SECONDS * 1000)
                )
            except (AppError, m.EventUnknown) as exc:
                log.warning("could not admit for %s: %s", room.event_id, exc)
                continue
            made += admitted
        self.admitted += made
        return made

    async def run(self, leading: Callable[[], bool]) -> None:
        """Admit in the leading process, a few times a second, for as long as it runs."""
        rooms: list[Room] = []
        refreshed = -REFRESH_IDLE_SECONDS
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if not leading():
                continue
            try:
                every = REFRESH_SECONDS if rooms else REFRESH_IDLE_SECONDS
                if time.monotonic() - refreshed >= every:
                    async with self._db.connection() as conn:
                        rooms = await queue_repo.open_rooms(conn)
                    for room in rooms:
                        await self.configure(room)
                    refreshed = time.monotonic()
                if rooms:
                    await self.admit_once(rooms)
            except AppError as exc:  # a dependency away: the next tick tries again
                log.warning("admitter paused: %s", exc)
