"""The OpenAPI document, finished so that it says what the service really does.

Litestar describes each handler's success answer; this adds what it cannot know:
- every error is `application/problem+json` with the `Problem` schema (the `default`
  response of every operation), whatever its status;
- a token is optional on public routes (a token that is sent must still be live), and
  required only where a guard asks for an admin or a customer;
- request bodies reject unknown fields (`additionalProperties: false`), as the decoder does;
- money in a request (`price`) is a JSON number (decimal text is accepted too), where the
  generated schema says only "string" (how msgspec writes a Decimal).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    PathItem,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

from ticketing.auth.guards import admin_only, customer_only, signed_in

_SIGNED_IN_GUARDS = {admin_only, customer_only, signed_in}
_METHODS = ("get", "put", "post", "delete", "patch")

PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description="RFC 9457 problem details; `code` is stable and machine-readable.",
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "code": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="Every bad field of a 400 VALIDATION_FAILED",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    additional_properties=True,
)

ERROR_RESPONSE = OpenAPIResponse(
    description=(
        "An error, as application/problem+json: 400 invalid input, 401 no or bad token, "
        "403 not allowed, 404 unknown id, 409 conflict, 412 stale If-Match, 413 body too "
        "large, 415 not JSON, 429 rate limited (Retry-After), 503 a dependency is down "
        "(Retry-After)."
    ),
    content={
        "application/problem+json": OpenAPIMediaType(
            schema=Reference("#/components/schemas/Problem")
        )
    },
)


def _guarded(app: Litestar) -> dict[tuple[str, str], bool]:
    """(path, method) -> whether the route needs a signed-in caller."""
    found: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            needs = any(guard in _SIGNED_IN_GUARDS for guard in handler.resolve_guards())
            for method in handler.http_methods:
                found[(route.path_format, method.lower())] = needs
    return found


PRICE = Schema(
    one_of=[
        Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1_000_000),
        Schema(type=OpenAPIType.STRING, description="the same amount as decimal text"),
    ],
    description="Money: at most two decimals, 0..1000000, stored exactly",
)


def _money(schema: Schema) -> Schema:
    nullable = any(
        isinstance(s, Schema) and s.type == OpenAPIType.NULL for s in schema.one_of or ()
    )
    if nullable:
        return Schema(one_of=[PRICE, Schema(type=OpenAPIType.NULL)], description=PRICE.description)
    return PRICE


def _closed(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Mark a request schema, and every object schema it reaches, as taking no other fields."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        if name in seen or name not in components:
            return
        seen.add(name)
        _closed(components[name], components, seen)
        return
    if not isinstance(schema, Schema):
        return
    if schema.properties is not None:
        schema.additional_properties = False
        for name, value in schema.properties.items():
            if name == "price" and isinstance(value, Schema):
                schema.properties[name] = _money(value)
                continue
            _closed(value, components, seen)
    for group in (schema.one_of, schema.any_of, schema.all_of):
        for value in group or ():
            _closed(value, components, seen)
    if isinstance(schema.items, Schema | Reference):
        _closed(schema.items, components, seen)


def finish(app: Litestar) -> None:
    document: OpenAPI = app.openapi_schema
    assert document.components is not None
    schemas = document.components.schemas
    assert schemas is not None
    schemas["Problem"] = PROBLEM
    guarded = _guarded(app)
    closed: set[str] = set()
    for path, item in (document.paths or {}).items():
        if not isinstance(item, PathItem):
            continue
        for method in _METHODS:
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            responses = operation.responses or {}
            for status in [s for s in responses if s[:1] in {"4", "5"}]:
                del responses[status]
            responses["default"] = ERROR_RESPONSE
            operation.responses = responses
            if not guarded.get((path, method), False):
                operation.security = [{}, {"bearer": []}]
            body = operation.request_body
            if body is not None and not isinstance(body, Reference):
                for media in (body.content or {}).values():
                    _closed(media.schema, schemas, closed)
