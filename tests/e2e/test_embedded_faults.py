"""An onsale on the embedded stack (`ticketing serve` as `make run` starts it) while each of
its servers is killed with kill -9: the server is restarted by the service, and nothing sold
is lost, nothing is sold twice, and the inventory audit says ok."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from bench.service import LOAD_TEST_LIMITS
from tests.e2e.test_serve import BIN, _pid, _wait_ready, serve_env
from ticketing.embedded import DATABASE_NAME, free_port

FANS = 16


def _serve_logging_to(log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [str(BIN / "ticketing"), "serve"],
            env=env,  # (the fans share one address: rate limits far above the load)
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


async def _until_back(http: httpx.AsyncClient, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (await http.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the service did not recover")


async def test_an_onsale_survives_kill_9_of_each_embedded_server(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"  # a file, not a pipe: under load the server logs plenty
    proc = _serve_logging_to(log, serve_env(data_dir, port, **LOAD_TEST_LIMITS))
    statuses: Counter[int] = Counter()
    sold: list[str] = []
    try:
        await asyncio.to_thread(_wait_ready, proc, base)
        admin = {"Authorization": f"Bearer {(data_dir / 'admin-token').read_text().strip()}"}
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            event = (
                await http.post(
                    "/events",
                    json={
                        "eventName": "Kill -9 night",
                        "eventLocation": "Embedded Hall",
                        "eventDateTimeStamp": "2027-03-01T20:00:00Z",
                        "numSeats": 400,
                        "maxNumSeats": 40,
                        "seatHoldTime": 10,
                    },
                    headers=admin,
                )
            ).json()
            tokens = []
            for i in range(FANS):
                signed = (
                    await http.post("/customers", json={"firstName": "Fan", "lastName": str(i)})
                ).json()
                tokens.append({"Authorization": f"Bearer {signed['token']}"})
            await asyncio.sleep(1.5)  # the tokens are on disk (Valkey's AOF syncs each second)
            stop = asyncio.Event()

            async def fan(headers: dict[str, str]) -> None:
                while not stop.is_set():
                    try:
                        hold = await http.post(
                            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=headers
                        )
                        statuses[hold.status_code] += 1
                        if hold.status_code != 201:
                            await asyncio.sleep(0.1)
                            continue
                        bought = await http.post(
                            f"/holds/{hold.json()['id']}/reservation", headers=headers
                        )
                        statuses[bought.status_code] += 1
                        if bought.status_code == 201:
                            sold.append(bought.json()["id"])
                    except httpx.TransportError:
                        statuses[0] += 1
                        await asyncio.sleep(0.1)

            fans = [asyncio.create_task(fan(t)) for t in tokens]
            for pid_file in (
                data_dir / "valkey" / "valkey.pid",
                data_dir / "postgres" / "postmaster.pid",
            ):
                await asyncio.sleep(1.5)
                dead = _pid(pid_file)
                os.kill(dead, signal.SIGKILL)
                await asyncio.sleep(0.5)
                await _until_back(http)
                assert _pid(pid_file) != dead  # restarted: a new server on the same data
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*fans)
            audit = (await http.get(f"/events/{event['id']}/audit", headers=admin)).json()
            pg_port = int((data_dir / "postgres.owner").read_text().split()[1])
            conn = await asyncpg.connect(
                f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE_NAME}"
            )
            try:
                kept = {
                    str(r[0])
                    for r in await conn.fetch(
                        "SELECT id FROM reservations WHERE event_id = $1 AND cancelled_at IS NULL",
                        uuid.UUID(event["id"]),
                    )
                }
                twice = await conn.fetchval(
                    "SELECT count(*) FROM (SELECT seat_id FROM reservation_seats"
                    " WHERE NOT cancelled GROUP BY seat_id HAVING count(*) > 1) t"
                )
            finally:
                await conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 60)
    output = log.read_text()
    assert proc.returncode == 0, output[-3000:]
    assert "embedded Valkey exited" in output, output
    assert "embedded PostgreSQL exited" in output, output
    assert statuses[201] > 0, statuses
    assert set(statuses) <= {201, 409, 503}, statuses  # 503s while a server was away, no 500
    assert set(sold) <= kept, "a reservation answered 201 was lost"
    assert twice == 0
    assert audit["ok"], audit["problems"]
