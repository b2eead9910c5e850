"""Confirmations that arrive together are committed together.

At an onsale's peak, confirmations come faster than PostgreSQL commits them one by one: each
is a round trip, a transaction and a commit, and the commit's share is a third of what a
confirmation costs there (docs/benchmarks.md, scenario c). So each process keeps at most
FLIGHTS calls in flight; a confirmation that arrives while they are all busy waits for the
next one to end and goes with every other that waited meanwhile, up to MOST, as one call of
reserve_holds() (migration 0005). A confirmation that finds a call free goes at once, alone:
nothing waits for a batch to fill, so a quiet event's confirmations are as fast as before.

What stays true:

- each confirmation is decided exactly as alone: reserve_hold_checked() runs for it, and
  checks everything before it writes, so one refused (a seat taken, the limit) has written
  nothing and the others commit; each sees what those before it in the call wrote (one
  customer's two holds are counted together);
- an answer is given only after the commit that holds it;
- the items of a call lock their customers in one order (by id), so two calls never wait
  for each other in a cycle; should PostgreSQL refuse a whole call anyway (a deadlock with
  another writer, a hold confirmed twice), its items are sent again one by one;
- a request cancelled before its call is sent is left out; one cancelled after is committed
  or not as the call goes, and the sweeper settles its fenced hold either way (as before).

MOST keeps a call's locks and its wait short. One call in flight per process did
best at 64 connections on two workers (1,030-1,240 confirmations a second, against 720-990
with two, four or eight, and a lower p99): more calls in flight are more calls of fewer
confirmations each.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import asyncpg

from ticketing.db.database import Database
from ticketing.observe import metrics
from ticketing.reservations import repository as reservations_repo
from ticketing.reservations.repository import Reserved, ReserveItem, ReserveRefused

log = logging.getLogger("ticketing.reservations")

MOST = 32  # confirmations per call
FLIGHTS = 1  # calls in flight per process (every core runs a worker: one each is enough)

_Waiting = tuple[ReserveItem, "asyncio.Future[Reserved | ReserveRefused]"]


class Confirmations:
    def __init__(self, db: Database, *, most: int = MOST, flights: int = FLIGHTS) -> None:
        self._db = db
        self._most = most
        self._flights = flights
        self._flying = 0
        self._queued: deque[_Waiting] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0  # calls of PostgreSQL, and the confirmations sent (for the tests)
        self.sent = 0

    async def reserve(self, item: ReserveItem) -> Reserved:
        """Commit one confirmation: its reservation and seats, or ReserveRefused (nothing of
        it written)."""
        future: asyncio.Future[Reserved | ReserveRefused] = (
            asyncio.get_running_loop().create_future()
        )
        self._queued.append((item, future))
        if self._flying < self._flights:
            self._launch()
        answer = await future
        if isinstance(answer, ReserveRefused):
            raise answer
        return answer

    def _launch(self) -> None:
        batch: list[_Waiting] = []
        while self._queued and len(batch) < self._most:
            waiting = self._queued.popleft()
            if not waiting[1].done():  # (its request was cancelled before it was sent)
                batch.append(waiting)
        if not batch:
            return
        self._flying += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Waiting]) -> None:
        try:
            batch.sort(key=lambda w: w[0].customer_id)  # (one lock order for every call)
            self.sent += len(batch)
            if len(batch) > 1:
                try:
                    self._called()
                    async with self._db.connection() as conn:
                        answers = await reservations_repo.reserve_holds(
                            conn, [item for item, _ in batch]
                        )
                except asyncpg.PostgresError as exc:  # (nothing of it committed)
                    log.warning(
                        "a call of %d confirmations was refused whole (%s: %s); sending each"
                        " alone", len(batch), type(exc).__name__, exc,
                    )  # fmt: skip
                except Exception as exc:  # (PostgreSQL away: every item is answered so)
                    for _, future in batch:
                        _settle(future, exc)
                    return
                else:
                    for (_, future), answer in zip(batch, answers, strict=True):
                        _settle(future, answer)
                    return
            for item, future in batch:
                try:
                    answer = await self._one(item)
                except Exception as exc:
                    _settle(future, exc)
                else:
                    _settle(future, answer)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self._flying -= 1
            if self._queued:
                self._launch()

    def _called(self) -> None:
        self.calls += 1
        metrics.CONFIRM_CALLS.inc()

    async def _one(self, item: ReserveItem) -> Reserved | ReserveRefused:
        self._called()
        try:
            async with self._db.connection() as conn:
                return await reservations_repo.reserve_hold(conn, item)
        except asyncpg.UniqueViolationError:
            return ReserveRefused("UNIQUE", None)


def _settle(
    future: asyncio.Future[Reserved | ReserveRefused], answer: Reserved | ReserveRefused | Exception
) -> None:
    if future.done():  # (its request was cancelled meanwhile)
        return
    if isinstance(answer, Exception) and not isinstance(answer, ReserveRefused):
        future.set_exception(answer)
    else:
        future.set_result(answer)
