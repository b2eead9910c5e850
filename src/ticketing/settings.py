"""One typed settings object, read once from the environment (and `.env`).

Every setting is checked when the process starts: a bad value is reported as one line
naming the variable and the problem, and the command exits with status 2 before anything
is started. Nothing else in the package reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(name, f"must be a whole number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise SettingsError(name, f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(name, f"must be true or false, got {raw!r}")


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _optional_url(*schemes: str) -> Callable[[str, str], str | None]:
    def parse(name: str, raw: str) -> str | None:
        value = raw.strip()
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise SettingsError(
                name, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        if not parts.hostname and not parts.path:
            raise SettingsError(name, "has no host")
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise SettingsError(name, f"must be one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _admin_token(name: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if len(value) < 24:
        raise SettingsError(name, "must be at least 24 characters long")
    return value


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` requests per `window` seconds."""

    limit: int
    window: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.window}s"


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _rate(name: str, raw: str) -> Rate | None:
    value = raw.strip().lower()
    if value in {"off", "0", ""}:
        return None
    count, sep, window = value.partition("/")
    unit = window[-1:] if window[-1:] in _UNITS else "s"
    digits = window[:-1] if window[-1:] in _UNITS else window
    if not sep or not count.strip().isdigit() or not digits.strip().isdigit():
        raise SettingsError(
            name, f"must look like 30/10s (requests per window) or off, got {raw!r}"
        )
    rate = Rate(int(count), int(digits) * _UNITS[unit])
    if not (1 <= rate.limit <= 10_000_000 and 1 <= rate.window <= 86_400):
        raise SettingsError(name, "must allow 1..10000000 requests per 1 s..24 h")
    return rate


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in {"http", "https"} or not parts.hostname):
            raise SettingsError(
                name, f"must be * or origins like https://example.com, got {origin!r}"
            )
    return origins


def _share(name: str, raw: str) -> int | None:
    value = raw.strip().lower().removesuffix("%")
    if value in {"off", "0", ""}:
        return None
    return _int(1, 100)(name, value)


def _optional_int(lo: int, hi: int) -> Callable[[str, str], int | None]:
    def parse(name: str, raw: str) -> int | None:
        return None if not raw.strip() else _int(lo, hi)(name, raw)

    return parse


def _optional_port(name: str, raw: str) -> int | None:
    return None if not raw.strip() else _int(1, 65535)(name, raw)


def _spec(env: str, parse: Callable[[str, str], Any], doc: str) -> Any:
    return field(metadata={"env": env, "parse": parse, "doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service can be told from outside. Field metadata drives the README table."""

    host: str = _spec("TICKETING_HOST", _str, "address to listen on")
    port: int = _spec("TICKETING_PORT", _int(1, 65535), "HTTP port")
    workers: int = _spec(
        "TICKETING_WORKERS", _int(1, 64), "server worker processes (default: one per core)"
    )
    max_connections: int = _spec(
        "TICKETING_MAX_CONNECTIONS",
        _int(64, 100_000),
        "connections each worker serves at once, open streams included; more wait",
    )
    database_url: str | None = _spec(
        "DATABASE_URL",
        _optional_url("postgresql", "postgres", "postgresql+asyncpg"),
        "PostgreSQL URL; unset starts the embedded PostgreSQL",
    )
    redis_url: str | None = _spec(
        "REDIS_URL",
        _optional_url("redis", "rediss", "valkey", "valkeys"),
        "Redis/Valkey URL; unset starts the embedded Valkey",
    )
    redis_cluster: bool = _spec(
        "TICKETING_REDIS_CLUSTER", _bool, "treat REDIS_URL as a Redis Cluster seed node"
    )
    data_dir: Path = _spec(
        "TICKETING_DATA_DIR",
        lambda _n, raw: Path(raw.strip()).expanduser(),
        "where the embedded stack keeps its data and the admin token",
    )
    admin_token: str | None = _spec(
        "TICKETING_ADMIN_TOKEN",
        _admin_token,
        "admin bearer token; unset: made on first start, printed, kept in the data folder",
    )
    token_ttl_seconds: int = _spec(
        "TICKETING_TOKEN_TTL", _int(60, 31_536_000), "customer token sliding expiry, in seconds"
    )
    db_pool_min: int = _spec("TICKETING_DB_POOL_MIN", _int(0, 100), "PostgreSQL pool minimum")
    db_pool_max: int = _spec("TICKETING_DB_POOL_MAX", _int(1, 200), "PostgreSQL pool maximum")
    db_timeout_seconds: int = _spec(
        "TICKETING_DB_TIMEOUT", _int(1, 120), "PostgreSQL connect and statement timeout, seconds"
    )
    redis_timeout_ms: int = _spec(
        "TICKETING_REDIS_TIMEOUT_MS", _int(10, 60_000), "Redis request timeout, in milliseconds"
    )
    max_body_bytes: int = _spec(
        "TICKETING_MAX_BODY_BYTES", _int(1024, 64 * 1024 * 1024), "largest request body (413 above)"
    )
    body_timeout_seconds: int = _spec(
        "TICKETING_BODY_TIMEOUT",
        _int(1, 600),
        "seconds a client has to send a whole request body (408 after)",
    )
    retry_after_seconds: int = _spec(
        "TICKETING_RETRY_AFTER", _int(1, 3600), "Retry-After sent with 503 answers"
    )
    streams_per_worker: int | None = _spec(
        "TICKETING_STREAMS",
        _optional_int(1, 100_000),
        "open streams each worker serves at once (503 past it); unset: a quarter of "
        "TICKETING_MAX_CONNECTIONS, so that other requests and probes always get through",
    )
    streams_per_address: int = _spec(
        "TICKETING_STREAMS_PER_ADDRESS",
        _int(1, 100_000),
        "open streams one client address (IPv6 /64) may have on all servers together",
    )
    streams_per_customer: int = _spec(
        "TICKETING_STREAMS_PER_CUSTOMER",
        _int(1, 100_000),
        "open streams one customer may have on all servers together",
    )
    stream_max_seconds: int = _spec(
        "TICKETING_STREAM_MAX_SECONDS",
        _int(5, 86_400),
        "longest a stream stays open; the client then reconnects with Last-Event-ID",
    )
    stream_heartbeat_seconds: int = _spec(
        "TICKETING_STREAM_HEARTBEAT", _int(1, 300), "seconds between heartbeats on idle streams"
    )
    log_level: str = _spec(
        "TICKETING_LOG_LEVEL", _choice("debug", "info", "warning", "error"), "log level"
    )
    migrate_on_start: bool = _spec(
        "TICKETING_MIGRATE_ON_START", _bool, "apply migrations before serving"
    )
    log_format: str = _spec(
        "TICKETING_LOG_FORMAT", _choice("json", "text"), "log lines as JSON objects or plain text"
    )
    access_log: bool = _spec("TICKETING_ACCESS_LOG", _bool, "log one line per request")
    metrics_port: int | None = _spec(
        "TICKETING_METRICS_PORT",
        _optional_port,
        "serve /metrics without a token on this port too; unset: only with the admin token",
    )
    cors_origins: tuple[str, ...] = _spec(
        "TICKETING_CORS_ORIGINS",
        _origins,
        "browser origins allowed to call the API, comma-separated; unset: CORS off",
    )
    trust_forwarded: bool = _spec(
        "TICKETING_TRUST_FORWARDED",
        _bool,
        "take the client address from X-Forwarded-For (only behind a proxy that sets it)",
    )
    rate_holds: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_HOLDS",
        _rate,
        "taking seats (holds, the seed's seat PATCH), per customer token (or off)",
    )
    rate_writes: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_WRITES", _rate, "other writes, per customer token or address"
    )
    rate_reads: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_READS", _rate, "reads, per customer token or address"
    )
    rate_polls: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_POLLS",
        _rate,
        "waiting-room position reads, per customer token, counted by each worker alone",
    )
    rate_signup: Rate | None = _spec("TICKETING_RATE_LIMIT_SIGNUP", _rate, "sign-ups, per address")
    rate_bad_tokens: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_BAD_TOKENS", _rate, "requests with a rejected token, per address"
    )
    hold_share_per_address: int | None = _spec(
        "TICKETING_HOLD_SHARE_PER_ADDRESS",
        _share,
        "percent of an event's seats one client address (IPv6 /64) may hold at once, never "
        "fewer than 2 x maxNumSeats (or off); behind a proxy, set TICKETING_TRUST_FORWARDED",
    )
    rate_streams: Rate | None = _spec(
        "TICKETING_RATE_LIMIT_STREAMS", _rate, "stream and seat-map opens, per token or address"
    )
    shutdown_seconds: int = _spec(
        "TICKETING_SHUTDOWN_TIMEOUT",
        _int(1, 600),
        "on SIGTERM, how long requests in flight may take before workers are stopped",
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read every setting; the process environment wins over `.env`.

        Raises SettingsError for the first setting that is wrong.
        """
        merged: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = f.metadata["env"]
            raw = merged.get(env)
            if raw is None:
                values[f.name] = _DEFAULTS[f.name]
            else:
                values[f.name] = f.metadata["parse"](env, raw)
        settings = cls(**values)
        if settings.db_pool_min > settings.db_pool_max:
            raise SettingsError("TICKETING_DB_POOL_MIN", "must not exceed TICKETING_DB_POOL_MAX")
        return settings

    @property
    def stream_budget(self) -> int:
        """Open streams one worker serves at once."""
        if self.streams_per_worker is not None:
            return self.streams_per_worker
        return max(1, self.max_connections // 4)

    @property
    def embedded(self) -> bool:
        """True when either dependency has no URL, so the embedded stack must supply it."""
        return self.database_url is None or self.redis_url is None


def _cores() -> int:
    """The cores this process may run on (a container's share, where the OS tells it)."""
    try:
        found = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        found = os.cpu_count() or 1
    return max(1, min(found, 64))


_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 3000,
    "workers": _cores(),
    "max_connections": 4096,
    "database_url": None,
    "redis_url": None,
    "redis_cluster": False,
    "data_dir": Path(".data"),
    "admin_token": None,
    "token_ttl_seconds": 86_400,
    "db_pool_min": 2,
    "db_pool_max": 20,
    "db_timeout_seconds": 5,
    "redis_timeout_ms": 1000,
    "max_body_bytes": 1024 * 1024,
    "body_timeout_seconds": 10,
    "retry_after_seconds": 2,
    "streams_per_worker": None,
    "streams_per_address": 20,
    "streams_per_customer": 4,
    "stream_max_seconds": 900,
    "stream_heartbeat_seconds": 15,
    "log_level": "info",
    "migrate_on_start": True,
    "log_format": "json",
    "access_log": True,
    "metrics_port": None,
    "cors_origins": (),
    "trust_forwarded": False,
    "rate_holds": Rate(30, 10),
    "rate_writes": Rate(60, 10),
    "rate_reads": Rate(600, 10),
    "rate_polls": Rate(60, 60),
    "rate_signup": Rate(20, 60),
    "rate_bad_tokens": Rate(20, 60),
    "rate_streams": Rate(30, 60),
    "hold_share_per_address": 5,
    "shutdown_seconds": 30,
}


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, for documentation."""
    rows = []
    for f in fields(Settings):
        default = _DEFAULTS[f.name]
        shown = (
            "unset"
            if default is None or default == ()
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        rows.append((f.metadata["env"], shown, f.metadata["doc"]))
    return rows
