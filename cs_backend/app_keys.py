"""Typed keys of the application's state, in their own module so route modules can import them without
importing main.py (which imports every route module)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from cs_backend.accounts.models import Account, AccountSession
from cs_backend.auth.verifier import ServiceVerifier
from cs_backend.churn.active_model import ActiveChurnModel
from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.events.slots import StreamSlots
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.signals import HealthSignals
from cs_backend.live_events import LiveEvents, Subscription
from cs_backend.onboarding.checklist import Checklist
from cs_backend.privacy.event_store import EventStore
from cs_backend.rasa_client import RasaClient
from cs_backend.ratelimit.limiter import Limiter
from cs_backend.ratelimit.rules import RateLimits
from cs_backend.routing.messages import HandoffMessaging
from cs_backend.routing.service import RoutingEngine

if TYPE_CHECKING:
    from cs_backend.api.registry import Access, ApiRoute

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
LIVE_EVENTS = web.AppKey[LiveEvents]("live_events")
# The alembic revision the code expects; /health/ready compares the database's against it.
SCHEMA_REVISION = web.AppKey("schema_revision", str)
# Documented API routes, in registration order (api/openapi.py builds the document from them).
API_ROUTES = web.AppKey[list["ApiRoute"]]("api_routes")
# The access each registered API route declares, by aiohttp route (what the auth middleware matched); routes
# not in it (the demo page, /static) are public.
ROUTE_ACCESS = web.AppKey[dict[web.AbstractRoute, "Access"]]("route_access")
# Checks the signatures of service calls (cs_backend/auth), created at startup by main.service_auth_context.
SERVICE_VERIFIER = web.AppKey("service_verifier", ServiceVerifier)
# The signed-in person behind a request with a bearer session, and that session (set by the auth middleware).
CURRENT_ACCOUNT = web.RequestKey("current_account", Account)
CURRENT_SESSION = web.RequestKey("current_session", AccountSession)
# Who is behind an authenticated request, as rate limits and the event-stream cap count callers: "service",
# or "account:<id>" for a signed-in person (set by the auth middleware).
CURRENT_CALLER = web.RequestKey("current_caller", str)
# The rate limits (from the settings) and the limiter that counts them (created at startup).
RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
RATE_LIMITER = web.AppKey("rate_limiter", Limiter)
# The open /api/events streams per caller, within this process's caps.
EVENT_STREAM_SLOTS = web.AppKey("event_stream_slots", StreamSlots)
# Built on first request and reused: the routes cannot change once the app runs.
OPENAPI_DOCUMENT = web.AppKey[dict[str, Any]]("openapi_document")
# Subscriptions of the open /api/events streams, ended on shutdown so that shutdown does not wait for them.
OPEN_EVENT_STREAMS = web.AppKey[set[Subscription]]("open_event_streams")
# The onboarding checklist, loaded (and validated) at startup by main.checklist_context.
ONBOARDING_CHECKLIST = web.AppKey("onboarding_checklist", Checklist)
# The client of Rasa's HTTP API, opened at startup by main.rasa_client_context.
RASA_CLIENT = web.AppKey("rasa_client", RasaClient)
# Rasa's SQL event broker table, for a customer's export and deletion and the transcript retention job; None
# when the events come through RabbitMQ (main.event_store_context).
EVENT_STORE = web.AppKey[EventStore | None]("event_store")
# The rows of Rasa's SQL tracker store (the same `events` table name and sender_id column), for a customer's
# deletion and the retention job; None when RASA_TRACKER_URL is unset (main.event_store_context).
TRACKER_STORE = web.AppKey[EventStore | None]("tracker_store")

# The routing engine (handoff requests, the live queue and agents' presence), created at startup by
# main.routing_context.
ROUTING_ENGINE = web.AppKey("routing_engine", RoutingEngine)
# A handoff's transcript and the messages relayed between customer and agent (routing/messages.py), created
# at startup by main.handoff_messaging_context.
HANDOFF_MESSAGING = web.AppKey("handoff_messaging", HandoffMessaging)

# The health score's weights (health_scores/weights.toml or HEALTH_WEIGHTS_PATH), loaded and checked at
# startup by main.health_scorer_context.
HEALTH_SCORER = web.AppKey("health_scorer", Scorer)
# The churn model of CHURN_MODEL_DIR (churn/active_model.py; no model when unset or refused), loaded at
# startup by main.churn_model_context.
CHURN_MODEL = web.AppKey("churn_model", ActiveChurnModel)
# "Rescore this customer" (health_scores/signals.py): a Redis stream with a consumer group, or an in-process
# queue; created at startup by main.health_signals_context. Domains publish after their commit.
HEALTH_SIGNALS = web.AppKey[HealthSignals]("health_signals")
