"""SIGTERM in the middle of an onsale: the server stops taking connections, finishes every
confirmation already in flight, ends open streams (they never end by themselves) and
exits well within its shutdown timeout. No confirmation is lost: a hold is reserved in
PostgreSQL exactly when its client was told 201."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN
from tests.e2e.conftest import serving_process
from ticketing.embedded import EmbeddedStack

FANS = 120


async def _prepare(http: httpx.AsyncClient) -> list[tuple[str, dict[str, str]]]:
    created = await http.post(
        "/events",
        headers=ADMIN,
        json={
            "eventName": "Last Call",
            "eventLocation": "Hall " + uuid.uuid4().hex[:8],
            "eventDateTimeStamp": "2027-06-01T19:30:00Z",
            "numSeats": FANS * 2,
            "maxNumSeats": 2,
            "seatHoldTime": 600,
        },
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]

    async def fan() -> tuple[str, dict[str, str]]:
        made = await http.post(
            "/customers", headers=ADMIN, json={"firstName": "F", "lastName": "L"}
        )
        auth = {"Authorization": "Bearer " + made.json()["token"]}
        held = await http.post(f"/events/{event_id}/holds", json={"quantity": 2}, headers=auth)
        assert held.status_code == 201, held.text
        return held.json()["id"], auth

    return list(await asyncio.gather(*(fan() for _ in range(FANS))))


def _watch(url: str, ended: threading.Event) -> None:
    try:
        with httpx.stream("GET", url, timeout=30) as stream:
            for _ in stream.iter_bytes():
                pass
    except httpx.HTTPError:
        pass
    ended.set()


async def test_sigterm_finishes_confirms_in_flight_and_loses_none(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory, pg: asyncpg.Connection
) -> None:
    with serving_process(
        stack, tmp_path_factory.mktemp("stopping"), workers=2, TICKETING_SHUTDOWN_TIMEOUT="20"
    ) as server:
        assert server.process is not None
        limits = httpx.Limits(max_connections=FANS)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as http:
            holds = await _prepare(http)
            event_id = (await http.get(f"/holds/{holds[0][0]}", headers=holds[0][1])).json()[
                "eventId"
            ]
            stream_ended = threading.Event()
            watcher = threading.Thread(
                target=_watch,
                args=(f"{server.base_url}/events/{event_id}/stream", stream_ended),
                daemon=True,
            )
            watcher.start()
            await asyncio.sleep(0.5)

            # Every connection open beforehand, so the confirmations are on the wire at once.
            await asyncio.gather(*(http.get("/health") for _ in range(FANS)))
            first_answer = asyncio.Event()

            async def confirm(hold_id: str, auth: dict[str, str]) -> int | str:
                try:
                    answer = await http.post(f"/holds/{hold_id}/reservation", headers=auth)
                except httpx.TransportError as exc:
                    return type(exc).__name__
                finally:
                    first_answer.set()
                return answer.status_code

            confirms = [asyncio.create_task(confirm(h, a)) for h, a in holds]
            await first_answer.wait()
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            outcomes: list[Any] = await asyncio.gather(*confirms)
        exit_code = await asyncio.to_thread(server.process.wait, 30)
        took = time.monotonic() - stopped_at
        log = server.log.read_text()

    assert exit_code == 0, log[-2000:]
    assert took < 10, f"shutdown took {took:.1f} s"
    assert "refused to gracefully stop" not in log
    assert stream_ended.wait(5), "the open stream was not ended"
    statuses = [o for o in outcomes if isinstance(o, int)]
    assert all(s in {201, 503} for s in statuses), outcomes
    assert 201 in statuses  # the signal came while confirmations were being answered
    told = {h for (h, _), o in zip(holds, outcomes, strict=True) if o == 201}
    rows = await pg.fetch(
        "SELECT hold_id FROM reservations WHERE hold_id = ANY($1::uuid[])",
        [uuid.UUID(h) for h, _ in holds],
    )
    reserved = {str(r["hold_id"]) for r in rows}
    assert reserved == told, (
        f"{len(reserved - told)} reserved without a 201, {len(told - reserved)} 201s lost"
    )
