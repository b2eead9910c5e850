"""The connection pool after the server ends a session: what it lends next works, or is a 503.

A restart of PostgreSQL ends every session. The server says so (a FATAL error) and then
closes the socket, and asyncpg reads the two in separate turns of the event loop. A
connection borrowed between them has its protocol mid-error: the next statement on it
fails with `InternalClientError`. That must be a 503 like any other lost server, and the
connection must not go back to the pool to fail the request after.

The test holds the socket's bytes back (pausing the transport) so that the FATAL error and
the end of the stream arrive in the order a restart produces, at a moment the test chooses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from ticketing.db.database import Database, asyncpg_dsn
from ticketing.errors import DependencyUnavailable
from ticketing.settings import Settings


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    # One connection, so that the next borrower is sure to get the one whose session ended.
    db = Database(settings.database_url, min_size=1, max_size=1, timeout_seconds=2, retry_after=1)
    await db.open()
    yield db
    await db.close()


async def _end_session(database_url: str, pid: int) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def _ended_while_lent(database: Database, database_url: str, turns: int) -> Any:
    """End the pool connection's session; let the event loop run `turns` times after its
    bytes are let through; return the error the next statement on it raised, or None."""
    async with database.connection() as conn:
        pid = conn.get_server_pid()
        transport = conn._con._transport  # the test's grip on timing
        transport.pause_reading()
    await _end_session(database_url, pid)
    await asyncio.sleep(0.2)  # the FATAL error and the end of stream are both in the socket
    transport.resume_reading()
    for _ in range(turns):
        await asyncio.sleep(0)
    try:
        async with database.connection() as conn:
            await conn.fetchval("SELECT 1")
    except DependencyUnavailable as exc:
        return exc.__cause__
    return None


async def test_a_session_ended_between_statements_is_a_503_and_is_never_lent_again(
    database: Database, settings: Settings
) -> None:
    seen: set[str] = set()
    for turns in range(6):
        cause = await _ended_while_lent(database, settings.database_url, turns)
        seen.add(type(cause).__name__)
        # The next borrower gets a working connection.
        async with database.connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
    # The race really was run: at some point the protocol was caught mid-error.
    assert "InternalClientError" in seen, seen
