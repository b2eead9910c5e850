"""Builds the Litestar application: routes, dependencies, lifespan. No rules live here."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from ticketing import subscribers, validation
from ticketing.audit.controller import AuditController
from ticketing.audit.service import AuditService
from ticketing.auth.guards import admitted, provide_caller
from ticketing.auth.tokens import TokenService
from ticketing.cache.ratelimit import RateLimiter
from ticketing.cache.redis import Redis
from ticketing.customers.controller import CustomerController, SessionController
from ticketing.customers.service import CustomerService
from ticketing.db.database import Database
from ticketing.events.controller import EventController
from ticketing.events.service import EventService
from ticketing.health import HealthController, MetricsController
from ticketing.holds.controller import EventHoldsController, HoldController
from ticketing.holds.service import HoldService
from ticketing.holds.sweeper import Sweeper
from ticketing.live.budget import StreamBudget
from ticketing.live.controller import LiveController, OpenCountController
from ticketing.live.feed import LiveFeed
from ticketing.observe import logs, metrics
from ticketing.observe.edge import Edge
from ticketing.queue.controller import EventQueueController, QueueEntryController
from ticketing.queue.service import QueueService
from ticketing.reservations.controller import (
    CustomerReservationsController,
    EventReservationsController,
    HoldReservationController,
    ReservationController,
)
from ticketing.reservations.service import ReservationService
from ticketing.seats.controller import EventSeatsController, SeatController
from ticketing.seats.service import SeatService
from ticketing.seed.controller import SeedSeatController
from ticketing.seed.service import SeedService
from ticketing.settings import Settings, SettingsError
from ticketing.web import openapi
from ticketing.web.direct import DirectRoutes
from ticketing.web.http import EXCEPTION_HANDLERS
from ticketing.web.idempotency import Idempotency

SWAGGER_ASSETS = next(Path(swagger_ui_bundle.__file__).parent.glob("vendor/swagger-ui-*"))


def _openapi() -> OpenAPIConfig:
    assets = "/api/assets"
    return OpenAPIConfig(
        title="Ticketing API",
        version="1.0.0",
        description=(
            "Events, seats, customers, seat holds and reservations. Errors are "
            "application/problem+json with a stable `code`. Admins and customers authenticate "
            "with `Authorization: Bearer <token>`."
        ),
        path="/api",
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{assets}/swagger-ui-bundle.js",
                css_url=f"{assets}/swagger-ui.css",
                standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            )
        ],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="admin or customer token"
                )
            }
        ),
        operation_id_creator=openapi.operation_id,
    )


GC_YOUNG = 20_000  # allocations between young collections in a server worker (default 700)


def worker_app() -> Litestar:
    """The application as a server worker runs it (`ticketing serve`).

    Tuned for the garbage collector, whose full collections were most of a poll's p99:

    - What is built by then (every module, the routes, the OpenAPI document: about 90,000
      objects the collector tracks) lives as long as the process, so it is frozen out of
      the collector's scans; otherwise every full collection walks all of it again.
    - A young collection comes every GC_YOUNG allocations rather than every 700. Each one
      promotes what requests in flight hold at that moment, and enough promoted garbage
      sets off a full collection, which walks everything the worker remembers (a waiting
      room's fans, their tokens, their rate windows), pausing every request meanwhile.

    On one worker polled by 20,000 waiting fans the polls' p99 went from 155-189 ms to
    33-38 ms (3,000 fans: 90-111 ms to 27-30 ms with the freeze alone). Not done in
    `create_app`, which the tests call for app after app: frozen objects are never
    collected."""
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 10, 10)
    return app


def create_app(settings: Settings | None = None, *, direct: bool = True) -> Litestar:
    """The application. With no settings, they are read from the environment (server workers).

    `direct=False` serves every route through Litestar alone (the tests compare both ways).
    """
    settings = settings or Settings.from_env()
    if settings.database_url is None or settings.redis_url is None or settings.admin_token is None:
        # `ticketing serve` fills these in (embedded stack, kept admin token) before workers start.
        raise SettingsError(
            "DATABASE_URL/REDIS_URL/TICKETING_ADMIN_TOKEN",
            "must be set for the application; start it with `ticketing serve`",
        )
    database_url, redis_url, admin_token = (
        settings.database_url,
        settings.redis_url,
        settings.admin_token,
    )
    logs.configure(settings.log_level, settings.log_format)
    validation.use_cursor_secret(admin_token)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database(
            database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout_seconds=settings.db_timeout_seconds,
            retry_after=settings.retry_after_seconds,
        )
        redis = Redis(
            redis_url,
            cluster=settings.redis_cluster,
            timeout_ms=settings.redis_timeout_ms,
            retry_after=settings.retry_after_seconds,
        )
        await db.open()
        await redis.open()
        tokens = TokenService(
            redis, admin_token=admin_token, ttl_seconds=settings.token_ttl_seconds
        )
        holds = HoldService(db, redis, address_share=settings.hold_share_per_address)
        seats = SeatService(db, holds)
        events = EventService(db, seats, holds)
        customers = CustomerService(db, tokens, holds)
        reservations = ReservationService(db, holds, customers)
        subscribers.subscribe(holds.events, seats=seats)
        sweep = Sweeper(holds.engine, redis, holds.events, reservations.settle)
        sweeper = asyncio.create_task(sweep.run())
        sampler = asyncio.create_task(_sample_pool(db))
        audit = AuditService(db, holds)
        auditor = asyncio.create_task(audit.run(lambda: sweep.leading))
        queue = QueueService(db, holds)
        admitter = asyncio.create_task(queue.run(lambda: sweep.leading))
        warmer = asyncio.create_task(holds.keep_warm(lambda: sweep.leading))
        live = LiveFeed(redis, holds)
        live.start()
        streams = StreamBudget(
            redis,
            per_worker=settings.stream_budget,
            per_address=settings.streams_per_address,
            per_customer=settings.streams_per_customer,
            max_seconds=settings.stream_max_seconds,
            retry_after=settings.retry_after_seconds,
        )
        # `ticketing serve` signals a worker with SIGUSR1 just before asking it to stop.
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGUSR1, live.drain)
        state = app.state
        state.settings = settings
        state.db = db
        state.redis = redis
        state.tokens = tokens
        state.events = events
        state.seats = seats
        state.customers = customers
        state.holds = holds
        state.reservations = reservations
        state.seed = SeedService(seats, holds, reservations)
        state.sweeper = sweep
        state.audit = audit
        state.queue = queue
        state.idempotency = Idempotency(redis)
        state.live = live
        state.streams = streams
        state.limiter = RateLimiter(
            redis,
            {
                "holds": settings.rate_holds,
                "writes": settings.rate_writes,
                "reads": settings.rate_reads,
                "signup": settings.rate_signup,
                "badtokens": settings.rate_bad_tokens,
                "streams": settings.rate_streams,
                "polls": settings.rate_polls,
            },
            local=frozenset({"polls"}),
        )
        try:
            yield
        finally:
            await live.close()
            for task in (sweeper, sampler, auditor, warmer, admitter):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await redis.close()
            await db.close()

    def from_state(name: str) -> Provide:
        def provide(state: State) -> Any:
            return getattr(state, name)

        return Provide(provide, sync_to_thread=False)

    app = Litestar(
        route_handlers=[
            EventController,
            EventSeatsController,
            SeatController,
            CustomerController,
            SessionController,
            EventHoldsController,
            HoldController,
            HoldReservationController,
            SeedSeatController,
            ReservationController,
            CustomerReservationsController,
            EventReservationsController,
            LiveController,
            OpenCountController,
            AuditController,
            EventQueueController,
            QueueEntryController,
            HealthController,
            MetricsController,
            create_static_files_router(
                path="/api/assets", directories=[SWAGGER_ASSETS], include_in_schema=False
            ),
        ],
        dependencies={
            "caller": Provide(provide_caller),
            "events": from_state("events"),
            "seats": from_state("seats"),
            "customers": from_state("customers"),
            "tokens": from_state("tokens"),
            "holds": from_state("holds"),
            "reservations": from_state("reservations"),
            "seed": from_state("seed"),
            "audit": from_state("audit"),
            "queue": from_state("queue"),
            "idempotency": from_state("idempotency"),
            "live": from_state("live"),
            "settings": from_state("settings"),
        },
        guards=[admitted],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=_openapi(),
        request_max_body_size=settings.max_body_bytes,
        cors_config=_cors(settings.cors_origins),
        logging_config=None,  # ticketing.observe.logs owns the log format
        debug=False,
    )
    openapi.finish(app)
    # Outermost, around routing and error handling: every answer gets its headers and counts.
    allow = {
        # (HEAD is answered wherever GET is: ticketing.observe.edge)
        route.path_format: ", ".join(
            sorted(route.methods | ({"HEAD"} if "GET" in route.methods else set()))
        ).encode()
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }
    pages = {
        route.path_format
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and any(_is_html(handler.media_type) for handler in route.route_handlers)
    }
    handler: Any = app.asgi_handler
    if direct:
        # The onsale's hot writes skip Litestar's per-request work: every handler marked
        # `direct(...)` (ticketing.web.direct).
        handler = DirectRoutes(app, handler)
    app.asgi_handler = Edge(
        handler,
        access_log=settings.access_log,
        trust_forwarded=settings.trust_forwarded,
        allow=allow,
        pages=pages,
        body_timeout=settings.body_timeout_seconds,
    )
    return app


def _is_html(media_type: object) -> bool:
    return str(getattr(media_type, "value", media_type)).startswith("text/html")


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """Off unless origins are configured; browsers may then send and read what clients need."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-Match",
            "Last-Event-ID",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
            "X-Request-ID",
        ],
        allow_credentials=False,
        max_age=600,
    )


async def _sample_pool(db: Database) -> None:
    """Each second, this worker's PostgreSQL pool use, for the metrics."""
    in_use, idle, most = (metrics.POOL.labels(s) for s in ("in_use", "idle", "max"))
    while True:
        stats = db.pool_stats()
        in_use.set(stats["size"] - stats["idle"])
        idle.set(stats["idle"])
        most.set(stats["max"])
        await asyncio.sleep(1.0)
