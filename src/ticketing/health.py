"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

from ticketing.auth.guards import RATE_OPT
from ticketing.errors import AppError
from ticketing.validation import Schema
from ticketing.web import problem_response


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
