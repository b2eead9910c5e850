"""The hold engine: seat holds in Redis, one atomic script per step, per event.

Every key of an event shares the hash tag `{ev:<eventId>}` (layout in scripts/_lib.lua),
so each step is one script on one shard, in cluster mode too. A hold attempt is one round
trip; it reads the event's mirror (seat ids, best-available order, reserved seats, each
customer's reserved count, maxNumSeats, seatHoldTime) rather than PostgreSQL, so an onsale
costs PostgreSQL only the seats actually sold. When the mirror is missing (first use, a
Redis restart or flush, an admin change) the attempt answers NO_MIRROR and the engine
rebuilds it from PostgreSQL before trying once more: a reserved seat is never offered.

Expiry is exact: scripts compare with the server's clock, release what is due before doing
anything else, and the sweeper releases the rest within its tick.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from glide import Script

from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable

SCRIPTS = Path(__file__).parent / "scripts"
SWEEP_SET = "holds:events"
FENCE_MS = 30_000  # a confirmation that has not settled by then is settled by the sweeper


def tag(event_id: UUID) -> str:
    return f"{{ev:{event_id}}}"


MIRROR_ATTEMPTS = 3


def event_keys(event_id: UUID) -> list[str]:
    t = tag(event_id)
    return [
        f"{t}:{name}"
        for name in (
            "meta",
            "seats",
            "order",
            "reserved",
            "rescount",
            "held",
            "expiry",
            "custheld",
            "holds",
            "seq",
            "epoch",
            "expired",
        )
    ]


def channel(event_id: UUID) -> str:
    return f"{tag(event_id)}:changes"


def _load_scripts() -> dict[str, Script]:
    prelude = (SCRIPTS / "_lib.lua").read_text()
    return {
        path.stem: Script(prelude + "\n" + path.read_text())  # type: ignore[no-untyped-call]
        for path in sorted(SCRIPTS.glob("*.lua"))
        if not path.name.startswith("_")
    }


@dataclass(frozen=True, slots=True)
class MirrorSnapshot:
    """What a hold needs to know of an event, read from PostgreSQL."""

    max_num_seats: int
    seat_hold_time: int
    general_admission: bool
    # (id, section, row, number, price, version) in best-available order: cheapest first,
    # then front to back. Empty strings stand for the nulls of general admission.
    seats: list[tuple[str, str, str, str, str, str]]
    reserved: list[str]
    reserved_by_customer: dict[str, int]


SnapshotLoader = Callable[[UUID], Awaitable[MirrorSnapshot | None]]


@dataclass(frozen=True, slots=True)
class EventStatus:
    """Every seat of an event at one point of its change sequence."""

    epoch: str  # changes when the sequence starts again (Redis lost the event's state)
    sequence: int
    general_admission: bool
    seats: dict[str, str]  # seat id -> "section\trow\tnumber\tprice\tversion"
    reserved: list[str]
    held: dict[str, int]  # seat id -> hold expiry, ms since the epoch


# Outcomes a caller must handle. They carry data, not HTTP: the service decides the answer.
class HoldRefused(Exception):
    """Base of the reasons a hold attempt holds nothing."""


class EventUnknown(HoldRefused):
    pass


class UnknownSeats(HoldRefused):
    def __init__(self, seat_ids: list[str]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


class SeatsUnavailable(HoldRefused):
    def __init__(self, seat_ids: list[str]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


class LimitExceeded(HoldRefused):
    def __init__(self, already: int, maximum: int) -> None:
        super().__init__(already, maximum)
        self.already = already
        self.maximum = maximum


class NoneAvailable(HoldRefused):
    """Best available found no seats (or no adjacent run) that fit."""


class HoldGone(Exception):
    """The hold expired, was released or confirmed, or never existed."""


class NotOwner(Exception):
    pass


class Fenced(Exception):
    """The hold is being confirmed."""


class ExtendLimit(Exception):
    def __init__(self, latest_ms: int) -> None:
        super().__init__(latest_ms)
        self.latest_ms = latest_ms


@dataclass(frozen=True, slots=True)
class SeatDetails:
    """A held seat as the mirror knows it, enough to answer without PostgreSQL."""

    seat_id: str
    section: str | None
    row: str | None
    seat_number: int | None
    price: str
    version: int


# Scripts after which readers see the same seats: nothing for caches to drop. (A hold tells
# them itself, and only when it was placed; the sweeper's expiries are seen by the clock.)
_UNSEEN = frozenset({"status", "overlay", "sweep", "fence", "unfence", "hold"})
# How long a hold's index entries live: past its longest life (three hold times of at most
# an hour each) and a confirmation's fence.
INDEX_TTL_SECONDS = 3 * 3600 + 120


def hold_key(hold_id: UUID | str) -> str:
    """hold id -> its event id (for /holds/{id})."""
    return f"hold:{hold_id}"


def customer_holds_key(customer_id: UUID | str) -> str:
    """A customer's holds, as `eventId/holdId` members (for seatsOnHold)."""
    return f"cholds:{customer_id}"


@dataclass(frozen=True, slots=True)
class PlacedHold:
    hold_id: UUID
    seat_ids: list[str]
    expires_ms: int
    created_ms: int
    seats: list[SeatDetails]


def _details(seat_id: str, packed: str) -> SeatDetails:
    section, row, number, price, version = packed.split("\t")
    return SeatDetails(
        seat_id, section or None, row or None, int(number) if number else None, price, int(version)
    )


@dataclass(frozen=True, slots=True)
class Swept:
    next_expiry_ms: int | None
    stale_fenced: list[str]  # holds whose confirmation died mid-way, for PostgreSQL to settle


@dataclass(frozen=True, slots=True)
class FencedHold:
    """A hold's record: its customer, seats and times."""

    hold_id: UUID
    customer_id: str
    seat_ids: list[str]
    created_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class LiveHold:
    seat_id: str
    hold_id: str
    customer_id: str
    expires_ms: int


def _text(values: Sequence[Any]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


class HoldEngine:
    def __init__(self, redis: Redis, load_snapshot: SnapshotLoader) -> None:
        self._redis = redis
        self._load_snapshot = load_snapshot
        self._scripts = _load_scripts()
        self.indexes_holds = not redis.cluster
        # Told the event of every script that may have changed it, in this process: caches
        # of what readers see drop the event's entries at once instead of at their expiry.
        self.on_change: list[Callable[[UUID], None]] = []
        # Told how many holds ran out, each time a sweep counts some (for the metrics).
        self.on_expired: list[Callable[[int], None]] = []

    async def _run(
        self, name: str, event_id: UUID, *args: str, extra_keys: Sequence[str] = ()
    ) -> list[str]:
        script = self._scripts[name]
        keys: list[str | bytes] = [*event_keys(event_id), *extra_keys]
        argv: list[str | bytes] = [channel(event_id), *args]
        reply = await self._redis.call(lambda c: c.invoke_script(script, keys=keys, args=argv))
        if name not in _UNSEEN:
            self._changed(event_id)
        if isinstance(reply, list):
            return _text(reply)
        return [str(reply)]

    async def _with_mirror(
        self, event_id: UUID, name: str, *args: str, extra_keys: Sequence[str] = ()
    ) -> list[str]:
        for _ in range(MIRROR_ATTEMPTS):
            reply = await self._run(name, event_id, *args, extra_keys=extra_keys)
            if reply[0] != "NO_MIRROR":
                return reply
            # (Again, when an admin change or a Redis restart dropped the mirror just after
            # it was built.)
            await self.build_mirror(event_id)
        raise DependencyUnavailable(
            "redis", self._redis.retry_after, "The event changed while it was read; retry"
        )

    def _changed(self, event_id: UUID) -> None:
        for listener in self.on_change:
            listener(event_id)

    def _index(self, hold_id: UUID, customer_id: UUID, index: bool) -> tuple[str, list[str]]:
        """The hold script's index argument and keys: on one Redis (no cluster) the script
        also records the hold's event and owner, so a hold is one round trip."""
        if not (index and self.indexes_holds):
            return "0", []
        return str(INDEX_TTL_SECONDS), [hold_key(hold_id), customer_holds_key(customer_id)]

    async def build_mirror(self, event_id: UUID) -> None:
        """Load the event's mirror from PostgreSQL, then register it with the sweeper.

        The mirror counts as present only once registered, so a crash between the two
        steps leaves an event whose holds are still swept.
        """
        snapshot = await self._load_snapshot(event_id)
        if snapshot is None:
            raise EventUnknown(event_id)
        payload = json.dumps(
            {
                "seats": snapshot.seats,
                "reserved": snapshot.reserved,
                "rescount": snapshot.reserved_by_customer,
            }
        )
        await self._run(
            "load",
            event_id,
            str(snapshot.max_num_seats),
            str(snapshot.seat_hold_time),
            "1" if snapshot.general_admission else "0",
            payload,
        )
        event = str(event_id)
        await self._redis.call(lambda c: c.sadd(SWEEP_SET, [event]))
        meta = event_keys(event_id)[0]
        await self._redis.call(lambda c: c.hset(meta, {"registered": "1"}))

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

    async def hold_seats(
        self,
        event_id: UUID,
        customer_id: UUID,
        hold_id: UUID,
        seat_ids: list[str],
        *,
        index: bool = True,
    ) -> PlacedHold:
        ttl, keys = self._index(hold_id, customer_id, index)
        reply = await self._with_mirror(
            event_id, "hold", str(hold_id), str(customer_id), ttl, "ids", *seat_ids, extra_keys=keys
        )
        return self._placed(event_id, hold_id, reply)

    async def hold_best(
        self,
        event_id: UUID,
        customer_id: UUID,
        hold_id: UUID,
        quantity: int,
        section: str | None,
        adjacent: bool,
    ) -> PlacedHold:
        ttl, keys = self._index(hold_id, customer_id, True)
        reply = await self._with_mirror(
            event_id,
            "hold",
            str(hold_id),
            str(customer_id),
            ttl,
            "best",
            str(quantity),
            section or "",
            "1" if adjacent else "0",
            extra_keys=keys,
        )
        return self._placed(event_id, hold_id, reply)

    def _placed(self, event_id: UUID, hold_id: UUID, reply: list[str]) -> PlacedHold:
        status = reply[0]
        if status == "OK":
            self._changed(event_id)
            pairs = reply[3:]
            seats = [_details(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
            return PlacedHold(
                hold_id, [s.seat_id for s in seats], int(reply[1]), int(reply[2]), seats
            )
        if status == "UNKNOWN":
            raise UnknownSeats(reply[1:])
        if status == "UNAVAILABLE":
            raise SeatsUnavailable(reply[1:])
        if status == "LIMIT":
            raise LimitExceeded(int(reply[1]), int(reply[2]))
        if status == "NONE":
            raise NoneAvailable()
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

    async def release(self, event_id: UUID, hold_id: UUID, customer_id: UUID | None) -> list[str]:
        """Release a hold; `customer_id` None releases any customer's (admin)."""
        owner = "" if customer_id is None else str(customer_id)
        return self._check(await self._run("release", event_id, str(hold_id), owner))[1:]

    async def extend(self, event_id: UUID, hold_id: UUID, customer_id: UUID) -> int:
        reply = self._check(await self._run("extend", event_id, str(hold_id), str(customer_id)))
        if reply[0] == "LIMIT":
            raise ExtendLimit(int(reply[1]))
        return int(reply[1])

    async def fence(
        self, event_id: UUID, hold_id: UUID, customer_id: UUID, fence_ms: int = FENCE_MS
    ) -> FencedHold:
        reply = self._check(
            await self._run("fence", event_id, str(hold_id), str(customer_id), str(fence_ms))
        )
        record = json.loads(reply[1])
        return FencedHold(hold_id, record["c"], list(record["s"]), record["t0"], record["t"])

    async def confirmed(self, event_id: UUID, hold_id: UUID) -> None:
        """The reservation committed: clear the hold, mirror its seats as reserved."""
        await self._run("confirm", event_id, str(hold_id))

    async def unfence(self, event_id: UUID, hold_id: UUID) -> None:
        """The reservation did not commit and may be retried while the hold lasts."""
        await self._run("unfence", event_id, str(hold_id))

    async def abandon(self, event_id: UUID, hold_id: UUID) -> None:
        """PostgreSQL refused the seats (already reserved): drop the hold and the mirror."""
        await self._run("abandon", event_id, str(hold_id))

    async def unreserved(self, event_id: UUID, customer_id: UUID, seat_ids: list[str]) -> None:
        """A reservation was cancelled in PostgreSQL: its seats are open again."""
        await self._run("unreserve", event_id, str(customer_id), *seat_ids)

    async def record(self, event_id: UUID, hold_id: UUID) -> FencedHold | None:
        """A hold's stored record (whether or not it has expired), or None."""
        holds = event_keys(event_id)[8]
        raw = await self._redis.call(lambda c: c.hget(holds, str(hold_id)))
        if raw is None:
            return None
        rec = json.loads(raw)
        return FencedHold(hold_id, rec["c"], list(rec["s"]), rec["t0"], rec["t"])

    async def live_holds(self, event_id: UUID) -> list[LiveHold]:
        flat = await self._run("overlay", event_id)
        return [
            LiveHold(flat[i], flat[i + 1], flat[i + 2], int(flat[i + 3]))
            for i in range(0, len(flat) - 3, 4)
        ]

    async def sweep(self, event_id: UUID) -> Swept | None:
        """Release the event's expired holds now, and count the holds that ran out since the
        last sweep. None when the event has nothing left in Redis and leaves the sweep.
        """
        reply = await self._run("sweep", event_id)
        expired = int(reply[1]) if len(reply) > 1 else 0
        if expired:
            for listener in self.on_expired:
                listener(expired)
        if reply[0] == "NO_MIRROR":
            event = str(event_id)
            await self._redis.call(lambda c: c.srem(SWEEP_SET, [event]))
            return None
        return Swept(int(float(reply[0])) if reply[0] else None, reply[2:])

    async def swept_events(self) -> list[UUID]:
        members = await self._redis.call(lambda c: c.smembers(SWEEP_SET))
        return [UUID(m.decode()) for m in members]
