"""HTTP routes of /api/onboarding."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_query, read_idempotency_key
from cs_backend.api.responses import model_response
from cs_backend.api.types import EmptyQuery
from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS, ONBOARDING_CHECKLIST, SETTINGS
from cs_backend.db import utcnow
from cs_backend.onboarding import service
from cs_backend.onboarding.schemas import (
    OnboardingStart,
    ProgressOut,
    ProgressQuery,
    ProgressUpdate,
    StalledList,
    StepList,
)


async def list_onboarding_steps(request: web.Request) -> web.Response:
    parse_query(request.query, EmptyQuery)
    return model_response(StepList, {"steps": request.app[ONBOARDING_CHECKLIST].steps})


async def get_onboarding_progress(request: web.Request) -> web.Response:
    query = parse_query(request.query, ProgressQuery)
    progress = await service.get_progress(request.app[DATABASE], request.app[ONBOARDING_CHECKLIST], query)
    return model_response(ProgressOut, progress)


async def start_onboarding(request: web.Request) -> web.Response:
    # Starting is idempotent by itself; a key is accepted (and checked) like on every POST.
    read_idempotency_key(request)
    data = await parse_body(request, OnboardingStart)
    progress = await service.start_onboarding(request.app[DATABASE], request.app[ONBOARDING_CHECKLIST], data)
    return model_response(ProgressOut, progress)


async def complete_onboarding_step(request: web.Request) -> web.Response:
    # Completing a step is idempotent by itself; a key is accepted (and checked) like on every POST.
    read_idempotency_key(request)
    data = await parse_body(request, ProgressUpdate)
    progress = await service.complete_step(request.app[DATABASE], request.app[ONBOARDING_CHECKLIST], data)
    await request.app[HEALTH_SIGNALS].publish(progress.customer_id, "onboarding.step")
    return model_response(ProgressOut, progress)


async def list_stalled_customers(request: web.Request) -> web.Response:
    parse_query(request.query, EmptyQuery)
    settings = request.app[SETTINGS]
    stalled = await service.find_stalled(
        request.app[DATABASE],
        request.app[ONBOARDING_CHECKLIST],
        stalled_after=timedelta(hours=settings.onboarding_stalled_after_hours),
        now=utcnow(),
    )
    return model_response(StalledList, {"items": stalled})


_IDENTITY = (
    "The customer is customer_id, or the customer of the conversation (sender_id, channel): the "
    "conversation is created if new, and a conversation without a customer gets an anonymous one (no email)."
)
_READ_IDENTITY = (
    "The customer is customer_id (unknown: 404), or the customer of the conversation (sender_id, channel). "
    "Reading writes nothing: a conversation that is unknown or has no customer yet answers its empty "
    "progress with customer_id null, and is not created."
)

ROUTES = [
    ApiRoute(
        "GET",
        "/api/onboarding/steps",
        list_onboarding_steps,
        summary="The onboarding checklist",
        tag="onboarding",
        description="From cs_backend/onboarding/checklist.toml, in order.",
        query=EmptyQuery,
        responses={200: Response("Every step, in order.", StepList)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/onboarding/progress",
        get_onboarding_progress,
        summary="A customer's onboarding progress",
        tag="onboarding",
        description=_READ_IDENTITY,
        query=ProgressQuery,
        responses={200: Response("Every step with its state, and the next step.", ProgressOut)},
        errors=(400, 404),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/onboarding/start",
        start_onboarding,
        summary="A conversation starts onboarding",
        tag="onboarding",
        description="The customer asked about onboarding in this conversation (next step, checklist, how to "
        "do a step): the conversation is created if new (else its last_seen_at is refreshed) and gets an "
        "anonymous customer (no email) if it has none, so the stalled-customer job can nudge it. Idempotent: "
        "a second call creates nothing and still answers 200 with the progress.",
        body=OnboardingStart,
        responses={200: Response("The conversation's progress.", ProgressOut)},
        errors=(400, 413),
    ),
    ApiRoute(
        "POST",
        "/api/onboarding/progress",
        complete_onboarding_step,
        summary="Mark an onboarding step done",
        tag="onboarding",
        description=_IDENTITY + " Idempotent: a step already done keeps its first completion (time and "
        "source) and the answer is still 200. An unknown step or customer_id is a 404 naming `step` or "
        "`customer_id`, and writes nothing.",
        body=ProgressUpdate,
        responses={200: Response("The progress after the change.", ProgressOut)},
        errors=(400, 404, 413),
    ),
    ApiRoute(
        "GET",
        "/api/onboarding/stalled",
        list_stalled_customers,
        summary="Customers whose onboarding stalled",
        tag="onboarding",
        description="Onboarding not complete, and the last onboarding activity (or the first contact) older "
        "than ONBOARDING_STALLED_AFTER_HOURS; customers without a conversation cannot be nudged and are not "
        "listed. Each with their most recently active conversation.",
        query=EmptyQuery,
        responses={200: Response("Stalled customers, longest idle first.", StalledList)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
]
