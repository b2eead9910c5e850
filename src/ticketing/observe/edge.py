"""The outermost layer of every HTTP request: request id, client address, security headers,
rate-limit headers, metrics and the access log.

It wraps the whole application (routing and error handling included), so a 404 for an
unknown path or a 405 carries the same headers and is counted like any other answer.
Latency is measured to the response's first byte, so an open stream counts once, for how
long it took to start, not for how long it stayed open.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from typing import Any

from ticketing.errors import BodyTimeout, ClientGone
from ticketing.observe import metrics
from ticketing.observe.logs import REQUEST_ID

access = logging.getLogger("ticketing.access")

REQUEST_ID_HEADER = b"x-request-id"
CLIENT_KEY = "ticketing.client"
RATE_KEY = "ticketing.rate"

_VALID_ID = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")

_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# Answers that are not pages (JSON, problems, streams) may load and frame nothing.
_DATA_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_SECURITY_DATA = [*_SECURITY, _DATA_CSP]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class _Bodiless(Exception):
    """Raised into a stream that answers a HEAD request, once its headers have gone."""


_ENTITY = frozenset({b"content-length", b"content-type", b"content-encoding"})


def _matches(if_none_match: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the answer's ETag is one the client says it has (weak comparison)."""
    etag = next((v for k, v in headers if k.lower() == b"etag"), None)
    if etag is None:
        return False
    if if_none_match.strip() == b"*":
        return True
    mine = etag.removeprefix(b"W/")
    return any(t.strip().removeprefix(b"W/") == mine for t in if_none_match.split(b","))


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def client_address(scope: dict[str, Any], trust_forwarded: bool) -> str:
    """The caller's address: the peer's, or behind a trusted proxy the last address it
    added to X-Forwarded-For (earlier entries are whatever the client claimed)."""
    if trust_forwarded:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            last = forwarded.decode("latin-1").rsplit(",", 1)[-1].strip()
            if last:
                return last
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Edge:
    def __init__(
        self,
        app: Any,
        *,
        access_log: bool,
        trust_forwarded: bool,
        allow: dict[str, bytes] | None = None,
        pages: set[str] | None = None,
        body_timeout: float = 10.0,
    ) -> None:
        self._app = app
        self._body_timeout = body_timeout
        # Route templates that answer HTML pages with a Content-Security-Policy of their own
        # (the seat map, Swagger UI); everything else gets the data-only policy.
        self._pages = pages or set()
        # Route template -> every method it answers, for `Allow` on OPTIONS: Litestar builds
        # that header before it merges a path's handlers from several controllers.
        self._allow = allow or {}
        self._access_log = access_log
        self._trust_forwarded = trust_forwarded
        self._prefix = secrets.token_hex(8)
        self._issued = 0
        self._children: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        if given and _VALID_ID.fullmatch(given):
            request_id = given.decode()
        else:  # this worker's random prefix and a count: unique, and cheaper than urandom
            self._issued += 1
            request_id = f"{self._prefix}{self._issued:016x}"
        encoded_id = request_id.encode()
        reset = REQUEST_ID.set(request_id)
        scope[CLIENT_KEY] = client_address(scope, self._trust_forwarded)
        https = scope.get("scheme") == "https" or (
            self._trust_forwarded and _header(scope, b"x-forwarded-proto") == b"https"
        )
        started = time.perf_counter()
        status = 0
        first_byte = 0.0
        # HEAD is served as GET without its body; a GET whose ETag the client already has
        # (If-None-Match) is answered 304 without its body.
        method = scope["method"]
        head = method == "HEAD"
        if head:
            scope["method"] = "GET"
        known = _header(scope, b"if-none-match") if method in ("GET", "HEAD") else None
        bodiless = ended = False

        async def send_with_headers(message: Any) -> None:
            nonlocal status, first_byte, bodiless, ended
            if message["type"] == "http.response.body" and bodiless:
                if ended:
                    return
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                if message.get("more_body", False):
                    raise _Bodiless()  # a stream: stop it, there is nobody to send it to
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter()
                headers = message.get("headers")
                headers = [] if headers is None else list(headers)
                if known is not None and status == 200 and _matches(known, headers):
                    status = message["status"] = 304
                    headers = [(k, v) for k, v in headers if k.lower() not in _ENTITY]
                bodiless = head or status == 304
                headers.append((REQUEST_ID_HEADER, encoded_id))
                if scope.get("path_template") in self._pages:
                    headers.extend(_SECURITY)
                else:
                    headers.extend(_SECURITY_DATA)
                if https:
                    headers.append(_HSTS)
                verdict = scope.get(RATE_KEY)
                if verdict is not None:
                    headers.extend(verdict.headers())
                if scope["method"] == "OPTIONS":
                    allowed = self._allow.get(scope.get("path_template") or "")
                    if allowed is not None:
                        headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                        headers.append((b"allow", allowed))
                message["headers"] = headers
            await send(message)

        deadline = asyncio.get_running_loop().time() + self._body_timeout
        body_done = False

        async def receive_in_time() -> Any:
            # Until the body is complete, each read waits only until the request's deadline;
            # after it (a stream waiting for the client to leave), reads wait as long as needed.
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self._body_timeout) from None
            kind = message["type"]
            if kind == "http.request":
                body_done = not message.get("more_body", False)
            elif kind == "http.disconnect":
                raise ClientGone()
            return message

        failed = False
        try:
            await self._app(scope, receive_in_time, send_with_headers)
        except Exception:
            if not (bodiless and ended):  # (else only the stopped stream of a HEAD raised)
                failed = True  # the server answers 500 for an app that raised
                raise
        finally:
            scope["method"] = method
            # No answer started and nothing raised: the client went away first (499, as
            # proxies count it).
            status = status or (500 if failed else 499)
            self._record(scope, status, (first_byte or time.perf_counter()) - started)
            REQUEST_ID.reset(reset)

    def _record(self, scope: Any, status: int, seconds: float) -> None:
        # Only methods the API knows become labels: any other string a client sends would
        # otherwise add a time series (and a cached child here) per spelling.
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = scope.get("path_template") if "route_handler" in scope else None
        route = route or "unmatched"
        key = (method, route, status)
        counter = self._children.get(key)
        if counter is None:
            counter = self._children[key] = metrics.REQUESTS.labels(method, route, str(status))
        counter.inc()
        timing = self._latency.get((method, route))
        if timing is None:
            timing = self._latency[(method, route)] = metrics.LATENCY.labels(method, route)
        timing.observe(seconds)
        if self._access_log and access.isEnabledFor(logging.INFO):
            access.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                    "client": scope.get(CLIENT_KEY),
                },
            )
