"""The action server's Prometheus metrics (`GET /metrics`, bot/action_server.py).

- `actions_backend_requests_total{outcome}`: every HTTP attempt the actions' client makes to cs_backend
  (retries and outbox replays included), by outcome: `success` (2xx), `refused` (4xx), `server_error` (5xx),
  `unreachable` (no answer: connection error or timeout).
- `actions_outbox_pending`: writes waiting in the outbox (actions/api/outbox.py).
- `actions_outbox_oldest_age_seconds`: how long the oldest of them has waited (0 when none).
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest

from actions.api.outbox import Outbox

OUTCOMES = ("success", "refused", "server_error", "unreachable")

BACKEND_REQUESTS = Counter(
    "actions_backend_requests",
    "HTTP attempts of the actions' client to cs_backend, by outcome",
    ["outcome"],
)
for _outcome in OUTCOMES:  # every series exists from the start, at 0
    BACKEND_REQUESTS.labels(outcome=_outcome)
OUTBOX_PENDING = Gauge("actions_outbox_pending", "Writes to cs_backend waiting in the outbox")
OUTBOX_OLDEST_AGE = Gauge(
    "actions_outbox_oldest_age_seconds", "Seconds the oldest pending write has waited in the outbox"
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def count_attempt(status: int | None) -> None:
    """One attempt: its HTTP status, or None when no answer came."""
    if status is None:
        outcome = "unreachable"
    elif status >= 500:
        outcome = "server_error"
    elif status >= 400:
        outcome = "refused"
    else:
        outcome = "success"
    BACKEND_REQUESTS.labels(outcome=outcome).inc()


async def render(outbox: Outbox) -> bytes:
    """The metrics in Prometheus' text format, the outbox's gauges read now."""
    depth = await outbox.depth()
    OUTBOX_PENDING.set(depth.pending)
    OUTBOX_OLDEST_AGE.set(depth.oldest_age(time.time()))
    return generate_latest(REGISTRY)
