"""Swagger UI at /api works with no network: every asset it loads is served by the service."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

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
