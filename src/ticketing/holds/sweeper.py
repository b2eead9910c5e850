"""Releases expired holds within a tick, whichever process made them.

Every worker runs one; a short lease in Redis (`holds:sweeper`) lets one of them work at a
time, and another takes over within the lease when it dies. Each tick sweeps the events
that are due: those whose next hold (or confirmation's fence) has run out, found through
one index across events (`holds:due`, event -> its next expiry at the latest), so a
service that has sold thousands of events visits only the few with holds. In each, expired
holds are released and announced, the holds that ran out (in this sweep or in any script
since the last) become `expired` lifecycle events, and fenced holds whose fence ran out (a
confirmation that died) are settled against PostgreSQL.

The index is kept by the hold script (a new hold's expiry, if sooner) and by the sweeper: it
takes an event out before sweeping it and puts it back at its next expiry, so a hold placed
meanwhile, which puts the event back itself, is never missed. Every FULL_PASS_SECONDS the
sweeper also visits every event with a mirror or holds, in case a sweeper died between the
two steps.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from uuid import UUID

from glide import ConditionalChange, ExpirySet, ExpiryType

from ticketing.cache.redis import Redis
from ticketing.errors import AppError
from ticketing.holds.engine import HoldEngine
from ticketing.holds.keys import SWEEPER_LEASE
from ticketing.holds.lifecycle import Cause, HoldEvent, HoldEvents, Kind
from ticketing.holds.models import Swept

log = logging.getLogger("ticketing.sweeper")

LEASE_KEY = SWEEPER_LEASE
LEASE_MS = 2000
DUE_BATCH = 500  # due events swept per tick at most
FULL_PASS_SECONDS = 300.0
# While expired holds wait to be acknowledged, the event is due again this soon: a sweeper
# that dies before acknowledging them leaves them to the next one within a second.
REDELIVER_MS = 1000
# A mirror no hold has used for this long, with no hold left, is let go, and so is a past
# event's as soon as it has no hold (the next step rebuilds it, once): Redis keeps what is
# active, not every event ever sold. (The 200 soonest events are kept built by the warmer.)
MIRROR_IDLE_MS = 6 * 3600 * 1000


class Sweeper:
    def __init__(
        self,
        engine: HoldEngine,
        redis: Redis,
        events: HoldEvents,
        settle: Callable[[UUID, UUID], Awaitable[None]],
        interval: float = 0.25,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._events = events
        self._settle = settle
        self._interval = interval
        self._token = secrets.token_hex(8)
        self.leading = False  # whether this process swept at its last tick
        self._server_ids: str | None = None
        self._full_pass_at = float("-inf")  # loop time of the last visit to every event

    async def run(self) -> None:
        while True:
            try:
                self.leading = await self._lead()
                if self.leading:
                    await self._after_restart()
                    await self.sweep_all()
            except AppError as exc:
                log.debug("sweeper waiting: %s", exc.detail)
            except Exception:
                log.exception("sweeper tick failed")
            await asyncio.sleep(self._interval)

    async def _after_restart(self) -> None:
        """Redis restarted: what it reloaded from disk may miss its last writes (a
        reservation's seats, changes already counted and announced), so every event's
        mirror is rebuilt from PostgreSQL and its change counter starts a new epoch, which
        sends live readers a fresh snapshot."""
        ids = await self._redis.server_ids()
        if self._server_ids is not None and ids != self._server_ids:
            events = await self._engine.swept_events()
            log.warning("Redis restarted; rebuilding %d event mirrors from PostgreSQL", len(events))
            for event_id in events:
                await self._engine.invalidate(event_id, seats_changed=True, new_epoch=True)
        self._server_ids = ids

    async def _lead(self) -> bool:
        lease = ExpirySet(ExpiryType.MILLSEC, LEASE_MS)
        taken = await self._redis.call(
            lambda c: c.set(
                LEASE_KEY,
                self._token,
                conditional_set=ConditionalChange.ONLY_IF_DOES_NOT_EXIST,
                expiry=lease,
            )
        )
        if taken is not None:
            return True
        holder = await self._redis.call(lambda c: c.get(LEASE_KEY))
        if holder is not None and holder.decode() == self._token:
            await self._redis.call(lambda c: c.pexpire(LEASE_KEY, LEASE_MS))
            return True
        return False

    async def sweep_all(self) -> None:
        """The due events; every FULL_PASS_SECONDS (and first), every event with a mirror
        or holds."""
        now = asyncio.get_running_loop().time()
        if now - self._full_pass_at >= FULL_PASS_SECONDS:
            self._full_pass_at = now
            await self.sweep_every()
        else:
            await self.sweep_due()

    async def sweep_due(self) -> None:
        """The events whose next hold (or fence) has run out."""
        for event_id in await self._engine.due_events(await self._engine.server_ms(), DUE_BATCH):
            await self.sweep(event_id)

    async def sweep_every(self, idle_ms: int = MIRROR_IDLE_MS) -> None:
        """Every event with a mirror or holds in Redis, due or not; mirrors unused for
        `idle_ms` with no holds are let go."""
        for event_id in await self._engine.swept_events():
            await self.sweep(event_id, idle_ms)

    async def sweep(self, event_id: UUID, idle_ms: int = MIRROR_IDLE_MS) -> None:
        await self._engine.undue(event_id)
        swept = await self._engine.sweep(event_id, idle_ms)
        due = swept.next_expiry_ms
        if swept.records:  # (back in a second unless acknowledged by then)
            soon = await self._engine.server_ms() + REDELIVER_MS
            due = soon if due is None else min(due, soon)
        if due is not None:
            await self._engine.due_at(event_id, due)
        self._expired(event_id, swept)
        # Only now, every subscriber told, do the expired holds leave Redis.
        await self._engine.acknowledge(event_id, swept)
        for hold_id in swept.stale_fenced:
            await self._settle(event_id, UUID(hold_id))

    def _expired(self, event_id: UUID, swept: Swept) -> None:
        for hold in swept.expired:
            self._events.emit(
                HoldEvent(
                    kind=Kind.EXPIRED,
                    event_id=event_id,
                    hold_id=UUID(hold.hold_id),
                    customer_id=UUID(hold.customer_id),
                    seat_ids=tuple(hold.seat_ids),
                    at_ms=hold.expired_ms,
                    cause=Cause.TIMEOUT,
                    sequence=hold.sequence,
                )
            )
