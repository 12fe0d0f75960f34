"""Times every request for `cs_backend_http_request_duration_seconds` (collectors.py), outermost, so errors
and refusals (401, 429, 413) are counted with the status the client got."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from cs_backend.app_keys import METRICS

UNMATCHED = "unmatched"  # any path no route has: one label, whatever was asked


def route_template(request: web.Request) -> str:
    info = request.match_info
    if isinstance(info, web.UrlMappingMatchInfo) and info.http_exception is None:
        resource = info.route.resource
        if resource is not None:
            return resource.canonical
    return UNMATCHED


@web.middleware
async def request_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        request.app[METRICS].request_duration.labels(
            request.method, route_template(request), str(status)
        ).observe(time.perf_counter() - started)
