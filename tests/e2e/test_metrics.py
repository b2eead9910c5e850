"""The onsale's own figures on /metrics: holds, conflicts, confirms and expiries, each
counted once, read the way Prometheus reads them. In-process: one registry, this process."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN, make_customer, make_event, problem
from tests.integration.holds.conftest import age_hold, sweeping_alone

Client = AsyncTestClient[Any]


async def _figures(client: Client) -> dict[str, float]:
    scraped = await client.get("/metrics", headers=ADMIN)
    assert scraped.status_code == 200
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            figures[f"{sample.name}{{{labels}}}"] = sample.value
    return figures


def _delta(before: dict[str, float], after: dict[str, float], key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_holds_conflicts_confirms_and_expiries_are_counted(client: Client) -> None:
    event = await make_event(client, numSeats=10, maxNumSeats=2)
    fan, rival = await make_customer(client), await make_customer(client)
    path = f"/events/{event['id']}/holds"
    before = await _figures(client)

    kept = await client.post(path, json={"quantity": 2}, headers=fan.headers)
    assert kept.status_code == 201
    problem(
        await client.post(path, json={"quantity": 1}, headers=fan.headers), 409, "LIMIT_EXCEEDED"
    )
    taken = {"seatIds": [s["id"] for s in kept.json()["seats"]]}
    problem(await client.post(path, json=taken, headers=rival.headers), 409, "SEATS_UNAVAILABLE")
    lapsing = await client.post(path, json={"quantity": 2}, headers=rival.headers)
    assert lapsing.status_code == 201
    confirmed = await client.post(f"/holds/{kept.json()['id']}/reservation", headers=fan.headers)
    assert confirmed.status_code == 201

    # The hold runs out and the app's own sweeper sweeps it, on the app's loop (its Redis
    # client lives there), while no other server's sweeper may take the count.
    redis, sweeper = client.app.state.redis, client.app.state.sweeper
    event_id, hold_id = UUID(event["id"]), UUID(lapsing.json()["id"])

    async def lapse() -> None:
        async with sweeping_alone(redis):
            await age_hold(redis, event_id, hold_id, 3_600_000)
            await sweeper.sweep(event_id)

    await asyncio.to_thread(client.blocking_portal.call, lapse)
    after = await _figures(client)

    assert _delta(before, after, "ticketing_holds_total{}") == 2
    assert _delta(before, after, "ticketing_hold_conflicts_total{code=LIMIT_EXCEEDED}") == 1
    assert _delta(before, after, "ticketing_hold_conflicts_total{code=SEATS_UNAVAILABLE}") == 1
    assert _delta(before, after, "ticketing_confirms_total{}") == 1
    assert _delta(before, after, "ticketing_hold_expiries_total{}") == 1
    key = "ticketing_http_requests_total{method=POST,route=/events/{event_id}/holds,status=409}"
    assert _delta(before, after, key) == 2
    timing = (
        "ticketing_http_request_duration_seconds_count{method=POST,route=/events/{event_id}/holds}"
    )
    assert _delta(before, after, timing) == 4
