"""Prometheus metrics: requests and latency by route and status, the onsale's own counts,
pool use and stream subscribers.

Granian runs the app in several worker processes; `ticketing serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before they start, so each worker writes its
figures to files there and a scrape of any worker (or of the metrics port, served by the
parent process) adds them all up. Without that variable (one in-process app, as in the
tests) the figures live in this process's default registry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "ticketing_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "ticketing_http_request_duration_seconds",
    "Time from a request's arrival to its response's first byte, by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
HOLDS = Counter("ticketing_holds_total", "Holds placed")
HOLD_REFUSALS = Counter(
    "ticketing_hold_conflicts_total",
    "Hold attempts refused: seats taken (SEATS_UNAVAILABLE) or over the customer's limit",
    ["code"],
)
CONFIRMS = Counter("ticketing_confirms_total", "Holds confirmed into reservations")
CONFIRM_CALLS = Counter(
    "ticketing_confirm_calls_total",
    "Calls of PostgreSQL that committed confirmations: fewer than the confirmations at a peak,"
    " when those that arrive together go together",
)
CONFIRM_REFUSALS = Counter(
    "ticketing_confirm_conflicts_total", "Confirmations refused with a 409", ["code"]
)
EXPIRIES = Counter("ticketing_hold_expiries_total", "Holds that ran out before confirmation")
RATE_LIMITED = Counter(
    "ticketing_rate_limited_total", "Requests refused by a rate limit, by class", ["kind"]
)
HOLDS_TAKEN = HOLD_REFUSALS.labels("SEATS_UNAVAILABLE")
HOLDS_OVER_LIMIT = HOLD_REFUSALS.labels("LIMIT_EXCEEDED")
CONFIRMS_TAKEN = CONFIRM_REFUSALS.labels("SEATS_UNAVAILABLE")
CONFIRMS_OVER_LIMIT = CONFIRM_REFUSALS.labels("LIMIT_EXCEEDED")
POOL = Gauge(
    "ticketing_db_pool_connections",
    "PostgreSQL connections: open (in_use + idle) and the most allowed, summed over workers",
    ["state"],
    multiprocess_mode="livesum",
)
AUDIT_PROBLEMS = Gauge(
    "ticketing_audit_problems",
    "Problems the last background inventory audit found, by code, over every active event",
    ["code"],
    multiprocess_mode="livemostrecent",
)
SUBSCRIBERS = Gauge(
    "ticketing_stream_subscribers",
    "Open availability streams, summed over workers",
    multiprocess_mode="livesum",
)


def _forget_dead_workers(folder: Path) -> None:
    """A worker that died (and was replaced) leaves its gauge files: drop them so 'live'
    sums count living processes only."""
    for path in folder.glob("gauge_live*_*.db"):
        match = re.search(r"_(\d+)\.db$", path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            continue


class _Workers:
    """Every worker's files, read afresh at each scrape."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._files = multiprocess.MultiProcessCollector(None, path=folder)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        _forget_dead_workers(Path(self._folder))
        return self._files.collect()  # type: ignore[no-any-return,no-untyped-call]


def registry() -> CollectorRegistry:
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return REGISTRY
    collected = CollectorRegistry()
    collected.register(_Workers(folder))
    return collected


def exposition() -> bytes:
    """The Prometheus text format of every worker's figures."""
    return generate_latest(registry())
