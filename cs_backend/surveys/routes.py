"""HTTP routes of /api/surveys."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE, SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id, parse_query
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS, LIVE_EVENTS, SETTINGS
from cs_backend.live_events import publish_safely
from cs_backend.surveys import service
from cs_backend.surveys.followup import follow_up
from cs_backend.surveys.schemas import SurveyAnswer, SurveyOpen, SurveyOut, SurveyPage, SurveyQuery


async def open_survey(request: web.Request) -> web.Response:
    data = await parse_body(request, SurveyOpen)
    survey, created = await service.open_bot_survey(request.app[DATABASE], request.app[SETTINGS], data)
    return await created_response(request, SurveyOut, survey, created)


async def get_survey(request: web.Request) -> web.Response:
    survey = await service.get_survey(request.app[DATABASE], parse_id(request, "survey"))
    return model_response(SurveyOut, survey)


async def list_surveys(request: web.Request) -> web.Response:
    query = parse_query(request.query, SurveyQuery)
    page = await service.list_surveys(request.app[DATABASE], query)
    return model_response(SurveyPage, page)


async def answer_survey(request: web.Request) -> web.Response:
    survey_id = parse_id(request, "survey")
    data = await parse_body(request, SurveyAnswer)
    answered = await service.answer_survey(request.app[DATABASE], survey_id, data)
    survey = answered.survey
    if answered.follow_up_due:
        survey = await follow_up(request.app, survey)
    out = SurveyOut.model_validate(survey, from_attributes=True)
    await publish_safely(request.app[LIVE_EVENTS], "survey.answered", out.model_dump(mode="json"))
    # The answer is a CSAT/CES row like any rating: the customer's health score takes it in.
    await request.app[HEALTH_SIGNALS].publish(survey.customer_id, "survey.answered")
    return model_response(SurveyOut, out)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/surveys",
        open_survey,
        summary="Open the survey the bot asks (a handoff ended, onboarding completed)",
        tag="surveys",
        description="One survey per (trigger, subject): opening it again answers the same survey (200). "
        "A new survey within the customer's cooldown (SURVEY_COOLDOWN_HOURS) is stored as suppressed and "
        "`ask` is false; otherwise it is sent (the bot asks it now). `ask` is false too once it is "
        "answered. A subject_id that names nothing is a 404 naming it, and writes nothing.",
        body=SurveyOpen,
        responses={
            201: Response("Survey opened.", SurveyOut),
            200: Response("The survey of this trigger and subject, opened before.", SurveyOut),
        },
        errors=(400, 404, 413),
        access=SERVICE,
    ),
    ApiRoute(
        "GET",
        "/api/surveys",
        list_surveys,
        summary="List surveys, newest first",
        tag="surveys",
        query=SurveyQuery,
        responses={200: Response("A page of surveys.", SurveyPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/surveys/{id}",
        get_survey,
        summary="Get a survey and its answer",
        tag="surveys",
        responses={200: Response("The survey.", SurveyOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/surveys/{id}/answers",
        answer_survey,
        summary="Answer a survey (again: the answer is replaced, never added)",
        tag="surveys",
        description="Records the CSAT and/or CES (one rating of each per survey: a re-submission updates it) "
        "and a comment. A low score (CSAT 1-2 or CES 1-3) with a comment opens a follow-up task for a person "
        "and raises a negative_feedback alert, once per survey. A survey that was never asked (suppressed, "
        "abandoned) is a 409. Publishes survey.answered.",
        body=SurveyAnswer,
        responses={200: Response("The survey with its answer.", SurveyOut)},
        errors=(400, 404, 409, 413),
        access=SERVICE,
    ),
]
