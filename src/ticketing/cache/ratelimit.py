"""Request rate limits, counted in Redis so that every worker and host shares them.

A class of routes (holds, writes, reads, signup, streams, badtokens) allows `limit`
requests per `window` seconds to one subject: a customer token when the request carries
one, else the client's address (its IPv6 /64). The window opens with the subject's first
request and its counter is one Redis key (`rl:<class>:<subject>`) that a script increments
and times out in one round trip.

A worker claims requests from that counter in small batches (a tenth of the limit, at least
one) and spends them locally until the batch or the window runs out, so a busy subject
costs one Redis call per batch rather than per request. The price: a subject may be refused
up to (batch - 1) requests early per worker that holds part of a batch, never admitted more
than the limit. With limits under 20 the batch is one request, and counting is exact.

A class may instead be counted by each worker alone (`local`): the waiting room's position
reads, which are answered from memory, so that the crowd polling them costs no Redis call.
A subject then gets the limit from each worker it reaches.

When Redis does not answer, requests are let through (the hold and confirm paths then
answer 503 themselves): a limiter that fails closed would turn a Redis hiccup into an
outage of the reads that PostgreSQL alone could serve.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from glide import Script

from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable
from ticketing.settings import Rate

log = logging.getLogger("ticketing.ratelimit")

_CLAIM = Script(  # type: ignore[no-untyped-call]
    """
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
)
LEASES_MAX = 100_000  # subjects remembered per worker (see `_make_room`)


@dataclass(slots=True)
class _Lease:
    left: int  # requests this worker may still admit without asking Redis
    used: int  # the window's count as far as this worker knows
    ends: float  # monotonic time the window ends


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


KEY_PATTERNS = ("rl:*",)  # every counter's key, as a SCAN pattern (`ticketing db reset`)


@lru_cache(maxsize=65_536)
def address_subject(address: str) -> str:
    """Whom an address stands for: an IPv4 address, or an IPv6 /64 (one host or home gets a
    whole /64, so counting its single addresses would let it escape every limit)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "a:" + address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"a:{ip.ipv4_mapped}"
        return f"a:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"a:{ip}"


def token_subject(token_hash: str) -> str:
    return "t:" + token_hash[:32]


class RateLimiter:
    def __init__(
        self, redis: Redis, rates: dict[str, Rate | None], local: frozenset[str] = frozenset()
    ) -> None:
        self._redis = redis
        self._rates = rates
        self._local = local
        self._leases: dict[str, _Lease] = {}
        self._claiming: dict[str, asyncio.Future[None]] = {}
        self._unchecked_until = 0.0

    def rate(self, kind: str) -> Rate | None:
        return self._rates.get(kind)

    @property
    def subjects(self) -> int:
        """Subjects this worker keeps a window or a lease for."""
        return len(self._leases)

    async def hit(self, kind: str, subject: str) -> Verdict | None:
        """Count one request; None when the class is unlimited or Redis did not answer."""
        rate = self._rates.get(kind)
        if rate is None:
            return None
        key = f"rl:{kind}:{subject}"
        if kind in self._local:
            return self._count_here(key, rate)
        while True:
            now = time.monotonic()
            if self._unchecked_until > now:
                return None
            lease = self._leases.get(key)
            if lease is not None and lease.left > 0 and lease.ends > now:
                lease.left -= 1
                lease.used += 1
                return Verdict(rate, lease.used, int((lease.ends - now) * 1000))
            pending = self._claiming.get(key)
            if pending is None:
                break
            await asyncio.shield(pending)  # one claim at a time per subject, then share it
        claim = asyncio.get_running_loop().create_future()
        self._claiming[key] = claim
        try:
            return await self._claim(key, rate, now)
        finally:
            del self._claiming[key]
            claim.set_result(None)

    def _count_here(self, key: str, rate: Rate) -> Verdict:
        now = time.monotonic()
        window = self._leases.get(key)
        if window is None or window.ends <= now:
            self._make_room(now)
            window = self._leases[key] = _Lease(0, 0, now + rate.window)
        window.used += 1
        return Verdict(rate, window.used, int((window.ends - now) * 1000))

    def _make_room(self, now: float) -> None:
        """Keep the table within LEASES_MAX subjects: past it, the expired windows go, and
        if a crowd keeps more than three quarters of it live (a waiting room of 100,000
        fans, each polling with its own token), those ending first go too, down to three
        quarters. So a pass over the table comes once per LEASES_MAX / 4 new subjects at
        most, not for each one. A forgotten lease only costs its subject a claim from Redis;
        a forgotten local window (the polls, counted here) starts again, which a client can
        bring about only with that many tokens of its own, each a sign-up under its limit."""
        if len(self._leases) < LEASES_MAX:
            return
        live = {k: v for k, v in self._leases.items() if v.ends > now}
        keep = LEASES_MAX * 3 // 4
        if len(live) > keep:
            latest = sorted(live.items(), key=lambda item: item[1].ends)[len(live) - keep :]
            live = dict(latest)
        self._leases = live

    async def _claim(self, key: str, rate: Rate, now: float) -> Verdict | None:
        batch = max(1, rate.limit // 10)
        window_ms = str(rate.window * 1000)
        try:
            total, reset_ms = await self._redis.call(
                lambda c: c.invoke_script(_CLAIM, keys=[key], args=[window_ms, str(batch)])
            )
        except DependencyUnavailable:
            # Let requests through for a second without asking again, so that callers do
            # not queue behind one another's timeouts while Redis is away.
            log.warning("rate limits not checked for a second: Redis unavailable")
            self._unchecked_until = time.monotonic() + 1.0
            return None
        total, reset_ms = int(total), int(reset_ms)
        first = total - batch + 1  # this request's place in the window
        granted = max(0, min(batch, rate.limit - first + 1))  # claimed places within it
        self._make_room(now)
        if granted == 0:
            self._leases.pop(key, None)
            return Verdict(rate, first, reset_ms)
        self._leases[key] = _Lease(granted - 1, first, now + reset_ms / 1000)
        return Verdict(rate, first, reset_ms)
