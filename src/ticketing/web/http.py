"""The HTTP edge shared by every controller: body decoding, problem+json, ETags, paging.

Every error leaves the service as `application/problem+json` (RFC 9457) through the
handlers here, so a controller never builds an error response itself and an unexpected
exception is logged and answered as a 500 problem, never as a stack trace.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.dto import MsgspecDTO
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi.spec import Reference
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.types import ExceptionHandlersMap
from litestar.typing import FieldDefinition

from ticketing.errors import AppError, ClientGone, FieldError, ValidationFailed
from ticketing.validation import decode_body
from ticketing.web.idempotency import Answer

log = logging.getLogger("ticketing.web")

S = TypeVar("S", bound=msgspec.Struct)

PROBLEM_JSON = "application/problem+json"


class Body(MsgspecDTO[S]):
    """Request-body decoding that reports every bad field at once (see ticketing.validation).

    Use as `@post(dto=Body[EventCreate], return_dto=None)`; the OpenAPI schema shown is
    the plain struct's.
    """

    def decode_bytes(self, value: bytes) -> Any:
        return decode_body(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | OpenAPISchema:
        result: Reference | OpenAPISchema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(cls.model_type)
        )
        return result


def problem_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[bytes]:
    return problem_response(exc.problem(), exc.status, exc.headers)


def refusal(exc: AppError) -> Answer:
    """What `app_error` answers, as bytes and headers (for the direct routes)."""
    return Answer(
        exc.status,
        msgspec.json.encode(exc.problem()),
        {"content-type": PROBLEM_JSON, **exc.headers},
    )


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    # Query, path and header parameters that Litestar checked against their declared types.
    errors: list[FieldError] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if not isinstance(item, dict):
                continue
            if item.get("source") == "body":
                # The only body error Litestar reports itself: there was none (a body that is
                # there is decoded by `Body`, whose errors name their fields).
                errors.append(FieldError("body", "A JSON object is required"))
                continue
            field = str(item.get("key") or item.get("source") or "request")
            errors.append(FieldError(field, str(item.get("message", "Invalid value"))))
    if not errors:
        errors.append(FieldError("request", exc.detail))
    failed = ValidationFailed(errors)
    return problem_response(failed.problem(), 400)


_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "Not allowed"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    429: ("RATE_LIMITED", "Too many requests"),
}


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        return _internal(request, exc)
    code, title = _CODES.get(status, ("HTTP_ERROR", "Request failed"))
    detail = exc.detail
    if isinstance(exc, NotFoundException):
        detail = f"No route for {request.method} {request.url.path}"
    body = {
        "type": f"https://ticketing.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return problem_response(body, status, dict(exc.headers or {}))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {
        "type": "https://ticketing.dev/problems/internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "The service failed to answer; this is a bug and has been logged",
        "code": "INTERNAL_ERROR",
    }
    return problem_response(body, 500)


def _client_gone(request: Request[Any, Any, Any], _: ClientGone) -> Response[bytes]:
    # Nobody is left to read an answer; it is logged as what it is, not as a failure.
    log.info("client left before sending its whole body: %s %s", request.method, request.url.path)
    return Response(content=b"", status_code=499)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AppError: app_error,
    ClientGone: _client_gone,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}


def accepts_gzip(scope: Any) -> bool:
    """Whether the request's `Accept-Encoding` takes gzip (by name, `x-gzip` or `*`, at a
    q-value above 0), read from the raw headers: this is asked on the hottest reads."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            for part in value.decode("latin-1").lower().split(","):
                coding, _, params = part.partition(";")
                if coding.strip() in ("gzip", "x-gzip", "*"):
                    q = params.strip().removeprefix("q=").strip() if params else "1"
                    try:
                        return float(q) > 0
                    except ValueError:
                        return False
    return False


def encoded(gzipped: bool) -> dict[str, str]:
    """The headers of an answer that may be sent gzipped, as `gzipped` says."""
    return {"content-encoding": "gzip", "vary": "accept-encoding"} if gzipped else _VARY


_VARY = {"vary": "accept-encoding"}


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*|\s*([^,\s]+)\s*')


def if_match(request: Request[Any, Any, Any]) -> list[int] | None:
    """Versions the client's `If-Match` accepts; None when absent or `*`.

    A tag that is not one of our version numbers can never match, so it yields an empty
    list and the write fails with 412, as HTTP says it must.
    """
    header = request.headers.get("if-match")
    if header is None:
        return None
    versions: list[int] = []
    for raw in header.split(","):
        part = raw.strip()
        if part == "*":
            return None
        match = _TAG.fullmatch(part)
        value = (match.group(1) if match and match.group(1) is not None else part).strip()
        if value.isdigit():
            versions.append(int(value))
    return versions
