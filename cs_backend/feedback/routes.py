"""HTTP routes of /api/feedback."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_idempotent_body, parse_query
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE
from cs_backend.feedback import service
from cs_backend.feedback.schemas import FeedbackCreate, FeedbackOut, FeedbackPage, FeedbackQuery
from cs_backend.health_scores import hooks as health_hooks


async def create_feedback(request: web.Request) -> web.Response:
    data, key = await parse_idempotent_body(request, FeedbackCreate)
    feedback, created = await service.create_feedback(request.app[DATABASE], data, key)
    if created:
        await health_hooks.feedback_recorded(request.app, feedback)
    return await created_response(request, FeedbackOut, feedback, created, event="feedback.created")


async def list_feedback(request: web.Request) -> web.Response:
    query = parse_query(request.query, FeedbackQuery)
    page = await service.list_feedback(request.app[DATABASE], query)
    return model_response(FeedbackPage, page)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/feedback",
        create_feedback,
        summary="Record a CSAT (1-5) or CES (1-7) rating",
        tag="feedback",
        description="Publishes feedback.created after the commit. A ticket_id, agent_id or handoff_id that "
        "names nothing is a 404 naming that field, and writes nothing. A rating of an agent's help (resolver "
        "agent) names the agent and the handoff.",
        body=FeedbackCreate,
        idempotency_key=True,
        responses={
            201: Response("Rating recorded.", FeedbackOut),
            200: Response("Idempotency-Key seen before: the rating first recorded with it.", FeedbackOut),
        },
        errors=(400, 404, 413),
    ),
    ApiRoute(
        "GET",
        "/api/feedback",
        list_feedback,
        summary="List ratings, newest first",
        tag="feedback",
        query=FeedbackQuery,
        responses={200: Response("A page of ratings.", FeedbackPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
]
