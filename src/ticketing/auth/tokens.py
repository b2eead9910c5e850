"""Customer bearer tokens, kept in Redis as hashes with a sliding expiry.

A token is 256 random bits; only its SHA-256 is stored, under `tok:<hash>`, holding the
customer id. Each use pushes the expiry out again (GETEX), in the same round trip as the
lookup. `ctok:<customerId>` lists a customer's token hashes so that deleting the customer
revokes them all. Losing Redis loses sessions (customers sign in again via a new token),
never customers.

Each worker remembers a token it checked for a second (CHECK_SECONDS), so a customer
holding, extending and confirming in quick succession costs one lookup, not three. A token
revoked through this worker stops working at once; through another, within that second.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from uuid import UUID

from glide import ExpiryGetEx, ExpirySet, ExpiryType, ExpiryTypeGetEx

from ticketing.auth.caller import ANONYMOUS, Caller, Role
from ticketing.cache.redis import Redis
from ticketing.errors import Unauthorized

TOKEN_PREFIX = "tkt_"
CHECK_SECONDS = 1.0
CHECKED_MAX = 100_000  # tokens remembered per worker; forgotten all at once past it


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Every key of the tokens, as SCAN patterns (`ticketing db reset` deletes them).
KEY_PATTERNS = ("tok:*", "ctok:*")


def _token_key(token_hash: str) -> str:
    return f"tok:{token_hash}"


def _customer_key(customer_id: UUID) -> str:
    return f"ctok:{customer_id}"


class TokenService:
    def __init__(self, redis: Redis, *, admin_token: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._admin_digest = hashlib.sha256(admin_token.encode()).digest()
        self.ttl_seconds = ttl_seconds
        self._checked: dict[str, tuple[float, UUID]] = {}  # token hash -> (when, customer)

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
        if checked is not None and now - checked[0] < CHECK_SECONDS:
            return Caller(Role.CUSTOMER, checked[1], token_hash)
        expiry = ExpiryGetEx(ExpiryTypeGetEx.SEC, self.ttl_seconds)
        value = await self._redis.call(lambda c: c.getex(_token_key(token_hash), expiry))
        if value is None:
            self._checked.pop(token_hash, None)
            raise Unauthorized("The token is not valid or has expired")
        customer_id = UUID(value.decode())
        if len(self._checked) >= CHECKED_MAX:
            self._checked.clear()
        self._checked[token_hash] = (now, customer_id)
        return Caller(Role.CUSTOMER, customer_id, token_hash)

    async def revoke(self, caller: Caller) -> None:
        token_hash = caller.token_hash
        if token_hash is None or caller.customer_id is None:
            return
        self._checked.pop(token_hash, None)
        await self._redis.call(lambda c: c.delete([_token_key(token_hash)]))
        ckey = _customer_key(caller.customer_id)
        await self._redis.call(lambda c: c.srem(ckey, [token_hash]))

    async def revoke_all(self, customer_id: UUID) -> None:
        ckey = _customer_key(customer_id)
        for remembered, (_, owner) in list(self._checked.items()):
            if owner == customer_id:
                del self._checked[remembered]
        hashes = await self._redis.call(lambda c: c.smembers(ckey))
        for token_hash in hashes:
            key = _token_key(token_hash.decode())
            await self._redis.call(lambda c, k=key: c.delete([k]))  # type: ignore[misc]
        await self._redis.call(lambda c: c.delete([ckey]))
