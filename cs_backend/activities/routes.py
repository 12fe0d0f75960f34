"""HTTP routes of /api/customers/{id}/activities."""

from __future__ import annotations

from aiohttp import web

from cs_backend.activities import service
from cs_backend.activities.schemas import ActivityCreate, ActivityOut
from cs_backend.api.registry import ApiRoute, Response
from cs_backend.api.requests import parse_id, parse_idempotent_body
from cs_backend.api.responses import created_response
from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS


async def record_activity(request: web.Request) -> web.Response:
    customer_id = parse_id(request, "customer")
    data, key = await parse_idempotent_body(request, ActivityCreate)
    activity, created = await service.record_activity(request.app[DATABASE], customer_id, data, key)
    if created:
        await request.app[HEALTH_SIGNALS].publish(customer_id, f"activity.{data.kind}")
    return await created_response(request, ActivityOut, activity, created)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/customers/{id}/activities",
        record_activity,
        summary="Record a product activity of a customer (login, feature used, payment)",
        tag="activities",
        description="The product reports what a customer did; the health score reads the latest activity "
        "(recency) and payments (monthly revenue). A payment carries amount_cents and currency. An unknown "
        "customer is a 404 and writes nothing.",
        body=ActivityCreate,
        idempotency_key=True,
        responses={
            201: Response("Activity recorded.", ActivityOut),
            200: Response("Idempotency-Key seen before: the activity first recorded with it.", ActivityOut),
        },
        errors=(400, 404, 413, 422),
    ),
]
