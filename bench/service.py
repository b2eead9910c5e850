"""The service as an operator starts it, for the benchmark and the docs' pictures.

`running()` gives PostgreSQL and Redis (the ones DATABASE_URL and REDIS_URL name, else the
embedded servers in a scratch folder; with `own=True`, embedded ones of its own in any case)
and `serve()` starts `ticketing serve` on them with Granian's workers, returning once it
answers ready.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ticketing.db import migrate
from ticketing.embedded import EmbeddedStack, free_port

BIN = Path(sys.executable).parent

# A load test is many clients from one address with a few tokens each: the limits stay on
# (every request is still counted in Redis) but high enough never to refuse one.
# A load test speaks from one address: its limits are lifted (the budget per worker stays).
LOAD_TEST_LIMITS = {
    **{
        f"TICKETING_RATE_LIMIT_{kind}": "10000000/60s"
        for kind in ("HOLDS", "WRITES", "READS", "POLLS", "SIGNUP", "BAD_TOKENS", "STREAMS")
    },
    "TICKETING_STREAMS_PER_ADDRESS": "100000",
    "TICKETING_STREAMS_PER_CUSTOMER": "100000",
    "TICKETING_HOLD_SHARE_PER_ADDRESS": "off",
}


@dataclass(frozen=True)
class Stack:
    database_url: str
    redis_url: str
    admin_token: str
    scratch: Path
    embedded: bool
    ports: tuple[str, ...]  # PostgreSQL's and Redis's (to tell their processes from others)


def stack_on(embedded: EmbeddedStack, admin_token: str, scratch: Path) -> Stack:
    """A Stack for embedded servers already running (both of them)."""
    assert embedded.postgres is not None
    assert embedded.valkey is not None
    urls = embedded.postgres.url, embedded.valkey.url
    ports = tuple(str(urlsplit(url).port) for url in urls)
    return Stack(*urls, admin_token, scratch, True, ports)


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    ports: tuple[str, ...] = ()  # its stack's PostgreSQL and Redis


@contextmanager
def running(*, own: bool = False) -> Iterator[Stack]:
    """PostgreSQL and Redis, migrated; embedded unless DATABASE_URL and REDIS_URL are set
    (or `own` asks for an embedded pair of its own, beside those)."""
    database_url = None if own else os.environ.get("DATABASE_URL")
    redis_url = None if own else os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="ticketing-bench-") as scratch:
        folder = Path(scratch)
        stack = EmbeddedStack(
            folder / "data",
            postgres=database_url is None,
            valkey=redis_url is None,
            durable=False,
        )
        with stack:
            db = stack.postgres.url if stack.postgres else database_url
            redis = stack.valkey.url if stack.valkey else redis_url
            assert db is not None
            assert redis is not None
            migrate.upgrade(db)
            ports = (str(urlsplit(db).port), str(urlsplit(redis).port))
            embedded = stack.postgres is not None
            yield Stack(db, redis, secrets.token_urlsafe(24), folder, embedded, ports)


@contextmanager
def serve(
    stack: Stack,
    *,
    workers: int = 1,
    app: str | None = None,
    env: dict[str, str] | None = None,
    name: str = "service",
) -> Iterator[Server]:
    """`ticketing serve` (or, with `app`, Granian on another ASGI factory) until the block ends."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    environ.update(
        DATABASE_URL=stack.database_url,
        REDIS_URL=stack.redis_url,
        TICKETING_ADMIN_TOKEN=stack.admin_token,
        TICKETING_PORT=str(port),
        TICKETING_WORKERS=str(workers),
        TICKETING_MIGRATE_ON_START="false",
        TICKETING_DATA_DIR=str(stack.scratch / "data"),
        TICKETING_LOG_LEVEL="warning",
    )
    environ.update(LOAD_TEST_LIMITS)
    environ.update(env or {})
    if app is None:
        command = [str(BIN / "ticketing"), "serve"]
        ready = "/health/ready"
    else:
        command = [
            str(BIN / "granian"),
            "--interface", "asgi", "--factory", "--loop", "uvloop", "--no-access-log",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), app,
        ]  # fmt: skip
        ready = "/ready"
    log = stack.scratch / f"{name}-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()}")
        try:
            if httpx.get(base + ready, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name} did not become ready:\n{log.read_text()}")
        time.sleep(0.05)
    try:
        yield Server(base, proc.pid, log, proc, stack.ports)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(server: Server) -> list[int]:
    """The Granian worker processes under the server (its children's children included)."""
    found: list[int] = []
    frontier = [server.pid]
    while frontier:
        pid = frontier.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            frontier.append(child)
    return found


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_of(pid: int) -> float:
    """CPU seconds (user and system) a process has used, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _databases(ports: tuple[str, ...]) -> list[int]:
    """The processes of the PostgreSQL (its server and every child) and Redis listening on
    `ports`: not those of anything else running here (another stack of the bench's among them)."""
    servers: set[int] = set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if not comm.startswith(("postgres", "valkey", "redis-server")):
            continue
        parents[int(entry.name)] = ppid
        if any(f":{port}" in args or f"-p {port}" in args for port in ports):
            servers.add(int(entry.name))
    return sorted(servers | {pid for pid, ppid in parents.items() if ppid in servers})


def cpu_seconds(server: Server) -> dict[int, float]:
    """CPU used so far, per process, by the server's process tree and by PostgreSQL and
    Redis: the work a request costs, wherever it is done (wrk's own is left out)."""
    return {p: _cpu_of(p) for p in [server.pid, *worker_pids(server), *_databases(server.ports)]}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two `cpu_seconds` readings (processes started since count whole)."""
    return sum(max(0.0, t - before.get(p, 0.0)) for p, t in after.items())


def cpu_parts(
    server: Server, before: dict[int, float], after: dict[int, float]
) -> dict[str, float]:
    """`cpu_spent`, split into the service's, PostgreSQL's and Redis's share."""
    owner = {pid: name for name, pids in processes(server).items() for pid in pids}
    parts: dict[str, float] = {}
    for pid, t in after.items():
        name = owner.get(pid, "service")
        parts[name] = parts.get(name, 0.0) + max(0.0, t - before.get(pid, 0.0))
    return parts


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def processes(server: Server) -> dict[str, list[int]]:
    """The service's processes, PostgreSQL's and Redis's, by name."""
    found: dict[str, list[int]] = {"service": [server.pid, *worker_pids(server)]}
    for pid in _databases(server.ports):
        name = "Redis" if _comm(pid).startswith(("valkey", "redis")) else "PostgreSQL"
        found.setdefault(name, []).append(pid)
    return found


def idle_cost(server: Server, seconds: float = 10.0) -> dict[str, tuple[float, float]]:
    """With no request in flight: per group, (% of one core used, resident MB in all)."""
    groups = processes(server)
    before = {g: sum(_cpu_of(p) for p in pids) for g, pids in groups.items()}
    time.sleep(seconds)
    found = {}
    for group, pids in groups.items():
        used = sum(_cpu_of(p) for p in pids) - before[group]
        found[group] = (100 * used / seconds, sum(resident_mb(p) for p in pids))
    return found
