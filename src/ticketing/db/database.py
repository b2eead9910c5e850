"""PostgreSQL access: one asyncpg pool per process, and the unit of work.

Services open a transaction with `Database.transaction()` and hand its connection to
repositories; repositories never commit. Losing the server mid-request surfaces as
`DependencyUnavailable` (503 with Retry-After), never as a 500, and the open transaction is
rolled back by PostgreSQL, so nothing partial is left. The pool is created empty and fills
on demand, so the service starts, answers 503 and recovers by itself when PostgreSQL is
down at start or comes back after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg

from ticketing.errors import DependencyUnavailable

log = logging.getLogger("ticketing.db")

Connection: TypeAlias = asyncpg.Connection

# Errors that mean "the server is not there or went away", as opposed to a refused statement.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)

# ...and those that leave a connection unfit to use again.
_BROKEN: tuple[type[BaseException], ...] = (*_UNAVAILABLE, asyncpg.InternalClientError)

_CLOSE_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *_UNAVAILABLE)


def asyncpg_dsn(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    return f"postgresql://{rest}" if scheme == "postgresql+asyncpg" else database_url


class NoResetConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that goes back to the pool without a reset query.

    asyncpg resets session state (advisory locks, cursors, LISTEN, SET) each time a
    connection is released: one more round trip per request that touches PostgreSQL. This
    service uses none of them, so there is nothing to reset; an open transaction is still
    rolled back on release.
    """

    def get_reset_query(self) -> str:
        return ""


class Database:
    def __init__(
        self,
        database_url: str,
        *,
        min_size: int,
        max_size: int,
        timeout_seconds: int,
        retry_after: int,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout_seconds
        self._retry_after = retry_after
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._max_size,
            timeout=self._timeout,
            command_timeout=self._timeout,
            max_inactive_connection_lifetime=300,
            connection_class=NoResetConnection,
        )
        await self._pool
        # Warm the pool when the server is there; when it is not, requests get 503 until it is.
        try:
            async with asyncio.timeout(self._timeout):
                conns = [await self._pool.acquire() for _ in range(self._min_size)]
                for conn in conns:
                    await self._pool.release(conn)
        except _UNAVAILABLE as exc:
            log.warning("PostgreSQL is not reachable at start (%s); will retry on demand", exc)

    async def close(self) -> None:
        if self._pool is not None:
            try:
                async with asyncio.timeout(10):
                    await self._pool.close()
            except _CLOSE_ERRORS:
                self._pool.terminate()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DependencyUnavailable("postgresql", self._retry_after)
        return self._pool

    def unavailable(self, exc: BaseException) -> DependencyUnavailable:
        log.warning("PostgreSQL unavailable: %s: %s", type(exc).__name__, exc)
        return DependencyUnavailable("postgresql", self._retry_after)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for reads that need no transaction of their own.

        A connection that saw the server go away is closed, not handed back: asyncpg can
        leave its protocol mid-error when the server ends the session (a restart does), and
        the next request to borrow it would fail with an `InternalClientError`.
        """
        try:
            async with self.pool.acquire() as conn:
                try:
                    yield conn
                except _BROKEN:
                    conn.terminate()
                    raise
        except _BROKEN as exc:
            raise self.unavailable(exc) from exc

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.fetchval("SELECT 1")

    def pool_stats(self) -> dict[str, Any]:
        if self._pool is None:
            return {"size": 0, "idle": 0, "max": self._max_size}
        return {
            "size": self._pool.get_size(),
            "idle": self._pool.get_idle_size(),
            "max": self._max_size,
        }
