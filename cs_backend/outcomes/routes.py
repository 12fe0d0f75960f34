"""HTTP routes of /api/outcomes."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_query
from cs_backend.api.responses import model_response
from cs_backend.api.types import EmptyQuery
from cs_backend.app_keys import DATABASE
from cs_backend.outcomes import service
from cs_backend.outcomes.schemas import OutcomePage, OutcomeQuery, OutcomeSummary


async def list_outcomes(request: web.Request) -> web.Response:
    query = parse_query(request.query, OutcomeQuery)
    page = await service.list_outcomes(request.app[DATABASE], query)
    return model_response(OutcomePage, page)


async def outcome_summary(request: web.Request) -> web.Response:
    parse_query(request.query, EmptyQuery)
    return model_response(OutcomeSummary, await service.summary(request.app[DATABASE]))


ROUTES = [
    ApiRoute(
        "GET",
        "/api/outcomes",
        list_outcomes,
        summary="List decided conversation sessions, newest first",
        tag="outcomes",
        description="One row per Rasa conversation session, decided from Rasa's event stream once the "
        "session ended (a new session started, or no customer message for OUTCOME_ABANDON_AFTER_MINUTES).",
        query=OutcomeQuery,
        responses={200: Response("A page of outcomes.", OutcomePage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/outcomes/summary",
        outcome_summary,
        summary="Counts per outcome, containment and handoff rates",
        tag="outcomes",
        description="containment_rate = resolved_by_bot / total, handoff_rate = escalated / total "
        "(null while nothing is decided).",
        query=EmptyQuery,
        responses={200: Response("The summary over every decided session.", OutcomeSummary)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
]
