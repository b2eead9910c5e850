"""Customer bearer tokens, kept in Redis as hashes with a sliding expiry.

A token is 256 random bits; only its SHA-256 is stored, under `tok:<hash>`, holding the
customer id. Each use pushes the expiry out again (GETEX), in the same round trip as the
lookup. `ctok:<customerId>` lists a customer's token hashes so that deleting the customer
revokes them all. Losing Redis loses sessions (customers sign in again via a new token),
never customers.

Each worker remembers a token it checked for five minutes (REMEMBER_SECONDS; a tenth of
the tokens' lifetime if that is shorter), so a fan who polls its place, holds, extends and
confirms costs one lookup, not one per request, even when it polls every 30 s. The price:
a token in use has its expiry pushed out only when a worker checks it again, so it may
expire up to that long before its full lifetime after its last use (5 minutes in 24 h).
Revocations reach every worker through a log in Redis (`{tokrev}:*`): the number of tokens
revoked so far, the last LOG_MAX of them, and when the log began. A worker trusts what it
remembers only while it has read that log within REVOKED_SECONDS (asking again, one call
for all its requests, when it is older; asking Redis for the token itself when the log
cannot be read). So a token revoked through this worker stops working at once, and through
any other within a quarter second and one round trip; a log that lost entries (trimmed
past, or Redis restarted) makes the worker forget every token it remembered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from uuid import UUID

from glide import ExpiryGetEx, ExpirySet, ExpiryType, ExpiryTypeGetEx, Script

from ticketing.auth.caller import ANONYMOUS, Caller, Role
from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable, Unauthorized

TOKEN_PREFIX = "tkt_"
REMEMBER_SECONDS = 300.0  # (at most a tenth of the tokens' lifetime: see above)
REVOKED_SECONDS = 0.25
LOG_MAX = 10_000
CHECKED_MAX = 100_000  # tokens remembered per worker; forgotten all at once past it

# The revocation log, in one slot: LIST the last LOG_MAX revoked hashes, STRING how many were
# ever revoked, STRING a random mark set when the log began.
_LOG = ["{tokrev}:log", "{tokrev}:n", "{tokrev}:born"]
_REVOKE = Script(  # type: ignore[no-untyped-call]
    f"""
redis.call('SET', KEYS[3], ARGV[1], 'NX')
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -{LOG_MAX}, -1)
return redis.call('INCRBY', KEYS[2], #ARGV - 1)
"""
)
# ARGV: 1 how many this worker has seen, 2 a mark for a log that begins now.
# Returns {born, how many so far, the hashes since} ('*' for them: some fell off the log).
_REVOKED_SINCE = Script(  # type: ignore[no-untyped-call]
    """
redis.call('SET', KEYS[3], ARGV[2], 'NX')
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
local reply = {redis.call('GET', KEYS[3]), tostring(n)}
local want = n - tonumber(ARGV[1])
if want <= 0 then return reply end
if want > redis.call('LLEN', KEYS[1]) then reply[3] = '*' return reply end
for _, h in ipairs(redis.call('LRANGE', KEYS[1], -want, -1)) do reply[#reply + 1] = h end
return reply
"""
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Every key of the tokens, as SCAN patterns (`ticketing db reset` deletes them).
KEY_PATTERNS = ("tok:*", "ctok:*", "{tokrev}:*")


def _token_key(token_hash: str) -> str:
    return f"tok:{token_hash}"


def _customer_key(customer_id: UUID) -> str:
    return f"ctok:{customer_id}"


class TokenService:
    def __init__(self, redis: Redis, *, admin_token: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._admin_digest = hashlib.sha256(admin_token.encode()).digest()
        self.ttl_seconds = ttl_seconds
        self._remember = min(REMEMBER_SECONDS, ttl_seconds / 10)
        # token hash -> (when it was checked, its caller: one object for all its requests)
        self._checked: dict[str, tuple[float, Caller]] = {}
        self._log_born: bytes | None = None  # the revocation log as this worker read it
        self._log_seen = 0
        self._log_read = float("-inf")  # monotonic
        self._log_reading: asyncio.Future[bool] | None = None

    async def issue(self, customer_id: UUID) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_hash = hash_token(token)
        expiry = ExpirySet(ExpiryType.SEC, self.ttl_seconds)
        await self._redis.call(
            lambda c: c.set(_token_key(token_hash), str(customer_id), expiry=expiry)
        )
        ckey = _customer_key(customer_id)
        await self._redis.call(lambda c: c.sadd(ckey, [token_hash]))
        await self._redis.call(lambda c: c.expire(ckey, self.ttl_seconds))
        return token

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller named by an `Authorization: Bearer ...` header.

        No header is an anonymous caller; a header that names no live token is a 401, so
        a client with an expired token learns it rather than silently seeing less.
        """
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise Unauthorized("Use 'Authorization: Bearer <token>'")
        digest = hashlib.sha256(token.encode()).digest()
        if hmac.compare_digest(digest, self._admin_digest):
            return Caller(Role.ADMIN)
        if not token.startswith(TOKEN_PREFIX):
            raise Unauthorized("The token is not valid or has expired")
        token_hash = digest.hex()
        now = time.monotonic()
        checked = self._checked.get(token_hash)
        if checked is not None and now - checked[0] < self._remember:
            if now - self._log_read <= REVOKED_SECONDS:  # (the revocation log is fresh)
                return checked[1]
            if await self._reread_log():
                checked = self._checked.get(token_hash)  # (unless the log revoked it just now)
                if checked is not None:
                    return checked[1]
        expiry = ExpiryGetEx(ExpiryTypeGetEx.SEC, self.ttl_seconds)
        value = await self._redis.call(lambda c: c.getex(_token_key(token_hash), expiry))
        if value is None:
            self._checked.pop(token_hash, None)
            raise Unauthorized("The token is not valid or has expired")
        customer_id = UUID(value.decode())
        if len(self._checked) >= CHECKED_MAX:
            self._checked.clear()
        caller = Caller(Role.CUSTOMER, customer_id, token_hash)
        self._checked[token_hash] = (now, caller)
        return caller

    async def _reread_log(self) -> bool:
        """Read the revocation log again, once for every request that asks meanwhile:
        whether it could be read."""
        if self._log_reading is not None:
            return await asyncio.shield(self._log_reading)
        reading = self._log_reading = asyncio.get_running_loop().create_future()
        fresh = False
        try:
            fresh = await self._read_log()
        finally:
            self._log_reading = None
            reading.set_result(fresh)
        return fresh

    async def _read_log(self) -> bool:
        asked = time.monotonic()
        mark = secrets.token_hex(8)
        try:
            reply = await self._redis.call(
                lambda c: c.invoke_script(
                    _REVOKED_SINCE, keys=_LOG, args=[str(self._log_seen), mark]
                )
            )
        except DependencyUnavailable:
            return False  # (each token is then asked about, and that answers 503)
        born, count, revoked = reply[0], int(reply[1]), reply[2:]
        if born != self._log_born or count < self._log_seen or revoked == [b"*"]:
            self._checked.clear()  # a new log, or one that lost entries: trust nothing
        else:
            for token_hash in revoked:
                self._checked.pop(token_hash.decode(), None)
        self._log_born, self._log_seen, self._log_read = born, count, asked
        return True

    async def _log_revoked(self, token_hashes: list[str]) -> None:
        if token_hashes:
            args = [secrets.token_hex(8), *token_hashes]
            await self._redis.call(lambda c: c.invoke_script(_REVOKE, keys=_LOG, args=args))

    async def revoke(self, caller: Caller) -> None:
        token_hash = caller.token_hash
        if token_hash is None or caller.customer_id is None:
            return
        self._checked.pop(token_hash, None)
        await self._redis.call(lambda c: c.delete([_token_key(token_hash)]))
        ckey = _customer_key(caller.customer_id)
        await self._redis.call(lambda c: c.srem(ckey, [token_hash]))
        await self._log_revoked([token_hash])

    async def revoke_all(self, customer_id: UUID) -> None:
        ckey = _customer_key(customer_id)
        for remembered, (_, caller) in list(self._checked.items()):
            if caller.customer_id == customer_id:
                del self._checked[remembered]
        hashes = [h.decode() for h in await self._redis.call(lambda c: c.smembers(ckey))]
        for token_hash in hashes:
            key = _token_key(token_hash)
            await self._redis.call(lambda c, k=key: c.delete([k]))  # type: ignore[misc]
        await self._redis.call(lambda c: c.delete([ckey]))
        await self._log_revoked(hashes)
