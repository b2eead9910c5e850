"""The hold engine: seat holds in Redis, one atomic script per step, per event.

Every key of an event shares the hash tag `{ev:<eventId>}` (named in keys.py, for Lua too),
so each step is one script on one shard, in cluster mode too. A hold attempt is one round
trip; it reads the event's mirror (seat ids, best-available order, reserved seats, each
customer's reserved count, maxNumSeats, seatHoldTime) rather than PostgreSQL, so an onsale
costs PostgreSQL only the seats actually sold. When the mirror is missing (first use, a
Redis restart or flush, an admin change) the attempt answers NO_MIRROR and the engine
rebuilds it from PostgreSQL before trying once more: a reserved seat is never offered.

A mirror is built once per event however many requests, workers and hosts find it missing
together: within a process they wait on one build, and across processes a short lock in
Redis lets one build while the others watch for the mirror to appear (`ensure_mirror`). The
service also builds it ahead of the first fan (`prepare`): when an event is created or
changed, and for every upcoming event that lacks one (after a Redis restart or flush).

Expiry is exact: scripts compare with the server's clock, release what is due before doing
anything else, and the sweeper releases the rest within its tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from glide import (
    Batch,
    ClusterBatch,
    ConditionalChange,
    ExpirySet,
    ExpiryType,
    GlideClusterClient,
    Script,
    UpdateOptions,
)

from ticketing.cache.redis import Redis
from ticketing.errors import AppError, DependencyUnavailable
from ticketing.holds.keys import (
    DUE,
    SWEEP_SET,
    EventKeys,
    channel,
    customer_holds_key,
    hold_key,
    lua_prelude,
    queue_entry_key,
    script_keys,
)
from ticketing.holds.models import (
    AddressLimit,
    Ended,
    EventStatus,
    EventUnknown,
    ExpiredHold,
    ExtendLimit,
    Fenced,
    FencedHold,
    HoldGone,
    HoldRecord,
    Inventory,
    LimitExceeded,
    LiveHold,
    MirrorSeat,
    MirrorSnapshot,
    NoneAvailable,
    NoQueue,
    NotAdmitted,
    NotOwner,
    PagedSeat,
    PlacedHold,
    QueueClosed,
    QueueCounts,
    QueueEntry,
    QueueHead,
    SalesClosed,
    SeatDetails,
    SeatsUnavailable,
    Swept,
    UnknownSeats,
)

log = logging.getLogger("ticketing.holds")

SCRIPTS = Path(__file__).parent / "scripts"
# The mirror format the scripts expect (_lib.lua says it once; `mirrored_many` reads it).
_FORMAT = re.search(r"local MIRROR_FORMAT = '(\w+)'", (SCRIPTS / "_lib.lua").read_text())
assert _FORMAT is not None
MIRROR_FORMAT = _FORMAT.group(1).encode()
FENCE_MS = 30_000  # a confirmation that has not settled by then is settled by the sweeper
# Builds of a missing mirror one step may make: an admin change drops the mirror twice (in
# its transaction and after it), which can refuse two builds under way, and a step that
# began with no mirror may see one more.
MIRROR_BUILDS = 4
EXPIRED_BATCH = 500  # expired holds a sweep hands on at most, per event
# How long a hold's index entries live: past its longest life (three hold times of at most
# an hour each) and a confirmation's fence.
INDEX_TTL_SECONDS = 3 * 3600 + 120
QUEUE_ENTRY_SECONDS = 7 * 86_400  # an entry id's event, for polls
QUEUE_ENTRY_TTL = ExpirySet(ExpiryType.SEC, QUEUE_ENTRY_SECONDS)

# A build of a mirror takes the event's build lock for at most this long; the others wait
# that long for the mirror, looking every BUILD_POLL_SECONDS, then try the lock themselves.
BUILD_LOCK_MS = 3000
BUILD_POLL_SECONDS = 0.02

SnapshotLoader = Callable[[UUID], Awaitable[MirrorSnapshot | None]]


@lru_cache(maxsize=4096)
def event_keys(event_id: UUID) -> EventKeys:
    return EventKeys.of(event_id)


@lru_cache(maxsize=4096)
def _script_keys(event_id: UUID) -> tuple[str, ...]:
    return tuple(script_keys(event_id))


def _load_scripts() -> dict[str, Script]:
    prelude = lua_prelude() + (SCRIPTS / "_lib.lua").read_text()
    return {
        path.stem: Script(prelude + "\n" + path.read_text())  # type: ignore[no-untyped-call]
        for path in sorted(SCRIPTS.glob("*.lua"))
        if not path.name.startswith("_")
    }


def _details(seat_id: str, packed: str) -> SeatDetails:
    seat = MirrorSeat.unpack(packed)
    return SeatDetails(
        seat_id,
        seat.section or None,
        seat.row or None,
        int(seat.number) if seat.number else None,
        seat.price,
        int(seat.version),
    )


def _text(values: Sequence[Any]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _ended(reply: list[str]) -> Ended | None:
    """{'OK', sequence, customer, seat...} -> Ended; a bare {'OK'} (nothing ended) -> None."""
    if len(reply) < 3:
        return None
    return Ended(int(reply[1]), reply[2], reply[3:])


def _hold_record(raw: str | bytes) -> HoldRecord:
    rec = json.loads(raw)
    return HoldRecord(rec["c"], list(rec["s"]), int(rec["t0"]), int(rec["t"]), rec.get("f") == 1)


def _expired(raw: str) -> ExpiredHold:
    rec = json.loads(raw)
    return ExpiredHold(rec["h"], rec["c"], list(rec["s"]), int(rec["t"]), int(rec.get("q", 0)))


class HoldEngine:
    """The scripts, run over one event's keys. Only the holds package uses it: the rest of
    the service asks `HoldService`."""

    def __init__(self, redis: Redis, load_snapshot: SnapshotLoader) -> None:
        self._redis = redis
        self._load_snapshot = load_snapshot
        self._scripts = _load_scripts()
        self.indexes_holds = not redis.cluster
        self._builds: dict[UUID, asyncio.Future[None]] = {}  # this process's builds under way
        self._background: set[asyncio.Future[None]] = set()
        self.builds_made = 0  # mirrors this process loaded (for tests and the bench)
        # Events this process swept, and when: all of them (for tests), and those where the
        # sweep found something going on (holds, or holds that had run out): the active ones.
        self.swept_at: dict[UUID, float] = {}
        self._busy_at: dict[UUID, float] = {}

    async def _run(
        self, name: str, event_id: UUID, *args: str, extra_keys: Sequence[str] = ()
    ) -> list[str]:
        script = self._scripts[name]
        keys: list[str | bytes] = [*_script_keys(event_id), *extra_keys]
        argv: list[str | bytes] = [channel(event_id), *args]
        reply = await self._redis.call(lambda c: c.invoke_script(script, keys=keys, args=argv))
        if isinstance(reply, list):
            return _text(reply)
        return [str(reply)]

    async def _with_mirror(
        self, event_id: UUID, name: str, *args: str, extra_keys: Sequence[str] = ()
    ) -> list[str]:
        for built in range(MIRROR_BUILDS + 1):
            reply = await self._run(name, event_id, *args, extra_keys=extra_keys)
            if reply[0] != "NO_MIRROR":
                return reply
            if built == MIRROR_BUILDS:
                break
            # (Again, when an admin change or a Redis restart dropped the mirror just after
            # it was built, or while it was being built.)
            await self.ensure_mirror(event_id)
        raise DependencyUnavailable(
            "redis", self._redis.retry_after, "The event changed while it was read; retry"
        )

    def _index(self, hold_id: UUID, customer_id: UUID, index: bool) -> tuple[str, list[str]]:
        """The hold script's index argument and keys: on one Redis (no cluster) the script
        also records the hold's event and owner, so a hold is one round trip."""
        if not (index and self.indexes_holds):
            return "0", []
        return str(INDEX_TTL_SECONDS), [hold_key(hold_id), customer_holds_key(customer_id), DUE]

    # --- the waiting room (scripts queue_*.lua, state in the event's slot) -----------------

    async def queue_configure(
        self, event_id: UUID, *, on: bool, rate: int, window_ms: int, opens_ms: int, start_ms: int
    ) -> None:
        await self._run(
            "queue_config", event_id, "1" if on else "0", str(rate), str(window_ms),
            str(opens_ms), str(start_ms),
        )  # fmt: skip

    async def queue_join(
        self, event_id: UUID, entry_id: UUID, customer_id: UUID, draw: int
    ) -> tuple[bool, QueueEntry]:
        """Join: (joined now, the entry), in one Redis call on one Redis once the event's
        mirror is built. Raises NoQueue (the event has no waiting room), SalesClosed (ended), or
        QueueClosed: not open yet (`opens`), or its settings are not in Redis (None)."""
        indexed = self.indexes_holds
        reply = await self._with_mirror(
            event_id, "queue_join", str(entry_id), str(customer_id), str(draw),
            str(QUEUE_ENTRY_SECONDS if indexed else 0),
            extra_keys=[queue_entry_key(entry_id)] if indexed else [],
        )  # fmt: skip
        if reply[0] == "OFF":
            raise NoQueue()
        if reply[0] == "CLOSED":
            raise SalesClosed(None, int(reply[1]))
        if reply[0] == "UNSET":
            raise QueueClosed(None)
        if reply[0] == "NOT_OPEN":
            raise QueueClosed(int(reply[1]))
        entry = _entry(str(customer_id), reply[1:])
        if not indexed or reply[0] != "OK":  # (else the script wrote the index)
            await self._redis.call(
                lambda c: c.set(
                    queue_entry_key(entry.entry_id), str(event_id), expiry=QUEUE_ENTRY_TTL
                )
            )
        return reply[0] == "OK", entry

    async def queue_event(self, entry_id: UUID) -> UUID | None:
        raw = await self._redis.call(lambda c: c.get(queue_entry_key(entry_id)))
        return UUID(raw.decode()) if raw else None

    async def queue_entry(self, event_id: UUID, entry_id: UUID) -> QueueEntry | None:
        reply = await self._run("queue_entry", event_id, str(entry_id))
        if reply[0] != "OK":
            return None
        return _entry(reply[1], reply[2:])

    async def queue_head(self, event_id: UUID, left_seen: int) -> QueueHead | None:
        """The room's head, and the entries that left since `left_seen`; None when off."""
        reply = await self._run("queue_head", event_id, str(left_seen))
        if reply[0] != "OK":
            return None
        return QueueHead(
            reply[1], int(reply[2]), reply[3] == "1", int(reply[4]), int(reply[5]),
            tuple(reply[6:]),
        )  # fmt: skip

    async def queue_leave(self, event_id: UUID, entry_id: UUID, customer_id: UUID) -> bool:
        """Leave; False when the entry is not this customer's (or gone)."""
        reply = await self._run("queue_leave", event_id, str(entry_id), str(customer_id))
        return reply[0] == "OK"

    async def queue_admit(self, event_id: UUID, tick_ms: int) -> tuple[int, int, bool]:
        """One admission step: (admitted now, still waiting, sold out)."""
        reply = await self._with_mirror(event_id, "queue_admit", str(tick_ms))
        if reply[0] == "OFF":
            return 0, 0, False
        return int(reply[1]), int(reply[2]), reply[3] == "1"

    async def queue_counts(self, event_id: UUID) -> QueueCounts:
        r = await self._run("queue_counts", event_id)
        return QueueCounts(
            r[0] == "1", int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
            int(r[7]), int(r[8]), r[9] == "1",
        )  # fmt: skip

    async def mirrored(self, event_id: UUID) -> bool:
        return (await self._run("mirrored", event_id))[0] == "1"

    async def mirrored_many(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these events have their mirror ready (as `mirrored` says), in one
        pipelined round trip rather than one per event."""
        if not event_ids:
            return set()
        metas = [event_keys(e).meta for e in event_ids]

        async def run(client: Any) -> list[Any]:
            batch: Batch | ClusterBatch = (
                ClusterBatch(is_atomic=False)
                if isinstance(client, GlideClusterClient)
                else Batch(is_atomic=False)
            )
            for key in metas:
                batch.hmget(key, ["registered", "format"])
            replies: list[Any] = await client.exec(batch, raise_on_error=True)
            return replies

        replies = await self._redis.call(run)
        return {
            e
            for e, reply in zip(event_ids, replies, strict=True)
            if reply and reply[0] == b"1" and reply[1] == MIRROR_FORMAT
        }

    async def ensure_mirror(self, event_id: UUID) -> None:
        """Have the event's mirror built, once however many ask at the same time: in this
        process every caller waits on one build; across processes the build lock lets one
        build while the others watch for the mirror. Returns when the mirror is there, or
        when a build came to nothing (the caller's next step finds out and asks again)."""
        pending = self._builds.get(event_id)
        if pending is None:
            pending = asyncio.ensure_future(self._build_or_wait(event_id))
            self._builds[event_id] = pending

            def done(future: asyncio.Future[None]) -> None:
                if self._builds.get(event_id) is future:
                    del self._builds[event_id]

            pending.add_done_callback(done)
        # (A caller that gives up does not cancel the build the others wait on.)
        await asyncio.shield(pending)

    async def _build_or_wait(self, event_id: UUID) -> None:
        keys = event_keys(event_id)
        token = secrets.token_hex(8)
        lock = ExpirySet(ExpiryType.MILLSEC, BUILD_LOCK_MS)
        for _ in range(2):
            taken = await self._redis.call(
                lambda c: c.set(
                    keys.building,
                    token,
                    conditional_set=ConditionalChange.ONLY_IF_DOES_NOT_EXIST,
                    expiry=lock,
                )
            )
            if taken is not None:
                try:
                    await self.build_mirror(event_id)
                finally:
                    with contextlib.suppress(AppError):  # (else the lock runs out by itself)
                        await self._run("unlock", event_id, token)
                return
            # Another process is building it: watch for the mirror, then, if its builder
            # died, try the lock again.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + BUILD_LOCK_MS / 1000
            while loop.time() < deadline:
                await asyncio.sleep(BUILD_POLL_SECONDS)
                if await self.mirrored(event_id):
                    return

    def prepare(self, event_id: UUID) -> None:
        """Build the event's mirror now, in the background, if it has none: so that the
        first fans find it ready. Failures are logged; the next step builds it anyway."""
        task = asyncio.ensure_future(self._prepare(event_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _prepare(self, event_id: UUID) -> None:
        try:
            if not await self.mirrored(event_id):
                await self.ensure_mirror(event_id)
        except EventUnknown:
            pass  # deleted meanwhile
        except AppError as exc:
            log.info("mirror of event %s not built ahead: %s", event_id, exc.detail)
        except Exception:
            log.exception("mirror of event %s not built ahead", event_id)

    async def build_mirror(self, event_id: UUID) -> None:
        """Load the event's mirror from PostgreSQL, then register it with the sweeper.

        The mirror counts as present only once registered, so a crash between the two
        steps leaves an event whose holds are still swept. Both steps are refused when the
        mirror was dropped (an admin change, a Redis restart) after this build read its
        generation, before it read PostgreSQL: the snapshot may hold the rows that change
        replaced. The caller's next attempt then finds no mirror and builds again.
        """
        keys = event_keys(event_id)
        raw = await self._redis.call(lambda c: c.get(keys.gen))
        generation = raw.decode() if raw is not None else "0"
        snapshot = await self._load_snapshot(event_id)
        if snapshot is None:
            raise EventUnknown(event_id)
        payload = json.dumps(
            {
                "seats": [part for seat in snapshot.seats for part in seat],
                "reserved": snapshot.reserved,
                "rescount": snapshot.reserved_by_customer,
            }
        )
        loaded = await self._run(
            "load",
            event_id,
            str(snapshot.max_num_seats),
            str(snapshot.seat_hold_time),
            "1" if snapshot.general_admission else "0",
            payload,
            generation,
            str(snapshot.starts_ms),
            "" if snapshot.sales_from_ms is None else str(snapshot.sales_from_ms),
            str(snapshot.sales_until_ms),
            "1" if snapshot.waiting_room else "0",
        )
        if loaded[0] == "-1":
            return  # dropped meanwhile: read again
        if loaded[0] == "1":
            self.builds_made += 1
        event = str(event_id)
        await self._redis.call(lambda c: c.sadd(SWEEP_SET, [event]))
        await self._run("register", event_id, generation)

    async def invalidate(
        self, event_id: UUID, *, seats_changed: bool = True, new_epoch: bool = False
    ) -> None:
        """Forget the mirror (not the holds) after a change in PostgreSQL; the next step
        rebuilds it. When the seats themselves changed, live readers start afresh now; with
        `new_epoch` (Redis went back in time) the change counter starts a new epoch too.
        """
        await self._run(
            "forget", event_id, "1" if seats_changed else "0", "1" if new_epoch else "0"
        )

    async def status(self, event_id: UUID) -> EventStatus:
        """Every seat's status at one sequence number (expired holds released first)."""
        reply = await self._with_mirror(event_id, "status")
        n = int(reply[3])
        at = 4
        seats = {reply[i]: reply[i + 1] for i in range(at, at + 2 * n, 2)}
        at += 2 * n
        m = int(reply[at])
        reserved = reply[at + 1 : at + 1 + m]
        at += 1 + m
        held = {reply[i]: int(reply[i + 1]) for i in range(at, len(reply) - 1, 2)}
        return EventStatus(reply[0], int(reply[1]), reply[2] == "1", seats, reserved, held)

    async def sequence(self, event_id: UUID) -> tuple[str, int]:
        """The event's change counter as (epoch, sequence): ('', 0) before its first change."""
        keys = event_keys(event_id)
        epoch, seq = await self._redis.call(lambda c: c.mget([keys.epoch, keys.seq]))
        return (epoch.decode() if epoch else "", int(seq) if seq else 0)

    async def hold_seats(
        self,
        event_id: UUID,
        customer_id: UUID,
        hold_id: UUID,
        seat_ids: list[str],
        *,
        index: bool = True,
        address: str = "",
        address_share: int = 0,
    ) -> PlacedHold:
        """Hold exactly `seat_ids`. With `address` (a client's address subject) and a share in
        percent, the seats held from that address stay within that share of the event."""
        ttl, keys = self._index(hold_id, customer_id, index)
        head = self._hold_head(hold_id, customer_id, ttl, address, address_share)
        reply = await self._with_mirror(event_id, "hold", *head, "ids", *seat_ids, extra_keys=keys)
        return self._placed(hold_id, reply)

    @staticmethod
    def _hold_head(
        hold_id: UUID, customer_id: UUID, ttl: str, address: str, address_share: int
    ) -> tuple[str, ...]:
        """hold.lua's ARGV 2..6, the same for both modes."""
        return (str(hold_id), str(customer_id), ttl, address, str(address_share))

    async def hold_best(
        self,
        event_id: UUID,
        customer_id: UUID,
        hold_id: UUID,
        quantity: int,
        section: str | None,
        adjacent: bool,
        *,
        address: str = "",
        address_share: int = 0,
    ) -> PlacedHold:
        ttl, keys = self._index(hold_id, customer_id, True)
        reply = await self._with_mirror(
            event_id,
            "hold",
            *self._hold_head(hold_id, customer_id, ttl, address, address_share),
            "best",
            str(quantity),
            section or "",
            "1" if adjacent else "0",
            extra_keys=keys,
        )
        return self._placed(hold_id, reply)

    @staticmethod
    def _placed(hold_id: UUID, reply: list[str]) -> PlacedHold:
        status = reply[0]
        if status == "OK":
            pairs = reply[4:]
            seats = [_details(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
            return PlacedHold(
                hold_id,
                [s.seat_id for s in seats],
                int(reply[1]),
                int(reply[2]),
                int(reply[3]),
                seats,
            )
        if status == "UNKNOWN":
            raise UnknownSeats(reply[1:])
        if status == "UNAVAILABLE":
            raise SeatsUnavailable(reply[1:])
        if status == "LIMIT":
            raise LimitExceeded(int(reply[1]), int(reply[2]), admitted_for=reply[3:] == ["1"])
        if status == "ADDRESS_LIMIT":
            raise AddressLimit(int(reply[1]), int(reply[2]))
        if status == "NONE":
            raise NoneAvailable()
        if status == "NOT_ADMITTED":
            raise NotAdmitted()
        if status == "CLOSED":
            raise SalesClosed(int(reply[1]) if reply[1] else None, int(reply[2]))
        raise EventUnknown(status)

    @staticmethod
    def _check(reply: list[str]) -> list[str]:
        status = reply[0]
        if status == "GONE":
            raise HoldGone()
        if status == "NOT_OWNER":
            raise NotOwner()
        if status == "FENCED":
            raise Fenced()
        return reply

    async def release(self, event_id: UUID, hold_id: UUID, customer_id: UUID | None) -> Ended:
        """Release a hold; `customer_id` None releases any customer's (admin)."""
        owner = "" if customer_id is None else str(customer_id)
        ended = _ended(self._check(await self._run("release", event_id, str(hold_id), owner)))
        assert ended is not None
        return ended

    async def extend(self, event_id: UUID, hold_id: UUID, customer_id: UUID) -> tuple[int, Ended]:
        """Push the expiry out: the new expiry (ms), and the change."""
        reply = self._check(await self._run("extend", event_id, str(hold_id), str(customer_id)))
        if reply[0] == "LIMIT":
            raise ExtendLimit(int(reply[1]))
        return int(reply[1]), Ended(int(reply[2]), str(customer_id), reply[3:])

    async def fence(
        self, event_id: UUID, hold_id: UUID, customer_id: UUID, fence_ms: int = FENCE_MS
    ) -> FencedHold:
        due = [DUE] if self.indexes_holds else []
        reply = self._check(
            await self._run(
                "fence", event_id, str(hold_id), str(customer_id), str(fence_ms), extra_keys=due
            )
        )
        if not due:  # (a cluster: the due index is in another slot)
            await self.due_at(event_id, int(reply[2]))
        record = json.loads(reply[1])
        return FencedHold(hold_id, record["c"], list(record["s"]), record["t0"], record["t"])

    async def confirmed(self, event_id: UUID, hold_id: UUID) -> Ended | None:
        """The reservation committed: clear the hold, mirror its seats as reserved. None when
        the hold was already settled."""
        reply = await self._run("confirm", event_id, str(hold_id))
        return None if reply[0] == "GONE" else _ended(reply)

    async def unfence(self, event_id: UUID, hold_id: UUID) -> None:
        """The reservation did not commit and may be retried while the hold lasts (which
        may end before the fence would have: the sweeper is told)."""
        reply = await self._run("unfence", event_id, str(hold_id))
        if reply[0] == "OK":
            await self.due_at(event_id, int(reply[1]))

    async def abandon(self, event_id: UUID, hold_id: UUID) -> Ended | None:
        """PostgreSQL refused the seats (already reserved): drop the hold and the mirror."""
        return _ended(await self._run("abandon", event_id, str(hold_id)))

    async def unreserved(self, event_id: UUID, customer_id: UUID, seat_ids: list[str]) -> int:
        """A reservation was cancelled in PostgreSQL: its seats are open again. Returns the
        change's sequence."""
        reply = await self._run("unreserve", event_id, str(customer_id), *seat_ids)
        return int(reply[1])

    async def record(self, event_id: UUID, hold_id: UUID) -> FencedHold | None:
        """A hold's stored record (whether or not it has expired), or None."""
        holds = event_keys(event_id).holds
        raw = await self._redis.call(lambda c: c.hget(holds, str(hold_id)))
        if raw is None:
            return None
        rec = json.loads(raw)
        return FencedHold(hold_id, rec["c"], list(rec["s"]), rec["t0"], rec["t"])

    async def on_hold(self, event_id: UUID) -> int:
        """Seats of the event on hold now."""
        return int((await self._run("onhold", event_id))[0])

    async def records(self, event_id: UUID, hold_ids: Sequence[str]) -> dict[str, HoldRecord]:
        """Some holds' stored records (whether or not they have expired), by hold id."""
        if not hold_ids:
            return {}
        holds, ids = event_keys(event_id).holds, list(hold_ids)
        raws = await self._redis.call(lambda c: c.hmget(holds, ids))
        return {
            hold_id: _hold_record(raw)
            for hold_id, raw in zip(ids, raws, strict=True)
            if raw is not None
        }

    async def inventory(self, event_id: UUID) -> Inventory:
        """Everything Redis holds of the event, read in one step and changed in none."""
        reply = await self._run("inventory", event_id)
        at = 3

        def take(per: int) -> list[str]:
            nonlocal at
            n = int(reply[at]) * per
            values = reply[at + 1 : at + 1 + n]
            at += 1 + n
            return values

        def pairs(values: list[str]) -> dict[str, str]:
            return dict(zip(values[::2], values[1::2], strict=True))

        reserved = set(take(1))
        held = pairs(take(2))
        holds = {hold_id: _hold_record(raw) for hold_id, raw in pairs(take(2)).items()}
        by_customer = {c: int(n) for c, n in pairs(take(2)).items()}
        return Inventory(
            now_ms=int(reply[0]),
            mirrored=reply[1] == "1",
            max_num_seats=int(reply[2]) if reply[2] else None,
            reserved=reserved,
            held=held,
            holds=holds,
            held_by_customer=by_customer,
            mirror_seats=pairs(take(2)),
            free={member.partition("\t")[0] for member in take(1)},
            open_at=set(take(1)),
            held_at=set(take(1)),
            placed=reply[at] == "1",
        )

    async def live_holds(
        self, event_id: UUID, seat_ids: Sequence[str] | None = None
    ) -> list[LiveHold]:
        """The live holds on the event's seats: on all of them (a cost that grows with the
        event's holds), or on `seat_ids` only (a cost that grows with those)."""
        if seat_ids is None:
            flat = await self._run("overlay", event_id)
        elif not seat_ids:
            return []
        else:
            flat = await self._run("held", event_id, *seat_ids)
        return [
            LiveHold(flat[i], flat[i + 1], flat[i + 2], int(flat[i + 3]))
            for i in range(0, len(flat) - 3, 4)
        ]

    async def seat_page(
        self, event_id: UUID, *, held: bool, section: str | None, after: int | None, count: int
    ) -> list[PagedSeat]:
        """At most `count` of the event's open seats, or of its held ones, after position
        `after` in the organiser's order, of one section or of all: one range read of the
        mirror's position indexes (seatpage.lua), whatever the event's seats and holds."""
        reply = await self._with_mirror(
            event_id,
            "seatpage",
            "held" if held else "open",
            "p" if section is None else f"s{section}",
            "" if after is None else str(after),
            str(count),
        )
        if not held:
            return [PagedSeat(reply[i], int(reply[i + 1]), None) for i in range(1, len(reply), 2)]
        return [
            PagedSeat(
                reply[i],
                int(reply[i + 1]),
                LiveHold(reply[i], reply[i + 2], reply[i + 3], int(reply[i + 4])),
            )
            for i in range(1, len(reply), 5)
        ]

    async def sweep(self, event_id: UUID, idle_ms: int = 0) -> Swept:
        """Release the event's expired holds now, and hand on the holds that ran out since
        the last acknowledged sweep (`acknowledge` them once delivered). With `idle_ms`, a
        mirror with no holds that no hold used for that long is let go. `gone` when the
        event has nothing left in Redis: it leaves the sweep once those are acknowledged.
        """
        for seen in (self.swept_at, self._busy_at):
            if len(seen) >= 10_000:
                seen.clear()
        now = time.monotonic()
        self.swept_at[event_id] = now
        reply = await self._run("sweep", event_id, str(EXPIRED_BATCH), str(idle_ms))
        n = int(reply[1])
        records = reply[2 : 2 + n]
        if n or reply[0] not in ("", "NO_MIRROR"):
            # (A pass over every event, which finds most with nothing to do, makes none of
            # them active: the audit follows what happens, not what was once sold.)
            self._busy_at[event_id] = now
        expired = [_expired(raw) for raw in records]
        if reply[0] == "NO_MIRROR":
            return Swept(None, expired, [], gone=True, records=records)
        next_ms = int(float(reply[0])) if reply[0] else None
        return Swept(next_ms, expired, reply[2 + n :], records=records)

    async def acknowledge(self, event_id: UUID, swept: Swept) -> None:
        """The expired holds of `swept` were delivered: remove them (new ones stay)."""
        if swept.records:
            await self._run("acknowledge", event_id, *swept.records)
        if swept.gone:
            event = str(event_id)
            await self._redis.call(lambda c: c.srem(SWEEP_SET, [event]))

    async def server_ms(self) -> int:
        """Redis's clock, which every script's expiry is on."""
        seconds, micros = await self._redis.call(lambda c: c.custom_command(["TIME"]))
        return int(seconds) * 1000 + int(micros) // 1000

    async def due_events(self, now_ms: int, limit: int) -> list[UUID]:
        """Events whose next hold has run out by `now_ms` (at most `limit` of them)."""
        members = await self._redis.call(
            lambda c: c.custom_command(
                ["ZRANGE", DUE, "-inf", str(now_ms), "BYSCORE", "LIMIT", "0", str(limit)]
            )
        )
        return [UUID(m.decode()) for m in members]

    async def undue(self, event_id: UUID) -> None:
        """The sweeper is about to look at the event: out of the due index until it knows
        the event's next expiry (a hold placed meanwhile puts it back)."""
        event = str(event_id)
        await self._redis.call(lambda c: c.zrem(DUE, [event]))

    async def due_at(self, event_id: UUID, at_ms: int) -> None:
        """The event has a hold that runs out at `at_ms`: due then, unless sooner already."""
        event = str(event_id)
        await self._redis.call(
            lambda c: c.zadd(DUE, {event: at_ms}, update_condition=UpdateOptions.LESS_THAN)
        )

    async def active_events(self, within_seconds: float) -> list[UUID]:
        """Events with holds now (in the due index), and those where this process's sweeps
        found holds within `within_seconds`: what has something going on, whatever the
        history."""
        members = await self._redis.call(lambda c: c.custom_command(["ZRANGE", DUE, "0", "9999"]))
        found = set()
        for member in members:  # (an event stays in the index a while after its last hold)
            event_id = UUID(member.decode())
            holds = event_keys(event_id).holds
            if await self._redis.call(lambda c, k=holds: c.hlen(k)):  # type: ignore[misc]
                found.add(event_id)
        since = time.monotonic() - within_seconds
        found.update(e for e, at in self._busy_at.items() if at >= since)
        return sorted(found)

    async def swept_events(self) -> list[UUID]:
        members = await self._redis.call(lambda c: c.smembers(SWEEP_SET))
        return [UUID(m.decode()) for m in members]


_STATES = {
    "W": "WAITING",
    "A": "ADMITTED",
    "D": "DONE",
    "E": "EXPIRED",
    "L": "DONE",
    "S": "SOLD_OUT",
}


def _entry(customer_id: str, view: list[str]) -> QueueEntry:
    """An entry from a script's view and its room (queue_view, with_room in _lib.lua)."""
    entry_id, state, place, ahead, until, joined, rate, room = view[:8]
    return QueueEntry(
        entry_id,
        customer_id,
        _STATES[state],
        int(place) if place else None,
        int(ahead) if ahead else None,
        int(until) if until != "0" else None,
        int(joined),
        int(rate),
        room,
    )
