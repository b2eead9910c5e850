"""Swagger UI at /api works with no network: every asset it loads is served by the service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, event_body, make_customer, make_event, seats_of

Client = AsyncTestClient[Any]


async def test_swagger_ui_loads_only_local_assets(client: Client) -> None:
    page = await client.get("/api")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page.text)
    assert urls, page.text
    for url in urls:
        assert url.startswith("/"), f"external asset {url}"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    assert "SwaggerUIBundle" in page.text
    assert "/events/{event_id}/seats" in page.text  # the document is embedded in the page


async def test_openapi_document_lists_every_route(client: Client) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in (
        "/events",
        "/events/{event_id}",
        "/events/{event_id}/seats",
        "/seats/{seat_id}",
        "/customers",
        "/customers/{customer_id}",
        "/customers/{customer_id}/tokens",
        "/sessions/current",
        "/health",
        "/health/ready",
    ):
        assert path in paths, path
    create = paths["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["$ref"].endswith("/EventCreate")
    schema = document["components"]["schemas"]["EventCreate"]
    assert {"eventName", "eventLocation", "eventDateTimeStamp", "numSeats"} <= set(
        schema["required"]
    )
    assert "bearer" in document["components"]["securitySchemes"]


async def _document(client: Client) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get("/api/openapi.json")).json()
    return result


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "patch", "delete", "put"}
    ]


async def test_every_operation_says_who_may_call_it_and_locks_only_what_needs_a_token(
    client: Client,
) -> None:
    document = await _document(client)
    ids = set()
    for path, method, op in _operations(document):
        name = f"{method.upper()} {path}"
        assert op["summary"], name
        assert "**Who may call it:**" in op["description"], name
        ids.add(op["operationId"])
        who = op["description"].split("**Who may call it:** ", 1)[1]
        if who.startswith("Anyone"):
            assert op["security"] == [], name  # no lock on a public route
        else:
            assert op["security"] == [{"bearer": []}], name
        assert "Retry-After" in op["responses"]["default"]["headers"], name
    assert {"createHold", "confirmHold", "listCustomerHolds", "createEvent"} <= ids


async def test_headers_a_client_sends_and_reads_are_in_the_document(client: Client) -> None:
    paths = (await _document(client))["paths"]

    def params(path: str, method: str) -> set[str]:
        return {p["name"] for p in paths[path][method].get("parameters", []) if p["in"] == "header"}

    def answers(path: str, method: str, status: str) -> set[str]:
        return set(paths[path][method]["responses"][status].get("headers", {}))

    assert "Idempotency-Key" in params("/events/{event_id}/holds", "post")
    assert "Idempotency-Key" in params("/holds/{hold_id}/reservation", "post")
    for path in ("/events/{event_id}", "/seats/{seat_id}", "/customers/{customer_id}"):
        assert "If-Match" in params(path, "patch"), path
        assert "ETag" in answers(path, "get", "200"), path
    assert "Last-Event-ID" in params("/events/{event_id}/stream", "get")
    assert {"Location", "Idempotent-Replayed", "RateLimit-Remaining"} <= answers(
        "/events/{event_id}/holds", "post", "201"
    )
    assert "Location" in answers("/events", "post", "201")


async def test_every_example_in_the_document_succeeds_when_sent(client: Client) -> None:
    document = await _document(client)
    event = await make_event(client)
    fan = await make_customer(client)
    seat = (await seats_of(client, event["id"]))[-1]
    sent = 0
    for path, method, op in _operations(document):
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" not in body:
            assert "requestBody" not in op or method == "delete", f"{method} {path}: no example"
            continue
        example = dict(body["example"])
        if example.get("customerId") == "<your customer id>":
            example["customerId"] = fan.id  # the seed route: the caller's own id
        who = op["description"].split("**Who may call it:** ", 1)[1]
        headers = fan.headers if who.startswith(("Customers", "The customer")) else ADMIN
        filled = path.format(event_id=event["id"], seat_id=seat["id"], customer_id=fan.id)
        answer = await client.request(method.upper(), filled, json=example, headers=headers)
        assert answer.status_code < 300, f"{method} {path}: {answer.text}"
        sent += 1
    assert sent >= 8


def test_a_client_generated_from_the_document_builds_cleanly_and_reads_availability(
    served: str, tmp_path: Path
) -> None:
    import httpx

    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(f"{served}/api/openapi.json").content)
    built = subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate",
         "--path", str(spec), "--output-path", str(tmp_path / "client"), "--meta", "none"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        # Its post-generation step formats with ruff, installed beside it.
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )  # fmt: skip
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "warning" not in output.lower(), output
    with httpx.Client(base_url=served) as http:
        made = http.post("/events", headers=ADMIN, json=event_body())
        event_id = made.json()["id"]
    program = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from client import Client
from client.api.availability import availability
from client.api.events import get_event
api = Client(base_url={served!r})
counts = availability.sync(event_id={event_id!r}, client=api)
event = get_event.sync(event_id={event_id!r}, client=api)
assert counts.open_ == 30 or counts.open == 30, counts
assert event.availability.open_ == 30 or event.availability.open == 30, event
print("ok", type(counts).__name__, type(event.availability).__name__)
"""
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "ok Availability SeatCounts" in ran.stdout, ran.stdout
