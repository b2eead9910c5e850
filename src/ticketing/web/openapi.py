"""The OpenAPI document, finished so that it says what the service really does.

Litestar describes each handler's success answer; this adds what it cannot know:
- every error is `application/problem+json` with the `Problem` schema (the `default`
  response of every operation), whatever its status;
- a token is optional on public routes (a token that is sent must still be live), and
  required only where a guard asks for an admin or a customer;
- request bodies reject unknown fields (`additionalProperties: false`), as the decoder does;
- money in a request (`price`) is a JSON number (decimal text is accepted too), where the
  generated schema says only "string" (how msgspec writes a Decimal);
- each operation's summary, who may call it, what it refuses, the headers it reads and
  sends, and a request example that succeeds when sent (`ticketing.web.reference`);
- operation ids are the handlers' names in camelCase (`createHold`), so that a generated
  client's functions read like the API.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    PathItem,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute
from litestar.types import Method

from ticketing.auth.guards import RATE_OPT, admin_only, customer_only, signed_in
from ticketing.web import reference

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


def _header(description: str, **schema: Any) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, **schema), description=description)


RATE_HEADERS = {
    "RateLimit-Limit": _header("Requests this route's class allows per window"),
    "RateLimit-Remaining": _header("Requests left in this window"),
    "RateLimit-Reset": _header("Seconds until the window ends"),
    "RateLimit-Policy": _header("The limit and window, as `30;w=10`"),
}
REQUEST_ID = {"X-Request-ID": _header("This request's id (the caller's own when it sent one)")}
ANSWER_HEADERS = {
    reference.ETAG: _header('The version, as `"<version>"`: send it back in If-Match'),
    reference.LOCATION: _header("Where the new resource is read"),
    reference.REPLAYED: _header(
        "`true` when this is the stored first answer to a repeated Idempotency-Key"
    ),
}
REQUEST_HEADERS = {
    reference.IDEMPOTENCY_KEY: Parameter(
        name=reference.IDEMPOTENCY_KEY,
        param_in="header",
        required=False,
        schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=255),
        description=(
            "Repeating a key with the same JSON body within 24 h returns the first answer "
            "without doing the work again; the same key with another body is a 409."
        ),
    ),
    reference.IF_MATCH: Parameter(
        name=reference.IF_MATCH,
        param_in="header",
        required=False,
        schema=Schema(type=OpenAPIType.STRING, examples=['"1"']),
        description='The version read (`"<version>"`); a stale one is 412 and changes nothing.',
    ),
    reference.LAST_EVENT_ID: Parameter(
        name=reference.LAST_EVENT_ID,
        param_in="header",
        required=False,
        schema=Schema(type=OpenAPIType.STRING),
        description="The id of the last event received: the stream resumes after it.",
    ),
}

ERROR_RESPONSE = OpenAPIResponse(
    description=(
        "An error, as application/problem+json: 400 invalid input, 401 no or bad token, "
        "403 not allowed, 404 unknown id, 408 body too slow, 409 conflict, 412 stale "
        "If-Match, 413 body too large, 415 not JSON, 429 rate limited (Retry-After), 503 a "
        "dependency is down (Retry-After). " + reference.COMMON
    ),
    headers={
        "Retry-After": _header("Seconds to wait before retrying (429 and 503)"),
        **RATE_HEADERS,
        **REQUEST_ID,
    },
    content={
        "application/problem+json": OpenAPIMediaType(
            schema=Reference("#/components/schemas/Problem")
        )
    },
)


MISSING_PAGE = OpenAPIResponse(
    description=(
        "No such event: an HTML page that says so (a path that is no event id at all is the "
        "problem+json of any unknown route)"
    ),
    content={
        "text/html": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        "application/problem+json": OpenAPIMediaType(
            schema=Reference("#/components/schemas/Problem")
        ),
    },
)


def operation_id(handler: HTTPRouteHandler, method: Method, path_components: list[Any]) -> str:
    """The handler's name in camelCase: `create_hold` is `createHold`."""
    first, *rest = handler.handler_name.split("_")
    return first + "".join(part.title() for part in rest)


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                found[(route.path_format, method.lower())] = handler
    return found


def _describe(operation: Operation, handler: HTTPRouteHandler, entry: reference.Entry) -> None:
    doc = " ".join((handler.fn.__doc__ or "").split())
    summary = doc.partition(". ")[0]
    operation.summary = summary.rstrip(".")
    parts = [doc, f"**Who may call it:** {entry.who}"]
    if entry.refuses:
        parts.append("**Refuses:**\n" + "\n".join(f"- {r}" for r in entry.refuses))
    if operation.description and operation.description not in doc:
        parts.insert(1, operation.description)
    operation.description = "\n\n".join(parts)


def _headers(operation: Operation, handler: HTTPRouteHandler, entry: reference.Entry) -> None:
    params = list(operation.parameters or [])
    params.extend(REQUEST_HEADERS[name] for name in entry.reads)
    operation.parameters = params or None
    limited = handler.opt.get(RATE_OPT, "default") is not None
    for status, response in (operation.responses or {}).items():
        if status == "default" or not isinstance(response, OpenAPIResponse):
            continue
        headers = dict(response.headers or {})
        headers.update({name: ANSWER_HEADERS[name] for name in entry.sends})
        if limited:
            headers.update(RATE_HEADERS)
        headers.update(REQUEST_ID)
        response.headers = headers


def _example(operation: Operation, entry: reference.Entry) -> None:
    body = operation.request_body
    if entry.example is None or body is None or isinstance(body, Reference):
        return
    for media in (body.content or {}).values():
        media.example = entry.example


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
    handlers = _handlers(app)
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
            handler = handlers[(path, method)]
            signed_in_only = any(g in _SIGNED_IN_GUARDS for g in handler.resolve_guards())
            # A lock only where a token is needed; public routes take one but need none.
            operation.security = [{"bearer": []}] if signed_in_only else []
            entry = reference.OPERATIONS[handler.handler_name]
            _describe(operation, handler, entry)
            _headers(operation, handler, entry)
            _example(operation, entry)
            if str(getattr(handler.media_type, "value", handler.media_type)).startswith(
                "text/html"
            ):
                responses["404"] = MISSING_PAGE  # a person opened it: a page, not a problem
            body = operation.request_body
            if body is not None and not isinstance(body, Reference):
                for media in (body.content or {}).values():
                    _closed(media.schema, schemas, closed)
