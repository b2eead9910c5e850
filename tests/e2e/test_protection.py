"""What an operator relies on when the public arrives: rate limits shared by every server,
security headers, CORS only where configured, request ids, JSON logs that never carry a
token, and metrics summed over every worker. Against real `ticketing serve` processes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.service import Server
from tests.conftest import ADMIN, ADMIN_TOKEN, event_body, problem
from tests.e2e.conftest import serving_process
from ticketing.embedded import EmbeddedStack, free_port

ORIGIN = "https://box-office.example"
LIMITS = {
    "TICKETING_TRUST_FORWARDED": "true",  # each test speaks from addresses of its own
    "TICKETING_RATE_LIMIT_HOLDS": "3/60s",
    "TICKETING_RATE_LIMIT_READS": "5/60s",
    "TICKETING_RATE_LIMIT_SIGNUP": "4/60s",
    "TICKETING_RATE_LIMIT_BAD_TOKENS": "4/60s",
    "TICKETING_RATE_LIMIT_STREAMS": "2/60s",
    "TICKETING_CORS_ORIGINS": ORIGIN,
    "TICKETING_LOG_LEVEL": "debug",
}


@pytest.fixture(scope="module")
def pair(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server, int]]:
    """Two servers with low limits on one Redis; the first has two workers and a metrics port."""
    metrics_port = free_port()
    with (
        serving_process(
            stack,
            tmp_path_factory.mktemp("limited"),
            workers=2,
            TICKETING_METRICS_PORT=str(metrics_port),
            **LIMITS,
        ) as first,
        serving_process(stack, tmp_path_factory.mktemp("limited-too"), **LIMITS) as second,
    ):
        yield first, second, metrics_port


def _from() -> dict[str, str]:
    """Headers of a caller at a fresh address (the proxy's own entry comes last)."""
    client = ".".join(str(secrets.randbelow(250) + 1) for _ in range(4))
    return {"X-Forwarded-For": f"198.51.100.7, {client}"}


def _event(http: httpx.Client, **body: Any) -> dict[str, Any]:
    made = http.post(
        "/events", headers=ADMIN, json=event_body(**{"numSeats": 20, "maxNumSeats": 10, **body})
    )
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def _customer(http: httpx.Client) -> tuple[str, dict[str, str]]:
    made = http.post("/customers", headers=ADMIN, json={"firstName": "Fan", "lastName": "X"})
    assert made.status_code == 201, made.text
    return made.json()["customer"]["id"], {"Authorization": "Bearer " + made.json()["token"]}


def test_holds_past_the_limit_get_429_with_headers_on_every_server_and_hold_nothing(
    pair: tuple[Server, Server, int],
) -> None:
    first, second, _ = pair
    with httpx.Client(base_url=first.base_url) as a, httpx.Client(base_url=second.base_url) as b:
        event = _event(a)
        path = f"/events/{event['id']}/holds"
        _, fan = _customer(a)
        answers = [
            (a if i % 2 else b).post(path, json={"quantity": 1}, headers=fan) for i in range(3)
        ]
        assert [r.status_code for r in answers] == [201, 201, 201]
        assert answers[0].headers["ratelimit-limit"] == "3"
        assert answers[0].headers["ratelimit-policy"] == "3;w=60"
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
        for client in (a, b):  # counted in Redis: the other server refuses too
            refused = client.post(path, json={"quantity": 1}, headers=fan)
            body = problem(refused, 429, "RATE_LIMITED")
            assert "3 requests in 60 s" in body["detail"]
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            assert refused.headers["ratelimit-remaining"] == "0"
        # The holds they got can still be bought: confirming is not taking seats.
        bought = b.post(f"/holds/{answers[0].json()['id']}/reservation", headers=fan)
        assert bought.status_code == 201, bought.text
        # Nothing was held by the refused attempts.
        availability = a.get(f"/events/{event['id']}/availability", headers=ADMIN).json()
        assert (availability["onHold"], availability["reserved"]) == (2, 1)
        # Another customer is not affected; an admin is never limited.
        _, rival = _customer(a)
        assert b.post(path, json={"quantity": 1}, headers=rival).status_code == 201
        for _ in range(5):
            assert a.get(f"/events/{event['id']}", headers=ADMIN).status_code == 200


def test_reads_are_limited_per_address_and_probes_never(pair: tuple[Server, Server, int]) -> None:
    first, second, _ = pair
    with httpx.Client(base_url=first.base_url) as a, httpx.Client(base_url=second.base_url) as b:
        event = _event(a)
        me, someone_else = _from(), _from()
        for i in range(5):
            assert (a if i % 2 else b).get(f"/events/{event['id']}", headers=me).status_code == 200
        problem(a.get(f"/events/{event['id']}", headers=me), 429, "RATE_LIMITED")
        problem(b.get("/events", headers=me), 429, "RATE_LIMITED")
        assert a.get(f"/events/{event['id']}", headers=someone_else).status_code == 200
        for _ in range(10):
            assert a.get("/health", headers=me).status_code == 200
            assert a.get("/health/ready", headers=me).status_code == 200


def test_rejected_tokens_count_against_their_address(pair: tuple[Server, Server, int]) -> None:
    first, _, _ = pair
    with httpx.Client(base_url=first.base_url) as a:
        guesser = _from()
        for _ in range(4):
            bad = {**guesser, "Authorization": "Bearer tkt_" + secrets.token_urlsafe(32)}
            problem(a.get("/events", headers=bad), 401, "UNAUTHORIZED")
        bad = {**guesser, "Authorization": "Bearer tkt_" + secrets.token_urlsafe(32)}
        problem(a.get("/events", headers=bad), 429, "RATE_LIMITED")
        # They have a budget of their own: the address may still sign up.
        signed = a.post("/customers", headers=guesser, json={"firstName": "A", "lastName": "B"})
        assert signed.status_code == 201, signed.text


def test_an_ipv6_slash_64_is_one_address_for_every_limit(pair: tuple[Server, Server, int]) -> None:
    first, _, _ = pair
    prefix = f"2001:db8:{secrets.randbelow(65536):x}:{secrets.randbelow(65536):x}"
    with httpx.Client(base_url=first.base_url) as a:
        for i in range(5):  # five hosts of one /64 share its five reads
            me = {"X-Forwarded-For": f"{prefix}::{i + 1:x}"}
            assert a.get("/events", headers=me).status_code == 200
        problem(a.get("/events", headers={"X-Forwarded-For": f"{prefix}::99"}), 429, "RATE_LIMITED")
        neighbour = {"X-Forwarded-For": "2001:db8:ffff:ffff::1"}
        assert a.get("/events", headers=neighbour).status_code == 200


def test_every_answer_has_security_headers_and_a_request_id(
    pair: tuple[Server, Server, int],
) -> None:
    first, _, _ = pair
    with httpx.Client(base_url=first.base_url) as a:
        event = _event(a)
        for response in (
            a.get("/events", headers=ADMIN),
            a.get("/no/such/path", headers=ADMIN),
            a.post("/events", headers=ADMIN, content=b"{"),
        ):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
            assert len(response.headers["x-request-id"]) == 32
            assert "strict-transport-security" not in response.headers  # plain HTTP here
        page = a.get(f"/events/{event['id']}/map", headers=ADMIN)
        assert page.status_code == 200
        assert "connect-src 'self'" in page.headers["content-security-policy"]  # its own
        docs = a.get("/api", headers=_from())  # Swagger UI runs its own scripts: no data-only CSP
        assert docs.status_code == 200
        assert "default-src 'none'" not in docs.headers.get("content-security-policy", "")
        assert a.get("/health", headers={"X-Request-ID": "lb-7f3a.1"}).headers["x-request-id"] == (
            "lb-7f3a.1"
        )
        replaced = a.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        assert len(replaced.headers["x-request-id"]) == 32
        behind_tls = a.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


def test_cors_answers_only_the_configured_origin(
    pair: tuple[Server, Server, int], http: httpx.AsyncClient
) -> None:
    first, _, _ = pair
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    with httpx.Client(base_url=first.base_url) as a:
        allowed = a.options("/events", headers={"Origin": ORIGIN, **preflight})
        assert allowed.status_code in {200, 204}
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
        simple = a.get("/events", headers={"Origin": ORIGIN, **_from()})
        assert simple.headers["access-control-allow-origin"] == ORIGIN
        assert "ratelimit-remaining" in simple.headers["access-control-expose-headers"].lower()
        other = a.options("/events", headers={"Origin": "https://evil.example", **preflight})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
    # A server with no TICKETING_CORS_ORIGINS (the default) sends no CORS headers at all.
    with httpx.Client(base_url=str(http.base_url)) as default:
        answer = default.get("/events", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in answer.headers
        refused = default.options("/events", headers={"Origin": ORIGIN, **preflight})
        assert "access-control-allow-origin" not in refused.headers


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_add_up_every_worker_and_need_the_admin_token_on_the_main_port(
    pair: tuple[Server, Server, int],
) -> None:
    first, _, metrics_port = pair
    with httpx.Client(base_url=first.base_url) as a:
        problem(a.get("/metrics"), 401, "UNAUTHORIZED")
        _, fan = _customer(a)
        problem(a.get("/metrics", headers=fan), 403, "FORBIDDEN")
        event = _event(a)
        for _ in range(40):  # two workers share these
            assert a.get(f"/events/{event['id']}", headers=ADMIN).status_code == 200
        scraped = a.get("/metrics", headers=ADMIN)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        bare = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert bare.status_code == 200
    for text in (scraped.text, bare.text):
        samples = _samples(text)
        route = frozenset({("method", "GET"), ("route", "/events/{event_id}"), ("status", "200")})
        assert samples[("ticketing_http_requests_total", route)] >= 40
        assert samples[("ticketing_db_pool_connections", frozenset({("state", "max")}))] == 40
        assert ("ticketing_stream_subscribers", frozenset()) in samples
        assert ("ticketing_holds_total", frozenset()) in samples


def test_logs_are_json_with_request_ids_and_never_a_token(
    pair: tuple[Server, Server, int],
) -> None:
    first, second, _ = pair
    with httpx.Client(base_url=second.base_url) as b:
        _, fan = _customer(b)
        event = _event(b)
        request_id = "trace-" + secrets.token_hex(6)
        held = b.post(
            f"/events/{event['id']}/holds",
            json={"quantity": 1},
            headers={**fan, "X-Request-ID": request_id},
        )
        assert held.status_code == 201
        b.get("/events", headers={"Authorization": "Bearer tkt_wrong-" + secrets.token_hex(8)})
    for server in (first, second):
        text = server.log.read_text()
        secrets_seen = [fan["Authorization"].split()[1], ADMIN_TOKEN]
        for secret in secrets_seen:
            assert secret not in text
        assert "tkt_wrong-" not in text
    lines = [json.loads(line) for line in second.log.read_text().splitlines() if line[:1] == "{"]
    access = [line for line in lines if line["logger"] == "ticketing.access"]
    assert access, "no access log lines"
    mine = [line for line in access if line.get("requestId") == request_id]
    assert len(mine) == 1
    assert mine[0]["status"] == 201
    assert mine[0]["route"] == "/events/{event_id}/holds"
    assert {"time", "level", "message", "ms", "client"} <= mine[0].keys()
