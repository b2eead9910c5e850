"""The inventory audit: one event's seats as PostgreSQL and Redis say them, compared.

It is the oracle of every invariant a fan can see: a seat reserved in PostgreSQL is never
holdable, a seat is in at most one live hold and one live reservation, a hold names only
seats that exist and leaves when it runs out, a customer holds and reserves at most
maxNumSeats (after an admin lowers it that can happen legitimately: it is reported, never
fixed), and the counts add up.

Redis is read first, in one script, then PostgreSQL: a confirmation under way is fenced in
Redis before its commit, so its seats are known as being confirmed whatever the commit does
meanwhile. Changes land between the two reads all the same (a cancellation's commit before
its Redis step, say), so problems found are looked for once more a moment later, and only
those found both times are reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from ticketing.audit import repository as audit_repo
from ticketing.audit.repository import EventInventory
from ticketing.audit.schemas import AuditProblem, InventoryAudit
from ticketing.db.database import Database
from ticketing.errors import AppError, NotFound
from ticketing.holds.models import Inventory, MirrorSeat
from ticketing.holds.service import HoldService
from ticketing.observe import metrics

log = logging.getLogger("ticketing.audit")

# How long past its expiry a hold may still be in Redis: the sweeper's tick, and a margin.
EXPIRY_GRACE_MS = 2_000
RECHECK_SECONDS = 0.2
BACKGROUND_SECONDS = 30.0
# Events the background audit checks per pass at most, the least recently checked first: a
# service with thousands of events on sale at once checks each in turn, at a bounded cost.
BACKGROUND_BUDGET = 20

CODES = (
    "RESERVED_BUT_HOLDABLE",  # reserved in PostgreSQL, open to holds in the mirror
    "MIRROR_RESERVED_BUT_OPEN",  # open in PostgreSQL, refused to holds by the mirror
    "HOLD_ON_RESERVED_SEAT",  # a live hold (not being confirmed) on a reserved seat
    "SEAT_IN_TWO_HOLDS",
    "SEAT_IN_TWO_RESERVATIONS",
    "HOLD_UNKNOWN_SEAT",  # a hold names a seat that is not the event's
    "EXPIRED_HOLD_VISIBLE",  # a hold past its expiry (and the sweeper's tick) still there
    "CUSTOMER_OVER_LIMIT",
    "HOLD_INDEX_MISMATCH",  # the held-seat and held-count indexes disagree with the holds
    "MIRROR_STALE",  # the mirror's seats, prices or versions are not PostgreSQL's
    "COUNTS_MISMATCH",  # numSeats is not the number of the event's seats
    "FREE_INDEX_WRONG",  # best available's free index is not the open, unheld seats
    "POSITION_INDEX_WRONG",  # the open or held seats' position index is not those seats
)


def _uuid(value: str | None) -> UUID | None:
    try:
        return None if value is None else UUID(value)
    except ValueError:
        return None


class _Found:
    def __init__(self) -> None:
        self.problems: list[AuditProblem] = []

    def add(
        self,
        code: str,
        detail: str,
        *,
        seat: str | None = None,
        hold: str | None = None,
        customer: str | None = None,
    ) -> None:
        self.problems.append(
            AuditProblem(
                code=code,
                detail=detail,
                seat_id=_uuid(seat),
                hold_id=_uuid(hold),
                customer_id=_uuid(customer),
            )
        )


def _places(redis: Inventory, seat_ids: set[str]) -> set[str]:
    """The members `seat_ids` should have in a position index (keys.py, `openat`)."""
    members = set()
    for seat_id in seat_ids:
        seat = MirrorSeat.unpack(redis.mirror_seats[seat_id])
        at = f"{seat.position:010d}\t{seat_id}"
        members |= {f"p\t{at}", f"s{seat.section}\t{at}"}
    return members


def _key(problem: AuditProblem) -> tuple[object, ...]:
    return (problem.code, problem.seat_id, problem.hold_id, problem.customer_id)


def compare(
    event_id: UUID, pg: EventInventory, redis: Inventory
) -> tuple[InventoryAudit, list[AuditProblem]]:
    """The audit of one pair of reads (Redis, then PostgreSQL)."""
    found = _Found()
    now = redis.now_ms
    seats = pg.seats
    # Holds that count: not run out, or being confirmed (a fence outlives the hold's time).
    live = {h: r for h, r in redis.holds.items() if r.fenced or r.expires_ms > now}
    for hold_id, rec in redis.holds.items():
        if not rec.fenced and rec.expires_ms + EXPIRY_GRACE_MS <= now:
            found.add(
                "EXPIRED_HOLD_VISIBLE",
                f"ran out {now - rec.expires_ms} ms ago and is still in Redis",
                hold=hold_id,
                customer=rec.customer_id,
            )
    holders: dict[str, list[str]] = {}
    held_count: Counter[str] = Counter()
    for hold_id, rec in live.items():
        held_count[rec.customer_id] += len(rec.seat_ids)
        for seat in rec.seat_ids:
            holders.setdefault(seat, []).append(hold_id)
            if seat not in seats:
                found.add(
                    "HOLD_UNKNOWN_SEAT",
                    "the hold names a seat the event does not have",
                    seat=seat,
                    hold=hold_id,
                    customer=rec.customer_id,
                )
    for seat, holds in holders.items():
        if len(holds) > 1:
            found.add("SEAT_IN_TWO_HOLDS", f"in holds {', '.join(sorted(holds))}", seat=seat)
        if redis.held.get(seat) not in holds and not redis.holds[holds[0]].fenced:
            found.add(
                "HOLD_INDEX_MISMATCH",
                "the seat is in a hold the held-seat index does not name",
                seat=seat,
                hold=holds[0],
            )
    for seat, hold_id in redis.held.items():
        owner = redis.holds.get(hold_id)
        if owner is None:
            found.add(
                "HOLD_INDEX_MISMATCH", "held by a hold that does not exist", seat=seat, hold=hold_id
            )
        elif seat not in owner.seat_ids:
            found.add(
                "HOLD_INDEX_MISMATCH",
                "held by a hold that does not name it",
                seat=seat,
                hold=hold_id,
            )
    all_held: Counter[str] = Counter()
    for rec in redis.holds.values():
        all_held[rec.customer_id] += len(rec.seat_ids)
    for customer in set(all_held) | set(redis.held_by_customer):
        if all_held[customer] != redis.held_by_customer.get(customer, 0):
            found.add(
                "HOLD_INDEX_MISMATCH",
                f"counted as holding {redis.held_by_customer.get(customer, 0)} seats,"
                f" holds {all_held[customer]}",
                customer=customer,
            )
    for seat in pg.twice_reserved:
        found.add("SEAT_IN_TWO_RESERVATIONS", "in two live reservations", seat=seat)

    reserved_by: Counter[str] = Counter()
    reserved = on_hold = 0
    confirming = {s for r in live.values() if r.fenced for s in r.seat_ids}
    for seat_id, row in seats.items():
        if row.status == "RESERVED":
            reserved += 1
            if row.customer_id is not None:
                reserved_by[str(row.customer_id)] += 1
            if redis.mirrored and seat_id not in redis.reserved and seat_id not in confirming:
                found.add(
                    "RESERVED_BUT_HOLDABLE",
                    "reserved in PostgreSQL, not in the mirror",
                    seat=seat_id,
                    customer=str(row.customer_id),
                )
            for hold_id in holders.get(seat_id, ()):
                if not live[hold_id].fenced:
                    found.add(
                        "HOLD_ON_RESERVED_SEAT",
                        "a live hold on a seat PostgreSQL has reserved",
                        seat=seat_id,
                        hold=hold_id,
                        customer=live[hold_id].customer_id,
                    )
        else:
            if seat_id in holders:
                on_hold += 1
            if redis.mirrored and seat_id in redis.reserved:
                found.add(
                    "MIRROR_RESERVED_BUT_OPEN",
                    "open in PostgreSQL, reserved in the mirror",
                    seat=seat_id,
                )
    for customer in set(held_count) | set(reserved_by):
        total = held_count[customer] + reserved_by[customer]
        if total > pg.max_num_seats:
            found.add(
                "CUSTOMER_OVER_LIMIT",
                f"holds {held_count[customer]} and has reserved {reserved_by[customer]} seats;"
                f" maxNumSeats is {pg.max_num_seats}",
                customer=customer,
            )
    if redis.mirrored:
        for seat_id, row in seats.items():
            packed = redis.mirror_seats.get(seat_id)
            if packed is None:
                found.add("MIRROR_STALE", "a seat of the event is not in the mirror", seat=seat_id)
                continue
            _, _, _, price, version, _ = MirrorSeat.unpack(packed)
            # A sale moves a seat's version and the mirror only marks it reserved (a hold
            # never shows a reserved seat, and a cancellation rebuilds the mirror): the
            # version is compared only while the seat is open.
            if price != row.price or (row.status == "OPEN" and version != row.version):
                found.add(
                    "MIRROR_STALE",
                    f"the mirror has price {price} (version {version}), PostgreSQL {row.price}"
                    f" (version {row.version})",
                    seat=seat_id,
                )
        for seat_id in redis.mirror_seats.keys() - seats.keys():
            found.add("MIRROR_STALE", "the mirror has a seat the event does not", seat=seat_id)
        # Best available offers exactly the free index: it must be the mirror's seats that
        # are neither reserved nor held.
        should_be_free = redis.mirror_seats.keys() - redis.reserved - redis.held.keys()
        for seat_id in redis.free - should_be_free:
            found.add(
                "FREE_INDEX_WRONG", "offered by best available, but held or reserved", seat=seat_id
            )
        for seat_id in should_be_free - redis.free:
            found.add("FREE_INDEX_WRONG", "open, but never offered by best available", seat=seat_id)
        # Pages of open and of held seats read the position indexes (once built): each must
        # have the seats of its kind, each at its place and in its section.
        held = redis.held.keys() & redis.mirror_seats.keys()
        for kind, members, ought in (
            ("open", redis.open_at, _places(redis, should_be_free) if redis.placed else set()),
            ("held", redis.held_at, _places(redis, held) if redis.placed else set()),
        ):
            for member in members ^ ought:
                found.add(
                    "POSITION_INDEX_WRONG",
                    f"the index of {kind} seats has {member!r}"
                    if member in members
                    else f"the index of {kind} seats lacks {member!r}",
                    seat=member.rpartition("\t")[2],
                )
    if pg.num_seats != len(seats):
        found.add(
            "COUNTS_MISMATCH", f"numSeats is {pg.num_seats}; the event has {len(seats)} seats"
        )
    audit = InventoryAudit(
        event_id=event_id,
        checked_at=datetime.fromtimestamp(now / 1000, UTC),
        ok=not found.problems,
        num_seats=pg.num_seats,
        open=pg.num_seats - on_hold - reserved,
        on_hold=on_hold,
        reserved=reserved,
        problems=found.problems,
    )
    return audit, found.problems


class AuditService:
    def __init__(self, db: Database, holds: HoldService) -> None:
        self._db = db
        self._holds = holds
        self._checked_at: dict[UUID, float] = {}  # active events: when last audited
        self._found: dict[UUID, Counter[str]] = {}  # ...and what that audit found

    async def _once(self, event_id: UUID) -> InventoryAudit:
        redis = await self._holds.inventory(event_id)
        async with self._db.connection() as conn:
            pg = await audit_repo.event_inventory(conn, event_id)
        if pg is None:
            raise NotFound.of("event", event_id)
        return compare(event_id, pg, redis)[0]

    async def audit(self, event_id: UUID) -> InventoryAudit:
        first = await self._once(event_id)
        if first.ok:
            return first
        await asyncio.sleep(RECHECK_SECONDS)
        second = await self._once(event_id)
        seen = {_key(p) for p in first.problems}
        second.problems = [p for p in second.problems if _key(p) in seen]
        second.ok = not second.problems
        return second

    def last_audited(self, event_id: UUID) -> float | None:
        """When the background audit last checked the event (loop time), if it is active."""
        return self._checked_at.get(event_id)

    async def audit_active(self, budget: int | None = None) -> Counter[str]:
        """Audit the active events (holds now, or swept within the last minutes: not every
        event the service ever sold), at most `budget` of them, the least recently audited
        first. Returns the problems by code that the latest audit of each active event
        found, also set in the `ticketing_audit_problems` gauge."""
        active = await self._holds.active_events()
        for gone in self._checked_at.keys() - set(active):
            del self._checked_at[gone]
            self._found.pop(gone, None)
        chosen = sorted(active, key=lambda e: self._checked_at.get(e, float("-inf")))
        for event_id in chosen if budget is None else chosen[:budget]:
            try:
                result = await self.audit(event_id)
            except NotFound:
                continue  # deleted meanwhile
            self._checked_at[event_id] = asyncio.get_running_loop().time()
            self._found[event_id] = Counter(p.code for p in result.problems)
            for problem in result.problems:
                log.warning("audit of event %s: %s %s", event_id, problem.code, problem.detail)
        found: Counter[str] = Counter()
        for counted in self._found.values():
            found.update(counted)
        for code in CODES:
            metrics.AUDIT_PROBLEMS.labels(code).set(found[code])
        return found

    async def run(self, leading: Callable[[], bool], interval: float = BACKGROUND_SECONDS) -> None:
        """The background audit, in the process that sweeps (one at a time across hosts)."""
        while True:
            await asyncio.sleep(interval)
            if not leading():
                continue
            try:
                await self.audit_active(BACKGROUND_BUDGET)
            except AppError as exc:
                log.debug("background audit waiting: %s", exc.detail)
            except Exception:
                log.exception("background audit failed")
