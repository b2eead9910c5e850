"""The direct routes (ticketing.web.direct) answer exactly as Litestar does on the same route.

Each case is sent to two apps on the same PostgreSQL and Redis: the service as it runs
(holds and confirmations served directly) and the same app with `direct=False`, where
Litestar serves every route. Status, headers and problem bodies must be the same; a new
hold or reservation must have the same shape.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import (
    ADMIN,
    CustomerHandle,
    bearer,
    make_customer,
    make_event,
    make_settings,
    seats_of,
)
from ticketing.app import create_app
from ticketing.embedded import EmbeddedStack
from ticketing.settings import Settings

Client = AsyncTestClient[Any]
Both = tuple[Client, Client]  # (direct, through Litestar)

# Headers that differ between any two answers, whoever serves them.
_VARYING = {"date", "x-request-id", "location", "content-length", "ratelimit-reset"}


@pytest.fixture(scope="module")
async def both(settings: Settings) -> AsyncIterator[Both]:
    async with (
        AsyncTestClient(app=create_app(settings)) as direct,
        AsyncTestClient(app=create_app(settings, direct=False)) as plain,
    ):
        yield direct, plain


def _alike(direct: Any, plain: Any) -> None:
    assert direct.status_code == plain.status_code, (direct.text, plain.text)
    d_headers = {k: v for k, v in direct.headers.items() if k not in _VARYING}
    p_headers = {k: v for k, v in plain.headers.items() if k not in _VARYING}
    if "ratelimit-remaining" in d_headers:  # one more request was counted by the second
        d_headers.pop("ratelimit-remaining")
        p_headers.pop("ratelimit-remaining")
    assert d_headers == p_headers
    assert ("location" in direct.headers) == ("location" in plain.headers)
    if direct.headers["content-type"].startswith("application/problem+json"):
        assert direct.json() == plain.json()
    elif direct.content:
        assert _shape(direct.json()) == _shape(plain.json())


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


async def _each(both: Both, send: Callable[[Client], Awaitable[Any]]) -> Any:
    direct, plain = both
    answers = [await send(direct), await send(plain)]
    _alike(*answers)
    return answers[0]


async def _setup(both: Both, seats: int = 30) -> tuple[str, list[str], CustomerHandle]:
    direct, _ = both
    event = await make_event(direct, numSeats=seats)
    ids = [s["id"] for s in await seats_of(direct, event["id"])]
    return event["id"], ids, await make_customer(direct)


async def test_a_hold_and_its_confirmation_look_the_same_both_ways(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    direct, plain = both
    path = f"/events/{event_id}/holds"
    made = [
        await direct.post(path, json={"seatIds": seats[0:2]}, headers=fan.headers),
        await plain.post(path, json={"seatIds": seats[2:4]}, headers=fan.headers),
    ]
    _alike(*made)
    assert [m.status_code for m in made] == [201, 201]
    assert [m.headers["location"] for m in made] == [f"/holds/{m.json()['id']}" for m in made]
    best = [
        await client.post(path, json={"quantity": 2}, headers=fan.headers)
        for client in (direct, plain)
    ]
    _alike(*best)
    confirmed = [
        await client.post(f"/holds/{m.json()['id']}/reservation", headers=fan.headers)
        for client, m in zip((direct, plain), made, strict=True)
    ]
    _alike(*confirmed)
    assert [c.status_code for c in confirmed] == [201, 201]
    assert [c.headers["location"] for c in confirmed] == [
        f"/reservations/{c.json()['id']}" for c in confirmed
    ]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"quantity": 0}', "application/json"),
        (b'{"quantity": 2, "seatIds": []}', "application/json"),
        (b'{"seatIds": ["x"]}', "application/json"),
        (b'{"seatIds": [], "extra": 1}', "application/json"),
        (b'{"quantity": 2, "section": "A\\u0000"}', "application/json"),
        (b'{"quantity": 2}', "text/plain"),
    ],
)
async def test_a_bad_hold_body_is_refused_the_same_way(
    both: Both, body: bytes, content_type: str
) -> None:
    event_id, _, fan = await _setup(both)
    headers = {**fan.headers, "content-type": content_type}
    await _each(both, lambda c: c.post(f"/events/{event_id}/holds", content=body, headers=headers))


async def _refused(both: Both, path: str, headers: dict[str, str], **body: Any) -> int:
    answer = await _each(both, lambda c: c.post(path, headers=headers, **body))
    return int(answer.status_code)


async def test_refusals_before_and_after_the_work_are_the_same(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    other = await make_customer(both[0])
    path = f"/events/{event_id}/holds"
    body = {"seatIds": seats[:1]}
    assert await _refused(both, path, {}, json=body) == 401
    assert await _refused(both, path, bearer("not-a-token"), json=body) == 401
    assert await _refused(both, path, ADMIN, json=body) == 403
    assert await _refused(both, f"{path}?x=%00", fan.headers, json=body) == 400
    assert await _refused(both, f"/events/{uuid.uuid4()}/holds", fan.headers, json=body) == 404
    taken = await both[0].post(path, json=body, headers=other.headers)
    assert taken.status_code == 201
    assert await _refused(both, path, fan.headers, json=body) == 409
    too_big = b'{"seatIds": [' + b'"x",' * 300_000 + b'"x"]}'  # over 1 MiB
    json_headers = {**fan.headers, "content-type": "application/json"}
    assert await _refused(both, path, json_headers, content=too_big) == 413
    bad_length = {**json_headers, "content-length": "many"}
    assert await _refused(both, path, bad_length, content=b'{"quantity": 1}') == 400
    confirm = f"/holds/{taken.json()['id']}/reservation"
    assert await _refused(both, confirm, fan.headers) == 409  # not this customer's: as if gone
    assert await _refused(both, confirm, ADMIN) == 403
    assert await _refused(both, confirm, {}) == 401
    assert await _refused(both, f"/holds/{uuid.uuid4()}/reservation", fan.headers) == 409


async def test_idempotency_keys_behave_the_same(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    direct, plain = both
    path = f"/events/{event_id}/holds"
    for client, seat in ((direct, seats[0]), (plain, seats[1])):
        key = {**fan.headers, "Idempotency-Key": uuid.uuid4().hex}
        first = await client.post(path, json={"seatIds": [seat]}, headers=key)
        again = await client.post(path, json={"seatIds": [seat]}, headers=key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()
        assert first.headers["location"] == again.headers["location"]
    # A key used by one way is replayed by the other: both store the same answer.
    key = {**fan.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await direct.post(path, json={"seatIds": [seats[2]]}, headers=key)
    again = await plain.post(path, json={"seatIds": [seats[2]]}, headers=key)
    assert first.json() == again.json()
    assert first.headers["location"] == again.headers["location"]
    other_body = await _each(both, lambda c: c.post(path, json={"quantity": 1}, headers=key))
    assert other_body.status_code == 409
    long_key = {**fan.headers, "Idempotency-Key": "k" * 256}
    assert (
        await _each(both, lambda c: c.post(path, json={"quantity": 1}, headers=long_key))
    ).status_code == 400


async def test_another_spelling_of_the_id_is_left_to_litestar(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    direct, _ = both
    upper = await direct.post(
        f"/events/{event_id.upper()}/holds", json={"seatIds": seats[:1]}, headers=fan.headers
    )
    assert upper.status_code == 201, upper.text
    trailing = await direct.post(
        f"/events/{event_id}/holds/", json={"seatIds": seats[1:2]}, headers=fan.headers
    )
    assert trailing.status_code == 201, trailing.text


@pytest.fixture(scope="module")
async def limited(stack: EmbeddedStack) -> AsyncIterator[Both]:
    settings = make_settings(
        stack,
        TICKETING_RATE_LIMIT_HOLDS="2/60s",
        TICKETING_CORS_ORIGINS="https://box.example",
    )
    async with (
        AsyncTestClient(app=create_app(settings)) as direct,
        AsyncTestClient(app=create_app(settings, direct=False)) as plain,
    ):
        yield direct, plain


async def test_rate_limits_and_cors_apply_the_same_way(limited: Both) -> None:
    direct, plain = limited
    event = await make_event(direct)
    path = f"/events/{event['id']}/holds"
    origin = {"Origin": "https://box.example"}
    for client in (direct, plain):
        fan = await make_customer(client)
        answers = [
            await client.post(path, json={"quantity": 1}, headers={**fan.headers, **origin})
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert answers[2].headers["retry-after"]
        assert answers[0].headers["access-control-allow-origin"] == "https://box.example"
        assert answers[2].headers["access-control-allow-origin"] == "https://box.example"
    fans = [await make_customer(direct), await make_customer(direct)]
    for _ in range(3):
        _alike(
            await direct.post(path, json={"quantity": 1}, headers={**fans[0].headers, **origin}),
            await plain.post(path, json={"quantity": 1}, headers={**fans[1].headers, **origin}),
        )


async def test_the_reads_a_fan_repeats_look_the_same_both_ways(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    direct, _ = both
    held = await direct.post(
        f"/events/{event_id}/holds", json={"seatIds": seats[:2]}, headers=fan.headers
    )
    assert held.status_code == 201
    for path in (
        f"/events/{event_id}/open-count",
        f"/events/{event_id}/availability",
        f"/seats/{seats[0]}",
        f"/seats/{seats[5]}",
        f"/events/{uuid.uuid4()}/open-count",
        f"/events/{uuid.uuid4()}/availability",
        f"/seats/{uuid.uuid4()}",
        f"/seats/{seats[0]}?x=%00",
    ):
        for headers in ({}, fan.headers, ADMIN, bearer("not-a-token")):
            answer = await _each(both, lambda c, p=path, h=headers: c.get(p, headers=h))
            if path == f"/seats/{seats[0]}" and headers is fan.headers:
                assert answer.json()["customerId"] == fan.id  # the holder sees it is theirs
    seat = await _each(both, lambda c: c.get(f"/seats/{seats[0]}"))
    assert seat.headers["etag"] == f'"{seat.json()["version"]}"'
    assert seat.json()["status"] == "ON_HOLD"


async def test_a_waiting_room_entry_reads_the_same_both_ways(both: Both) -> None:
    direct, _ = both
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    event = await make_event(
        direct,
        salesStartAt=start,
        waitingRoom={"enabled": True, "admitPerMinute": 60, "opensBeforeSeconds": 7200},
    )
    fan, other = await make_customer(direct), await make_customer(direct)
    entry = (await direct.post(f"/events/{event['id']}/queue", headers=fan.headers)).json()
    plain_event = await make_event(direct)
    for path in (
        f"/events/{event['id']}/queue",  # (joined already: 200, the same entry)
        f"/events/{plain_event['id']}/queue",  # (no waiting room)
        f"/events/{uuid.uuid4()}/queue",
        f"/events/{event['id']}/queue?x=%00",
    ):
        for headers in ({}, fan.headers, ADMIN, bearer("not-a-token")):
            await _each(both, lambda c, p=path, h=headers: c.post(p, headers=h))
    for path in (f"/queue/{entry['id']}", f"/queue/{uuid.uuid4()}", f"/queue/{entry['id']}?x=%00"):
        for headers in ({}, fan.headers, other.headers, ADMIN, bearer("not-a-token")):
            await _each(both, lambda c, p=path, h=headers: c.get(p, headers=h))


async def test_the_seed_patch_looks_the_same_both_ways(both: Both) -> None:
    event_id, seats, fan = await _setup(both)
    other_event, other_seats, _ = await _setup(both)
    direct, plain = both

    def change(seat: str, status: str, customer: str | None = None) -> dict[str, str]:
        return {"customerId": customer or fan.id, "status": status}

    path = f"/events/{event_id}/seats"
    held = [
        await client.patch(f"{path}/{seat}", json=change(seat, "ON_HOLD"), headers=fan.headers)
        for client, seat in ((direct, seats[0]), (plain, seats[1]))
    ]
    _alike(*held)
    assert [h.json()["status"] for h in held] == ["ON_HOLD", "ON_HOLD"]
    for seat, body, headers in (
        (seats[0], change(seats[0], "ON_HOLD"), fan.headers),  # held already
        (seats[2], change(seats[2], "ON_HOLD", str(uuid.uuid4())), fan.headers),  # not you
        (other_seats[0], change(other_seats[0], "ON_HOLD"), fan.headers),  # another event's
        (str(uuid.uuid4()), change(seats[2], "ON_HOLD"), fan.headers),  # no such seat
        (seats[2], {"status": "ON_HOLD"}, fan.headers),  # no customerId
        (seats[2], change(seats[2], "SOLD"), fan.headers),  # no such status
        (seats[2], change(seats[2], "ON_HOLD"), {}),  # signed out
        (seats[2], change(seats[2], "ON_HOLD"), ADMIN),  # not a customer
        (seats[3], change(seats[3], "OPEN"), fan.headers),  # open already
        (seats[4], change(seats[4], "RESERVED"), fan.headers),  # no hold on it
    ):
        await _each(
            both, lambda c, s=seat, b=body, h=headers: c.patch(f"{path}/{s}", json=b, headers=h)
        )
    bad = {**fan.headers, "content-type": "application/json"}
    await _each(both, lambda c: c.patch(f"{path}/{seats[2]}", content=b"{", headers=bad))
    released = [
        await client.patch(f"{path}/{seat}", json=change(seat, "OPEN"), headers=fan.headers)
        for client, seat in ((direct, seats[0]), (plain, seats[1]))
    ]
    _alike(*released)
    assert [r.json()["status"] for r in released] == ["OPEN", "OPEN"]
    for client, seat in ((direct, seats[6]), (plain, seats[7])):
        await client.patch(f"{path}/{seat}", json=change(seat, "ON_HOLD"), headers=fan.headers)
    bought = [
        await client.patch(f"{path}/{seat}", json=change(seat, "RESERVED"), headers=fan.headers)
        for client, seat in ((direct, seats[6]), (plain, seats[7]))
    ]
    _alike(*bought)
    assert [b.json()["status"] for b in bought] == ["RESERVED", "RESERVED"]
    assert other_event != event_id


def test_the_hot_routes_are_the_ones_served_directly(settings: Settings) -> None:
    from ticketing.web.direct import marked

    served = {(r.method, r.path) for r in marked(create_app(settings))}
    assert served == {
        ("POST", "/events/{event_id:uuid}/holds"),
        ("PATCH", "/events/{event_id:uuid}/seats/{seat_id:uuid}"),
        ("POST", "/holds/{hold_id:uuid}/reservation"),
        ("GET", "/events/{event_id:uuid}/open-count"),
        ("GET", "/events/{event_id:uuid}/availability"),
        ("GET", "/seats/{seat_id:uuid}"),
        ("GET", "/events/{event_id:uuid}/seats"),
        ("GET", "/queue/{entry_id:uuid}"),
        ("POST", "/events/{event_id:uuid}/queue"),
    }


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=200",
        "?limit=5&status=ON_HOLD",
        "?status=OPEN&section=Stalls",
        "?limit=0",
        "?limit=201",
        "?limit=1e2",
        "?limit=05",
        "?limit=",
        "?status=SOLD",
        "?status=",
        "?section=",
        "?section=%00",
        "?cursor=",
        "?cursor=bm90LWEtY3Vyc29y",
        "?limit=2&limit=3",
        "?other=1",
        "?x=%00",
        "?section=" + "s" * 51,
    ],
)
async def test_seat_pages_look_the_same_both_ways(both: Both, query: str) -> None:
    event_id, seats, fan = await _setup(both)
    await both[0].post(
        f"/events/{event_id}/holds", json={"seatIds": seats[:3]}, headers=fan.headers
    )
    for headers in ({}, fan.headers, ADMIN):
        answer = await _each(
            both, lambda c, h=headers: c.get(f"/events/{event_id}/seats{query}", headers=h)
        )
        if answer.status_code == 200 and "ON_HOLD" in query:
            assert len(answer.json()["items"]) == 3
    for accept in ("identity", "gzip;q=0", "br, gzip;q=0.5"):  # gzipped, or not, alike
        await _each(
            both,
            lambda c, a=accept: c.get(f"/events/{event_id}/seats", headers={"accept-encoding": a}),
        )
    next_page = (await both[0].get(f"/events/{event_id}/seats?limit=2")).json()["nextCursor"]
    await _each(both, lambda c: c.get(f"/events/{event_id}/seats?limit=2&cursor={next_page}"))
