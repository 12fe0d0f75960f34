"""HTTP route of /api/openapi.json: the OpenAPI document of every registered route."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.openapi import build_openapi
from cs_backend.api.registry import ApiRoute, Response
from cs_backend.app_keys import API_ROUTES, OPENAPI_DOCUMENT
from cs_backend.meta.schemas import OpenApiDocument


async def openapi_document(request: web.Request) -> web.Response:
    cache = request.app[OPENAPI_DOCUMENT]
    if not cache:
        # No `servers`: the default ("/") is right however the client reached this process.
        routes: list[ApiRoute] = request.app[API_ROUTES]
        cache.update(build_openapi(routes))
    return web.json_response(cache)


ROUTES = [
    ApiRoute(
        "GET",
        "/api/openapi.json",
        openapi_document,
        summary="This OpenAPI 3.1 document",
        tag="meta",
        responses={200: Response("The OpenAPI document.", OpenApiDocument)},
        access="public",  # describes the API, holds no data
    ),
]
