"""HTTP routes of /api/analytics: read-only metrics for the dashboard (docs/METRICS.md)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from cs_backend.analytics import service
from cs_backend.analytics.schemas import Distribution, DistributionQuery, Summary, SummaryQuery
from cs_backend.api.registry import STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_query
from cs_backend.app_keys import DATABASE


def aliased_response(body: BaseModel) -> web.Response:
    # by_alias: the window's first day is `from` on the wire (a Python keyword in the model).
    return web.Response(text=body.model_dump_json(by_alias=True), content_type="application/json")


async def get_summary(request: web.Request) -> web.Response:
    query = parse_query(request.query, SummaryQuery)
    return aliased_response(await service.summary(request.app[DATABASE], query))


async def get_distribution(request: web.Request) -> web.Response:
    query = parse_query(request.query, DistributionQuery)
    return aliased_response(await service.distribution(request.app[DATABASE], query))


ROUTES = [
    ApiRoute(
        "GET",
        "/api/analytics/summary",
        get_summary,
        summary="Support metrics over a window, overall and grouped by period, intent, channel or agent",
        tag="analytics",
        description="CSAT %, mean CES, containment and handoff rates, first-contact resolution, median "
        "first-response and resolution times (docs/METRICS.md). by=period gives the trend series: every "
        "day, week or month of the window in order. A metric without the rows it is computed from is null. "
        "The window covers at most 366 days.",
        query=SummaryQuery,
        responses={200: Response("The metrics.", Summary)},
        errors=(400,),
        access=STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/analytics/distribution",
        get_distribution,
        summary="How many CSAT ratings of each score 1-5 and CES ratings of each score 1-7 a window has",
        tag="analytics",
        query=DistributionQuery,
        responses={200: Response("Counts per score (every score present, 0 when none).", Distribution)},
        errors=(400,),
        access=STAFF,
    ),
]
