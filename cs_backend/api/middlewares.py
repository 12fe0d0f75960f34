"""Middlewares: every error becomes the contract's JSON error body, and oversized bodies are refused early.

Error body (docs/API_CONTRACT.md):
    {"error": {"status": 400, "message": "invalid request body", "fields": {"email": "..."}}}
A database that is unavailable (unreachable, restarting, out of connections, locked past SQLite's busy
timeout; a transaction that gave up after its retries) is answered 503 with Retry-After: the client may try
again, and nothing was committed (the session's transaction rolled back). Other unexpected exceptions are
logged with their traceback and answered with a bare 500: a trace never reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cs_backend.api.errors import ApiError
from cs_backend.app_keys import SETTINGS
from cs_backend.db import DatabaseUnavailable, database_unavailable

log = logging.getLogger(__name__)

# Messages for errors aiohttp raises itself (router, body reader); reason phrases are not always friendly.
_HTTP_MESSAGES = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
}


def error_response(
    status: int,
    message: str,
    fields: dict[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error: dict[str, Any] = {"status": status, "message": message}
    if fields:
        error["fields"] = fields
    return web.json_response({"error": error}, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DatabaseUnavailable as error:
        _log_database_unavailable(request, error)
        return error_response(error.status, error.message, headers=error.headers)
    except ApiError as error:
        return error_response(error.status, error.message, error.fields, headers=error.headers or None)
    except web.HTTPException as error:
        if error.status < 400:  # redirects and the like are responses, not errors
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        if error.status == 413:
            limit = request.app[SETTINGS].max_body_bytes
            return error_response(413, f"request body larger than {limit // 1024} KiB", headers=headers)
        message = _HTTP_MESSAGES.get(error.status) or (error.reason or "error").lower()
        return error_response(error.status, message, headers=headers)
    except (asyncio.CancelledError, ConnectionResetError):
        # The client went away: nobody is left to answer.
        raise
    except Exception as error:
        unavailable = database_unavailable(error)
        if unavailable is not None:
            _log_database_unavailable(request, unavailable)
            return error_response(unavailable.status, unavailable.message, headers=unavailable.headers)
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal error")


def _log_database_unavailable(request: web.Request, error: DatabaseUnavailable) -> None:
    # No traceback: an outage would flood the log with identical ones; the cause is in `detail`.
    log.warning("database unavailable in %s %s: answered 503: %s", request.method, request.path, error.detail)


@web.middleware
async def body_size_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared Content-Length over the limit before reading any of it.

    Chunked bodies (no Content-Length) are caught by the Application's client_max_size while being read.
    """
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    return await handler(request)
