"""Faults during an onsale: `make chaos` (python -m bench.chaos).

Each fault runs against its own scratch stack (embedded PostgreSQL, durable Valkey) and a
`ticketing serve` with two workers, while fans hold and confirm seats as fast as they can:

- redis-kill:      kill -9 Redis, start it again two seconds later;
- postgres-restart: stop PostgreSQL, start it again two seconds later;
- worker-kill:     kill -9 one of the service's worker processes while it confirms.

Afterwards PostgreSQL is the judge: every confirmation answered 201 is a reservation, no
seat is reserved twice, no answer was a 500, and once the fault is over a new hold and
confirm succeed with no hand work (the time that took is the recovery). Seats whose
confirmation was cut off (a dead worker) end up either reserved or open again, never stuck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.service import Server, serve, stack_on, worker_pids
from ticketing.db import migrate
from ticketing.embedded import EmbeddedStack
from ticketing.holds.engine import FENCE_MS

FAULTS = ("redis-kill", "postgres-restart", "worker-kill")
FENCE_SECONDS = FENCE_MS / 1000  # how long a confirmation's fence lasts


@dataclass
class Report:
    fault: str
    seconds: float
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    transport_errors: int = 0
    confirmed: int = 0  # 201 answers to confirmations
    reserved_in_postgres: int = 0
    reserved_without_201: int = 0  # cut off mid-confirm (dead worker, lost reply): kept
    lost: int = 0  # 201 answers with no reservation: must be 0
    doubled: int = 0  # seats reserved twice: must be 0
    server_errors: int = 0  # 500s: must be 0
    recovery_seconds: float | None = None  # fault over -> first successful hold + confirm
    stuck_seats: int = 0  # seats neither open nor reserved once holds ran out: must be 0
    seats_seen: str = ""  # per event: the service's counts and PostgreSQL's reserved seats
    workers_after: int = 0  # the service's worker processes once it recovered
    audit_problems: list[str] = field(default_factory=list)  # the inventory audit's: none

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.doubled == 0
            and self.server_errors == 0
            and self.stuck_seats == 0
            and not self.audit_problems
            and self.recovery_seconds is not None
        )


@dataclass
class _Load:
    admin: dict[str, str]
    statuses: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    confirmed: set[str] = field(default_factory=set)  # reservation ids answered 201
    stop: bool = False


async def _fan(load: _Load, http: httpx.AsyncClient, event_id: str) -> None:
    token: str | None = None
    while not load.stop:
        try:
            if token is None:
                made = await http.post(
                    "/customers", headers=load.admin, json={"firstName": "F", "lastName": "C"}
                )
                load.statuses[str(made.status_code)] += 1
                if made.status_code != 201:
                    await asyncio.sleep(0.2)
                    continue
                token = made.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            held = await http.post(f"/events/{event_id}/holds", json={"quantity": 2}, headers=auth)
            load.statuses[str(held.status_code)] += 1
            if held.status_code == 401:
                token = None  # Redis lost the session: sign up again
                continue
            if held.status_code != 201:
                await asyncio.sleep(0.05)
                continue
            done = await http.post(f"/holds/{held.json()['id']}/reservation", headers=auth)
            load.statuses[str(done.status_code)] += 1
            if done.status_code == 201:
                load.confirmed.add(done.json()["id"])
            elif done.status_code == 401:
                token = None
        except httpx.TransportError:
            load.transport_errors += 1
            await asyncio.sleep(0.05)


async def _event(http: httpx.AsyncClient, admin: dict[str, str], seats: int) -> str:
    made = await http.post(
        "/events",
        headers=admin,
        json={
            "eventName": "Chaos Night",
            "eventLocation": "Hall " + secrets.token_hex(4),
            "eventDateTimeStamp": "2027-06-01T19:30:00Z",
            "numSeats": seats,
            "maxNumSeats": 1000,
            "seatHoldTime": 10,
        },
    )
    assert made.status_code == 201, made.text
    event_id: str = made.json()["id"]
    return event_id


async def _recovered(base: str, admin: dict[str, str], event_id: str, limit: float) -> float:
    """Seconds until a fresh customer can hold and confirm again."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while time.monotonic() - started < limit:
            try:
                made = await http.post(
                    "/customers", headers=admin, json={"firstName": "R", "lastName": "C"}
                )
                if made.status_code == 201:
                    auth = {"Authorization": "Bearer " + made.json()["token"]}
                    held = await http.post(
                        f"/events/{event_id}/holds", json={"quantity": 1}, headers=auth
                    )
                    if held.status_code == 201:
                        done = await http.post(
                            f"/holds/{held.json()['id']}/reservation", headers=auth
                        )
                        if done.status_code == 201:
                            return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"no successful hold and confirm within {limit} s")


async def _judge(report: Report, load: _Load, database_url: str, event_ids: list[str]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT r.id, rs.seat_id FROM reservations r"
            " JOIN reservation_seats rs ON rs.reservation_id = r.id"
            " WHERE r.event_id = ANY($1::uuid[])",
            event_ids,
        )
        reservations = {str(r["id"]) for r in rows}
        seats = [r["seat_id"] for r in rows]
        report.reserved_in_postgres = len(reservations)
        report.lost = len(load.confirmed - reservations)
        report.reserved_without_201 = len(reservations - load.confirmed)
        report.doubled = len(seats) - len(set(seats))
    finally:
        await conn.close()


async def _stuck(base: str, event_ids: list[str], database_url: str) -> tuple[int, str]:
    """Once every hold has run out (and any cut-off confirmation settled), each seat is open
    or reserved, and the service agrees with PostgreSQL about which."""
    conn = await asyncpg.connect(database_url)
    try:
        stuck = 0
        seen: list[str] = []
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for event_id in event_ids:
                reserved = await conn.fetchval(
                    "SELECT count(*) FROM seats WHERE event_id = $1::uuid AND status = 'RESERVED'",
                    event_id,
                )
                counts = (await http.get(f"/events/{event_id}/availability")).json()
                stuck += counts["onHold"] + abs(counts["reserved"] - reserved)
                seen.append(
                    f"onHold={counts['onHold']} reserved={counts['reserved']} postgres={reserved}"
                )
        return int(stuck), "; ".join(seen)
    finally:
        await conn.close()


async def _audit(base: str, admin: dict[str, str], event_ids: list[str]) -> list[str]:
    """The inventory audit of every event once the onsale settled: codes of what it found."""
    found: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for event_id in event_ids:
            audit = (await http.get(f"/events/{event_id}/audit", headers=admin)).json()
            found.extend(f"{event_id}: {p['code']} {p['detail']}" for p in audit["problems"])
    return found


async def _run(
    fault: str, stack: EmbeddedStack, scratch: Path, seconds: float, fans: int
) -> Report:
    assert stack.postgres is not None
    assert stack.valkey is not None
    admin_token = secrets.token_urlsafe(24)
    on = stack_on(stack, admin_token, scratch)
    admin = {"Authorization": f"Bearer {admin_token}"}
    report = Report(fault, seconds)
    env = {"TICKETING_REDIS_TIMEOUT_MS": "500", "TICKETING_DB_TIMEOUT": "2"}
    with serve(on, workers=2, env=env, name=f"chaos-{fault}") as server:
        limits = httpx.Limits(max_connections=fans + 10)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as http:
            event_ids = [await _event(http, admin, 1000) for _ in range(3)]
            load = _Load(admin)
            fans_tasks = [
                asyncio.create_task(_fan(load, http, event_ids[i % 2])) for i in range(fans)
            ]
            await asyncio.sleep(seconds / 4)
            inject, heal = _fault(fault, stack, server)
            await asyncio.to_thread(inject)
            await asyncio.sleep(2.0)
            await asyncio.to_thread(heal)
            healed_at = time.monotonic()
            report.recovery_seconds = round(
                await _recovered(server.base_url, admin, event_ids[2], 30.0), 2
            )
            report.workers_after = len(worker_pids(server))
            await asyncio.sleep(max(0.0, seconds * 3 / 4 - (time.monotonic() - healed_at)))
            load.stop = True
            await asyncio.gather(*fans_tasks)
        # Holds run out after 10 s; a confirmation cut off after its fence waits for the
        # fence (30 s) to run out, and is then settled by the sweeper.
        await asyncio.sleep(12)
        settled_by = time.monotonic() + FENCE_SECONDS + 5
        while True:
            report.stuck_seats, report.seats_seen = await _stuck(
                server.base_url, event_ids[:2], stack.postgres.url
            )
            if report.stuck_seats == 0 or time.monotonic() > settled_by:
                break
            await asyncio.sleep(1.0)
        report.audit_problems = await _audit(server.base_url, admin, event_ids)
        log = server.log.read_text()
    report.statuses = dict(sorted(load.statuses.items()))
    report.requests = sum(load.statuses.values()) + load.transport_errors
    report.transport_errors = load.transport_errors
    report.confirmed = len(load.confirmed)
    report.server_errors = sum(
        n for s, n in load.statuses.items() if s.startswith("5") and s != "503"
    )
    report.server_errors += log.count('"status":500')
    await _judge(report, load, stack.postgres.url, event_ids[:2])
    return report


def _fault(
    fault: str, stack: EmbeddedStack, server: Server
) -> tuple[Callable[[], object], Callable[[], object]]:
    """(inject, heal), each a blocking call."""
    assert stack.postgres is not None
    assert stack.valkey is not None
    postgres, valkey = stack.postgres, stack.valkey

    def kill_a_worker() -> None:
        os.kill(worker_pids(server)[-1], signal.SIGKILL)

    steps: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "redis-kill": (valkey.kill, valkey.start),
        "postgres-restart": (postgres.stop, postgres.start),
        "worker-kill": (kill_a_worker, lambda: None),  # the server replaces it by itself
    }
    return steps[fault]


async def run_fault(fault: str, seconds: float = 8.0, fans: int = 40) -> Report:
    """One fault on a fresh scratch stack; the stack is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"ticketing-chaos-{fault}-") as scratch:
        folder = Path(scratch)
        with EmbeddedStack(folder / "data", durable=True) as stack:
            assert stack.postgres is not None
            await asyncio.to_thread(migrate.upgrade, stack.postgres.url)
            return await _run(fault, stack, folder, seconds, fans)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--only", default=",".join(FAULTS), help="faults, comma-separated")
    parser.add_argument("--seconds", type=float, default=12.0, help="onsale length per fault")
    parser.add_argument("--fans", type=int, default=60, help="concurrent customers")
    parser.add_argument("--json", type=Path, help="write the reports here too")
    args = parser.parse_args()
    reports: list[dict[str, Any]] = []
    failed = False
    for fault in args.only.split(","):
        report = asyncio.run(run_fault(fault.strip(), args.seconds, args.fans))
        verdict = "PASS" if report.passed else "FAIL"
        failed |= not report.passed
        print(f"\n== {fault}: {verdict}")
        for key, value in asdict(report).items():
            print(f"  {key}: {value}")
        reports.append({**asdict(report), "passed": report.passed})
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2) + "\n")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
