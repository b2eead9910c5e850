"""Slots: how many of something a subject has open at once, counted in Redis so that every
worker and host shares the count (open event streams per address and per customer).

A subject's slots are one sorted set (`slots:<kind>:<subject>`) of slot ids scored by when
their lease ends. Taking a slot drops the ended leases and adds one only below the limit, in
one script; giving it back removes it. A worker that dies without giving its slots back
loses them when their leases end, so the lease is as long as the longest a slot may be held.

When Redis does not answer, a slot is granted (and logged): the per-worker budget still
bounds what one process serves, and a Redis hiccup must not close every stream.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from glide import Script

from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable

log = logging.getLogger("ticketing.slots")

KEY_PATTERNS = ("slots:*",)  # every subject's set, as a SCAN pattern (`ticketing db reset`)

_TAKE = Script(  # type: ignore[no-untyped-call]
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)


class Slots:
    def __init__(self, redis: Redis, kind: str) -> None:
        self._redis = redis
        self._kind = kind

    def _key(self, subject: str) -> str:
        return f"slots:{self._kind}:{subject}"

    async def take(self, subject: str, limit: int, lease_ms: int) -> str | None:
        """A slot id for `subject`, or None when it already has `limit` open."""
        slot = secrets.token_hex(8)
        key = self._key(subject)
        try:
            taken = await self._redis.call(
                lambda c: c.invoke_script(_TAKE, keys=[key], args=[slot, str(lease_ms), str(limit)])
            )
        except DependencyUnavailable:
            log.warning("%s slots not counted: Redis unavailable", self._kind)
            return slot
        return slot if int(taken) == 1 else None

    async def give_back(self, subject: str, slot: str) -> None:
        key = self._key(subject)
        with contextlib.suppress(DependencyUnavailable):  # else its lease ends by itself
            await self._redis.call(lambda c: c.zrem(key, [slot]))
