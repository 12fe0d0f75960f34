"""GET /health/live (the process answers) and GET /health/ready (it can serve requests).

Readiness reports each dependency with its state ("ok", or "unavailable: <why>", where why is the check's own
finding or the kind of error; the error's text, which may name hosts and users, is logged instead):
- database (required): it answers and carries the schema revision this code expects (the app does not create
  tables: an unmigrated database would fail every request). While it fails, readiness answers 503, so that
  a load balancer stops sending requests (which would get 503 anyway); once the database is back, the
  engine's pool reconnects by itself and readiness passes again, without a restart.
- live_events, routing_live_state, rate_limits: in-process, or Redis when REDIS_URL is set.
- rasa_events (Rasa's SQL event broker table, or its RabbitMQ broker) and rasa_tracker_store (when set).
Only the database is required: without Redis or Rasa's events the backend still serves every request and
commits every write (live events pause, rate limits count per process, routing rebuilds its state from SQL,
outcomes catch up later), so their failure makes readiness "degraded" with 200, never 503: failing
readiness for them would take every instance out of the load balancer and lose the writes that still work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import text

from cs_backend.api.registry import ApiRoute, Response
from cs_backend.app_keys import (
    DATABASE,
    EVENT_STORE,
    LIVE_EVENTS,
    RATE_LIMITER,
    ROUTING_ENGINE,
    SCHEMA_REVISION,
    SETTINGS,
    TRACKER_STORE,
)
from cs_backend.db import database_unavailable
from cs_backend.health.schemas import LiveStatus, ReadyStatus

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0
# Without these, no request can be served: readiness fails (503) while one of them does.
REQUIRED = frozenset({"database"})
AMQP_DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}

Check = Callable[[], Awaitable[None]]


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


class CheckFailed(RuntimeError):
    """A check's own finding, in words written here (safe to show on this public route)."""


def _describe(error: BaseException) -> str:
    """What the public answer says: the check's own words, or only the kind of error. An error's text can
    name hosts, ports, users or paths of the infrastructure, so it goes to the log, not to the caller."""
    if isinstance(error, asyncio.TimeoutError):
        return f"unavailable: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    if isinstance(error, CheckFailed):
        return f"unavailable: {error}"
    unavailable = database_unavailable(error)
    if unavailable is not None:
        # detail is "<ErrorClass>: <the server's words>"
        return f"unavailable: {unavailable.detail.split(':', 1)[0]}"
    return f"unavailable: {error.__class__.__name__}"


async def _run_check(name: str, check: Check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        described = _describe(error)
        detail = " ".join(str(error).split())[:300]
        log.warning("readiness check %s failed: %s (%s)", name, described, detail or type(error).__name__)
        return described
    return "ok"


def _broker_check(url: str) -> Check:
    """A RabbitMQ broker accepts connections (the outcomes consumer logs in; this only looks)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or AMQP_DEFAULT_PORTS.get(parts.scheme.lower(), 5672)

    async def check() -> None:
        _reader, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()

    return check


def _checks(app: web.Application) -> dict[str, Check]:
    expected_revision = app[SCHEMA_REVISION]

    async def check_database() -> None:
        async with app[DATABASE].engine.connect() as connection:
            try:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            except Exception as error:
                if database_unavailable(error) is not None:
                    raise  # lost mid-check: down, not unmigrated
                raise CheckFailed("the schema is not migrated; run `python -m cs_backend migrate`") from None
        if revision != expected_revision:
            raise CheckFailed(
                f"schema revision is {revision!r}, this code expects {expected_revision!r}; "
                "run `python -m cs_backend migrate`"
            )

    checks: dict[str, Check] = {
        "database": check_database,
        "live_events": app[LIVE_EVENTS].check,
        "routing_live_state": app[ROUTING_ENGINE].live.check,
        "rate_limits": app[RATE_LIMITER].check,
    }
    event_store = app[EVENT_STORE]
    checks["rasa_events"] = (
        event_store.check if event_store is not None else _broker_check(app[SETTINGS].rasa_events_url)
    )
    tracker_store = app[TRACKER_STORE]
    if tracker_store is not None:
        checks["rasa_tracker_store"] = tracker_store.check
    return checks


async def ready(request: web.Request) -> web.Response:
    checks = _checks(request.app)
    results = await asyncio.gather(*(_run_check(name, check) for name, check in checks.items()))
    states = dict(zip(checks, results, strict=True))
    failing = {name for name, state in states.items() if state != "ok"}
    if failing & REQUIRED:
        status, code = "unavailable", 503
    elif failing:
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return web.json_response({"status": status, "checks": states}, status=code)


ROUTES = [
    ApiRoute(
        "GET",
        "/health/live",
        live,
        summary="Liveness: the process is up",
        tag="health",
        responses={200: Response("Up.", LiveStatus)},
        access="public",  # probes of orchestrators and load balancers carry no credential
    ),
    ApiRoute(
        "GET",
        "/health/ready",
        ready,
        summary="Readiness: each dependency's state; fails while the database is unusable",
        tag="health",
        responses={
            200: Response("Ready, or degraded: a dependency other than the database fails.", ReadyStatus),
            503: Response("Not ready: the database is unusable; its check says why.", ReadyStatus),
        },
        access="public",
    ),
]
