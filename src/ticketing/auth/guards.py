"""Who is calling, resolved once per request, and guards that run before the body is read.

Guards run before Litestar decodes a request body, so an anonymous caller of an admin
route gets 401 (and a customer 403) whatever it sent.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ticketing.auth.caller import Caller
from ticketing.auth.tokens import TokenService
from ticketing.cache.ratelimit import RateLimiter, Verdict, address_subject, token_subject
from ticketing.errors import RateLimited, Unauthorized, UnsupportedMediaType, ValidationFailed
from ticketing.observe import metrics
from ticketing.observe.edge import CLIENT_KEY, RATE_KEY

_SCOPE_KEY = "ticketing.caller"
RATE_OPT = "rate"  # a handler's rate-limit class (`opt={"rate": ...}`); None: not limited
IDEMPOTENT = "idempotent"  # `opt={IDEMPOTENT: True}`: the handler honours Idempotency-Key
_WRITES = frozenset({"POST", "PATCH", "PUT"})
_LIMIT = re.compile(rb"(?:^|&)limit=([^&]*)")


def _check_request(scope: Any, handler: BaseRouteHandler) -> None:
    """What every route refuses before its work: NUL in the query, a page size that is not
    a plain number, a body that is not JSON (415), an Idempotency-Key where none is honoured."""
    query: bytes = scope["query_string"]
    if b"%00" in query:
        # PostgreSQL text cannot hold U+0000, and no parameter needs it.
        raise ValidationFailed.one("query", "Must not contain the NUL character (%00)")
    if b"limit=" in query:
        for value in _LIMIT.findall(query):
            if not value.isdigit():  # `1e2`, `+5`, `0x10` are not page sizes
                raise ValidationFailed.one("limit", "Must be a whole number from 1 to 200")
    if scope["method"] not in _WRITES:
        return
    content_type = length = idempotency_key = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"idempotency-key":
            idempotency_key = value
    if (chunked or (length is not None and length != b"0")) and not _is_json(content_type):
        raise UnsupportedMediaType(
            "A request body must be JSON: send Content-Type: application/json"
        )
    if idempotency_key is not None and not handler.opt.get(IDEMPOTENT):
        raise ValidationFailed.one(
            "Idempotency-Key",
            "This route does not honour Idempotency-Key (only taking and confirming holds "
            "do); send the request without it",
        )


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def caller_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address as every limit counts it (an IPv4 address, an IPv6 /64)."""
    return address_subject(str(connection.scope.get(CLIENT_KEY) or "unknown"))


async def resolve_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    cached = connection.scope.get(_SCOPE_KEY)
    if isinstance(cached, Caller):
        return cached
    tokens: TokenService = connection.app.state.tokens
    caller = await tokens.authenticate(_authorization(connection.scope))
    connection.scope[_SCOPE_KEY] = caller  # type: ignore[literal-required]
    return caller


def _authorization(scope: Any) -> str | None:
    """The first Authorization header, read from the scope (ASGI names come lowercased):
    every guarded request asks, and building Litestar's header multidict for it is most of
    the cost of the question."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    return await resolve_caller(request)


async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    (await resolve_caller(connection)).require_admin()


async def customer_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    (await resolve_caller(connection)).require_customer()


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    caller = await resolve_caller(connection)
    if not (caller.is_admin or caller.is_customer):
        caller.require_customer()


async def admitted(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Every route: a presented token must be live (401 otherwise), even on public reads,
    and the caller must be within the route's rate limit (429 otherwise).

    A customer is counted by token, anyone without a token by address, and a rejected token
    against the address that sent it (in a class of its own, so that a stale token in one
    browser does not spend a shared address's sign-ups), so guessing tokens is slow.
    Admins are not limited.
    """
    scope: Any = connection.scope
    _check_request(scope, handler)
    limiter: RateLimiter = connection.app.state.limiter
    address = caller_address(connection)
    try:
        caller = await resolve_caller(connection)
    except Unauthorized:
        await _count(scope, limiter, "badtokens", address)
        raise
    kind = handler.opt.get(RATE_OPT, "reads" if scope["method"] in {"GET", "HEAD"} else "writes")
    if kind is None or caller.is_admin:
        return
    subject = token_subject(caller.token_hash) if caller.token_hash else address
    await _count(scope, limiter, kind, subject)


async def _count(scope: Any, limiter: RateLimiter, kind: str, subject: str) -> None:
    verdict: Verdict | None = await limiter.hit(kind, subject)
    if verdict is None:
        return
    scope[RATE_KEY] = verdict
    if not verdict.allowed:
        metrics.RATE_LIMITED.labels(kind).inc()
        raise RateLimited(
            f"More than {verdict.rate.limit} requests in {verdict.rate.window} s; "
            f"retry in {verdict.reset_seconds} s",
            verdict.reset_seconds,
        )
