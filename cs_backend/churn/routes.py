"""HTTP routes of /api/churn/signals."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_idempotent_body, parse_query
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS
from cs_backend.churn import service
from cs_backend.churn.schemas import ChurnSignalCreate, ChurnSignalOut, ChurnSignalPage, ChurnSignalQuery


async def record_signal(request: web.Request) -> web.Response:
    data, key = await parse_idempotent_body(request, ChurnSignalCreate)
    signal, created = await service.record_signal(request.app[DATABASE], data, key)
    if created:
        await request.app[HEALTH_SIGNALS].publish(signal.customer_id, f"churn.{signal.kind}")
    return await created_response(request, ChurnSignalOut, signal, created, event="churn_signal.created")


async def list_signals(request: web.Request) -> web.Response:
    query = parse_query(request.query, ChurnSignalQuery)
    page = await service.list_signals(request.app[DATABASE], query)
    return model_response(ChurnSignalPage, page)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/churn/signals",
        record_signal,
        summary="Record a churn signal (cancel or downgrade request, negative feedback)",
        tag="churn",
        description="Publishes churn_signal.created after the commit. A customer_id that names no customer "
        "is a 404 naming `customer_id`, and writes nothing.",
        body=ChurnSignalCreate,
        idempotency_key=True,
        responses={
            201: Response("Signal recorded.", ChurnSignalOut),
            200: Response("Idempotency-Key seen before: the signal first recorded with it.", ChurnSignalOut),
        },
        errors=(400, 404, 413),
    ),
    ApiRoute(
        "GET",
        "/api/churn/signals",
        list_signals,
        summary="List churn signals, newest first",
        tag="churn",
        query=ChurnSignalQuery,
        responses={200: Response("A page of churn signals.", ChurnSignalPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
]
