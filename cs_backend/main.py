"""The application factory: `create_app(settings)` wires middlewares, resources and routes.

Resources live in cleanup contexts (created on startup, released on cleanup), so building an app touches
nothing: tests and `python -m cs_backend serve` both call create_app and let aiohttp run it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from cs_backend.accounts import routes as accounts
from cs_backend.activities import routes as activities
from cs_backend.alerts import jobs as alerts_jobs
from cs_backend.alerts import routes as alerts
from cs_backend.analytics import routes as analytics
from cs_backend.api.middlewares import body_size_middleware, error_middleware
from cs_backend.api.registry import add_api_routes
from cs_backend.api.request_id import echo_request_id, request_id_middleware
from cs_backend.app_keys import (
    API_ROUTES,
    CHURN_MODEL,
    DATABASE,
    EVENT_STORE,
    EVENT_STREAM_SLOTS,
    HANDOFF_MESSAGING,
    HEALTH_SCORER,
    HEALTH_SIGNALS,
    LIVE_EVENTS,
    METRICS,
    ONBOARDING_CHECKLIST,
    OPEN_EVENT_STREAMS,
    OPENAPI_DOCUMENT,
    OUTCOME_CONSUMER,
    RASA_CLIENT,
    RATE_LIMITER,
    RATE_LIMITS,
    ROUTE_ACCESS,
    ROUTING_ENGINE,
    SCHEMA_REVISION,
    SERVICE_VERIFIER,
    SETTINGS,
    SURVEY_COURIER,
    TRACKER_STORE,
)
from cs_backend.auth.middlewares import auth_middleware
from cs_backend.auth.replay import create_seen_signatures
from cs_backend.auth.verifier import ServiceVerifier
from cs_backend.canned_responses import routes as canned_responses
from cs_backend.churn import routes as churn
from cs_backend.churn.active_model import ActiveChurnModel
from cs_backend.config import Settings
from cs_backend.console import routes as console
from cs_backend.conversations import routes as conversations
from cs_backend.customers import routes as customers
from cs_backend.db import Database
from cs_backend.events import routes as events
from cs_backend.events.slots import StreamSlots
from cs_backend.feedback import routes as feedback
from cs_backend.health import routes as health
from cs_backend.health_scores import consumer as health_consumer
from cs_backend.health_scores import routes as health_scores
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.signals import create_health_signals
from cs_backend.health_scores.weights import load_weights
from cs_backend.identities import routes as identities
from cs_backend.live_events import create_live_events
from cs_backend.meta import routes as meta
from cs_backend.metrics import routes as metrics
from cs_backend.metrics.collectors import Metrics
from cs_backend.metrics.middlewares import request_metrics_middleware
from cs_backend.migrate import head_revision
from cs_backend.onboarding import jobs as onboarding_jobs
from cs_backend.onboarding import routes as onboarding
from cs_backend.onboarding.checklist import load_checklist
from cs_backend.outcomes import jobs as outcomes_jobs
from cs_backend.outcomes import routes as outcomes
from cs_backend.privacy import jobs as privacy_jobs
from cs_backend.privacy import routes as privacy
from cs_backend.privacy.event_store import EventStore, event_store_for
from cs_backend.rasa_client import RasaClient
from cs_backend.ratelimit.limiter import create_limiter
from cs_backend.ratelimit.middlewares import address_rate_limit_middleware, caller_rate_limit_middleware
from cs_backend.ratelimit.rules import RateLimits
from cs_backend.routing import jobs as routing_jobs
from cs_backend.routing import position_updates
from cs_backend.routing import routes as routing
from cs_backend.routing.customer_relay import CustomerRelay
from cs_backend.routing.live_state import create_live_state
from cs_backend.routing.messages import HandoffMessaging
from cs_backend.routing.service import RoutingEngine
from cs_backend.segments import routes as segments
from cs_backend.surveys import jobs as survey_jobs
from cs_backend.surveys import routes as surveys
from cs_backend.surveys.delivery import SurveyCourier
from cs_backend.tickets import routes as tickets
from cs_backend.web.routes import setup_web

log = logging.getLogger(__name__)


async def database_context(app: web.Application) -> AsyncIterator[None]:
    # The engine connects lazily: startup succeeds with the database down, and /health/ready reports it.
    database = Database.connect(app[SETTINGS].database_url)
    app[DATABASE] = database
    yield
    await database.dispose()


async def live_events_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    live_events = create_live_events(settings.redis_url, settings.redis_channel)
    app[LIVE_EVENTS] = live_events
    yield
    await live_events.close()


async def routing_context(app: web.Application) -> AsyncIterator[None]:
    # Redis (REDIS_URL) or this process's memory; either is built from SQL on first use, not here, so
    # startup succeeds with the database or Redis down.
    settings = app[SETTINGS]
    live_state = create_live_state(settings.redis_url, settings.routing_key_prefix)
    app[ROUTING_ENGINE] = RoutingEngine(app[DATABASE], live_state, app[LIVE_EVENTS])
    yield
    await live_state.close()


async def checklist_context(app: web.Application) -> AsyncIterator[None]:
    # Read once at startup: a broken checklist file stops the backend instead of failing requests later.
    app[ONBOARDING_CHECKLIST] = load_checklist()
    yield


async def health_scorer_context(app: web.Application) -> AsyncIterator[None]:
    # Read once at startup: broken weights stop the backend instead of scoring customers wrongly.
    app[HEALTH_SCORER] = Scorer.of(load_weights(app[SETTINGS].health_weights_path))
    yield


async def churn_model_context(app: web.Application) -> AsyncIterator[None]:
    # Loaded once: a model that cannot be used is logged and left out, the health scores go on without it.
    app[CHURN_MODEL] = await asyncio.to_thread(ActiveChurnModel.load, app[SETTINGS].churn_model_dir)
    yield


async def health_signals_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    signals = create_health_signals(
        settings.redis_url,
        settings.health_signals_stream,
        settings.health_signals_group,
        settings.health_signals_claim_idle_seconds,
    )
    app[HEALTH_SIGNALS] = signals
    yield
    await signals.close()


async def rasa_client_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with RasaClient(settings.rasa_url, auth_token=settings.rasa_auth_token) as rasa:
        app[RASA_CLIENT] = rasa
        yield


async def survey_courier_context(app: web.Application) -> AsyncIterator[None]:
    courier = SurveyCourier(app[DATABASE], app[RASA_CLIENT], app[SETTINGS])
    app[SURVEY_COURIER] = courier
    yield
    await courier.close()


async def handoff_messaging_context(app: web.Application) -> AsyncIterator[None]:
    relay = CustomerRelay(app[RASA_CLIENT])
    app[HANDOFF_MESSAGING] = HandoffMessaging(app[DATABASE], app[ROUTING_ENGINE], relay, app[LIVE_EVENTS])
    yield


async def rate_limiter_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    limiter = create_limiter(settings.redis_url, settings.rate_limit_key_prefix)
    app[RATE_LIMITER] = limiter
    yield
    await limiter.close()


async def event_store_context(app: web.Application) -> AsyncIterator[None]:
    # Connects lazily: the events database may not exist before Rasa's first event.
    settings = app[SETTINGS]
    store = event_store_for(settings.rasa_events_url)
    tracker_store = EventStore(settings.rasa_tracker_url) if settings.rasa_tracker_url else None
    app[EVENT_STORE] = store
    app[TRACKER_STORE] = tracker_store
    yield
    for opened in (store, tracker_store):
        if opened is not None:
            await opened.close()


def service_auth_context(clock: Callable[[], float]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if settings.service_secret is None:
            # Secure by default, yet still running: health checks, the OpenAPI document and the demo page
            # keep working while every protected route answers 401.
            log.warning("CS_BACKEND_SERVICE_SECRET is not set: every protected route answers 401")
        seen = create_seen_signatures(settings.redis_url)
        verifier = ServiceVerifier(settings.service_secret, seen, clock=clock)
        app[SERVICE_VERIFIER] = verifier
        yield
        await verifier.close()

    return context


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> web.Application:
    """The app; `clock` (Unix seconds) is what signed requests' timestamps are compared with."""
    settings = settings if settings is not None else Settings.from_env()
    app = web.Application(
        # The request id first (outermost), so every log record of the request carries it; then the request
        # metrics, so every answer is timed with the status the client got. Errors next, so a 413 from the
        # size check or a 429 is rendered as JSON too; anonymous requests are counted per address before
        # anything else runs; the body size is checked before the auth middleware reads a body to check its
        # signature; authenticated callers are counted once known.
        middlewares=[
            request_id_middleware,
            request_metrics_middleware,
            error_middleware,
            address_rate_limit_middleware,
            body_size_middleware,
            auth_middleware,
            caller_rate_limit_middleware,
        ],
        # Also enforced while reading, for chunked bodies that declare no Content-Length.
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[SCHEMA_REVISION] = head_revision()
    app[API_ROUTES] = []
    app[ROUTE_ACCESS] = {}
    app[OPENAPI_DOCUMENT] = {}
    app[OPEN_EVENT_STREAMS] = set()
    app[EVENT_STREAM_SLOTS] = StreamSlots(
        settings.event_streams_max, settings.event_streams_per_principal_max
    )
    app[RATE_LIMITS] = RateLimits.from_settings(settings)
    # Read at each scrape: the resources exist only while the app runs.
    app[METRICS] = Metrics(
        pool=lambda: app[DATABASE].engine.pool if DATABASE in app else None,
        consumer_lag=lambda: app[OUTCOME_CONSUMER].lag if OUTCOME_CONSUMER in app else None,
    )
    app.cleanup_ctx.append(rate_limiter_context)
    app.cleanup_ctx.append(service_auth_context(clock))
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(live_events_context)
    app.cleanup_ctx.append(routing_context)  # after the database and live events it uses
    app.cleanup_ctx.append(checklist_context)
    app.cleanup_ctx.append(health_scorer_context)
    app.cleanup_ctx.append(churn_model_context)
    app.cleanup_ctx.append(health_signals_context)
    app.cleanup_ctx.append(rasa_client_context)
    app.cleanup_ctx.append(handoff_messaging_context)  # after the routing engine and the Rasa client
    app.cleanup_ctx.append(event_store_context)
    app.cleanup_ctx.append(survey_courier_context)  # after the database and the Rasa client
    # Background jobs (cs_backend/jobs.py) after the resources they use, so those outlive them.
    app.cleanup_ctx.append(onboarding_jobs.nudge_job_context)
    app.cleanup_ctx.append(outcomes_jobs.consumer_job_context)  # Rasa events → outcomes
    app.cleanup_ctx.append(privacy_jobs.retention_job_context)  # old transcripts purged
    app.cleanup_ctx.append(routing_jobs.sla_job_context)  # handoffs' SLA timers
    app.cleanup_ctx.append(position_updates.position_job_context)  # queued customers told their place
    app.cleanup_ctx.append(survey_jobs.delivery_job_context)  # surveys Rasa did not take at once
    app.cleanup_ctx.append(alerts_jobs.delivery_job_context)  # alerts' webhooks sent, with retries
    app.cleanup_ctx.append(health_consumer.outcomes_job_context)  # decided outcomes → health signals
    app.cleanup_ctx.append(health_consumer.consumer_context)  # health signals → rescores, red alerts
    app.on_shutdown.append(events.end_open_streams)
    app.on_response_prepare.append(echo_request_id)

    for module in (
        health,
        customers,
        identities,
        activities,
        health_scores,
        privacy,
        conversations,
        tickets,
        feedback,
        surveys,
        onboarding,
        churn,
        outcomes,
        events,
        accounts,
        routing,
        canned_responses,
        alerts,
        segments,
        console,
        analytics,
        meta,
        metrics,
    ):
        add_api_routes(app, module.ROUTES)
    # The demo page (cs_backend/web, owned separately); its widget talks to the Rasa server directly.
    setup_web(
        app,
        rasa_url=settings.rasa_url,
        website_secret=settings.website_identity_secret,
        demo_user=settings.demo_website_user,
    )
    return app
