"""`ticketing serve | check [--ready] | db upgrade | db downgrade | db reset --yes | db seed`.

Every command reads the settings first and exits with status 2 and one line naming the
setting when one is wrong. When DATABASE_URL or REDIS_URL is unset, the command starts the
embedded server for it (data under TICKETING_DATA_DIR) and stops it when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ticketing.embedded import EmbeddedError, EmbeddedStack
from ticketing.errors import AppError
from ticketing.settings import Settings, SettingsError


def _fail(message: str, status: int = 2) -> None:
    print(f"ticketing: {message}", file=sys.stderr)
    raise SystemExit(status)


@contextlib.contextmanager
def _stack(
    settings: Settings, *, quiet: bool = False, redis: bool = True, serving: bool = False
) -> Iterator[Settings]:
    """Settings with every URL and the admin token filled in, embedded servers running (and,
    when `serving`, the data folder this process's alone)."""
    stack = EmbeddedStack(
        settings.data_dir,
        postgres=settings.database_url is None,
        valkey=redis and settings.redis_url is None,
        exclusive=serving,
    )
    try:
        with stack:
            if serving:
                stack.supervise()
            admin_token = settings.admin_token
            if admin_token is None:
                admin_token, new = stack.admin_token()
                if not quiet:
                    where = stack.data_dir / "admin-token"
                    if new:
                        print(f"Admin token (made now, kept in {where}):\n  {admin_token}")
                    else:
                        print(f"Admin token: kept in {where}")
            yield dataclasses.replace(
                settings,
                database_url=stack.postgres.url if stack.postgres else settings.database_url,
                redis_url=stack.valkey.url if stack.valkey else settings.redis_url,
                admin_token=admin_token,
            )
    except EmbeddedError as exc:
        _fail(f"embedded stack: {exc}", 1)


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    # Workers write their metrics to files here (set before anything imports the metrics).
    metrics_dir = tempfile.mkdtemp(prefix="ticketing-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _run_server(settings, args)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _granian_logging(fmt: str) -> dict[str, object]:
    """Granian's own lines in the service's format."""
    formatter = "ticketing.observe.logs." + ("JsonFormatter" if fmt == "json" else "TextFormatter")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": formatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"_granian": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }


def _require_free_port(host: str, port: int) -> None:
    """Refuse to start on a port something listens on. Granian's workers share their port
    (SO_REUSEPORT), so a second server would otherwise start silently beside the first and
    take half its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (TIME_WAIT is fine)
        try:
            probe.bind((host, port))
        except OSError as exc:
            _fail(f"port {port} on {host} is in use ({exc.strerror}); stop what serves there first")


def _run_server(settings: Settings, args: argparse.Namespace) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    class _Server(Granian):  # type: ignore[misc,valid-type]
        """Granian, telling each worker to end its open streams before it is asked to stop:
        a stream never finishes by itself, and a worker waits for every open request."""

        def signal_handler_interrupt(self, *args: object, **kwargs: object) -> None:
            for worker in list(getattr(self, "wrks", ())):
                pid = getattr(getattr(worker, "inner", None), "pid", None)
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGUSR1)
            super().signal_handler_interrupt(*args, **kwargs)

        def _stop_workers(self) -> None:
            """Granian's own, without its race: a thread per worker already waits for it to
            exit, and whichever reaps it first leaves the other reading a live process for a
            moment; Granian then logs "refused to gracefully stop" and sends SIGKILL to a pid
            that has gone (one that may by then be another process's). A worker's sentinel
            closes when it exits, whoever reaps it, so the wait here is on that."""
            from multiprocessing.connection import wait

            workers = list(self.wrks)
            sentinels = {getattr(getattr(w, "inner", None), "sentinel", None) for w in workers}
            if None in sentinels:  # (not Granian's process workers: its own way)
                super()._stop_workers()
                return
            for worker in workers:
                worker.terminate()
            deadline = time.monotonic() + self.workers_kill_timeout
            running = {worker.inner.sentinel: worker for worker in workers}
            while running and (left := deadline - time.monotonic()) > 0:
                for ended in wait(list(running), left):
                    running.pop(ended)
            said = logging.getLogger("_granian")  # (Granian's lines, in the service's format)
            for worker in running.values():
                said.warning(
                    "Killing worker-%d after it refused to gracefully stop", worker.idx + 1
                )
                worker.kill()
            for worker in workers:
                worker.join()
                said.info("Stopped worker-%d", worker.idx + 1)
            self.wrks.clear()

    from ticketing.db import migrate

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    _require_free_port(host, port)
    with _stack(settings, serving=True) as ready:
        assert ready.database_url is not None
        assert ready.redis_url is not None
        assert ready.admin_token is not None
        if ready.migrate_on_start:
            migrate.upgrade(ready.database_url)
        # Workers are separate processes that read their settings from the environment.
        os.environ.update(
            DATABASE_URL=ready.database_url,
            REDIS_URL=ready.redis_url,
            TICKETING_ADMIN_TOKEN=ready.admin_token,
        )
        shown = "localhost" if host in {"127.0.0.1", "0.0.0.0"} else host  # noqa: S104
        print(f"Ticketing API on http://{shown}:{port}  (docs: http://{shown}:{port}/api)")
        if ready.metrics_port is not None:
            from prometheus_client import start_http_server

            from ticketing.observe.metrics import registry

            start_http_server(ready.metrics_port, addr=host, registry=registry())
            print(f"Metrics on http://{shown}:{ready.metrics_port}/metrics")
        sys.stdout.flush()
        _Server(
            "ticketing.app:worker_app",
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            # Each open stream holds a connection: admit plenty, and queue the rest.
            backlog=max(1024, ready.max_connections),
            backpressure=ready.max_connections,
            factory=True,
            loop=Loops.uvloop,
            log_access=False,
            log_dictconfig=_granian_logging(ready.log_format),
            # A worker that dies is replaced (Granian's default is to stop the whole server).
            respawn_failed_workers=True,
            respawn_interval=0.5,
            # On SIGTERM workers stop accepting and finish what is in flight, up to this long.
            workers_kill_timeout=ready.shutdown_seconds,
        ).serve()


async def _reset(database_url: str) -> None:
    import asyncpg

    from ticketing.db.database import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _forget_redis(redis_url: str, cluster: bool) -> int:
    """What Redis keeps of the data a reset removes: holds, mirrors, tokens, stored answers,
    rate counters, stream slots. Keys of anything else sharing the server are left alone."""
    from ticketing.auth.tokens import KEY_PATTERNS as TOKENS
    from ticketing.cache.ratelimit import KEY_PATTERNS as LIMITS
    from ticketing.cache.redis import Redis
    from ticketing.cache.slots import KEY_PATTERNS as SLOTS
    from ticketing.holds.service import KEY_PATTERNS as HOLDS
    from ticketing.web.idempotency import KEY_PATTERNS as ANSWERS

    redis = Redis(redis_url, cluster=cluster, timeout_ms=5000, retry_after=1)
    await redis.open()
    try:
        return await redis.delete_matching([*HOLDS, *TOKENS, *ANSWERS, *LIMITS, *SLOTS])
    finally:
        await redis.close()


DEMO_NAME = "Demo Night: The Onsale Orchestra"
DEMO_LOCATION = "Main Hall, Example City"


async def _seed(database_url: str, redis_url: str) -> tuple[str, bool]:
    """The demo event's id, and whether it was made now (a second seed keeps the first)."""
    from ticketing.cache.redis import Redis
    from ticketing.db.database import Database
    from ticketing.events.schemas import EventCreate, SeatingIn
    from ticketing.events.service import EventService
    from ticketing.holds.service import HoldService
    from ticketing.seats.schemas import RowIn, SectionIn
    from ticketing.seats.service import SeatService

    db = Database(database_url, min_size=1, max_size=2, timeout_seconds=10, retry_after=1)
    redis = Redis(redis_url, cluster=False, timeout_ms=2000, retry_after=1)
    await db.open()
    try:
        holds = HoldService(db, redis)
        events = EventService(db, SeatService(db, holds), holds)
        upcoming = await events.list_events(
            starts_from=datetime.now(UTC), starts_to=None, location=DEMO_LOCATION, limit=200,
            cursor=None,
        )  # fmt: skip
        for existing in upcoming.items:
            if existing.event_name == DEMO_NAME and existing.event_location == DEMO_LOCATION:
                return str(existing.id), False
        event = await events.create(
            EventCreate(
                event_name=DEMO_NAME,
                event_location=DEMO_LOCATION,
                event_date_time_stamp=(datetime.now(UTC) + timedelta(days=30)).replace(
                    hour=19, minute=30, second=0, microsecond=0
                ),
                num_seats=200,
                max_num_seats=8,
                seat_hold_time=120,
                seating=SeatingIn(
                    price=Decimal("35.00"),
                    sections=[
                        SectionIn(
                            name="STALLS",
                            price=Decimal("65.00"),
                            rows=[RowIn(name=r, seats=20) for r in "ABCDEF"],
                        ),
                        SectionIn(
                            name="BALCONY",
                            rows=[RowIn(name=r, seats=20) for r in "ABCD"],
                        ),
                    ],
                ),
            )
        )
    finally:
        await db.close()
        await redis.close()
    return str(event.id), True


def _db(settings: Settings, args: argparse.Namespace) -> None:
    from ticketing.db import migrate

    if args.action == "reset" and not args.yes:
        _fail("db reset deletes every event, seat, customer and reservation; add --yes")
    with _stack(settings, quiet=True, redis=args.action in {"seed", "reset"}) as ready:
        assert ready.database_url
        if args.action == "upgrade":
            migrate.upgrade(ready.database_url, args.revision or "head")
        elif args.action == "downgrade":
            migrate.downgrade(ready.database_url, args.revision or "-1")
        elif args.action == "reset":
            assert ready.redis_url is not None
            # Redis first: a reset that stops half-way leaves data without holds or tokens,
            # never holds and tokens of data that is gone.
            try:
                keys = asyncio.run(_forget_redis(ready.redis_url, ready.redis_cluster))
            except AppError as exc:
                _fail(f"db reset: Redis did not answer ({exc.detail}); nothing was reset", 1)
            asyncio.run(_reset(ready.database_url))
            migrate.upgrade(ready.database_url)
            print(
                f"Database reset to an empty schema at the latest migration; {keys} Redis keys"
                " of holds, mirrors, tokens and stored answers deleted."
            )
        elif args.action == "seed":
            migrate.upgrade(ready.database_url)
            assert ready.redis_url is not None
            event_id, made = asyncio.run(_seed(ready.database_url, ready.redis_url))
            if made:
                print(f"Seeded a demo event: /events/{event_id}")
            else:
                print(f"The demo event is already there: /events/{event_id}")


def _check(settings: Settings, args: argparse.Namespace) -> None:
    """Exit 0 when the local server answers its health (or readiness) probe with 200."""
    import urllib.error
    import urllib.request

    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host  # noqa: S104
    path = "/health/ready" if args.ready else "/health"
    url = f"http://{host}:{args.port or settings.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        _fail(f"{url}: {exc}", 1)
        return
    if status != 200:
        _fail(f"{url}: HTTP {status}", 1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketing", description="Ticketing API")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (embedded stack when URLs are unset)")
    serve.add_argument("--host", help="address to listen on (TICKETING_HOST)")
    serve.add_argument("--port", type=int, help="port (TICKETING_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (TICKETING_WORKERS)")
    check = commands.add_parser("check", help="probe the local server (container healthcheck)")
    check.add_argument("--ready", action="store_true", help="readiness: PostgreSQL and Redis")
    check.add_argument("--port", type=int, help="port (TICKETING_PORT)")
    db = commands.add_parser("db", help="database schema and data")
    db.add_argument("action", choices=["upgrade", "downgrade", "reset", "seed"])
    db.add_argument("revision", nargs="?", help="target revision (upgrade: head, downgrade: -1)")
    db.add_argument("--yes", action="store_true", help="confirm `reset`")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
        return
    if args.command == "serve":
        for name, value, hi in (("--port", args.port, 65535), ("--workers", args.workers, 64)):
            if value is not None and not 1 <= value <= hi:
                _fail(f"{name}: must be between 1 and {hi}, got {value}")
        _serve(settings, args)
    elif args.command == "check":
        _check(settings, args)
    else:
        _db(settings, args)


if __name__ == "__main__":
    main()
