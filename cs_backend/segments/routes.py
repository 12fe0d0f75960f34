"""HTTP route of /api/segments."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import STAFF, ApiRoute, Response
from cs_backend.api.responses import model_response
from cs_backend.app_keys import DATABASE
from cs_backend.segments import service
from cs_backend.segments.schemas import SegmentsOut


async def get_segments(request: web.Request) -> web.Response:
    run = await service.latest_run(request.app[DATABASE])
    return model_response(SegmentsOut, run or {"computed_at": None, "customers": 0, "segments": []})


ROUTES = [
    ApiRoute(
        "GET",
        "/api/segments",
        get_segments,
        summary="The customer segments of the latest run (K-means on behaviour features, named)",
        tag="segments",
        description="Recomputed by `python -m cs_backend segments-recompute`; before the first run, "
        "computed_at is null and segments is empty.",
        responses={200: Response("The latest run's segments.", SegmentsOut)},
        access=STAFF,
    ),
]
