"""The Redis/Valkey client: valkey-glide, standalone or cluster, made in the app's lifespan.

glide ran our hold script at ~27k calls/s from one Python process against ~20k for
redis-py with hiredis (docs/decisions/0003-redis-client.md). Every command goes through
`Redis.call`, which turns "the server is not there" into `DependencyUnavailable` (503 with
Retry-After). When Redis is down at start, or the client could not be made, the next call
tries again (at most once a second), so the service recovers by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast
from urllib.parse import unquote, urlsplit

from glide import (
    BackoffStrategy,
    ClosingError,
    ClusterScanCursor,
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    InfoSection,
    NodeAddress,
    RequestError,
    ServerCredentials,
)
from glide import ConnectionError as GlideConnectionError
from glide import TimeoutError as GlideTimeoutError

from ticketing.errors import DependencyUnavailable

log = logging.getLogger("ticketing.redis")

T = TypeVar("T")
Client = GlideClient | GlideClusterClient

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    GlideConnectionError,
    GlideTimeoutError,
    ClosingError,
    OSError,
    asyncio.TimeoutError,
)


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    # A server that is loading its data set or shutting down answers with these.
    return isinstance(exc, RequestError) and any(
        word in str(exc) for word in ("LOADING", "broken pipe", "Connection refused", "MASTERDOWN")
    )


class Redis:
    def __init__(
        self, url: str, *, cluster: bool, timeout_ms: int, retry_after: int, name: str = "ticketing"
    ) -> None:
        self._url = url
        self._cluster = cluster
        self._timeout_ms = timeout_ms
        self._retry_after = retry_after
        self._name = name
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._last_failure = 0.0

    def config(self) -> GlideClientConfiguration | GlideClusterClientConfiguration:
        parts = urlsplit(self._url)
        address = NodeAddress(parts.hostname or "127.0.0.1", parts.port or 6379)
        credentials = None
        if parts.password is not None:
            credentials = ServerCredentials(
                unquote(parts.password), unquote(parts.username) if parts.username else None
            )
        tls = parts.scheme in {"rediss", "valkeys"}
        # Reconnect attempts back off to at most ~0.8 s, so recovery after a restart is quick.
        backoff = BackoffStrategy(num_of_retries=4, factor=50, exponent_base=2)
        if self._cluster:
            return GlideClusterClientConfiguration(
                [address],
                use_tls=tls,
                credentials=credentials,
                request_timeout=self._timeout_ms,
                reconnect_strategy=backoff,
                client_name=self._name,
            )
        db = parts.path.strip("/")
        return GlideClientConfiguration(
            [address],
            use_tls=tls,
            credentials=credentials,
            request_timeout=self._timeout_ms,
            reconnect_strategy=backoff,
            database_id=int(db) if db.isdigit() else None,
            client_name=self._name,
        )

    async def open(self) -> None:
        try:
            await self._connect()
        except DependencyUnavailable:
            log.warning("Redis is not reachable at start; will retry on demand")

    async def _connect(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is not None:
                return self._client
            if time.monotonic() - self._last_failure < 1.0:
                raise DependencyUnavailable("redis", self._retry_after)
            config = self.config()
            try:
                async with asyncio.timeout(max(self._timeout_ms / 1000 * 3, 1.0)):
                    if isinstance(config, GlideClusterClientConfiguration):
                        self._client = await GlideClusterClient.create(config)
                    else:
                        self._client = await GlideClient.create(config)
            except Exception as exc:
                self._last_failure = time.monotonic()
                log.warning("Redis connect failed: %s: %s", type(exc).__name__, exc)
                raise DependencyUnavailable("redis", self._retry_after) from exc
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.close()
            except Exception as exc:  # closing a client of a dead server may fail; nothing to keep
                log.debug("closing Redis client: %s", exc)

    @property
    def cluster(self) -> bool:
        return self._cluster

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    @property
    def retry_after(self) -> int:
        return self._retry_after

    async def call(self, op: Callable[[Client], Awaitable[T]]) -> T:
        """Run one operation on the client, turning a lost server into a 503."""
        client = await self._connect()
        try:
            return await op(client)
        except Exception as exc:
            if _is_unavailable(exc):
                log.warning("Redis unavailable: %s: %s", type(exc).__name__, exc)
                if isinstance(exc, ClosingError):
                    self._client = None  # a closed client never comes back; make a new one
                raise DependencyUnavailable("redis", self._retry_after) from exc
            raise

    async def delete_matching(self, patterns: Sequence[str]) -> int:
        """Delete every key matching one of `patterns` (glob, as SCAN MATCH), on every node
        of a cluster; returns how many went. For `ticketing db reset`, never a request."""

        async def run(client: Client) -> int:
            deleted = 0
            for pattern in patterns:
                if isinstance(client, GlideClusterClient):
                    cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]
                    while not cursor.is_finished():
                        reply = await client.scan(cursor, match=pattern, count=1000)
                        cursor = cast(ClusterScanCursor, reply[0])
                        for key in cast(list[bytes], reply[1]):  # keys of many slots
                            deleted += await client.delete([key])
                else:
                    position: bytes = b"0"
                    while True:
                        page = await client.scan(position, match=pattern, count=1000)
                        position = cast(bytes, page[0])
                        found = cast(list[bytes | str], page[1])
                        if found:
                            deleted += await client.delete(found)
                        if position == b"0":
                            break
            return deleted

        return await self.call(run)

    async def ping(self) -> None:
        await self.call(lambda c: c.ping())

    async def server_ids(self) -> str:
        """The run ids of the server (every node of a cluster): they change when a server
        restarts, even when it reloads its data from disk."""
        reply = await self.call(lambda c: c.info([InfoSection.SERVER]))
        texts = reply.values() if isinstance(reply, dict) else [reply]
        ids = []
        for text in texts:
            raw = text.decode() if isinstance(text, bytes) else str(text)
            for line in raw.splitlines():
                if line.startswith("run_id:"):
                    ids.append(line.split(":", 1)[1].strip())
        return ",".join(sorted(ids))
