"""Who is calling, resolved once per request, and guards that run before the body is read.

Guards run before Litestar decodes a request body, so an anonymous caller of an admin
route gets 401 (and a customer 403) whatever it sent.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ticketing.auth.caller import Caller
from ticketing.auth.tokens import TokenService

_SCOPE_KEY = "ticketing.caller"


async def resolve_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    cached = connection.scope.get(_SCOPE_KEY)
    if isinstance(cached, Caller):
        return cached
    tokens: TokenService = connection.app.state.tokens
    caller = await tokens.authenticate(connection.headers.get("authorization"))
    connection.scope[_SCOPE_KEY] = caller  # type: ignore[literal-required]
    return caller


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


async def token_checked(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Every route: a presented token must be live (401 otherwise), even on public reads."""
    await resolve_caller(connection)
