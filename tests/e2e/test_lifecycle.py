"""Every fact of a hold's life reaches the subscribers, with its hold, customer, seats, time
and cause, in the order it happened; a subscriber that fails never fails the request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import ADMIN, make_customer, make_event
from ticketing.holds.lifecycle import Cause, HoldEvent, HoldEvents, Kind


@pytest.fixture
def told(client: Any) -> Iterator[list[HoldEvent]]:
    """What the in-process app's subscribers are told, while the test runs."""
    events: HoldEvents = client.app.state.holds.events
    seen: list[HoldEvent] = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


def _of(told: list[HoldEvent], event_id: str) -> list[HoldEvent]:
    return [e for e in told if e.event_id == uuid.UUID(event_id)]


async def test_a_hold_from_placed_to_cancelled_is_told_in_order(
    client: Any, told: list[HoldEvent]
) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 2}, headers=fan.headers)
    ).json()
    extended = (await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)).json()
    reservation = await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    assert reservation.status_code == 201
    reservation_id = reservation.json()["id"]
    cancelled = await client.delete(f"/reservations/{reservation_id}", headers=ADMIN)
    assert cancelled.status_code == 204

    facts = _of(told, event["id"])
    assert [e.kind for e in facts] == [Kind.PLACED, Kind.EXTENDED, Kind.CONFIRMED, Kind.CANCELLED]
    seats = tuple(s["id"] for s in hold["seats"])
    for fact in facts:
        assert fact.hold_id == uuid.UUID(hold["id"])
        assert fact.customer_id == uuid.UUID(fan.id)
        assert sorted(fact.seat_ids) == sorted(seats)
        assert fact.at_ms > 0
    assert [e.cause for e in facts] == [Cause.CUSTOMER] * 3 + [Cause.ADMIN]
    sequences = [e.sequence for e in facts]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 4
    assert sequences[0] > 0
    placed, extension, confirmed, cancel = facts
    assert placed.expires_ms is not None
    assert extension.expires_ms is not None
    assert extension.expires_ms > placed.expires_ms
    answered = datetime.fromisoformat(extended["expiresAt"].replace("Z", "+00:00"))
    assert round(answered.timestamp() * 1000) == extension.expires_ms
    assert confirmed.reservation_id == cancel.reservation_id == uuid.UUID(reservation_id)


async def test_releases_say_who_let_the_hold_go(client: Any, told: list[HoldEvent]) -> None:
    event = await make_event(client)
    fan = await make_customer(client)
    holds = []
    for _ in range(3):
        response = await client.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers
        )
        holds.append(response.json()["id"])
    assert (await client.delete(f"/holds/{holds[0]}", headers=fan.headers)).status_code == 204
    assert (await client.delete(f"/holds/{holds[1]}", headers=ADMIN)).status_code == 204
    assert (await client.delete(f"/customers/{fan.id}", headers=fan.headers)).status_code == 204
    released = {e.hold_id: e.cause for e in _of(told, event["id"]) if e.kind is Kind.RELEASED}
    assert released == {
        uuid.UUID(holds[0]): Cause.CUSTOMER,
        uuid.UUID(holds[1]): Cause.ADMIN,
        uuid.UUID(holds[2]): Cause.CUSTOMER_DELETED,
    }


async def test_refused_attempts_tell_nothing(client: Any, told: list[HoldEvent]) -> None:
    event = await make_event(client)
    fan, rival = await make_customer(client), await make_customer(client)
    hold = (
        await client.post(f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers)
    ).json()
    seat = hold["seats"][0]["id"]
    taken = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=rival.headers
    )
    assert taken.status_code == 409
    assert (
        await client.post(f"/holds/{hold['id']}/extend", headers=rival.headers)
    ).status_code == 404
    assert [e.kind for e in _of(told, event["id"])] == [Kind.PLACED]


async def test_a_failing_subscriber_never_fails_a_hold(client: Any, told: list[HoldEvent]) -> None:
    events: HoldEvents = client.app.state.holds.events

    def broken(event: HoldEvent) -> None:
        raise RuntimeError("a subscriber with a bug")

    events.subscribe(broken)
    try:
        event = await make_event(client)
        fan = await make_customer(client)
        response = await client.post(
            f"/events/{event['id']}/holds", json={"quantity": 1}, headers=fan.headers
        )
    finally:
        events.unsubscribe(broken)
    assert response.status_code == 201
    assert [e.kind for e in _of(told, event["id"])] == [Kind.PLACED]  # the others still told
