"""Direct routes: the onsale's hot routes, served without Litestar's per-request machinery.

Holding seats (`POST /events/{eventId}/holds`, and the seed's one-seat `PATCH
/events/{eventId}/seats/{seatId}`), confirming a hold (`POST /holds/{holdId}/reservation`)
the reads every fan repeats (the open count, availability, one seat) and the waiting
room's join and polls (`POST /events/{eventId}/queue`, `GET /queue/{entryId}`) are most of
an onsale's traffic. For each request Litestar
routes through its trie, builds the handler's keyword arguments (path parameter, the
`caller` dependency, the DTO-decoded body) from a signature model, and turns the returned
`Response` into ASGI messages. On the hold burst that machinery was measured as the larger
part of the gap between the service and the bare floor (docs/benchmarks.md), and none of it
depends on the request: it is work that can be done once.

A direct route is still declared by its Litestar handler, which keeps its OpenAPI
description, guards, rate-limit class, exception handlers and metrics label, and is marked
as direct by its `opt` (`opt={**direct(serve)}`, naming the function that serves it). Here
every marked handler is found when the app is built, matched by one regular expression made
from its path, and served by that function, which shares the handler's code:

- the handler's guards run, in the same order (so `admitted`: NUL check, token, rate limit);
- the body is read by Litestar's `Request`, under the same size limit;
- errors go through the same Litestar exception middleware and handlers (problem+json);
- CORS, when configured, is applied by Litestar's own CORS middleware.

Anything else (another method or path, a UUID in another spelling, a Host header the
router would refuse, a mounted root path) goes on to Litestar as before. A handler given
hooks, middleware or response headers of its own cannot be served directly: the app refuses
to build.

Three of Litestar's internals are imported (the router's Host check, and the exception and
CORS middleware it wraps every route in) so that those behave exactly as elsewhere.
`tests/e2e/test_direct.py` sends every kind of answer both ways and compares them, so an
upgrade that changes any of this fails there.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from litestar import Litestar, Request
from litestar._asgi.utils import is_valid_host, wrap_in_exception_handler
from litestar.handlers import HTTPRouteHandler
from litestar.middleware._internal.cors import CORSMiddleware
from litestar.routes import HTTPRoute
from litestar.utils.scope.state import ScopeState

from ticketing.auth.guards import resolve_caller
from ticketing.errors import AppError
from ticketing.web.http import app_error, refusal
from ticketing.web.idempotency import Answer

# serve(request, *the route's UUID path parameters in path order, caller)
Serve = Callable[..., Awaitable[Answer]]
# A guard as `resolve_guards()` gives it: already made async.
Guard = Callable[[Request[Any, Any, Any], HTTPRouteHandler], Awaitable[None]]

_PARAM = re.compile(r"\{(\w+):uuid\}")
# The canonical spelling only; Litestar parses any other the `uuid` converter accepts.
_UUID = "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


DIRECT_OPT = "ticketing.direct"


# Whether a query string is one the direct route serves (the rest goes to Litestar).
Accepts = Callable[[bytes], bool]
ACCEPTS_OPT = "ticketing.direct.accepts"


def direct(serve: Serve, accepts: Accepts | None = None) -> dict[str, Any]:
    """A handler's `opt` marking its route as served directly by `serve`, which takes the
    request, the route's UUID path parameters (in the path's order) and the caller, as the
    handler would. With `accepts`, only requests whose query string it accepts are served
    directly: the others (ill-formed parameters, with Litestar's own answers) go on to
    Litestar untouched, guards included."""
    return {DIRECT_OPT: serve, ACCEPTS_OPT: accepts}


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """`method path` (Litestar's spelling, `{name:uuid}` parameters only) served by `serve`."""

    method: str
    path: str
    serve: Serve
    accepts: Accepts | None = None


def marked(app: Litestar) -> list[DirectRoute]:
    """Every route whose handler is marked `direct(...)`."""
    found: list[DirectRoute] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            serve = handler.opt.get(DIRECT_OPT)
            if serve is not None:
                accepts = handler.opt.get(ACCEPTS_OPT)
                found.extend(
                    DirectRoute(m, route.path, serve, accepts) for m in sorted(handler.http_methods)
                )
    return found


@dataclass(frozen=True, slots=True)
class _Bound:
    pattern: re.Pattern[str]
    params: tuple[str, ...]
    template: str
    handler: HTTPRouteHandler
    guards: list[Guard]
    exception_handlers: Any
    serve: Serve
    accepts: Accepts | None
    plain_refusals: bool  # the route's AppError handler is the app's own (`refusal`)


class DirectRoutes:
    """ASGI: the direct routes (by default, every handler marked `direct`), and `fallback`
    (Litestar's own handler) for the rest."""

    def __init__(
        self, app: Litestar, fallback: Any, routes: list[DirectRoute] | None = None
    ) -> None:
        self._fallback = fallback
        self._request_class = app.request_class
        self._routes: dict[str, list[_Bound]] = {}
        for route in marked(app) if routes is None else routes:
            self._routes.setdefault(route.method, []).append(_bind(app, route))
        served: Any = wrap_in_exception_handler(self._serve)
        if app.cors_config is not None:
            served = CORSMiddleware(app=served, config=app.cors_config)
        self._served = served

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for bound in self._routes.get(scope["method"], ()):
                match = bound.pattern.fullmatch(scope["path"])
                if (
                    match is not None
                    and _host_ok(scope)
                    and (bound.accepts is None or bound.accepts(scope["query_string"]))
                ):
                    scope["route_handler"] = bound.handler
                    scope["path_template"] = bound.template
                    scope["path_params"] = dict(
                        zip(bound.params, map(UUID, match.groups()), strict=True)
                    )
                    ScopeState.from_scope(scope).exception_handlers = bound.exception_handlers
                    scope["ticketing.direct"] = bound
                    await self._served(scope, receive, send)
                    return
        await self._fallback(scope, receive, send)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        bound: _Bound = scope["ticketing.direct"]
        request = self._request_class(scope=scope, receive=receive, send=send)
        try:
            for guard in bound.guards:
                await guard(request, bound.handler)
            ids = scope["path_params"].values()
            answer = await bound.serve(request, *ids, await resolve_caller(request))
        except AppError as exc:
            if not bound.plain_refusals:
                raise  # (to the route's own exception handler, through Litestar)
            # The service's refusals (a taken seat, a sold-out event: most answers after a
            # sell-out) are answered here as the app's handler answers them, without
            # Litestar's exception middleware building a Response for each.
            answer = refusal(exc)
        headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def _host_ok(scope: Any) -> bool:
    for name, value in scope["headers"]:
        if name == b"host":
            return is_valid_host(value)
    return True


def _bind(app: Litestar, route: DirectRoute) -> _Bound:
    found = [r for r in app.routes if isinstance(r, HTTPRoute) and r.path == route.path]
    handlers: dict[Any, Any] = found[0].route_handler_map if found else {}
    if route.method not in handlers:
        raise ValueError(f"no {route.method} {route.path} route to serve directly")
    handler: HTTPRouteHandler = handlers[route.method][0]
    if (
        handler.resolve_middleware()
        or handler.resolve_before_request()
        or any(layer.after_request for layer in handler.ownership_layers)
        or handler.resolve_after_response()
        or handler.resolve_response_headers()
        or handler.resolve_response_cookies()
    ):
        raise ValueError(f"{route.method} {route.path} has hooks or middleware of its own")
    params = tuple(_PARAM.findall(route.path))
    parts = _PARAM.split(route.path)  # [text, name, text, name, ..., text]
    if not params or "{" in "".join(parts[::2]):
        raise ValueError(f"{route.path}: a direct route takes UUID path parameters only")
    pattern = re.compile("".join(_UUID if i % 2 else re.escape(p) for i, p in enumerate(parts)))
    return _Bound(
        pattern=pattern,
        params=params,
        template=found[0].path_format,
        handler=handler,
        guards=cast("list[Guard]", handler.resolve_guards()),
        exception_handlers=handler.resolve_exception_handlers(),
        serve=route.serve,
        accepts=route.accepts,
        plain_refusals=handler.resolve_exception_handlers().get(AppError) is app_error,
    )
