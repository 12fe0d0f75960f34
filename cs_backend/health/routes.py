"""GET /health/live (the process answers) and GET /health/ready (it can serve requests).

Readiness checks that the database answers and carries the schema revision this code expects (the app does
not create tables: an unmigrated database would fail every request), and that live events can be published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text

from cs_backend.api.registry import ApiRoute, Response
from cs_backend.app_keys import DATABASE, LIVE_EVENTS, SCHEMA_REVISION
from cs_backend.health.schemas import LiveStatus, ReadyStatus

CHECK_TIMEOUT_SECONDS = 3.0


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return f"unavailable: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    detail = " ".join(str(error).split())[:300]
    return f"unavailable: {error.__class__.__name__}" + (f": {detail}" if detail else "")


async def _run_check(check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        return _describe(error)
    return "ok"


async def ready(request: web.Request) -> web.Response:
    app = request.app
    expected_revision = app[SCHEMA_REVISION]

    async def check_database() -> None:
        async with app[DATABASE].engine.connect() as connection:
            try:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            except Exception:
                raise RuntimeError("the schema is not migrated; run `python -m cs_backend migrate`") from None
        if revision != expected_revision:
            raise RuntimeError(
                f"schema revision is {revision!r}, this code expects {expected_revision!r}; "
                "run `python -m cs_backend migrate`"
            )

    database, live_events = await asyncio.gather(
        _run_check(check_database), _run_check(app[LIVE_EVENTS].check)
    )
    checks = {"database": database, "live_events": live_events}
    healthy = all(result == "ok" for result in checks.values())
    return web.json_response(
        {"status": "ready" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


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
        summary="Readiness: the database (migrated) and live events are usable",
        tag="health",
        responses={
            200: Response("Ready.", ReadyStatus),
            503: Response("Not ready; the failing check says why.", ReadyStatus),
        },
        access="public",
    ),
]
