"""GET /api/console/ws: the agent console's websocket (connection.py; frames in schemas.py)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web

from cs_backend.api.errors import ApiError, InvalidRequest, ServiceUnavailable
from cs_backend.api.registry import STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_query
from cs_backend.api.types import EmptyQuery
from cs_backend.app_keys import CURRENT_CALLER, EVENT_STREAM_SLOTS, LIVE_EVENTS, OPEN_EVENT_STREAMS, SETTINGS
from cs_backend.console.connection import HEARTBEAT_SECONDS, ConsoleConnection

log = logging.getLogger(__name__)


class ForeignOrigin(ApiError):
    """403: the websocket was opened from a page of another site (or by a client naming no Origin)."""

    status = 403


def _same_site(origin: str | None, host: str) -> bool:
    if origin is None:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()


async def open_console_socket(request: web.Request) -> web.StreamResponse:
    parse_query(request.query, EmptyQuery)
    # Browsers send the page's Origin with every websocket handshake, and websockets are not subject to
    # CORS: without this check any site could open the console's socket with the agent's cookies.
    if not _same_site(request.headers.get("Origin"), request.host):
        raise ForeignOrigin("the console's websocket opens only from this site's pages (Origin)")
    socket = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS, max_msg_size=request.app[SETTINGS].max_body_bytes
    )
    if not socket.can_prepare(request).ok:
        raise InvalidRequest(
            "this route speaks the websocket protocol only", {"Upgrade": "must be a websocket handshake"}
        )
    # The same caps as the event streams (EVENT_STREAMS_MAX, EVENT_STREAMS_PER_PRINCIPAL_MAX): each holds a
    # live-events subscription for as long as the page stays.
    with request.app[EVENT_STREAM_SLOTS].slot(request[CURRENT_CALLER]):
        subscription = request.app[LIVE_EVENTS].subscribe()
        try:
            await subscription.open()
        except Exception as error:
            log.warning("cannot subscribe to live events: %s", error)
            raise ServiceUnavailable("live events are unavailable; read the REST resources instead") from None
        # Ended on shutdown with the event streams (events.routes.end_open_streams): the socket then closes.
        open_streams = request.app[OPEN_EVENT_STREAMS]
        open_streams.add(subscription)
        try:
            await socket.prepare(request)
            await ConsoleConnection(request, socket, subscription).run()
        finally:
            open_streams.discard(subscription)
            await subscription.close()
    return socket


ROUTES = [
    ApiRoute(
        "GET",
        "/api/console/ws",
        open_console_socket,
        summary="The agent console's websocket: live routing events, and messages to customers",
        tag="console",
        description="A websocket (JSON text frames) for the agent console page, opened from this site "
        "(an Origin of another site, or none: 403) by a signed-in agent or admin (the cookie session of "
        'POST /api/auth/cookie-login, or a bearer session). Pushes `{"type": "ready", "payload": '
        "{account_id, role, display_name, status}}` once subscribed, then the live events "
        '`{"type", "payload"}`: handoff.* and agent.status, and handoff.message for the handoffs '
        'offered to or held by the agent (an admin: all), and `{"type": "heartbeat"}` after '
        f'{HEARTBEAT_SECONDS:.0f} quiet seconds. Accepts `{{"type": "send", "handoff_id", "text", '
        '"client_id"}}`, answered `{"type": "sent", "client_id", "handoff_id", "message"}` or '
        '`{"type": "error", "client_id", "error": {status, message, fields?, retry_after?}}`; any '
        "other frame gets an error frame and the socket stays open. Frames are limited per socket (120 a "
        "minute) and sends per account (RATE_LIMIT_ACCOUNT). Closes with 1001 on shutdown (reconnect) and "
        "4401 when the session ended (sign in again). Counts against the event-stream caps.",
        query=EmptyQuery,
        responses={101: Response("Switching to the websocket protocol.")},
        errors=(400, 429, 503),
        access=STAFF,
    ),
]
