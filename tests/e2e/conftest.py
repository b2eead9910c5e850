"""A real server process for what the in-process client cannot show: long-lived streams,
a browser, pub/sub between processes. It runs `ticketing serve` on the session's stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from ticketing.embedded import EmbeddedStack, free_port

BIN = Path(sys.executable).parent


@contextmanager
def serving(stack: EmbeddedStack, scratch: Path) -> Iterator[str]:
    """Run `ticketing serve` (one worker, heartbeat every second) until the block ends."""
    assert stack.postgres is not None
    assert stack.valkey is not None
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    env.update(
        DATABASE_URL=stack.postgres.url,
        REDIS_URL=stack.valkey.url,
        TICKETING_ADMIN_TOKEN=ADMIN_TOKEN,
        TICKETING_PORT=str(port),
        TICKETING_WORKERS="1",
        TICKETING_STREAM_HEARTBEAT="1",
        TICKETING_MIGRATE_ON_START="false",
        TICKETING_DATA_DIR=str(scratch),
        TICKETING_LOG_LEVEL="warning",
    )
    log = scratch / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "ticketing"), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    yield base
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text


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
