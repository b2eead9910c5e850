"""Liveness, readiness and `GET /metrics`: what operators and their probes call."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

from ticketing.auth.guards import RATE_OPT, admin_only
from ticketing.errors import AppError
from ticketing.observe import metrics
from ticketing.validation import Schema
from ticketing.web.http import problem_response


class Liveness(Schema):
    status: str


class Readiness(Schema):
    status: str
    checks: dict[str, str]


async def _check(name: str, probe: Any, limit_seconds: float) -> tuple[str, str]:
    try:
        async with asyncio.timeout(limit_seconds):
            await probe()
    except (AppError, TimeoutError, OSError) as exc:
        return name, f"unavailable: {type(exc).__name__}"
    return name, "ok"


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {RATE_OPT: None}  # probes are never rate limited

    @get("/")
    async def live(self) -> Liveness:
        """The process is up and serving."""
        return Liveness(status="ok")

    @get("/ready", responses={})
    async def ready(self, state: State) -> Response[Any]:
        """200 only when PostgreSQL and Redis both answer; else 503 naming what failed."""
        checks = dict(
            await asyncio.gather(
                _check("postgresql", state.db.ping, 2.0), _check("redis", state.redis.ping, 2.0)
            )
        )
        failed = sorted(name for name, result in checks.items() if result != "ok")
        if not failed:
            return Response(Readiness(status="ready", checks=checks))
        retry = str(state.settings.retry_after_seconds)
        return problem_response(
            {
                "type": "https://ticketing.dev/problems/dependency-unavailable",
                "title": "A dependency is unavailable",
                "status": 503,
                "detail": f"Not ready: {', '.join(failed)} unavailable",
                "code": "DEPENDENCY_UNAVAILABLE",
                "dependency": failed[0],
                "checks": checks,
            },
            503,
            {"Retry-After": retry},
        )


class MetricsController(Controller):
    """`GET /metrics`: Prometheus text, for the admin token (or on the metrics port, see cli)."""

    path = "/metrics"
    tags = ["health"]
    opt = {RATE_OPT: None}

    @get("/", guards=[admin_only], media_type=metrics.CONTENT_TYPE_LATEST)
    async def scrape(self) -> Response[bytes]:
        """Every worker's figures in the Prometheus text format (admin token required here;
        no token on the port TICKETING_METRICS_PORT names)."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)
