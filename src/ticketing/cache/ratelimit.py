"""Request rate limits, counted in Redis so that every worker and host shares them.

A class of routes (holds, writes, reads, signup, streams) allows `limit` requests per
`window` seconds to one subject: a customer token when the request carries one, else the
client's address. The window opens with the subject's first request and its counter is one
Redis key (`rl:<class>:<subject>`) that a script increments and times out in one round trip.

When Redis does not answer, requests are let through (the hold and confirm paths then
answer 503 themselves): a limiter that fails closed would turn a Redis hiccup into an
outage of the reads that PostgreSQL alone could serve.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from glide import Script

from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable
from ticketing.settings import Rate

log = logging.getLogger("ticketing.ratelimit")

_COUNT = Script(  # type: ignore[no-untyped-call]
    """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One request's place in its window, as the RateLimit-* headers tell it."""

    rate: Rate
    count: int
    reset_ms: int

    @property
    def allowed(self) -> bool:
        return self.count <= self.rate.limit

    @property
    def remaining(self) -> int:
        return max(0, self.rate.limit - self.count)

    @property
    def reset_seconds(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000))

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.rate.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
            (b"ratelimit-policy", f"{self.rate.limit};w={self.rate.window}".encode()),
        ]


def address_subject(address: str) -> str:
    return "a:" + address


def token_subject(token_hash: str) -> str:
    return "t:" + token_hash[:32]


def bad_token_subject(address: str) -> str:
    """Rejected tokens count against the address that sent them, not against the token."""
    return "x:" + hashlib.sha256(address.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, redis: Redis, rates: dict[str, Rate | None]) -> None:
        self._redis = redis
        self._rates = rates

    def rate(self, kind: str) -> Rate | None:
        return self._rates.get(kind)

    async def hit(self, kind: str, subject: str) -> Verdict | None:
        """Count one request; None when the class is unlimited or Redis did not answer."""
        rate = self._rates.get(kind)
        if rate is None:
            return None
        key = f"rl:{kind}:{subject}"
        window_ms = str(rate.window * 1000)
        try:
            count, reset_ms = await self._redis.call(
                lambda c: c.invoke_script(_COUNT, keys=[key], args=[window_ms])
            )
        except DependencyUnavailable:
            log.warning("rate limit not checked: Redis unavailable")
            return None
        return Verdict(rate, int(count), int(reset_ms))
