"""A real server process for what the in-process client cannot show: long-lived streams,
a browser, pub/sub between processes. It runs `ticketing serve` on the session's stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.service import Server, serve, stack_on
from tests.conftest import ADMIN_TOKEN
from ticketing.embedded import EmbeddedStack


@contextmanager
def serving_process(
    stack: EmbeddedStack, scratch: Path, *, workers: int = 1, **env: str
) -> Iterator[Server]:
    """Run `ticketing serve` (heartbeat every second, `env` on top) until the block ends;
    its log must show no traceback."""
    on = stack_on(stack, ADMIN_TOKEN, scratch)
    with serve(on, workers=workers, env={"TICKETING_STREAM_HEARTBEAT": "1", **env}) as server:
        yield server
    text = server.log.read_text()
    assert "Traceback" not in text, text


@contextmanager
def serving(stack: EmbeddedStack, scratch: Path) -> Iterator[str]:
    with serving_process(stack, scratch) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def served(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a server process."""
    with serving(stack, tmp_path_factory.mktemp("served")) as base:
        yield base


@pytest.fixture(scope="session")
def served_too(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a second server process on the same PostgreSQL and Redis."""
    with serving(stack, tmp_path_factory.mktemp("served-too")) as base:
        yield base


@pytest.fixture
async def http(served: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        yield client


@pytest.fixture
async def http_too(served_too: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served_too, timeout=10) as client:
        yield client
