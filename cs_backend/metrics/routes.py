"""GET /metrics: Prometheus' text format, for a scraper holding METRICS_TOKEN.

Not public: the metrics tell an outsider how busy the service is and which routes exist. A scraper cannot
sign requests as the service does, so the route is "public" to the auth middleware and checks its own bearer
token (constant-time); without METRICS_TOKEN it answers 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from cs_backend.api.middlewares import error_response
from cs_backend.api.registry import ApiRoute, Response
from cs_backend.app_keys import DATABASE, METRICS, SETTINGS
from cs_backend.routing.models import HandoffRequest

QUEUE_COUNT_TIMEOUT_SECONDS = 2.0


async def _queued_handoffs(request: web.Request) -> float:
    async def count() -> float:
        async with request.app[DATABASE].sessions() as session:
            queued = await session.scalar(
                select(func.count()).select_from(HandoffRequest).where(HandoffRequest.state == "queued")
            )
        return float(queued or 0)

    try:
        return await asyncio.wait_for(count(), QUEUE_COUNT_TIMEOUT_SECONDS)
    except Exception:  # the database down must not fail the scrape: the other metrics matter most then
        return float("nan")


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token is None:
        return error_response(404, "not found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return error_response(
            401, "a valid METRICS_TOKEN bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    registry = request.app[METRICS]
    registry.routing_queue_depth.set(await _queued_handoffs(request))
    body = generate_latest(registry.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


ROUTES = [
    ApiRoute(
        "GET",
        "/metrics",
        metrics,
        summary="Prometheus metrics (bearer METRICS_TOKEN)",
        tag="metrics",
        description=(
            "Request rate and latency by route template and status, database pool use, the outcomes "
            "consumer's lag, the routing queue's depth. Requires `Authorization: Bearer <METRICS_TOKEN>`; "
            "404 while METRICS_TOKEN is not set."
        ),
        responses={200: Response("The metrics in Prometheus' text format.", media_type="text/plain")},
        errors=(401, 404),
        # Checked by the handler itself (a scraper cannot sign as the service does).
        access="public",
    ),
]
