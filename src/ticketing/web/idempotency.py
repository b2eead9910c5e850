"""`Idempotency-Key` for the POSTs that create holds and reservations.

The first request with a key claims it (SET NX) with a fingerprint of the request; the
answer is stored under the key for 24 h and replayed to every repeat with the same
fingerprint, without doing the work again. A repeat with another body is a 409. A repeat
that arrives while the first is still working waits for its answer. Keys are per customer,
so two customers never see each other's answers. When the work fails with a 5xx nothing
is stored, and the key may be retried.

`idempotent()` is how a handler uses it: the answer is built as bytes once, stored, and sent
as stored (by Litestar through `respond()`, or by a direct route as it is).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from glide import ConditionalChange, ExpirySet, ExpiryType
from litestar import Request, Response

from ticketing.auth.caller import Caller
from ticketing.cache.redis import Redis
from ticketing.errors import AppError, Conflict, ValidationFailed

KEY_PATTERNS = ("idem:*",)  # every stored answer's key, as a SCAN pattern (`ticketing db reset`)
TTL_SECONDS = 24 * 3600
PENDING_SECONDS = 60


class Stored(msgspec.Struct):
    fingerprint: str
    status: int = 0  # 0 while the first request is working
    body: bytes = b""
    headers: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationFailed.one("Idempotency-Key", "Must be 1 to 255 characters")
    return key


class Idempotency:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _key(customer_id: UUID, key: str) -> str:
        return f"idem:{customer_id}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def run(
        self,
        customer_id: UUID,
        key: str,
        request: bytes,
        work: Callable[[], Awaitable[Answer]],
    ) -> Answer:
        redis_key = self._key(customer_id, key)
        fingerprint = hashlib.sha256(request).hexdigest()
        claim = msgspec.json.encode(Stored(fingerprint))
        pending = ExpirySet(ExpiryType.SEC, PENDING_SECONDS)
        claimed = await self._redis.call(
            lambda c: c.set(
                redis_key,
                claim,
                conditional_set=ConditionalChange.ONLY_IF_DOES_NOT_EXIST,
                expiry=pending,
            )
        )
        if claimed is None:
            return await self._replay(redis_key, fingerprint)
        try:
            answer = await work()
        except AppError as exc:
            if exc.status >= 500:
                await self._redis.call(lambda c: c.delete([redis_key]))
                raise
            answer = Answer(exc.status, msgspec.json.encode(exc.problem()), dict(exc.headers))
            answer.headers["content-type"] = "application/problem+json"
        except BaseException:
            await self._redis.call(lambda c: c.delete([redis_key]))
            raise
        done = msgspec.json.encode(Stored(fingerprint, answer.status, answer.body, answer.headers))
        expiry = ExpirySet(ExpiryType.SEC, TTL_SECONDS)
        await self._redis.call(lambda c: c.set(redis_key, done, expiry=expiry))
        return answer

    async def _replay(self, redis_key: str, fingerprint: str) -> Answer:
        for _ in range(200):
            raw = await self._redis.call(lambda c: c.get(redis_key))
            if raw is None:
                raise Conflict(
                    "The first request with this Idempotency-Key failed; send it again",
                    code="IDEMPOTENCY_RETRY",
                )
            stored = msgspec.json.decode(raw, type=Stored)
            if stored.fingerprint != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was used with another request",
                    code="IDEMPOTENCY_KEY_REUSED",
                )
            if stored.status:
                return Answer(
                    stored.status, stored.body, {**stored.headers, "Idempotent-Replayed": "true"}
                )
            await asyncio.sleep(0.05)
        raise Conflict(
            "The first request with this Idempotency-Key is still running",
            code="IDEMPOTENCY_IN_PROGRESS",
        )


_encode = msgspec.json.Encoder().encode


def json_answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """A value as JSON, encoded as Litestar encodes a handler's return value."""
    return Answer(status, _encode(value), {"content-type": "application/json", **(headers or {})})


async def idempotent(
    request: Request[Any, Any, Any],
    caller: Caller,
    status: int,
    work: Callable[[], Awaitable[msgspec.Struct]],
    location: Callable[[Any], str],
) -> Answer:
    """Run `work` once per Idempotency-Key (when one is sent) and answer as the first time."""

    async def answer() -> Answer:
        result = await work()
        return json_answer(result, status, {"location": location(result)})

    key = check_key(request.headers.get("idempotency-key"))
    if key is None:
        return await answer()
    customer = caller.require_customer()
    store: Idempotency = request.app.state.idempotency
    fingerprint = f"{request.method} {request.url.path}\n".encode() + _canonical(
        await request.body()
    )
    return await store.run(customer, key, fingerprint, answer)


def _canonical(body: bytes) -> bytes:
    """The body as JSON with sorted keys and no spacing, so that the same JSON sent with
    other spacing or member order is the same request (bytes that are not JSON stay as they
    are: such a request is refused anyway)."""
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, RecursionError):
        return body


def respond(answer: Answer) -> Response[bytes]:
    """An answer as Litestar sends it."""
    headers = {k: v for k, v in answer.headers.items() if k != "content-type"}
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.headers.get("content-type", "application/json"),
        headers=headers,
    )
