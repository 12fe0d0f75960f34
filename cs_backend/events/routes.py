"""GET /api/events: the live events as server-sent events (text/event-stream).

Each event is `event: <type>` and `data: <json of the resource>`. The stream opens with a comment line so
clients see it is established, sends a comment every KEEPALIVE_SECONDS (proxies close silent connections,
and writing is how a vanished client is noticed), and is ended by the server on shutdown.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from cs_backend.api.errors import ServiceUnavailable
from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.app_keys import CURRENT_CALLER, EVENT_STREAM_SLOTS, LIVE_EVENTS, OPEN_EVENT_STREAMS
from cs_backend.live_events import LiveEvent, Subscription

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0


def format_event(event: LiveEvent) -> bytes:
    # json.dumps never emits a raw newline, so the data fits on one `data:` line.
    data = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event.type}\ndata: {data}\n\n".encode()


async def stream_events(request: web.Request) -> web.StreamResponse:
    # Over a cap: 429 or 503 before subscribing; the slot is held until the stream ends.
    with request.app[EVENT_STREAM_SLOTS].slot(request[CURRENT_CALLER]):
        return await _stream(request)


async def _stream(request: web.Request) -> web.StreamResponse:
    live_events = request.app[LIVE_EVENTS]
    open_streams = request.app[OPEN_EVENT_STREAMS]
    subscription = live_events.subscribe()
    try:
        await subscription.open()
    except Exception as error:
        log.warning("cannot subscribe to live events: %s", error)
        raise ServiceUnavailable("live events are unavailable; read the REST resources instead") from None

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            # nginx and similar proxies would otherwise buffer the stream.
            "X-Accel-Buffering": "no",
        }
    )
    open_streams.add(subscription)
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await subscription.next(timeout=KEEPALIVE_SECONDS)
            except StopAsyncIteration:
                break  # shutdown, or the live-events connection was lost: the client reconnects
            await response.write(b": keep-alive\n\n" if event is None else format_event(event))
    except ConnectionResetError:
        pass  # the client went away
    except Exception:
        # The headers are sent: an error response is impossible. End the stream; the client reconnects.
        log.exception("the event stream failed")
    finally:
        open_streams.discard(subscription)
        await subscription.close()
    return response


async def end_open_streams(app: web.Application) -> None:
    """on_shutdown: end every open stream so the server does not wait for clients to hang up."""
    open_streams: set[Subscription] = app[OPEN_EVENT_STREAMS]
    for subscription in list(open_streams):
        subscription.end()


ROUTES = [
    ApiRoute(
        "GET",
        "/api/events",
        stream_events,
        summary="Live events as server-sent events",
        tag="events",
        description="text/event-stream. Each event has `event: <type>` (ticket.created, ticket.updated, "
        "feedback.created) and `data: <JSON of the ticket or feedback>`. Published after the database "
        "commit; delivery is best effort: a client that missed events re-reads the REST resources. At most "
        "EVENT_STREAMS_PER_PRINCIPAL_MAX streams per caller (429 beyond) and EVENT_STREAMS_MAX per process "
        "(503 beyond), both with Retry-After.",
        responses={200: Response("An endless event stream.", media_type="text/event-stream")},
        errors=(429, 503),
        access=SERVICE_AND_STAFF,
    ),
]
