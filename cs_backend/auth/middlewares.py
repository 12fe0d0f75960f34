"""The auth middleware: a route declared `service` (api/registry.py `access`) runs only for a signed call.

Runs after routing, so it knows the matched route; a refused request is answered 401 (the contract's JSON
error and a WWW-Authenticate header) before its handler, or anything that reads its body, runs.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from cs_backend.api.middlewares import error_response
from cs_backend.app_keys import ROUTE_ACCESS, SERVICE_VERIFIER
from cs_backend.auth.signing import VERSION
from cs_backend.auth.verifier import AuthenticationFailed

log = logging.getLogger(__name__)

AUTH_SCHEME = "CS-HMAC-SHA256"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Routes that are not API routes (the demo page, /static, unknown paths) are public.
    access = request.app[ROUTE_ACCESS].get(request.match_info.route, "public")
    if access == "public":
        return await handler(request)
    verifier = request.app[SERVICE_VERIFIER]
    try:
        # Headers first: an unsigned request is refused before its body is read.
        verifier.check_headers(request.headers)
        body = await request.read()  # kept by aiohttp: the handler reads the same bytes
        await verifier.verify(request.method, request.raw_path, request.headers, body)
    except AuthenticationFailed as refusal:
        log.warning("refused %s %s: %s", request.method, request.path, refusal.reason)
        return error_response(
            401, refusal.message, headers={"WWW-Authenticate": f'{AUTH_SCHEME} version="{VERSION}"'}
        )
    return await handler(request)
