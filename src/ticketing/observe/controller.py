"""`GET /metrics`: Prometheus text, for the admin token (or on the metrics port, see cli)."""

from __future__ import annotations

from litestar import Controller, Response, get

from ticketing.auth.guards import RATE_OPT, admin_only
from ticketing.observe import metrics


class MetricsController(Controller):
    path = "/metrics"
    tags = ["health"]
    opt = {RATE_OPT: None}

    @get("/", guards=[admin_only], media_type=metrics.CONTENT_TYPE_LATEST)
    async def scrape(self) -> Response[bytes]:
        """Every worker's figures in the Prometheus text format (admin token required here;
        no token on the port TICKETING_METRICS_PORT names)."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)
