"""The inventory audit: `ok` after ordinary use, and each kind of problem caught when a test
plants it in PostgreSQL or Redis behind the service's back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from glide import RangeByIndex

from tests.conftest import ADMIN, make_customer, make_event, reserve_directly, seats_of
from tests.integration.holds.conftest import age_hold, sweeping_alone
from ticketing.cache.redis import Redis
from ticketing.db.database import Database
from ticketing.holds.engine import HoldEngine, event_keys

Parts = tuple[HoldEngine, Redis, Database]


async def _audit(client: Any, event_id: str) -> dict[str, Any]:
    response = await client.get(f"/events/{event_id}/audit", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["open"] + body["onHold"] + body["reserved"] == body["numSeats"]
    assert body["ok"] == (body["problems"] == [])
    return body


def _codes(audit: dict[str, Any]) -> set[str]:
    return {p["code"] for p in audit["problems"]}


async def _held_event(client: Any, **kw: Any) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    event = await make_event(client, **kw)
    fan = await make_customer(client)
    hold = await client.post(
        f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan.headers
    )
    assert hold.status_code == 201
    return event, fan, hold.json()


async def test_the_audit_is_ok_and_counts_right_after_ordinary_use(client: Any) -> None:
    event, fan, hold = await _held_event(client, numSeats=20)
    kept = await client.post(
        f"/events/{event['id']}/holds", json={"quantity": 3}, headers=fan.headers
    )
    assert (
        await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    ).status_code == 201
    audit = await _audit(client, event["id"])
    assert audit["ok"], audit["problems"]
    assert (audit["numSeats"], audit["reserved"], audit["onHold"], audit["open"]) == (20, 2, 3, 15)
    assert audit["eventId"] == event["id"]
    reservation = (
        await client.get(f"/customers/{fan.id}/reservations", headers=fan.headers)
    ).json()
    await client.delete(f"/reservations/{reservation['items'][0]['id']}", headers=ADMIN)
    await client.delete(f"/holds/{kept.json()['id']}", headers=fan.headers)
    after = await _audit(client, event["id"])
    assert after["ok"], after["problems"]
    assert (after["reserved"], after["onHold"], after["open"]) == (0, 0, 20)


async def test_only_admins_audit_and_unknown_events_are_404(client: Any) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    assert (await client.get(f"/events/{event['id']}/audit")).status_code == 401
    assert (
        await client.get(f"/events/{event['id']}/audit", headers=fan.headers)
    ).status_code == 403
    missing = await client.get(f"/events/{uuid.uuid4()}/audit", headers=ADMIN)
    assert missing.status_code == 404


async def test_a_reservation_the_mirror_missed_is_found(
    client: Any, pg: Any, app_engine_parts: Parts
) -> None:
    event, fan, hold = await _held_event(client)
    open_seat = next(s for s in await seats_of(client, event["id"]) if s["status"] == "OPEN")
    await reserve_directly(pg, fan.id, [open_seat["id"]], mirror_unaware=True)
    held = hold["seats"][0]["id"]
    await reserve_directly(
        pg, (await make_customer(client)).id, [held], mirror_unaware=True
    )  # under a live hold
    codes = _codes(await _audit(client, event["id"]))
    assert {"RESERVED_BUT_HOLDABLE", "HOLD_ON_RESERVED_SEAT"} <= codes


async def test_redis_state_that_disagrees_is_found(client: Any, app_engine_parts: Parts) -> None:
    _, redis, _ = app_engine_parts
    event, fan, hold = await _held_event(client)
    keys = event_keys(uuid.UUID(event["id"]))
    seats = [s["id"] for s in await seats_of(client, event["id"])]
    open_seat = next(s for s in seats if s not in {x["id"] for x in hold["seats"]})
    intruder, ghost = str(uuid.uuid4()), str(uuid.uuid4())
    record = {
        "c": fan.id,
        "s": [hold["seats"][0]["id"], ghost],
        "t0": 0,
        "t": 2**45,
        "h": 60,
        "f": 0,
    }
    await redis.call(lambda c: c.hset(keys.holds, {intruder: json.dumps(record)}))
    await redis.call(lambda c: c.sadd(keys.reserved, [open_seat]))
    codes = _codes(await _audit(client, event["id"]))
    assert {
        "SEAT_IN_TWO_HOLDS",
        "HOLD_UNKNOWN_SEAT",
        "MIRROR_RESERVED_BUT_OPEN",
        "HOLD_INDEX_MISMATCH",  # the intruder is in no index
    } <= codes


async def test_position_indexes_that_disagree_are_found(
    client: Any, app_engine_parts: Parts
) -> None:
    _, redis, _ = app_engine_parts
    event, _, hold = await _held_event(client, numSeats=10)
    keys = event_keys(uuid.UUID(event["id"]))
    assert await _codes_after_pages(client, event["id"]) == set()
    # A held seat missing from the held seats' index, an open one at a wrong place.
    held_members = await redis.call(lambda c: c.zrange(keys.heldat, RangeByIndex(0, -1)))
    gone = next(m for m in held_members if m.startswith(b"p\t"))
    await redis.call(lambda c: c.zrem(keys.heldat, [gone]))
    open_members = await redis.call(lambda c: c.zrange(keys.openat, RangeByIndex(0, -1)))
    moved = next(m for m in open_members if m.startswith(b"p\t"))
    seat = moved.rsplit(b"\t", 1)[1]
    await redis.call(lambda c: c.zadd(keys.openat, {b"p\t0000000099\t" + seat: 0}))
    audit = await _audit(client, event["id"])
    assert _codes(audit) == {"POSITION_INDEX_WRONG"}
    assert {p["seatId"] for p in audit["problems"]} == {
        gone.rsplit(b"\t", 1)[1].decode(),
        seat.decode(),
    }
    assert gone.rsplit(b"\t", 1)[1].decode() in {s["id"] for s in hold["seats"]}


async def _codes_after_pages(client: Any, event_id: str) -> set[str]:
    for status in ("OPEN", "ON_HOLD"):
        page = await client.get(f"/events/{event_id}/seats", params={"status": status})
        assert page.status_code == 200
    return _codes(await _audit(client, event_id))


async def test_a_hold_left_past_its_time_and_a_stale_mirror_are_found(
    client: Any, pg: Any, app_engine_parts: Parts
) -> None:
    _, redis, _ = app_engine_parts
    event, _, hold = await _held_event(client)
    seat = next(s for s in await seats_of(client, event["id"]) if s["status"] == "OPEN")
    await pg.execute(
        "UPDATE seats SET price = 77, version = version + 1 WHERE id = $1", uuid.UUID(seat["id"])
    )
    await pg.execute(
        "UPDATE events SET num_seats = num_seats + 1 WHERE id = $1", uuid.UUID(event["id"])
    )
    async with sweeping_alone(redis):  # nothing sweeps: the hold stays past its time
        await age_hold(redis, uuid.UUID(event["id"]), uuid.UUID(hold["id"]), 65_000)
        codes = _codes(await _audit(client, event["id"]))
    assert {"EXPIRED_HOLD_VISIBLE", "MIRROR_STALE", "COUNTS_MISMATCH"} <= codes


async def test_a_customer_over_a_lowered_limit_is_reported_not_fixed(client: Any) -> None:
    event = await make_event(client, numSeats=20, maxNumSeats=4)
    fan = await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 4}, headers=fan.headers)
    ).json()
    assert (
        await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    ).status_code == 201
    lowered = await client.patch(f"/events/{event['id']}", json={"maxNumSeats": 2}, headers=ADMIN)
    assert lowered.status_code == 200
    audit = await _audit(client, event["id"])
    assert [(p["code"], p["customerId"]) for p in audit["problems"]] == [
        ("CUSTOMER_OVER_LIMIT", fan.id)
    ]
    assert audit["reserved"] == 4  # nothing was taken from the customer


@pytest.mark.parametrize("planted", ["reserved", "none"])
async def test_the_background_audit_exports_its_problems(
    client: Any, pg: Any, planted: str
) -> None:
    event, fan, _ = await _held_event(client)
    if planted == "reserved":
        seat = next(s for s in await seats_of(client, event["id"]) if s["status"] == "OPEN")
        await reserve_directly(pg, fan.id, [seat["id"]], mirror_unaware=True)
    found = client.blocking_portal.call(client.app.state.audit.audit_active)
    scraped = (await client.get("/metrics", headers=ADMIN)).text
    line = 'ticketing_audit_problems{code="RESERVED_BUT_HOLDABLE"}'
    value = next(float(row.split()[-1]) for row in scraped.splitlines() if row.startswith(line))
    assert value == found["RESERVED_BUT_HOLDABLE"]
    if planted == "reserved":
        assert found["RESERVED_BUT_HOLDABLE"] >= 1
        # Repair it the way an operator would: drop the mirror; the next read rebuilds it.
        await client.patch(f"/events/{event['id']}", json={"eventName": "Rebuilt"}, headers=ADMIN)
        assert (await _audit(client, event["id"]))["ok"]


async def test_the_background_audit_checks_a_bounded_number_of_events_in_turn(
    client: Any,
) -> None:
    """Thousands of events on sale at once must not make the audit's pass unbounded: each
    pass checks at most its budget, the least recently checked first, so every active
    event comes round."""
    from ticketing.audit.service import AuditService

    app = client.app.state
    audit = AuditService(app.db, app.holds)  # (a second auditor: the app's own runs too)
    for _ in range(2):
        await _held_event(client)
    portal = client.blocking_portal  # (the app's services live on its own loop)
    active = portal.call(app.holds.active_events)
    assert len(active) >= 2
    portal.call(audit.audit_active, 1)
    once = [e for e in active if audit.last_audited(e) is not None]
    portal.call(audit.audit_active, 1)
    twice = [e for e in active if audit.last_audited(e) is not None]
    assert len(once) == 1
    assert len(twice) == 2  # another one: the least recently checked goes first
    assert once[0] in twice
