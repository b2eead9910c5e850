"""A crowd or a hostile client cannot lock everyone else out: open streams have a budget of
their own (per worker, per address, per customer) and a maximum life, and a body that
stalls times out. Against a real `ticketing serve` process with small budgets, speaking
raw HTTP so that every open stream is one connection, as a browser's would be."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from bench.service import Server
from tests.conftest import ADMIN, event_body, problem
from tests.e2e.conftest import serving_process
from ticketing.embedded import EmbeddedStack

BUDGET = 8
PER_ADDRESS = 5
PER_CUSTOMER = 2
LIFETIME = 5
BODY_TIMEOUT = 2


@pytest.fixture(scope="module")
def crowded(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving_process(
        stack,
        tmp_path_factory.mktemp("crowded"),
        TICKETING_MAX_CONNECTIONS="64",
        TICKETING_STREAMS=str(BUDGET),
        TICKETING_STREAMS_PER_ADDRESS=str(PER_ADDRESS),
        TICKETING_STREAMS_PER_CUSTOMER=str(PER_CUSTOMER),
        TICKETING_STREAM_MAX_SECONDS=str(LIFETIME),
        TICKETING_RATE_LIMIT_STREAMS="off",
        TICKETING_TRUST_FORWARDED="true",
        TICKETING_BODY_TIMEOUT=str(BODY_TIMEOUT),
        TICKETING_LOG_LEVEL="info",
        TICKETING_HOLD_SHARE_PER_ADDRESS="5",
    ) as server:
        yield server


def _random_v4() -> str:
    return ".".join(str(secrets.randbelow(250) + 1) for _ in range(4))


def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(sock: socket.socket) -> tuple[int, bytes]:
    """The status and headers of an answer (reading only until the blank line)."""
    seen = b""
    while b"\r\n\r\n" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    status = int(seen.split(b" ", 2)[1]) if seen else 0
    return status, seen


@contextmanager
def _stream(base: str, event_id: str, forwarded: str, token: str | None = None) -> Iterator[int]:
    """Open the event's stream on a connection of its own; yields the answer's status."""
    sock = _connect(base)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall(
        f"GET /events/{event_id}/stream HTTP/1.1\r\nHost: test\r\n"
        f"X-Forwarded-For: {forwarded}\r\n{auth}Accept: text/event-stream\r\n\r\n".encode()
    )
    try:
        status, _ = _head(sock)
        yield status
    finally:
        sock.close()


def _event(http: httpx.Client) -> str:
    made = http.post("/events", headers=ADMIN, json=event_body(numSeats=20))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _eventually(check: object, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.1)


def test_health_answers_a_new_client_within_a_second_while_the_stream_budget_is_full(
    crowded: Server,
) -> None:
    with httpx.Client(base_url=crowded.base_url, timeout=10) as http:
        event_id = _event(http)
        with ExitStack() as streams:
            crowd = [_random_v4() for _ in range(BUDGET // PER_ADDRESS + 1)]
            statuses = [
                streams.enter_context(_stream(crowded.base_url, event_id, crowd[i // PER_ADDRESS]))
                for i in range(BUDGET)
            ]
            assert statuses == [200] * BUDGET
            # The budget is full: one more stream is refused at once, with a time to retry ...
            refused = http.get(
                f"/events/{event_id}/stream", headers={"X-Forwarded-For": _random_v4()}
            )
            assert problem(refused, 503, "STREAMS_FULL")
            assert int(refused.headers["retry-after"]) >= 1
            # ... and everyone else still gets in, on new connections, within a second.
            for path in ("/health", "/health/ready", f"/events/{event_id}/availability"):
                with httpx.Client(base_url=crowded.base_url, timeout=1.0) as newcomer:
                    started = time.monotonic()
                    answer = newcomer.get(path, headers={"X-Forwarded-For": _random_v4()})
                    assert answer.status_code == 200, (path, answer.text)
                    assert time.monotonic() - started < 1.0

        # The places come back when the streams close.
        def reopened() -> bool:
            with _stream(crowded.base_url, event_id, _random_v4()) as status:
                return status == 200

        _eventually(reopened)


def test_one_address_and_one_customer_may_hold_only_a_few_streams(crowded: Server) -> None:
    with httpx.Client(base_url=crowded.base_url, timeout=10) as http:
        event_id = _event(http)
        me = _random_v4()
        with ExitStack() as streams:
            mine = [
                streams.enter_context(_stream(crowded.base_url, event_id, me))
                for _ in range(PER_ADDRESS)
            ]
            assert mine == [200] * PER_ADDRESS
            refused = http.get(f"/events/{event_id}/stream", headers={"X-Forwarded-For": me})
            assert (
                "streams may be open at once per address"
                in problem(refused, 429, "RATE_LIMITED")["detail"]
            )
            assert int(refused.headers["retry-after"]) >= 1
        signed = http.post("/customers", json={"firstName": "A", "lastName": "B"}).json()
        token = signed["token"]
        with ExitStack() as streams:
            theirs = [
                streams.enter_context(_stream(crowded.base_url, event_id, _random_v4(), token))
                for _ in range(PER_CUSTOMER)
            ]
            assert theirs == [200] * PER_CUSTOMER
            with _stream(crowded.base_url, event_id, _random_v4(), token) as one_more:
                assert one_more == 429


def test_a_stream_ends_after_its_lifetime_and_resumes_where_it_stopped(crowded: Server) -> None:
    with httpx.Client(base_url=crowded.base_url, timeout=LIFETIME * 3) as http:
        event_id = _event(http)
        started = time.monotonic()
        last_id = None
        with http.stream(
            "GET", f"/events/{event_id}/stream", headers={"X-Forwarded-For": _random_v4()}
        ) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                if line.startswith("id:"):
                    last_id = line.removeprefix("id:").strip()
        lived = time.monotonic() - started
        assert LIFETIME * 0.85 <= lived <= LIFETIME + 2, lived
        assert last_id is not None
        # Reconnecting with Last-Event-ID resumes: no fresh snapshot, only what came since.
        seats = http.get(f"/events/{event_id}/seats", params={"limit": 1}).json()["items"]
        headers = {"X-Forwarded-For": _random_v4(), "Last-Event-ID": last_id}
        with http.stream("GET", f"/events/{event_id}/stream", headers=headers) as resumed:
            assert resumed.status_code == 200
            fan = http.post("/customers", json={"firstName": "A", "lastName": "B"}).json()
            held = http.post(
                f"/events/{event_id}/holds",
                json={"seatIds": [seats[0]["id"]]},
                headers={"Authorization": f"Bearer {fan['token']}"},
            )
            assert held.status_code == 201, held.text
            events = [line for line in resumed.iter_lines() if line.startswith("event:")][:1]
        assert events == ["event: seats"]


def test_a_body_that_stalls_is_answered_408_and_a_client_that_leaves_is_no_error(
    crowded: Server,
) -> None:
    sock = _connect(crowded.base_url)
    started = time.monotonic()
    sock.sendall(
        b"POST /events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Authorization: {ADMIN['Authorization']}\r\nContent-Length: 100\r\n\r\n{{".encode()
    )
    status, head = _head(sock)
    sock.close()
    assert status == 408, head
    assert b"application/problem+json" in head
    assert BODY_TIMEOUT - 0.5 <= time.monotonic() - started <= BODY_TIMEOUT + 3
    # A client that goes away mid-body: logged as such, never as an unhandled error.
    sock = _connect(crowded.base_url)
    sock.sendall(
        b"POST /customers HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"firstName"'
    )
    time.sleep(0.3)
    sock.close()
    _eventually(lambda: "client left before sending its whole body" in crowded.log.read_text())
    assert "unhandled error" not in crowded.log.read_text()


def test_one_address_cannot_hold_a_large_share_of_one_event(crowded: Server) -> None:
    # 200 seats, 4 each: an address may hold max(5 % of 200, 2 x 4) = 10 at once.
    with httpx.Client(base_url=crowded.base_url, timeout=10) as http:
        made = http.post("/events", headers=ADMIN, json=event_body(numSeats=200, maxNumSeats=4))
        path = f"/events/{made.json()['id']}/holds"
        hoarder, neighbour = _random_v4(), _random_v4()

        def fan(address: str) -> dict[str, str]:
            signed = http.post(
                "/customers",
                headers={"X-Forwarded-For": address},
                json={"firstName": "A", "lastName": "B"},
            )
            return {"X-Forwarded-For": address, "Authorization": f"Bearer {signed.json()['token']}"}

        fans = [fan(hoarder) for _ in range(4)]
        held = [
            http.post(path, json={"quantity": q}, headers=f)
            for f, q in zip(fans, (4, 4, 2, 1), strict=True)
        ]
        assert [h.status_code for h in held] == [201, 201, 201, 409]
        body = problem(held[3], 409, "ADDRESS_LIMIT_EXCEEDED")
        assert body["addressLimit"] == 10
        # Another address is not affected; released seats give the address its share back.
        assert http.post(path, json={"quantity": 4}, headers=fan(neighbour)).status_code == 201
        released = http.delete(f"/holds/{held[0].json()['id']}", headers=fans[0])
        assert released.status_code == 204
        assert http.post(path, json={"quantity": 4}, headers=fans[3]).status_code == 201
        # The bound counts held seats only: a confirmed hold frees the address's share.
        bought = http.post(f"/holds/{held[1].json()['id']}/reservation", headers=fans[1])
        assert bought.status_code == 201, bought.text
        assert http.post(path, json={"quantity": 4}, headers=fan(hoarder)).status_code == 201
