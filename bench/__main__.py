"""`make bench`: the service under load, next to the floor, with correctness read back.

    python -m bench [--workers N] [--seconds 8] [--rounds 3] [--only a,w,s,c,p,r,k,h,b,d,e]

Starts PostgreSQL and Redis (embedded, or DATABASE_URL and REDIS_URL), the service with
Granian's workers and the floor (bench/floor.py) beside it, makes its own events and
customers, drives both with wrk (bench/wrk/*.lua) and prints per scenario requests/s,
p50/p99/p99.9 latency, status counts and a verdict read back from PostgreSQL and Redis.
Scenarios:

  a  hold burst: 256 connections, distinct seat pairs, real customer tokens; the floor and
     the service take turns, --rounds times, and each round gives the ratio
  w  the same burst with 1,000 stream subscribers on one of its events
  s  the hold burst with one worker and with --workers, to show how workers scale
  b  contended onsale: 2,000 customers on one 1,000-seat event, explicit and best available
  c  confirms of the holds the burst made, and the PostgreSQL floor: the same confirmation
     SQL from a bare asyncpg loop at the same concurrency
  p  one-seat holds through the seed's PATCH route, against one-seat floor holds (turns)
  r  the reads a fan repeats (open count, one seat, availability, a seat page) on an event
     with 300 live holds, against the floor's bare read (turns)
  k  the first seconds of a burst over 100 events never touched before, against the same
     burst over warm events: new events, and events whose mirrors were lost (turns)
  h  hot events in a row, each through its sell-out and beyond: half best available, half
     explicit pairs, at 64 and 256 connections, against the spread burst of (a)
  d  reads of a 1,000-seat event: seat list, availability, open count
  e  a mixed flow: browse, hold, extend, then confirm or release
  q  a waiting room of --crowd (20,000) fans: joins, then the position reads they repeat,
     against the floor's bare read, while admitted fans hold and buy
  i  a box office with a past: a second stack beside the first, with --history (3,000)
     past events of 1,000 seats written in; idle CPU and memory of every process, and the
     onsale scenarios (warm and cold bursts, hot events, a fan's reads) on both in turns

Every line gives CPU milliseconds per request: the service's process tree, PostgreSQL and
Redis, read from /proc before and after (wrk's own left out), so a gain shows as work saved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from glide import Batch, ClusterBatch, GlideClusterClient, RangeByIndex

from bench.profile import profiled, top
from bench.service import (
    Server,
    Stack,
    cpu_parts,
    cpu_seconds,
    cpu_spent,
    idle_cost,
    resident_mb,
    running,
    serve,
    worker_pids,
)
from ticketing.cache.redis import Redis
from ticketing.db.database import NoResetConnection
from ticketing.holds import repository
from ticketing.holds.engine import HoldEngine, event_keys
from ticketing.holds.lifecycle import HoldEvents
from ticketing.holds.models import MirrorSnapshot
from ticketing.holds.sweeper import Sweeper

_ALL = RangeByIndex(0, -1)

HERE = Path(__file__).resolve().parent
WRK = HERE / "wrk"
BURST_CONNECTIONS = 256


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50: float  # ms
    p99: float
    p999: float
    statuses: dict[str, int]
    socket_errors: int
    wrapped: int
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # service tree, PostgreSQL and Redis, while wrk ran
    cpu_split: dict[str, float] = field(default_factory=dict)  # the same, by part

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request (whole process tree, databases included)."""
        return 1000 * self.cpu_seconds / self.requests if self.requests else 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        extra = f" wrapped:{self.wrapped}" if self.wrapped else ""
        errors = f" socket-errors:{self.socket_errors}" if self.socket_errors else ""
        cpu = f"  cpu {self.cpu_ms:5.2f} ms/req" if self.cpu_seconds else ""
        line = (
            f"{self.name:<34} {self.rate:>9,.0f}/s  p50 {self.p50:6.2f}  p99 {self.p99:7.2f}"
            f"  p99.9 {self.p999:7.2f} ms{cpu}  [{statuses}{errors}{extra}]"
        )
        if self.cpu_split and self.requests:
            parts = ", ".join(
                f"{name} {1000 * t / self.requests:.2f}"
                for name, t in sorted(self.cpu_split.items())
            )
            line += f"\n{'':>35}cpu ms/req by part: {parts}"
        return line


def wrk(
    url: str, script: str, args: Iterable[str], *, connections: int, threads: int, seconds: float
) -> dict[str, Any]:
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(WRK / script), url, "--", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = done.stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return parsed
    raise RuntimeError(f"wrk printed no result:\n{out}")


def drive(
    server: Server, name: str, script: str, args: Iterable[str], *, connections: int,
    threads: int = 2, seconds: float,
) -> Result:  # fmt: skip
    """wrk against `server`, with the CPU the server, PostgreSQL and Redis spent meanwhile."""
    before = cpu_seconds(server)
    raw = wrk(server.base_url, script, args, connections=connections, threads=threads,
              seconds=seconds)  # fmt: skip
    res = result(name, raw)
    after = cpu_seconds(server)
    res.cpu_seconds = cpu_spent(before, after)
    res.cpu_split = cpu_parts(server, before, after)
    return res


def result(name: str, raw: dict[str, Any]) -> Result:
    return Result(
        name,
        raw["requests"],
        raw["seconds"],
        raw["p50"] / 1000,
        raw["p99"] / 1000,
        raw["p999"] / 1000,
        raw["statuses"],
        raw["socket_errors"],
        raw["wrapped"],
    )


def write_lines(path: Path, lines: Iterable[tuple[str, str, str, str]]) -> Path:
    with path.open("w") as out:
        for method, target, token, body in lines:
            out.write(f"{method}\t{target}\t{token}\t{body}\n")
    return path


# --- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    id: str
    token: str


Lines = list[tuple[str, str, str, str]]  # (method, target, token, body) for replay.lua


@dataclass(frozen=True)
class Side:
    """One of the two box offices scenario (i) sets side by side."""

    label: str
    stack: Stack
    server: Server
    customers: list[Customer]


class Data:
    """Events and customers made through the API, seat ids read from PostgreSQL."""

    def __init__(self, stack: Stack, base: str) -> None:
        self.stack = stack
        self.base = base
        self.admin = {"Authorization": f"Bearer {stack.admin_token}"}

    async def events(self, n: int, **fields: Any) -> list[str]:
        body = {
            "eventName": "Onsale",
            "eventDateTimeStamp": "2027-09-01T19:00:00Z",
            "numSeats": 1000,
            "maxNumSeats": 1000,
            "seatHoldTime": 3600,
            **fields,
        }
        limit = asyncio.Semaphore(4)
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:

            async def one(i: int) -> str:
                async with limit:
                    made = await http.post(
                        "/events",
                        json={**body, "eventLocation": f"Hall {uuid.uuid4().hex[:8]} {i}"},
                        headers=self.admin,
                    )
                made.raise_for_status()
                event_id: str = made.json()["id"]
                return event_id

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    async def customers(self, n: int) -> list[Customer]:
        limit = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:

            async def one(i: int) -> Customer:
                async with limit:
                    made = await http.post(
                        "/customers", json={"firstName": "Fan", "lastName": f"N{i}"}
                    )
                made.raise_for_status()
                data = made.json()
                return Customer(data["customer"]["id"], data["token"])

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    async def seats(self, event_ids: list[str]) -> dict[str, list[str]]:
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            rows = await conn.fetch(
                "SELECT event_id::text, id::text FROM seats WHERE event_id = ANY($1::uuid[])"
                " ORDER BY event_id, position",
                event_ids,
            )
        finally:
            await conn.close()
        found: dict[str, list[str]] = {e: [] for e in event_ids}
        for event_id, seat_id in rows:
            found[event_id].append(seat_id)
        return found

    async def warm(self, event_ids: list[str]) -> None:
        """Load the events' hold mirrors now, as the first customers of an onsale would."""
        async with Probe(self.stack) as probe:
            for event_id in event_ids:
                await probe.engine.build_mirror(uuid.UUID(event_id))


class Probe:
    """Direct PostgreSQL and Redis access, for warming mirrors and reading results back."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.redis = Redis(stack.redis_url, cluster=False, timeout_ms=10_000, retry_after=1)

    async def __aenter__(self) -> Probe:
        await self.redis.open()
        self.pg = await asyncpg.connect(self.stack.database_url)

        async def snapshot(event_id: uuid.UUID) -> MirrorSnapshot | None:
            return await repository.mirror_snapshot(self.pg, event_id)

        self.engine = HoldEngine(self.redis, snapshot)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.pg.close()
        await self.redis.close()

    async def settled(self, event_ids: list[str], within: float = 15.0) -> None:
        """Wait for requests still in flight when wrk stopped counting to finish: until the
        events' holds and reservations stay the same for half a second."""
        deadline = time.monotonic() + within
        last: tuple[int, int] | None = None
        while time.monotonic() < deadline:
            holds = 0
            for event_id in event_ids:
                key = event_keys(uuid.UUID(event_id)).holds
                holds += int(await self.redis.call(lambda c, k=key: c.hlen(k)))  # type: ignore[misc]
            reservations = await self.pg.fetchval(
                "SELECT count(*) FROM reservations WHERE event_id = ANY($1::uuid[])", event_ids
            )
            now = (holds, reservations)
            if now == last:
                return
            last = now
            await asyncio.sleep(0.5)

    async def reservations(self, event_ids: list[str]) -> int:
        """Live (not cancelled) reservations of the events."""
        found: int = await self.pg.fetchval(
            "SELECT count(*) FROM reservations WHERE event_id = ANY($1::uuid[])"
            " AND cancelled_at IS NULL",
            event_ids,
        )
        return found

    async def holds(self, event_ids: list[str]) -> dict[str, tuple[str, str, list[str]]]:
        """hold id -> (event id, customer id, seat ids), as Redis has them."""
        found: dict[str, tuple[str, str, list[str]]] = {}
        for event_id in event_ids:
            key = event_keys(uuid.UUID(event_id)).holds
            raw = await self.redis.call(lambda c, k=key: c.hgetall(k))  # type: ignore[misc]
            for hold_id, value in raw.items():
                data = json.loads(value)
                found[hold_id.decode()] = (event_id, data["c"], list(data["s"]))
        return found

    async def held_seats(self, event_ids: list[str]) -> int:
        total = 0
        for event_id in event_ids:
            key = event_keys(uuid.UUID(event_id)).held
            total += int(await self.redis.call(lambda c, k=key: c.hlen(k)))  # type: ignore[misc]
        return total

    async def indexed(self, hold_ids: list[str]) -> int:
        keys: list[str | bytes] = [f"hold:{h}" for h in hold_ids]
        total = 0
        for i in range(0, len(keys), 1000):
            part = keys[i : i + 1000]
            total += int(await self.redis.call(lambda c, p=part: c.exists(p)))  # type: ignore[misc]
        return total


def check(ok: bool, what: str, failures: list[str]) -> None:
    if not ok:
        failures.append(what)


def verdict(failures: list[str], summary: str) -> str:
    return f"CORRECT: {summary}" if not failures else "WRONG: " + "; ".join(failures)


def bad_statuses(res: Result, allowed: set[str]) -> int:
    return sum(n for s, n in res.statuses.items() if s.rsplit(":", 1)[-1] not in allowed)


# --- scenarios ---------------------------------------------------------------------------


async def _no_settling(event_id: uuid.UUID, hold_id: uuid.UUID) -> None:
    """(The bench's own sweep settles no confirmation: none is left in flight then.)"""


def burst_lines(
    seats: dict[str, list[str]], customers: list[Customer], watched: str | None = None
) -> list[tuple[str, str, str, str]]:
    """One line per distinct seat pair, event after event, as an onsale moves on when an
    event sells out; the watched event's pairs are spread through the whole run."""
    lines: list[tuple[str, str, str, str]] = []
    spread: list[tuple[str, str, str, str]] = []
    n = 0
    for event_id, ids in seats.items():
        target = spread if event_id == watched else lines
        for i in range(0, len(ids) - 1, 2):
            body = json.dumps({"seatIds": [ids[i], ids[i + 1]]}, separators=(",", ":"))
            target.append(
                ("POST", f"/events/{event_id}/holds", customers[n % len(customers)].token, body)
            )
            n += 1
    if spread:
        step = max(1, len(lines) // len(spread))
        for i, line in enumerate(spread):
            lines.insert(min(len(lines), i * (step + 1)), line)
    return lines


@dataclass
class Bench:
    stack: Stack
    scratch: Path
    workers: int
    seconds: float
    profile: bool = False
    results: list[Result] = field(default_factory=list)
    profiles: dict[str, list[str]] = field(default_factory=dict)

    def load(
        self, server: Server, name: str, script: str, args: list[str], *, connections: int,
        threads: int = 2, seconds: float | None = None, profile: bool = False,
    ) -> Result:  # fmt: skip
        """Drive `server` with wrk; with --profile, sample its workers meanwhile."""
        seconds = seconds or self.seconds

        def run() -> Result:
            return drive(server, name, script, args, connections=connections, threads=threads,
                         seconds=seconds)  # fmt: skip

        if not (self.profile and profile):
            return run()
        slug = name.split(":", maxsplit=1)[0].replace(" ", "-")
        with profiled(server, self.scratch / f"profile-{slug}", seconds) as files:
            res = run()
        self.profiles[name] = top(files)
        return res

    def show(self, res: Result) -> None:
        self.results.append(res)
        print(res.line(), flush=True)
        if res.verdict:
            print(f"{'':<34} {res.verdict}", flush=True)
        for note in res.notes:
            print(f"{'':<34} {note}", flush=True)

    def events_needed(self, rate_guess: float) -> int:
        return int(rate_guess * self.seconds * 2 / 1000 * 1.3) + 2

    async def compare(
        self, server: Server, floor: Server, customers: list[Customer], rounds: int
    ) -> list[str]:
        """(a): the floor and the service take turns under the same load, `rounds` times,
        the order alternating, so that both see the machine at the same speed (it drifts by
        ±10% over a minute). Each round gives a ratio; the figure is their median. Returns
        the service's events, with their holds, for the confirm scenario."""
        events: list[str] = []
        ratios: list[tuple[float, float]] = []
        service_res: Result | None = None
        for n in range(1, rounds + 1):
            tag = f" {n}/{rounds}" if rounds > 1 else ""
            floor_first = n % 2 == 1
            if floor_first:
                floor_res = await self.floor_round(server, floor, customers, tag)
            service_res, made = await self.burst(server, customers, "a hold burst", tag=tag)
            events.extend(made)
            if not floor_first:
                floor_res = await self.floor_round(server, floor, customers, tag)
            if floor_res.rate and floor_res.p99:
                ratios.append((service_res.rate / floor_res.rate, service_res.p99 / floor_res.p99))
        if service_res is not None and ratios:
            rates = ", ".join(f"{r:.2f}" for r, _ in ratios)
            p99s = ", ".join(f"{p:.2f}" for _, p in ratios)
            note = (
                f"service / floor: {statistics.median(r for r, _ in ratios):.2f} of the"
                f" throughput, p99 {statistics.median(p for _, p in ratios):.2f} x the floor's"
            )
            if len(ratios) > 1:
                note += f" (medians of {len(ratios)} rounds: {rates}; p99 {p99s})"
            service_res.notes.append(note)
            print(f"{'':<34} {note}", flush=True)
        return events

    async def floor_round(
        self, server: Server, floor: Server, customers: list[Customer], tag: str
    ) -> Result:
        data = Data(self.stack, server.base_url)  # events are made through the service
        floor_events = await data.events(self.events_needed(12_000))
        await data.warm(floor_events)
        seats = await data.seats(floor_events)
        path = write_lines(self.scratch / "floor.tsv", burst_lines(seats, customers))
        floor_res = drive(
            floor, f"a hold burst: floor (bare hold){tag}", "replay.lua", [str(path), "2"],
            connections=BURST_CONNECTIONS, seconds=self.seconds,
        )  # fmt: skip
        floor_res.verdict = f"bad statuses: {bad_statuses(floor_res, {'201'})}"
        self.show(floor_res)
        return floor_res

    async def burst(
        self, server: Server, customers: list[Customer], name: str, *, watchers: int = 0,
        tag: str = "",
    ) -> tuple[Result, list[str]]:  # fmt: skip
        data = Data(self.stack, server.base_url)
        events = await data.events(self.events_needed(10_000 * self.workers / 2))
        await data.warm(events)
        seats = await data.seats(events)
        watched = events[0] if watchers else None
        path = write_lines(self.scratch / "burst.tsv", burst_lines(seats, customers, watched))
        watcher_proc = None
        if watched:
            watcher_proc = self.watch(server, watched, watchers)
        try:
            res = self.load(server, f"{name}: service{tag}", "replay.lua", [str(path), "2"],
                            connections=BURST_CONNECTIONS, profile=True)  # fmt: skip
        finally:
            watched_note = self.unwatch(watcher_proc) if watcher_proc else None
        failures: list[str] = []
        async with Probe(self.stack) as probe:
            await probe.settled(events)
            holds = await probe.holds(events)
            held = await probe.held_seats(events)
            indexed = await probe.indexed(list(holds))
            reserved = await probe.pg.fetchval(
                "SELECT count(*) FROM seats WHERE event_id = ANY($1::uuid[]) AND status <> 'OPEN'",
                events,
            )
        ok = res.statuses.get("201", 0)
        check(
            bad_statuses(res, {"201"}) == 0,
            f"{bad_statuses(res, {'201'})} answers not 201",
            failures,
        )
        check(res.socket_errors == 0, f"{res.socket_errors} socket errors", failures)
        # wrk stops counting at the deadline: requests still in flight then (at most one per
        # connection) were answered after it, so Redis may hold up to that many more.
        check(
            ok <= len(holds) <= ok + BURST_CONNECTIONS,
            f"{len(holds)} holds in Redis for {ok} answers 201",
            failures,
        )
        check(held == 2 * len(holds), f"{held} seats held by {len(holds)} holds of two", failures)
        check(indexed == len(holds), f"{indexed} of {len(holds)} holds findable by id", failures)
        check(reserved == 0, f"{reserved} seats changed in PostgreSQL by holds", failures)
        res.verdict = verdict(
            failures, f"{len(holds)} holds in Redis ({ok} answered in time), {held} seats once each"
        )
        if watched_note:
            res.notes.append(watched_note)
            plain = [r.rate for r in self.results if r.name.startswith("a hold burst: service")]
            if plain and statistics.median(plain):
                res.notes.append(
                    f"holds/s with the subscribers: {res.rate / statistics.median(plain):.2f}"
                    " of the burst's (median of its rounds)"
                    " (the subscribers' client shares the two cores)"
                )
        self.show(res)
        return res, events

    def watch(self, server: Server, event_id: str, n: int) -> subprocess.Popen[str]:
        host, port = server.base_url.removeprefix("http://").split(":")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.watchers", host, port, event_id, str(n)],
            stdout=subprocess.PIPE, text=True, cwd=HERE.parent,
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "READY" not in line:
            raise RuntimeError(f"watchers did not connect: {line}")
        return proc

    @staticmethod
    def unwatch(proc: subprocess.Popen[str]) -> str:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("WATCHERS "):
                got = json.loads(line[len("WATCHERS ") :])
                return (
                    f"{got['connected']} subscribers on one event stayed connected and received"
                    f" {got['frames']:,} change frames ({got['failed']} failed)"
                )
        return "watchers printed nothing"

    async def confirms(
        self, server: Server, events: list[str], customers: list[Customer], rounds: int
    ) -> None:
        """(c) The burst's holds confirmed, in `rounds` turns with the PostgreSQL floor (each
        turn confirms its own share of the holds); each turn gives a ratio, the figure is
        their median. The verdict is read back once, over every turn."""
        tokens = {c.id: c.token for c in customers}
        async with Probe(self.stack) as probe:
            holds = await probe.holds(events)
        lines = [
            ("POST", f"/holds/{hold_id}/reservation", tokens[customer], "")
            for hold_id, (_, customer, _) in holds.items()
        ]
        random.Random(4).shuffle(lines)
        share = -(-len(lines) // rounds)
        turns: list[tuple[Result, Result]] = []
        for n in range(rounds):
            path = write_lines(
                self.scratch / f"confirms-{n}.tsv", lines[n * share : (n + 1) * share]
            )
            res = self.load(server, f"c confirms, round {n + 1}", "replay.lua", [str(path), "2"],
                            connections=64, profile=n == 0)  # fmt: skip
            self.show(res)
            turns.append((res, await self.confirm_floor(server, customers)))
            if turns[-1][1].rate:
                self.note(
                    turns[-1][1], f"confirms / PostgreSQL floor: {res.rate / turns[-1][1].rate:.2f}"
                )
        failures: list[str] = []
        ok = sum(r.statuses.get("201", 0) for r, _ in turns)
        wrapped = any(r.wrapped for r, _ in turns)
        async with Probe(self.stack) as probe:
            await probe.settled(events)
            sold = await probe.pg.fetchval(
                "SELECT count(*) FROM seats WHERE event_id = ANY($1::uuid[])"
                " AND status = 'RESERVED'",
                events,
            )
            live = await probe.reservations(events)
            doubled = await probe.pg.fetchval(
                "SELECT count(*) FROM (SELECT rs.seat_id FROM reservation_seats rs"
                " JOIN reservations r ON r.id = rs.reservation_id"
                " WHERE r.event_id = ANY($1::uuid[]) AND r.cancelled_at IS NULL"
                " GROUP BY rs.seat_id HAVING count(*) > 1) d",
                events,
            )
            left = len(await probe.holds(events))
        last, last_floor = turns[-1]
        if wrapped:
            self.note(last_floor, "ran out of holds: repeats answered 404, as they should")
        bad = sum(bad_statuses(r, {"201", "404"} if wrapped else {"201"}) for r, _ in turns)
        check(bad == 0, "unexpected statuses", failures)
        check(ok <= live <= ok + 64 * rounds, f"{live} reservations for {ok} answers 201",
              failures)  # fmt: skip
        check(sold == 2 * live, f"{sold} seats reserved by {live} reservations of two", failures)
        check(doubled == 0, f"{doubled} seats in two reservations", failures)
        check(left == len(holds) - live, f"{left} holds left of {len(holds)} - {live}", failures)
        last.verdict = verdict(
            failures, f"{live} reservations ({ok} answered in time), {sold} seats sold once each"
        )
        self.note(last_floor, f"c confirms, every round: {last.verdict}")
        ratios = [r.rate / f.rate for r, f in turns if f.rate]
        if ratios:
            self.note(last_floor, f"confirms / PostgreSQL floor: {statistics.median(ratios):.2f}"
                                  f" (median of {len(ratios)} turns: "
                                  + ", ".join(f"{x:.2f}" for x in ratios) + ")")  # fmt: skip

    async def onsale(self, server: Server) -> None:
        data = Data(self.stack, server.base_url)
        (event,) = await data.events(1, maxNumSeats=4, seatHoldTime=600)
        fans = await data.customers(2000)
        seats = (await data.seats([event]))[event]
        rng = random.Random(11)
        lines = []
        for attempt in range(3):
            for i, fan in enumerate(fans):
                body: dict[str, Any]
                if (i + attempt) % 2:
                    body = {"seatIds": rng.sample(seats, 2)}
                else:
                    body = {"quantity": 2, "adjacent": attempt == 0}
                lines.append(("POST", f"/events/{event}/holds", fan.token, json.dumps(body)))
        rng.shuffle(lines)
        path = write_lines(self.scratch / "onsale.tsv", lines)
        res = drive(server, "b onsale: holds", "replay.lua", [str(path), "2"],
                    connections=BURST_CONNECTIONS, seconds=min(self.seconds, 4))  # fmt: skip
        tokens = {f.id: f.token for f in fans}
        async with Probe(self.stack) as probe:
            holds = await probe.holds([event])
        # Every hold is bought (not timed: the contended part is the holding).
        confirmed: dict[str, int] = {}
        limit = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:

            async def buy(hold_id: str, customer: str) -> None:
                async with limit:
                    done = await http.post(
                        f"/holds/{hold_id}/reservation",
                        headers={"Authorization": f"Bearer {tokens[customer]}"},
                    )
                confirmed[str(done.status_code)] = confirmed.get(str(done.status_code), 0) + 1

            await asyncio.gather(*(buy(h, c) for h, (_, c, _) in holds.items()))
        failures: list[str] = []
        async with Probe(self.stack) as probe:
            sold = await probe.pg.fetchval(
                "SELECT count(*) FROM seats WHERE event_id = $1 AND status = 'RESERVED'",
                uuid.UUID(event),
            )
            in_reservations = await probe.pg.fetchval(
                "SELECT count(DISTINCT rs.seat_id), count(*) FROM reservation_seats rs"
                " JOIN reservations r ON r.id = rs.reservation_id"
                " WHERE r.event_id = $1 AND r.cancelled_at IS NULL",
                uuid.UUID(event),
            )
            over = await probe.pg.fetchval(
                "SELECT count(*) FROM (SELECT r.customer_id FROM reservation_seats rs"
                " JOIN reservations r ON r.id = rs.reservation_id"
                " WHERE r.event_id = $1 AND r.cancelled_at IS NULL"
                " GROUP BY r.customer_id HAVING count(*) > 4) o",
                uuid.UUID(event),
            )
        check(bad_statuses(res, {"201", "409"}) == 0, "answers other than 201 and 409", failures)
        check(res.socket_errors == 0, f"{res.socket_errors} socket errors", failures)
        check(confirmed == {"201": len(holds)}, f"confirms answered {confirmed}", failures)
        check(sold == 1000, f"{sold} of 1000 seats sold", failures)
        check(in_reservations == 1000, f"{in_reservations} reservation seats", failures)
        check(over == 0, f"{over} customers over maxNumSeats", failures)
        res.verdict = verdict(
            failures, f"all 1000 seats sold exactly once to {len(holds)} holds, none over 4 each"
        )
        self.show(res)

    async def reads(self, server: Server, event: str) -> None:
        for name, target in (
            ("d reads: seat list (200 seats)", f"/events/{event}/seats?limit=200"),
            ("d reads: availability", f"/events/{event}/availability"),
            ("d reads: open count", f"/events/{event}/open-count"),
        ):
            path = write_lines(self.scratch / "reads.tsv", [("GET", target, "", "")])
            res = self.load(server, name, "replay.lua", [str(path), "1"], connections=64,
                            profile=True)  # fmt: skip
            res.wrapped = 0  # one request, sent again and again
            failures: list[str] = []
            check(bad_statuses(res, {"200"}) == 0, "answers other than 200", failures)
            res.verdict = verdict(failures, "every answer 200")
            self.show(res)

    async def paired(
        self, name: str, rounds: int, a: tuple[str, Server, Path], b: tuple[str, Server, Path],
        *, connections: int, seconds: float | None = None, reload: Any = None,
    ) -> tuple[list[Result], list[Result], float, float]:  # fmt: skip
        """`a` and `b` (label, server, request file) take turns, the order alternating:
        medians of the rounds' ratios a / b of throughput and of p99. `reload`, when given,
        is awaited before each turn with its label and returns a fresh request file."""
        got: dict[str, list[Result]] = {a[0]: [], b[0]: []}
        for n in range(1, rounds + 1):
            order = (a, b) if n % 2 else (b, a)
            for label, target, given in order:
                path = given if reload is None else await reload(label)
                # (in a thread, so that tasks of the scenario keep running meanwhile)
                res = await asyncio.to_thread(
                    self.load, target, f"{name}: {label} {n}/{rounds}", "replay.lua",
                    [str(path), "2"], connections=connections, seconds=seconds,
                    profile=label == a[0] and n == 1,
                )  # fmt: skip
                got[label].append(res)
                self.show(res)
        pairs = list(zip(got[a[0]], got[b[0]], strict=True))
        rate = statistics.median(x.rate / y.rate for x, y in pairs if y.rate)
        p99 = statistics.median(x.p99 / y.p99 for x, y in pairs if y.p99)
        return got[a[0]], got[b[0]], rate, p99

    def note(self, res: Result, text: str) -> None:
        res.notes.append(text)
        print(f"{'':<34} {text}", flush=True)

    async def busy_event(
        self, server: Server, customers: list[Customer], stack: Stack | None = None
    ) -> tuple[str, list[str]]:
        """A 1,000-seat event with 300 live holds of two seats: what fans read in an onsale."""
        data = Data(stack or self.stack, server.base_url)
        (event,) = await data.events(1, maxNumSeats=10)
        seats = (await data.seats([event]))[event]
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:

            async def hold(i: int) -> None:
                async with limit:
                    done = await http.post(
                        f"/events/{event}/holds",
                        json={"seatIds": seats[2 * i : 2 * i + 2]},
                        headers={"Authorization": f"Bearer {customers[i].token}"},
                    )
                done.raise_for_status()

            await asyncio.gather(*(hold(i) for i in range(300)))
        return event, seats

    async def point_reads(
        self, server: Server, floor: Server, customers: list[Customer], rounds: int
    ) -> None:
        """(r) Each read a fan makes during an onsale, against the floor's bare read, on an
        event with 300 live holds."""
        event, seats = await self.busy_event(server, customers)
        bare = write_lines(self.scratch / "bare.tsv", [("GET", f"/events/{event}/read", "", "")])
        for label, target in (
            ("open count", f"/events/{event}/open-count"),
            ("one seat", f"/seats/{seats[1]}"),
            ("availability", f"/events/{event}/availability"),
            ("seat page (50, the default)", f"/events/{event}/seats"),
            ("seat page (200, the most)", f"/events/{event}/seats?limit=200"),
            ("open seats (50, ?status=OPEN)", f"/events/{event}/seats?status=OPEN"),
            ("held seats (50, ?status=ON_HOLD)", f"/events/{event}/seats?status=ON_HOLD"),
        ):
            path = write_lines(self.scratch / "read.tsv", [("GET", target, "", "")])
            mine, _, rate, p99 = await self.paired(
                f"r {label}", rounds, ("service", server, path), ("floor read", floor, bare),
                connections=64, seconds=min(self.seconds, 4),
            )  # fmt: skip
            bad = sum(bad_statuses(r, {"200"}) for r in mine)
            self.note(
                mine[-1],
                f"{label} / the floor's bare read: {rate:.2f} of the throughput, p99 {p99:.2f} x"
                f"; {bad} answers not 200",
            )
        # The page's answer is kilobytes (tens of them before gzip): against a floor read of
        # the same size as sent too, to tell what sending that much costs from what the
        # service adds.
        page = f"/events/{event}/seats?limit=200"
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
            http.stream("GET", page, headers={"accept-encoding": "gzip"}) as answer,
        ):
            size = len(b"".join([chunk async for chunk in answer.aiter_raw()]))
        path = write_lines(self.scratch / "read.tsv", [("GET", page, "", "")])
        same = write_lines(self.scratch / "sized.tsv", [("GET", f"/sized/{size}", "", "")])
        mine, _, rate, p99 = await self.paired(
            "r seat page (200) and a read of its size", rounds, ("service", server, path),
            (f"floor read of {size:,} bytes", floor, same),
            connections=64, seconds=min(self.seconds, 4),
        )  # fmt: skip
        self.note(mine[-1], f"seat page / a floor read of the same {size:,} bytes: {rate:.2f} of"
                            f" the throughput, p99 {p99:.2f} x")  # fmt: skip

    async def seed_holds(
        self, server: Server, floor: Server, customers: list[Customer], rounds: int
    ) -> None:
        """(p) One-seat holds through the seed's PATCH route against one-seat floor holds."""
        data = Data(self.stack, server.base_url)
        made: list[str] = []

        async def lines_for(label: str) -> Path:
            events = await data.events(self.events_needed(8_000) // 2 + 1)
            await data.warm(events)
            seats = await data.seats(events)
            lines = []
            pairs = [(e, seat) for e, ids in seats.items() for seat in ids]
            for n, (event_id, seat) in enumerate(pairs):
                fan = customers[n % len(customers)]
                if label == "floor":
                    body = json.dumps({"seatIds": [seat]})
                    lines.append(("POST", f"/events/{event_id}/holds", fan.token, body))
                else:
                    body = json.dumps({"customerId": fan.id, "status": "ON_HOLD"})
                    lines.append(("PATCH", f"/events/{event_id}/seats/{seat}", fan.token, body))
            if label != "floor":
                made.extend(events)
            return write_lines(self.scratch / f"seed-{label}.tsv", lines)

        unused = self.scratch / "unused.tsv"
        mine, _, rate, p99 = await self.paired(
            "p seed PATCH one-seat holds", rounds, ("service", server, unused),
            ("floor", floor, unused), connections=BURST_CONNECTIONS, reload=lines_for,
        )  # fmt: skip
        failures: list[str] = []
        ok = sum(r.statuses.get("200", 0) for r in mine)
        async with Probe(self.stack) as probe:
            await probe.settled(made)
            held = await probe.held_seats(made)
            holds = len(await probe.holds(made))
        check(sum(bad_statuses(r, {"200"}) for r in mine) == 0, "answers not 200", failures)
        check(held == holds, f"{held} seats in {holds} one-seat holds", failures)
        check(ok <= holds <= ok + BURST_CONNECTIONS * rounds, f"{holds} holds for {ok} 200s",
              failures)  # fmt: skip
        mine[-1].verdict = verdict(failures, f"{holds} one-seat holds, each seat once")
        self.note(mine[-1], mine[-1].verdict)
        self.note(mine[-1], f"seed holds / floor holds: {rate:.2f} of the throughput,"
                            f" p99 {p99:.2f} x")  # fmt: skip

    async def cold(
        self, server: Server, customers: list[Customer], rounds: int, label: str
    ) -> None:
        """(k) The first seconds of a burst over 100 events never touched before, against
        the same burst over 100 events whose mirrors are ready. `new`: created just before
        the burst (the service builds their mirrors as it creates them); `lost`: their
        mirrors dropped (as after a Redis restart, before the service rebuilt them), so the
        crowd that finds each one missing must have it built."""
        data = Data(self.stack, server.base_url)
        made: list[str] = []

        async def lines_for(label: str) -> Path:
            events = await data.events(100)
            if label != "new":
                await data.warm(events)
            if label == "lost":
                async with Probe(self.stack) as probe:
                    for event_id in events:
                        await probe.engine.invalidate(uuid.UUID(event_id), seats_changed=False)
            seats = await data.seats(events)
            # Every event from the first second on: the pairs of all events interleaved.
            per_event = [
                [(e, ids[i], ids[i + 1]) for i in range(0, len(ids) - 1, 2)]
                for e, ids in seats.items()
            ]
            lines = []
            interleaved = [p for group in zip(*per_event, strict=True) for p in group]
            for n, (event_id, x, y) in enumerate(interleaved):
                body = json.dumps({"seatIds": [x, y]}, separators=(",", ":"))
                token = customers[n % len(customers)].token
                lines.append(("POST", f"/events/{event_id}/holds", token, body))
            made.extend(events)
            return write_lines(self.scratch / f"cold-{label}.tsv", lines)

        unused = self.scratch / "unused.tsv"
        cold, _, rate, p99 = await self.paired(
            "k burst on 100 events", rounds, (label, server, unused), ("warm", server, unused),
            connections=128, seconds=4, reload=lines_for,
        )  # fmt: skip
        failures: list[str] = []
        async with Probe(self.stack) as probe:
            await probe.settled(made)
            held = await probe.held_seats(made)
            holds = len(await probe.holds(made))
        check(held == 2 * holds, f"{held} seats in {holds} holds of two", failures)
        check(sum(bad_statuses(r, {"201"}) for r in cold) == 0, "answers not 201", failures)
        cold[-1].verdict = verdict(failures, f"{holds} holds, every seat once")
        self.note(cold[-1], cold[-1].verdict)
        self.note(cold[-1], f"{label} / warm: {rate:.2f} of the throughput, p99 {p99:.2f} x")

    async def hot(self, server: Server, spread: Result | None) -> None:
        """(h) One hot event after another, each through its sell-out and beyond: 2,000
        fans, half asking for best available, half for two seats they picked; at 64 and
        at 256 connections."""
        data = Data(self.stack, server.base_url)
        fans = await data.customers(2000)
        for connections in (64, BURST_CONNECTIONS):
            events = await data.events(6, maxNumSeats=6, seatHoldTime=600)
            await data.warm(events)
            seats = await data.seats(events)
            rng = random.Random(connections)
            lines = []
            for event_id in events:
                mine = []
                for i in range(1500):
                    fan = fans[rng.randrange(len(fans))]
                    body: dict[str, Any] = (
                        {"quantity": 2} if i % 2 else {"seatIds": rng.sample(seats[event_id], 2)}
                    )
                    mine.append(("POST", f"/events/{event_id}/holds", fan.token, json.dumps(body)))
                lines.extend(mine)
            path = write_lines(self.scratch / "hot.tsv", lines)
            res = self.load(server, f"h hot events in a row, {connections} conn", "replay.lua",
                            [str(path), "2"], connections=connections, profile=True)  # fmt: skip
            failures: list[str] = []
            async with Probe(self.stack) as probe:
                await probe.settled(events)
                holds = await probe.holds(events)
                held = await probe.held_seats(events)
            seats_in_holds = [s for _, _, ss in holds.values() for s in ss]
            per_fan: dict[tuple[str, str], int] = {}
            for event_id, customer, ss in holds.values():
                per_fan[(event_id, customer)] = per_fan.get((event_id, customer), 0) + len(ss)
            five = sum(n for s, n in res.statuses.items() if s.startswith("5"))
            check(five == 0, f"{five} answers 5xx", failures)
            check(bad_statuses(res, {"201", "409"}) == 0, "answers not 201 or 409", failures)
            check(len(seats_in_holds) == len(set(seats_in_holds)) == held,
                  f"{held} seats held, {len(seats_in_holds)} in holds", failures)  # fmt: skip
            check(max(per_fan.values(), default=0) <= 6, "a fan over maxNumSeats", failures)
            sold_out = sum(1 for e in events if sum(1 for h in holds.values() if h[0] == e) > 0)
            res.verdict = verdict(
                failures, f"{held} seats held once each over {sold_out} events, none over 6 a fan"
            )
            self.show(res)
            if spread is not None and spread.rate and spread.p99:
                self.note(res, f"hot / spread burst: {res.rate / spread.rate:.2f} of the"
                               f" throughput, p99 {res.p99 / spread.p99:.2f} x")  # fmt: skip

    async def confirm_floor(self, server: Server, customers: list[Customer]) -> Result:
        """(c floor) The confirmation's own SQL (reserve_hold_checked, as the service runs a
        confirmation that goes alone; refused: 409) from a
        bare asyncpg loop at the confirms' concurrency (64), through a pool like the service's
        (its size, no reset query on release, each connection used once before): the least a
        confirm can cost in PostgreSQL."""
        data = Data(self.stack, server.base_url)
        events = await data.events(12)
        seats = await data.seats(events)
        work = [
            (uuid.UUID(e), uuid.UUID(customers[n % len(customers)].id),
             [uuid.UUID(ids[i]), uuid.UUID(ids[i + 1])])
            for e, ids in seats.items() for n, i in enumerate(range(0, len(ids) - 1, 2))
        ]  # fmt: skip
        random.Random(5).shuffle(work)
        pool = await asyncpg.create_pool(self.stack.database_url, min_size=20 * self.workers,
                                         max_size=20 * self.workers,
                                         connection_class=NoResetConnection)  # fmt: skip
        # Each connection runs the function once before the clock starts (refused: no such
        # customer), so its backend has compiled it and asyncpg prepared the statement, as
        # on the service's connections after its first round.
        held = [await pool.acquire() for _ in range(20 * self.workers)]
        for conn in held:
            with contextlib.suppress(asyncpg.RaiseError):
                await conn.fetch("SELECT * FROM reserve_hold_checked($1, $2, $3, $4, $5::uuid[])",
                                 uuid.uuid4(), work[0][0], uuid.uuid4(), uuid.uuid4(),
                                 work[0][2])  # fmt: skip
            await pool.release(conn)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        before = cpu_seconds(server)
        deadline = time.monotonic() + self.seconds
        queue = iter(work)

        async def worker() -> None:
            for event_id, customer, pair in queue:
                if time.monotonic() > deadline:
                    return
                started = time.monotonic()
                try:
                    async with pool.acquire() as conn:
                        rows = await conn.fetch(
                            "SELECT * FROM reserve_hold_checked($1, $2, $3, $4, $5::uuid[])",
                            uuid.uuid4(), event_id, customer, uuid.uuid4(), pair,
                        )  # fmt: skip
                    done = "409" if rows[0][0] is not None else "201"
                except asyncpg.PostgresError:
                    done = "409"
                statuses[done] = statuses.get(done, 0) + 1
                latencies.append(time.monotonic() - started)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(64)))
        elapsed = time.monotonic() - started
        after = cpu_seconds(server)  # (before the pool closes: its backends go with it)
        split = cpu_parts(server, before, after)
        await pool.close()
        latencies.sort()

        def q(x: float) -> float:
            return 1000 * latencies[min(len(latencies) - 1, int(x * len(latencies)))]

        res = Result("c floor (one confirmation a call)", len(latencies), elapsed, q(0.5),
                     q(0.99), q(0.999), statuses, 0, 0)  # fmt: skip
        res.cpu_seconds = cpu_spent(before, after)
        res.cpu_split = split
        self.show(res)
        return res

    async def fill_history(self, stack: Stack, customers: list[Customer], n: int) -> None:
        """`n` past events of 1,000 seats, written straight to PostgreSQL (as years of sales
        leave them), each with holds that came and went through the hold engine (its mirror
        built, two seats held and released) and a reservation of two seats."""
        async with Probe(stack) as probe:
            events: list[uuid.UUID] = []
            for start in range(0, n, 250):
                count = min(250, n - start)
                rows = await probe.pg.fetch(
                    # (Their sales window is left open while their holds come and go.)
                    "INSERT INTO events (id, event_name, event_location, event_at, num_seats,"
                    " max_num_seats, seat_hold_time, sales_end_at)"
                    " SELECT gen_random_uuid(), 'Past show', 'Past hall ' || g || ' ' || $2,"
                    " now() - make_interval(days => g + $3), 1000, 10, 600,"
                    " now() + interval '1 day'"
                    " FROM generate_series(1, $1) g RETURNING id",
                    count, uuid.uuid4().hex[:8], start,
                )  # fmt: skip
                made = [r[0] for r in rows]
                await probe.pg.execute(
                    "INSERT INTO seats (id, event_id, position, section, row, seat_number, price)"
                    " SELECT gen_random_uuid(), e, s - 1, 'MAIN', 'R' || ((s - 1) / 20 + 1),"
                    " (s - 1) % 20 + 1, 25 FROM unnest($1::uuid[]) e, generate_series(1, 1000) s",
                    made,
                )
                events.extend(made)
            fan = uuid.UUID(customers[0].id)
            for event_id in events:
                seats = await probe.pg.fetch(
                    "SELECT id FROM seats WHERE event_id = $1 AND position < 4 ORDER BY position",
                    event_id,
                )
                ids = [r[0] for r in seats]
                hold_id = uuid.uuid4()
                await probe.engine.hold_seats(event_id, fan, hold_id, [str(ids[0]), str(ids[1])])
                await probe.engine.release(event_id, hold_id, None)
                await probe.pg.fetch(
                    "SELECT * FROM reserve_hold($1, $2, $3, $4, $5::uuid[])",
                    uuid.uuid4(), event_id, fan, uuid.uuid4(), ids[2:4],
                )  # fmt: skip
            await probe.pg.execute(
                "UPDATE events SET sales_end_at = NULL WHERE id = ANY($1::uuid[])", events
            )

    async def history(self, empty: Side, past: Side, n: int, turns: int = 5) -> None:
        """(i) A box office with a past, beside one without. Two stacks run at once, each
        its own PostgreSQL, Redis and service: `past` gets `n` past events of 1,000 seats
        (holds that came and went, a sale each) and the sweeper's pass over every event
        (which lets the past events' mirrors go), `empty` nothing. Idle cost (CPU and
        resident memory of every process, no request in flight) is read on both, and the
        onsale scenarios (a warm and a cold burst over 100 new events, hot events through
        their sell-out, a fan's reads) run on the two in turns, the order alternating, each
        turn on fresh events where the scenario uses up seats: the figure is the median of
        the turns' past / empty ratios. Side by side, the machine's drift (a third within
        minutes here) moves both halves of a ratio alike."""

        async def pairs_of(data: Data, events: list[str]) -> list[tuple[str, str, str]]:
            seats = await data.seats(events)
            per_event = [
                [(e, ids[i], ids[i + 1]) for i in range(0, len(ids) - 1, 2)]
                for e, ids in seats.items()
            ]
            return [p for group in zip(*per_event, strict=True) for p in group]

        def hold_lines(
            side: Side, pairs: list[tuple[str, str, str]]
        ) -> list[tuple[str, str, str, str]]:
            fans = side.customers
            return [
                ("POST", f"/events/{e}/holds", fans[k % len(fans)].token,
                 json.dumps({"seatIds": [x, y]}, separators=(",", ":")))
                for k, (e, x, y) in enumerate(pairs)
            ]  # fmt: skip

        async def warm_burst(side: Side) -> Lines:
            data = Data(side.stack, side.server.base_url)
            events = await data.events(100)
            await data.warm(events)
            return hold_lines(side, await pairs_of(data, events))

        async def cold_burst(side: Side) -> Lines:
            data = Data(side.stack, side.server.base_url)
            events = await data.events(100)  # built as they are created, never held yet
            return hold_lines(side, await pairs_of(data, events))

        async def hot_events(side: Side) -> Lines:
            data = Data(side.stack, side.server.base_url)
            hot = await data.events(3, maxNumSeats=6, seatHoldTime=600)
            await data.warm(hot)
            seats = await data.seats(hot)
            rng = random.Random(7)
            fans = side.customers
            return [
                ("POST", f"/events/{e}/holds", fans[rng.randrange(len(fans))].token,
                 json.dumps({"quantity": 2} if k % 2 else {"seatIds": rng.sample(seats[e], 2)}))
                for e in hot for k in range(1500)
            ]  # fmt: skip

        busy: dict[str, tuple[str, list[str]]] = {}

        def read(target: Callable[[str, list[str]], str]) -> Callable[[Side], Awaitable[Lines]]:
            async def lines(side: Side) -> Lines:
                if side.label not in busy:
                    busy[side.label] = await self.busy_event(
                        side.server, side.customers, side.stack
                    )
                return [("GET", target(*busy[side.label]), "", "")]

            return lines

        found: dict[str, tuple[float, dict[str, list[Result]]]] = {}

        async def scenario(
            name: str, make: Callable[[Side], Awaitable[Lines]], ok: set[str], conns: int,
            fresh: bool,
        ) -> None:  # fmt: skip
            ratios: list[float] = []
            runs: dict[str, list[Result]] = {empty.label: [], past.label: []}
            paths: dict[str, Path] = {}
            for turn in range(turns):
                for side in (empty, past):
                    if fresh or side.label not in paths:
                        slug = name.replace(" ", "-")
                        paths[side.label] = write_lines(
                            self.scratch / f"i-{side.label}-{slug}.tsv", await make(side)
                        )
                await asyncio.sleep(1)  # (what making them set going in the background)
                for side in (empty, past) if turn % 2 == 0 else (past, empty):
                    res = drive(side.server, f"i {name}, {side.label}", "replay.lua",
                                [str(paths[side.label]), "2"], connections=conns,
                                seconds=4)  # fmt: skip
                    bad = bad_statuses(res, ok)
                    five = sum(c for s, c in res.statuses.items() if s.startswith("5"))
                    failures: list[str] = []
                    check(bad == 0, f"{bad} answers not {' or '.join(sorted(ok))}", failures)
                    check(five == 0, f"{five} answers 5xx", failures)
                    res.verdict = verdict(failures, f"every answer {' or '.join(sorted(ok))}")
                    self.show(res)
                    runs[side.label].append(res)
                now, before = runs[past.label][-1], runs[empty.label][-1]
                ratios.append(now.rate / before.rate if before.rate else 0.0)
            found[name] = (statistics.median(ratios), runs)

        async def idle(side: Side, tag: str) -> dict[str, tuple[float, float]]:
            await asyncio.sleep(3)  # (what the scenarios left in flight)
            cost = idle_cost(side.server)
            async with Probe(side.stack) as probe:
                info = await probe.redis.call(lambda c: c.custom_command(["INFO", "memory"]))
            text = info.decode() if isinstance(info, bytes) else str(info)
            used = next(
                int(x.split(":")[1]) for x in text.splitlines() if x.startswith("used_memory:")
            )
            cost["Redis data"] = (0.0, used / 2**20)
            shown = "; ".join(f"{g} {c:.1f}% of a core, {m:,.0f} MB" for g, (c, m) in cost.items())
            print(f"{'':<34} idle, {side.label}, {tag}: {shown}", flush=True)
            return cost

        await idle(empty, "before any scenario")
        idle_new = await idle(past, "before its past")
        started = time.monotonic()
        await self.fill_history(past.stack, past.customers, n)
        filled = time.monotonic() - started
        print(f"{'':<34} {n:,} past events written in {filled:.0f} s", flush=True)
        idle_full = await idle(past, f"{n:,} past events, their mirrors still built")
        async with Probe(past.stack) as probe:  # as the sweeper's pass over every event does
            sweeper = Sweeper(probe.engine, probe.redis, HoldEvents(), _no_settling)
            await sweeper.sweep_every()
        idle_past = await idle(past, f"{n:,} past events, after the sweeper's pass")
        await scenario("warm burst", warm_burst, {"201"}, 128, fresh=True)
        await scenario("cold burst", cold_burst, {"201"}, 128, fresh=True)
        await scenario("hot events", hot_events, {"201", "409"}, 64, fresh=True)
        await scenario("open count", read(lambda e, _: f"/events/{e}/open-count"), {"200"}, 64,
                       fresh=False)  # fmt: skip
        await scenario("one seat", read(lambda _, s: f"/seats/{s[1]}"), {"200"}, 64, fresh=False)
        await scenario("availability", read(lambda e, _: f"/events/{e}/availability"), {"200"},
                       64, fresh=False)  # fmt: skip
        await scenario("seat page", read(lambda e, _: f"/events/{e}/seats?limit=200"), {"200"},
                       64, fresh=False)  # fmt: skip
        # Both now have the same live holds (an hour long, on the bursts' events).
        idle_empty_after = await idle(empty, "after the scenarios")
        idle_past_after = await idle(past, f"{n:,} past events, after the scenarios")
        last = self.results[-1]
        for name, (ratio, runs) in found.items():

            def shown(rs: list[Result]) -> str:
                rates = sorted(r.rate for r in rs)
                cpu = sorted(r.cpu_ms for r in rs)
                return f"{rates[0]:,.0f}-{rates[-1]:,.0f}/s, {cpu[0]:.2f}-{cpu[-1]:.2f} ms"

            below = "" if ratio >= 0.9 else "  BELOW 0.9"
            self.note(last, f"{name}: past {shown(runs[past.label])}, empty"
                            f" {shown(runs[empty.label])}; past / empty (median of {turns}"
                            f" turns): {ratio:.2f}{below}")  # fmt: skip
        for group, (cpu, mb) in idle_past.items():
            new_cpu, new_mb = idle_new.get(group, (0.0, 0.0))
            full_cpu, full_mb = idle_full[group]
            self.note(last, f"{group} idle, past: {new_cpu:.1f}% -> {cpu:.1f}% of a core with"
                            f" {n:,} past events ({full_cpu:.1f}% before the sweeper's pass);"
                            f" resident {new_mb:,.0f} -> {mb:,.0f} MB"
                            f" ({full_mb:,.0f} MB)")  # fmt: skip
        for group, (cpu, mb) in idle_past_after.items():
            was_cpu, was_mb = idle_empty_after.get(group, (0.0, 0.0))
            self.note(last, f"{group} idle after the scenarios: empty {was_cpu:.1f}%, past"
                            f" {cpu:.1f}% of a core; resident {was_mb:,.0f} /"
                            f" {mb:,.0f} MB")  # fmt: skip

    async def queue_polls(self, server: Server, floor: Server, rounds: int, crowd: int) -> None:
        """(q) A waiting room with `crowd` fans: their joins, then the position reads they
        repeat (each fan its own entry and token), in turns with the floor's bare read,
        while the admitter lets fans in at 600 a minute and each admitted fan holds two
        seats and buys them. Read back: never more admitted fans than open seats, nobody
        holding without admission, every seat sold once."""
        data = Data(self.stack, server.base_url)
        room = {"enabled": True, "admitPerMinute": 600, "opensBeforeSeconds": 3600}
        (event,) = await data.events(1, maxNumSeats=4, seatHoldTime=600, waitingRoom=room)
        started = time.monotonic()
        fans = await data.customers(crowd)
        print(f"{'':<34} {crowd:,} fans signed up in {time.monotonic() - started:.0f} s")
        joins = write_lines(
            self.scratch / "joins.tsv",
            [("POST", f"/events/{event}/queue", f.token, "") for f in fans],
        )
        joined = drive(server, f"q joins: {crowd:,} fans", "replay.lua", [str(joins), "2"],
                       connections=128, seconds=4)  # fmt: skip
        # (wrk went round again if it had time: those are the 200s of fans already in.)
        failures: list[str] = []
        check(bad_statuses(joined, {"201", "200"}) == 0, "joins not 201 or 200", failures)
        joined.verdict = verdict(failures, "every join 201, or 200 for a fan already in")
        self.show(joined)
        # Fans the wrk run did not reach join now, so that every fan polls its own entry.
        keys = event_keys(uuid.UUID(event))
        async with Probe(self.stack) as probe:
            entries = await probe.redis.call(lambda c: c.hgetall(keys.qentry))
        have = {k.decode(): json.loads(v)["i"] for k, v in entries.items()}
        limit = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:

            async def join(fan: Customer) -> None:
                async with limit:
                    made = await http.post(
                        f"/events/{event}/queue", headers={"Authorization": f"Bearer {fan.token}"}
                    )
                have[fan.id] = made.json()["id"]

            await asyncio.gather(*(join(f) for f in fans if f.id not in have))
        tokens = {f.id: f.token for f in fans}
        polls = write_lines(
            self.scratch / "polls.tsv",
            [("GET", f"/queue/{entry}", tokens[c], "") for c, entry in have.items()],
        )
        bare = write_lines(
            self.scratch / "bare.tsv", [("GET", f"/events/{uuid.uuid4()}/read", "", "")]
        )
        stop = asyncio.Event()
        bought: dict[str, int] = {}
        refused: dict[str, int] = {}
        worst = {"admitted_unused_over_open": 0}

        async def both(client: Any) -> tuple[int, int]:
            """Admitted fans not yet holding, and open seats, read in one transaction."""
            batch: Batch | ClusterBatch = (
                ClusterBatch(is_atomic=True)
                if isinstance(client, GlideClusterClient)
                else Batch(is_atomic=True)
            )  # (both keys are in the event's slot)
            batch.hget(keys.qmeta, "n_au")
            batch.zcard(keys.free)
            unused, free = await client.exec(batch, raise_on_error=True)
            return int(unused or 0), int(free)

        async def buyers() -> None:
            """Admitted fans hold two seats and buy them, as long as the polls run."""
            done: set[str] = set()
            async with (
                Probe(self.stack) as probe,
                httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
            ):
                while not stop.is_set():
                    admitted = await probe.redis.call(lambda c: c.zrange(keys.qadmitted, _ALL))
                    unused, free = await probe.redis.call(both)  # (at one moment)
                    worst["admitted_unused_over_open"] = max(
                        worst["admitted_unused_over_open"], unused - free
                    )
                    for raw in admitted:
                        fan = raw.decode()
                        if fan in done:
                            continue
                        done.add(fan)
                        auth = {"Authorization": f"Bearer {tokens[fan]}"}
                        held = await http.post(f"/events/{event}/holds", json={"quantity": 2},
                                               headers=auth)  # fmt: skip
                        if held.status_code == 201:
                            sold = await http.post(f"/holds/{held.json()['id']}/reservation",
                                                   headers=auth)  # fmt: skip
                            bought[str(sold.status_code)] = bought.get(str(sold.status_code), 0) + 1
                        else:
                            refused[held.json().get("code", str(held.status_code))] = (
                                refused.get(held.json().get("code", str(held.status_code)), 0) + 1
                            )
                    await asyncio.sleep(0.2)

        buying = asyncio.create_task(buyers())  # (paired runs wrk off this loop, so they run)
        # The first polls: every fan new to the worker that answers (read from Redis once per
        # worker, then remembered). A request goes to whichever worker its connection has, so
        # wrk goes through the file about five times (about 4,000 polls a second here) for
        # nearly every fan to have reached every worker (all but 1 in 2^5 with two); the
        # rounds after are the crowd polling on, as it does for minutes.
        first = await asyncio.to_thread(
            drive, server, f"q position reads, first pass: {crowd:,} fans new to each worker",
            "replay.lua", [str(polls), "2"], connections=128, seconds=max(4.0, crowd / 800),
        )  # fmt: skip
        self.show(first)
        mine, _, rate, p99 = await self.paired(
            f"q position reads, {crowd:,} waiting", rounds, ("service", server, polls),
            ("floor read", floor, bare), connections=128, seconds=min(self.seconds, 4),
        )  # fmt: skip
        stop.set()
        await buying
        async with Probe(self.stack) as probe:
            counts = await probe.engine.queue_counts(uuid.UUID(event))
            sold_seats = await probe.pg.fetchval(
                "SELECT count(*), count(DISTINCT id) FROM seats"
                " WHERE event_id = $1 AND status = 'RESERVED'",
                uuid.UUID(event),
            )
            buyers_sold = await probe.pg.fetchval(
                "SELECT count(DISTINCT customer_id) FROM reservations WHERE event_id = $1",
                uuid.UUID(event),
            )
        failures = []
        check(sum(bad_statuses(r, {"200"}) for r in [first, *mine]) == 0, "polls not 200",
              failures)  # fmt: skip
        check(bought.keys() <= {"201"}, f"confirms answered {bought}", failures)
        check(bool(bought), f"nobody bought (holds refused: {refused})", failures)
        check(buyers_sold <= counts.admitted + counts.done, "buyers never admitted", failures)
        over = worst["admitted_unused_over_open"]
        check(over <= 0, f"admitted fans not yet holding outnumbered the open seats by {over}",
              failures)  # fmt: skip
        mine[-1].verdict = verdict(
            failures,
            f"{counts.done + counts.admitted} admitted of {counts.joined:,}, {buyers_sold} bought"
            f" {sold_seats} seats",
        )
        self.note(mine[-1], mine[-1].verdict)
        self.note(mine[-1], f"position reads / the floor's bare read: {rate:.2f} of the"
                            f" throughput, p99 {p99:.2f} x")  # fmt: skip
        self.note(mine[-1], f"admitted and not yet holding minus open seats, sampled every"
                            f" 0.2 s: at worst {over} (never above 0, invariant 11)")  # fmt: skip

    async def mixed(self, server: Server, customers: list[Customer]) -> None:
        data = Data(self.stack, server.base_url)
        events = await data.events(12, maxNumSeats=10, seatHoldTime=600)
        await data.warm(events)
        tokens = self.scratch / "customers.txt"
        tokens.write_text("".join(c.token + "\n" for c in customers))
        connections = 32
        res = drive(server, "e mixed flow", "mixed.lua",
                    [str(tokens), str(connections), ",".join(events)],
                    connections=connections, threads=connections, seconds=self.seconds)  # fmt: skip
        failures: list[str] = []
        async with Probe(self.stack) as probe:
            await probe.settled(events)
            reservations = await probe.reservations(events)
            left = len(await probe.holds(events))
        s = res.statuses
        held, bought = s.get("hold:201", 0), s.get("confirm:201", 0)
        released = s.get("release:204", 0)
        expected = {"browse:200", "seats:200", "hold:201", "hold:409", "extend:200",
                    "confirm:201", "release:204"}  # fmt: skip
        unexpected = {k: v for k, v in s.items() if k not in expected}
        check(not unexpected, f"unexpected answers {unexpected}", failures)
        # One request per connection may be answered after wrk stopped counting.
        check(
            bought <= reservations <= bought + connections,
            f"{reservations} reservations for {bought} answers 201",
            failures,
        )
        check(left <= connections, f"{left} holds left for {connections} visitors", failures)
        res.verdict = verdict(
            failures, f"{bought} bought, {released} released, {left} mid-visit at the end"
        )
        res.notes.append(f"visits: {held} holds ({held / res.seconds:,.0f}/s)")
        self.show(res)


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    system = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, {system}"


def start_to_ready(stack: Stack) -> float:
    started = time.monotonic()
    with serve(stack, workers=1, name="startup"):
        return time.monotonic() - started


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    # A SIGTERM (`timeout`, a CI job cancelled) stops the bench as Ctrl-C does: through its
    # `with` blocks, so the servers it started (the embedded Valkey among them) stop too.
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", default="a,w,s,c,p,r,k,q,h,b,d,e,i")
    parser.add_argument("--crowd", type=int, default=20_000, help="(q): fans in the queue")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--history", type=int, default=3000, help="(i): past events to add")
    parser.add_argument(
        "--rounds", type=int, default=3, help="(a): turns of the floor and the service"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", action="store_true", help="py-spy the service's workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (make system-packages installs it)")
    only = set(args.only.split(","))
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    with running() as stack:
        print(f"PostgreSQL and Redis: {'embedded' if stack.embedded else 'external'}")
        print(f"start to ready (1 worker): {start_to_ready(stack):.2f} s")
        bench = Bench(stack, stack.scratch, args.workers, args.seconds, args.profile)
        env = {"TICKETING_DB_POOL_MAX": "20"}
        with (
            serve(stack, workers=args.workers, env=env) as server,
            serve(
                stack, workers=args.workers, app="bench.floor:create_floor", name="floor"
            ) as floor,
        ):
            print(f"service and floor: Granian, {args.workers} workers each\n")
            customers = asyncio.run(Data(stack, server.base_url).customers(512))
            burst_events: list[str] = []
            if "a" in only or "c" in only:  # (the confirms confirm the burst's holds)
                burst_events = asyncio.run(bench.compare(server, floor, customers, args.rounds))
            if "w" in only:
                asyncio.run(bench.burst(server, customers, "w burst + subscribers",
                                        watchers=args.subscribers))  # fmt: skip
            if "c" in only and burst_events:
                asyncio.run(bench.confirms(server, burst_events, customers, args.rounds))
            if "p" in only:
                asyncio.run(bench.seed_holds(server, floor, customers, args.rounds))
            if "r" in only:
                asyncio.run(bench.point_reads(server, floor, customers, args.rounds))
            if "k" in only:
                for label in ("new", "lost"):
                    asyncio.run(bench.cold(server, customers, 2, label))
            if "i" in only:
                # (Beside it, a second stack of its own: the box office with a past.)
                with (
                    running(own=True) as other,
                    serve(other, workers=args.workers, env=env, name="past") as past,
                ):
                    fans = asyncio.run(Data(other, past.base_url).customers(512))
                    sides = Side("empty", stack, server, customers), Side("past", other, past, fans)
                    asyncio.run(bench.history(*sides, args.history))
            if "q" in only:
                asyncio.run(bench.queue_polls(server, floor, args.rounds, args.crowd))
            if "h" in only:
                spread = [r for r in bench.results if r.name.startswith("a hold burst: service")]
                middle = sorted(spread, key=lambda r: r.rate)[len(spread) // 2] if spread else None
                asyncio.run(bench.hot(server, middle))
            if "b" in only:
                asyncio.run(bench.onsale(server))
            if "d" in only:
                (event,) = asyncio.run(Data(stack, server.base_url).events(1))
                asyncio.run(bench.reads(server, event))
            if "e" in only:
                asyncio.run(bench.mixed(server, customers))
            rss = [resident_mb(p) for p in worker_pids(server)]
            shown = ", ".join(f"{m:.0f} MB" for m in rss)
            print(f"\nresident memory after the run, per process: {shown}")
        if "s" in only:
            for workers in (1, 2):
                with serve(stack, workers=workers, env=env) as one:
                    customers = asyncio.run(Data(stack, one.base_url).customers(256))
                    asyncio.run(bench.burst(one, customers, f"s hold burst, {workers} worker(s)"))
    for name, lines in bench.profiles.items():
        print(f"\nprofile of the service's workers during {name}:")
        print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps([r.__dict__ | {"rate": r.rate} for r in bench.results], indent=2)
        )


if __name__ == "__main__":
    main()
