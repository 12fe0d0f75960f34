"""HTTP routes of a customer's health: /api/customers/{id}/health, its history, and /api/health-scores."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_id, parse_query
from cs_backend.api.responses import model_response
from cs_backend.app_keys import CHURN_MODEL, DATABASE, HEALTH_SCORER
from cs_backend.health_scores import service
from cs_backend.health_scores.schemas import (
    HealthHistoryPage,
    HealthHistoryQuery,
    HealthListQuery,
    HealthOut,
    HealthPage,
)


async def get_health(request: web.Request) -> web.Response:
    customer_id = parse_id(request, "customer")
    health = await service.get_health(request.app[DATABASE], request.app[HEALTH_SCORER], customer_id)
    answer = HealthOut.model_validate(health, from_attributes=True)
    # The active churn model's probability from the customer's features now (churn/active_model.py).
    prediction = await request.app[CHURN_MODEL].predict(request.app[DATABASE], customer_id)
    if prediction is not None:
        answer = answer.model_copy(update=dataclasses.asdict(prediction))
    return model_response(HealthOut, answer)


async def get_history(request: web.Request) -> web.Response:
    customer_id = parse_id(request, "customer")
    query = parse_query(request.query, HealthHistoryQuery)
    page = await service.history(request.app[DATABASE], customer_id, query)
    return model_response(HealthHistoryPage, page)


async def list_scores(request: web.Request) -> web.Response:
    query = parse_query(request.query, HealthListQuery)
    page = await service.list_scores(request.app[DATABASE], query)
    return model_response(HealthPage, page)


ROUTES = [
    ApiRoute(
        "GET",
        "/api/customers/{id}/health",
        get_health,
        summary="A customer's health score, band and top factors",
        tag="health-scores",
        description="The score stored by the last rescore; for a customer never scored yet, one computed now "
        "(and not stored). docs/HEALTH_SCORES.md explains the factors.",
        responses={200: Response("The customer's health.", HealthOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/customers/{id}/health/history",
        get_history,
        summary="A customer's past health scores, newest first",
        tag="health-scores",
        query=HealthHistoryQuery,
        responses={200: Response("A page of the customer's scores.", HealthHistoryPage)},
        errors=(400, 404),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/health-scores",
        list_scores,
        summary="Customers' current health scores, lowest first",
        tag="health-scores",
        query=HealthListQuery,
        responses={200: Response("A page of scores.", HealthPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
]
