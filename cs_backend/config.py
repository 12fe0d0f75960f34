"""Settings of cs_backend, read from environment variables.

Every variable is optional; the defaults are safe for a single machine (bind to loopback, embedded SQLite,
in-process live events):

    DATABASE_URL     SQLAlchemy URL of the database.
                     Default: sqlite+aiosqlite:///<repo root>/var/cs_backend.db (var/ is created if needed).
                     Accepted: postgresql://, postgres://, postgresql+asyncpg://, sqlite:///,
                     sqlite+aiosqlite:///; normalised to the async drivers (asyncpg, aiosqlite) by
                     db.normalize_database_url.
    REDIS_URL        Redis URL for live events (pub/sub), e.g. redis://127.0.0.1:6379/0.
                     Unset or empty: live events stay inside this process (fine for one backend process).
    CS_BACKEND_HOST  Interface to bind (127.0.0.1: not reachable from other machines unless asked for).
    CS_BACKEND_PORT  Port to bind (8000).
    RASA_URL         Base URL of the Rasa server, used by the demo web page's chat widget and by the
                     onboarding nudge job (Rasa's HTTP API: run Rasa with --enable-api)
                     (http://127.0.0.1:5005).
    LOG_LEVEL        Python logging level name (INFO).
    ONBOARDING_STALLED_AFTER_HOURS
                     A customer whose onboarding is not complete is stalled when their last onboarding
                     activity (or, without any, their first contact) is older than this many hours (24;
                     a positive number, fractions allowed).
    ONBOARDING_NUDGE_INTERVAL_SECONDS
                     Seconds between two runs of the background job that nudges stalled customers through
                     Rasa (300; the first run comes one interval after startup). 0 disables the job
                     (`python -m cs_backend nudge-stalled` still runs it once on demand).
    RASA_EVENTS_URL  Where Rasa's event broker (endpoints.yml `event_broker`) puts the conversation events
                     that cs_backend turns into conversation outcomes (cs_backend/outcomes):
                     an SQL URL (sqlite:///, postgresql://, ...: the SQL broker's `events` table, polled;
                     SQLite is opened read-only) or amqp:// / amqps:// (RabbitMQ: the pika broker's queue).
                     Default: sqlite:///<repo root>/var/rasa_events.db.
    RASA_EVENTS_QUEUE
                     The RabbitMQ queue to consume when RASA_EVENTS_URL is amqp:// (rasa_events); list it
                     under the pika broker's `queues` in endpoints.yml.
    OUTCOME_POLL_INTERVAL_SECONDS
                     Seconds between two reads of the event stream (2; fractions allowed). 0 disables the
                     outcomes consumer. `Settings()` built in code (the tests) defaults to 0, so a test app
                     never reads a real Rasa events database unless the test asks for it.
    OUTCOME_ABANDON_AFTER_MINUTES
                     A conversation session without a customer message for this many minutes has ended;
                     it is decided then (abandoned if a form or a fallback question was open) (30).

Nothing is read at import time: `Settings.from_env()` reads the environment when called, and tests build
`Settings(...)` explicitly.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "cs_backend.db"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
DEFAULT_RASA_EVENTS_URL = f"sqlite:///{REPO_ROOT / 'var' / 'rasa_events.db'}"
_RASA_EVENTS_SCHEMES = frozenset(
    ("sqlite", "sqlite+aiosqlite", "postgres", "postgresql", "postgresql+asyncpg", "amqp", "amqps")
)

# Request bodies above this size are refused with 413 (docs/API_CONTRACT.md: "larger than 64 KiB").
MAX_BODY_BYTES = 64 * 1024


class SettingsError(ValueError):
    """An environment variable has a value cs_backend cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    log_level: str = "INFO"
    # Redis pub/sub channel of the live events; tests give each test its own so runs cannot interfere.
    redis_channel: str = "cs_backend:live-events"
    max_body_bytes: int = MAX_BODY_BYTES
    onboarding_stalled_after_hours: float = 24.0
    # Background jobs are off (0) in a Settings built in code, so an app made by a test or a script starts
    # nothing behind its back; from_env turns them on with the documented defaults (300 s and 2 s).
    onboarding_nudge_interval_seconds: float = 0.0
    rasa_events_url: str = DEFAULT_RASA_EVENTS_URL
    rasa_events_queue: str = "rasa_events"
    outcome_poll_interval_seconds: float = 0.0
    outcome_abandon_after_minutes: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port_text = env.get("CS_BACKEND_PORT", "").strip() or "8000"
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"CS_BACKEND_PORT must be a port number, got {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise SettingsError(f"CS_BACKEND_PORT must be between 0 and 65535, got {port}")
        log_level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if not isinstance(logging.getLevelName(log_level), int):
            raise SettingsError(
                f"LOG_LEVEL must be a logging level name (DEBUG, INFO, ...), got {log_level!r}"
            )
        stalled_after_hours = _number(env, "ONBOARDING_STALLED_AFTER_HOURS", 24.0, allow_zero=False)
        nudge_interval_seconds = _number(env, "ONBOARDING_NUDGE_INTERVAL_SECONDS", 300.0, allow_zero=True)
        rasa_events_url = env.get("RASA_EVENTS_URL", "").strip() or DEFAULT_RASA_EVENTS_URL
        if rasa_events_url.partition("://")[0].lower() not in _RASA_EVENTS_SCHEMES:
            raise SettingsError(
                "RASA_EVENTS_URL must be sqlite:///..., postgresql://... or amqp://..., "
                f"got {rasa_events_url.partition('://')[0]!r}"
            )
        outcome_poll_seconds = _number(env, "OUTCOME_POLL_INTERVAL_SECONDS", 2.0, allow_zero=True)
        abandon_after_minutes = _number(env, "OUTCOME_ABANDON_AFTER_MINUTES", 30.0, allow_zero=False)
        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            # The launcher passes REDIS_URL="" to mean "no Redis", so empty counts as unset.
            redis_url=env.get("REDIS_URL", "").strip() or None,
            host=env.get("CS_BACKEND_HOST", "").strip() or "127.0.0.1",
            port=port,
            rasa_url=env.get("RASA_URL", "").strip() or "http://127.0.0.1:5005",
            log_level=log_level,
            onboarding_stalled_after_hours=stalled_after_hours,
            onboarding_nudge_interval_seconds=nudge_interval_seconds,
            rasa_events_url=rasa_events_url,
            rasa_events_queue=env.get("RASA_EVENTS_QUEUE", "").strip() or "rasa_events",
            outcome_poll_interval_seconds=outcome_poll_seconds,
            outcome_abandon_after_minutes=abandon_after_minutes,
        )


def _number(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool) -> float:
    """A finite number of the environment, > 0 (or >= 0 with allow_zero); empty means the default."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise SettingsError(f"{name} must be {bound}, got {text!r}")
    return value
