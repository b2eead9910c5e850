"""A hold's id names its event (ticketing/ids.py), so a worker that knows the event acts on
the hold with no index to read first; a worker that does not, or that guesses wrong (two
events whose ids begin alike, or a hold made before ids named their event), still finds it
through the index."""

from __future__ import annotations

from typing import Any
from uuid import RFC_4122, UUID, uuid4

from litestar.testing import AsyncTestClient

from tests.conftest import make_customer, make_event, seats_of
from ticketing.holds import keys
from ticketing.holds.service import HoldService
from ticketing.ids import EventsByPrefix, prefix_of, scoped_id

Client = AsyncTestClient[Any]


async def _held(client: Client, seats: int = 1) -> tuple[str, Any, dict[str, Any]]:
    event = await make_event(client)
    fan = await make_customer(client)
    ids = [s["id"] for s in (await seats_of(client, event["id"]))[:seats]]
    made = await client.post(
        f"/events/{event['id']}/holds", json={"seatIds": ids}, headers=fan.headers
    )
    assert made.status_code == 201, made.text
    return event["id"], fan, made.json()


def _forget_index(client: Client, hold_id: str) -> None:
    redis = client.app.state.redis
    deleted = client.blocking_portal.call(
        redis.call, lambda c: c.delete([keys.hold_key(UUID(hold_id))])
    )
    assert deleted == 1


def _new_table(client: Client) -> EventsByPrefix:
    holds: HoldService = client.app.state.holds
    holds._events = EventsByPrefix()  # as a worker that has met no event yet
    return holds._events


async def _confirmed(client: Client, fan: Any, hold_id: str) -> dict[str, Any]:
    done = await client.post(f"/holds/{hold_id}/reservation", headers=fan.headers)
    assert done.status_code == 201, done.text
    body: dict[str, Any] = done.json()
    return body


async def test_a_hold_id_begins_as_its_event_id_and_needs_no_index_where_the_event_is_known(
    client: Client,
) -> None:
    event_id, fan, hold = await _held(client, seats=2)
    assert prefix_of(UUID(hold["id"])) == prefix_of(UUID(event_id))
    assert hold["id"] != event_id
    assert UUID(hold["id"]).version == 4  # (and so of RFC 4122's variant, as uuid4() makes)
    assert UUID(hold["id"]).variant == RFC_4122
    # Without the index, this process still finds the hold: it knows the event.
    _forget_index(client, hold["id"])
    got = await client.get(f"/holds/{hold['id']}", headers=fan.headers)
    assert got.status_code == 200, got.text
    extended = await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)
    assert extended.status_code == 200, extended.text
    reservation = await _confirmed(client, fan, hold["id"])
    held = [s["id"] for s in hold["seats"]]
    assert [s["id"] for s in reservation["seats"]] == held
    assert [s["id"] for s in await seats_of(client, event_id, status="RESERVED")] == held


async def test_a_worker_that_never_met_the_event_finds_the_hold_through_its_index(
    client: Client,
) -> None:
    event_id, fan, hold = await _held(client)
    table = _new_table(client)
    got = await client.get(f"/holds/{hold['id']}", headers=fan.headers)
    assert got.status_code == 200, got.text
    assert table.guess(UUID(hold["id"])) == UUID(event_id)  # (learnt from the index)
    _new_table(client)
    await _confirmed(client, fan, hold["id"])
    # Released the same way, on a fresh table too.
    _, other_fan, other = await _held(client)
    _new_table(client)
    gone = await client.delete(f"/holds/{other['id']}", headers=other_fan.headers)
    assert gone.status_code == 204, gone.text
    assert (await client.get(f"/holds/{other['id']}", headers=other_fan.headers)).status_code == 404


async def test_a_wrong_guess_of_the_event_falls_back_to_the_index(client: Client) -> None:
    event_id, fan, hold = await _held(client)
    # Another event whose id begins the same way, met later: the guess is now wrong.
    table = _new_table(client)
    twin = UUID(prefix_of(UUID(event_id)) + "0" * 16)
    table.learn(twin)
    assert table.guess(UUID(hold["id"])) == twin
    extended = await client.post(f"/holds/{hold['id']}/extend", headers=fan.headers)
    assert extended.status_code == 200, extended.text
    assert table.guess(UUID(hold["id"])) == UUID(event_id)
    table.learn(twin)
    reservation = await _confirmed(client, fan, hold["id"])
    assert reservation["eventId"] == event_id


async def test_a_hold_gone_from_its_known_event_is_gone_and_costs_one_index_read(
    client: Client,
) -> None:
    event_id, fan, hold = await _held(client)
    released = await client.delete(f"/holds/{hold['id']}", headers=fan.headers)
    assert released.status_code == 204
    again = await client.post(f"/holds/{hold['id']}/reservation", headers=fan.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "HOLD_EXPIRED"
    assert (await client.get(f"/holds/{hold['id']}", headers=fan.headers)).status_code == 404
    # An id naming an event this process knows, but no hold at all.
    made_up = prefix_of(UUID(event_id)) + "f" * 16
    assert (await client.get(f"/holds/{made_up}", headers=fan.headers)).status_code == 404
    assert (
        await client.post(f"/holds/{made_up}/reservation", headers=fan.headers)
    ).status_code == 409


def test_scoped_ids_are_random_version_4_uuids_of_their_event() -> None:
    event = uuid4()
    made = {scoped_id(event) for _ in range(2000)}
    assert len(made) == 2000
    assert all(m.version == 4 and m.variant == RFC_4122 for m in made)
    assert {prefix_of(m) for m in made} == {prefix_of(event)}
    # Every bit of the second half but the variant's varies.
    tails = [m.int & ((1 << 64) - 1) for m in made]
    varied = 0
    for t in tails:
        varied |= t ^ tails[0]
    assert varied == (1 << 62) - 1


def test_the_table_of_events_is_bounded() -> None:
    table = EventsByPrefix(kept=3)
    events = [UUID(int=n << 64) for n in range(1, 5)]
    for event in events:
        table.learn(event)
    assert table.guess(events[3]) == events[3]
    assert table.guess(events[0]) is None  # (forgotten when the table filled)
