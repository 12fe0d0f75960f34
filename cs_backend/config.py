"""Settings of cs_backend, read from environment variables.

Each setting is declared once, as a field of `Settings` with its `EnvVariable`: the variable's name, its
default, how its text is read and checked, and one line of documentation. `Settings.from_env()` reads the
variables from these declarations, and docs/ARCHITECTURE.md's settings table is generated from them
(cs_backend/reference.py). Every variable is optional, a blank one counts as unset, and the defaults are safe
for a single machine (bind to loopback, embedded SQLite, in-process live events).

Nothing is read at import time: `Settings.from_env()` reads the environment when called, and tests build
`Settings(...)` explicitly.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

from limits import parse as parse_limit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "cs_backend.db"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
DEFAULT_RASA_EVENTS_URL = f"sqlite:///{REPO_ROOT / 'var' / 'rasa_events.db'}"
_RASA_EVENTS_SCHEMES = frozenset(
    ("sqlite", "sqlite+aiosqlite", "postgres", "postgresql", "postgresql+asyncpg", "amqp", "amqps")
)

# A service secret set by hand must be at least this long (the launcher generates 43 characters).
MIN_SERVICE_SECRET_LENGTH = 32

# Request bodies above this size are refused with 413 (docs/API_CONTRACT.md: "larger than 64 KiB").
MAX_BODY_BYTES = 64 * 1024

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable has a value cs_backend cannot use."""


@dataclass(frozen=True)
class EnvVariable(Generic[T]):
    """The environment variable of one setting, and what the documentation says about it."""

    name: str
    default: T
    # (variable name, its stripped non-blank text) -> the value; raises SettingsError naming the variable.
    parse: Callable[[str, str], T]
    description: str
    # The default as the documentation shows it, where the value itself depends on the machine.
    shown_default: str | None = None
    # A credential: left out of the repr of Settings (and so of any log line or traceback showing it).
    secret: bool = False

    def read(self, env: Mapping[str, str]) -> T:
        # Blank means unset: the launcher passes REDIS_URL="" to mean "no Redis".
        text = env.get(self.name, "").strip()
        return self.parse(self.name, text) if text else self.default


_ENV_VARIABLE = "env_variable"


def _from_env(
    name: str,
    default: T,
    parse: Callable[[str, str], T],
    description: str,
    shown_default: str | None = None,
    *,
    secret: bool = False,
) -> T:
    """A Settings field read from the variable `name`; built in code, it has the variable's default."""
    variable = EnvVariable(name, default, parse, description, shown_default, secret)
    return field(default=default, repr=not secret, metadata={_ENV_VARIABLE: variable})


def _job_interval_from_env(name: str, default: float, description: str) -> float:
    """A background job's interval in seconds, read from the variable `name` (0 turns the job off); 0 in a
    Settings built in code, so an app made by a test or a script starts nothing behind its back."""
    variable = EnvVariable(name, default, _zero_or_more, description)
    return field(default=0.0, metadata={_ENV_VARIABLE: variable})


def _text(name: str, text: str) -> str:
    return text


def _port(name: str, text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} must be between 0 and 65535, got {port}")
    return port


def _log_level(name: str, text: str) -> str:
    level = text.upper()
    if not isinstance(logging.getLevelName(level), int):
        raise SettingsError(f"{name} must be a logging level name (DEBUG, INFO, ...), got {level!r}")
    return level


def _number(name: str, text: str, *, allow_zero: bool) -> float:
    """A finite number, > 0 (or >= 0 with allow_zero)."""
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise SettingsError(f"{name} must be {bound}, got {text!r}")
    return value


def _positive_number(name: str, text: str) -> float:
    return _number(name, text, allow_zero=False)


def _zero_or_more(name: str, text: str) -> float:
    return _number(name, text, allow_zero=True)


def _service_secret(name: str, text: str) -> str:
    if len(text) < MIN_SERVICE_SECRET_LENGTH:
        # The value itself is never shown: it is a credential.
        raise SettingsError(f"{name} must be at least {MIN_SERVICE_SECRET_LENGTH} characters long")
    return text


def _log_format(name: str, text: str) -> str:
    value = text.strip().lower()
    if value not in ("json", "text"):
        raise SettingsError(f"{name} must be json or text, got {text!r}")
    return value


def _metrics_token(name: str, text: str) -> str:
    if len(text) < MIN_SERVICE_SECRET_LENGTH:
        raise SettingsError(f"{name} must be at least {MIN_SERVICE_SECRET_LENGTH} characters long")
    return text


def _rate_limit(name: str, text: str) -> str:
    """A rate limit in the `limits` library's notation: "120/minute", "10 per 15 minutes"."""
    try:
        limit = parse_limit(text)
    except ValueError:
        raise SettingsError(
            f"{name} must be a rate limit such as 120/minute or 10/15 minutes, got {text!r}"
        ) from None
    if limit.amount < 1:
        raise SettingsError(f"{name} must allow at least 1 request, got {text!r}")
    return text


def _count(name: str, text: str) -> int:
    """A whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more, got {value}")
    return value


def _trusted_proxies(name: str, text: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (CIDR) of the reverse proxies in front of cs_backend."""
    networks = tuple(part.strip() for part in text.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must list IP addresses or networks, got {network!r}") from None
    return networks


_COOKIE_SECURE_MODES = ("auto", "true", "false")


def _cookie_secure(name: str, text: str) -> str:
    mode = text.lower()
    if mode not in _COOKIE_SECURE_MODES:
        raise SettingsError(f"{name} must be auto, true or false, got {text!r}")
    return mode


def _rasa_events_url(name: str, text: str) -> str:
    scheme = text.partition("://")[0]
    if scheme.lower() not in _RASA_EVENTS_SCHEMES:
        raise SettingsError(f"{name} must be sqlite:///..., postgresql://... or amqp://..., got {scheme!r}")
    return text


def _sql_url(name: str, text: str) -> str:
    scheme = text.partition("://")[0]
    if scheme.lower() not in _RASA_EVENTS_SCHEMES or scheme.lower().startswith("amqp"):
        raise SettingsError(f"{name} must be sqlite:///... or postgresql://..., got {scheme!r}")
    return text


def _webhook_url(name: str, text: str) -> str:
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise SettingsError(f"{name} must be an http:// or https:// URL")  # the URL may hold a token
    return text


def _path(name: str, text: str) -> Path:
    return Path(text).expanduser()


@dataclass(frozen=True)
class Settings:
    database_url: str = _from_env(
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        _text,
        "SQLAlchemy URL of the database: postgresql://, postgres://, postgresql+asyncpg://, sqlite:/// "
        "or sqlite+aiosqlite:/// (normalised to the async drivers, asyncpg and aiosqlite, by "
        "db.normalize_database_url). The default's directory is created if needed.",
        shown_default="sqlite+aiosqlite:///<repo root>/var/cs_backend.db",
    )
    redis_url: str | None = _from_env(
        "REDIS_URL",
        None,
        _text,
        "Redis URL for live events (pub/sub), e.g. redis://127.0.0.1:6379/0. Unset: live events stay "
        "inside this process (fine for one backend process).",
    )
    host: str = _from_env(
        "CS_BACKEND_HOST",
        "127.0.0.1",
        _text,
        "Interface to bind (the default is not reachable from other machines).",
    )
    port: int = _from_env("CS_BACKEND_PORT", 8000, _port, "Port to bind (0-65535).")
    rasa_url: str = _from_env(
        "RASA_URL",
        "http://127.0.0.1:5005",
        _text,
        "Base URL of the Rasa server, used by the demo page's chat widget and by the onboarding nudge "
        "job (Rasa's HTTP API: run Rasa with --enable-api).",
    )
    rasa_auth_token: str | None = _from_env(
        "RASA_AUTH_TOKEN",
        None,
        _text,
        "Token of Rasa's HTTP API (Rasa's --auth-token), sent as the `token` query parameter of every call "
        "to Rasa and never logged. The launcher sets it (the same for Rasa; random for the run when unset). "
        "Unset: calls carry no token, and a Rasa that requires one refuses them (401).",
        secret=True,
    )
    service_secret: str | None = _from_env(
        "CS_BACKEND_SERVICE_SECRET",
        None,
        _service_secret,
        "Shared secret of the service callers (the action server, scripts): each signs its requests with it "
        f"(HMAC-SHA256, docs/API_CONTRACT.md), at least {MIN_SERVICE_SECRET_LENGTH} characters, never "
        "logged. The launcher sets it (the same for the action server; random for the run when unset). "
        "Unset: no service call is accepted (401); signed-in agents and admins still are, where a route "
        "allows them.",
        secret=True,
    )
    account_session_hours: float = _from_env(
        "ACCOUNT_SESSION_HOURS",
        12.0,
        _positive_number,
        "Hours a signed-in agent's or admin's session lasts (POST /api/auth/login; more than 0, fractions "
        "allowed); after that its bearer token answers 401 and the person signs in again.",
    )
    session_cookie_secure: str = _from_env(
        "SESSION_COOKIE_SECURE",
        "auto",
        _cookie_secure,
        "Whether the cookies of a browser session (POST /api/auth/cookie-login) are marked Secure (sent "
        "over HTTPS only): true, false, or auto: Secure unless the request's host is localhost or a "
        "loopback address (a browser on the same machine, over plain HTTP). Set false only to serve pages "
        "over plain HTTP to other machines.",
    )
    rate_limit_anonymous: str = _from_env(
        "RATE_LIMIT_ANONYMOUS",
        "300/minute",
        _rate_limit,
        "Requests without a credential (public routes, the demo page, refused calls), per client address "
        "(an IPv6 client per /64); over it: 429 with Retry-After. Notation of the `limits` library: "
        "120/minute, 10/15 minutes, 5000/hour (a moving window).",
    )
    rate_limit_refused_credentials: str = _from_env(
        "RATE_LIMIT_REFUSED_CREDENTIALS",
        "60/minute",
        _rate_limit,
        "Requests whose credential was refused (401), per client address; once over it, that address's "
        "requests with a credential get 429 before it is checked.",
    )
    rate_limit_account: str = _from_env(
        "RATE_LIMIT_ACCOUNT",
        "600/minute",
        _rate_limit,
        "Requests of one signed-in agent or admin (bearer or cookie session), per account, from any address.",
    )
    rate_limit_service: str = _from_env(
        "RATE_LIMIT_SERVICE",
        "6000/minute",
        _rate_limit,
        "Signed service calls (the action server carries every customer's conversation, jobs, scripts), "
        "together: a ceiling against a runaway caller, not a per-customer limit.",
    )
    rate_limit_sign_in_per_address: str = _from_env(
        "RATE_LIMIT_SIGN_IN_PER_ADDRESS",
        "20/minute",
        _rate_limit,
        "Sign-in attempts (POST /api/auth/login and /api/auth/cookie-login) per client address, counted "
        "before the password is checked: over it, 429 without hashing anything.",
    )
    rate_limit_sign_in_per_email: str = _from_env(
        "RATE_LIMIT_SIGN_IN_PER_EMAIL",
        "10/15 minutes",
        _rate_limit,
        "Sign-in attempts per email address (lower-cased), from any address: slows guessing one "
        "person's password from many addresses.",
    )
    trusted_proxies: tuple[str, ...] = _from_env(
        "TRUSTED_PROXIES",
        (),
        _trusted_proxies,
        "Comma-separated addresses or networks (CIDR) of the reverse proxies in front of cs_backend. Only "
        "a request from one of them has its X-Forwarded-For read, right to left, skipping these proxies, "
        "to find the client address that rate limits count by. Unset: X-Forwarded-For is ignored (anyone "
        "can write it).",
        shown_default="(none)",
    )
    event_streams_max: int = _from_env(
        "EVENT_STREAMS_MAX",
        200,
        _count,
        "Open GET /api/events streams and agent console websockets (GET /api/console/ws) this process "
        "serves at once; the next gets 503 with Retry-After (the open ones keep working).",
    )
    event_streams_per_principal_max: int = _from_env(
        "EVENT_STREAMS_PER_PRINCIPAL_MAX",
        10,
        _count,
        "Open GET /api/events streams and console websockets per signed-in account (or for the service) in "
        "this process; the next gets 429 with Retry-After.",
    )
    log_level: str = _from_env(
        "LOG_LEVEL", "INFO", _log_level, "Python logging level name (DEBUG, INFO, WARNING, ...)."
    )
    log_format: str = _from_env(
        "LOG_FORMAT",
        "json",
        _log_format,
        "`json`: one JSON object per log record (time, level, logger, message, request_id, and the access "
        "log's status and duration_ms), for log collectors; `text`: one readable line each (the launcher "
        "sets it for `make run` unless LOG_FORMAT is set).",
    )
    metrics_token: str | None = _from_env(
        "METRICS_TOKEN",
        None,
        _metrics_token,
        "Bearer token of GET /metrics (Prometheus: `authorization: {credentials: ...}`), at least "
        f"{MIN_SERVICE_SECRET_LENGTH} characters, never logged. Unset: GET /metrics answers 404 (the "
        "metrics are not published).",
        secret=True,
    )
    # Redis pub/sub channel of the live events; tests give each test its own so runs cannot interfere.
    redis_channel: str = "cs_backend:live-events"
    max_body_bytes: int = MAX_BODY_BYTES
    # Prefix of the rate limits' Redis keys; tests give each test its own, like the channel above.
    rate_limit_key_prefix: str = "cs_backend:rate-limit"
    onboarding_stalled_after_hours: float = _from_env(
        "ONBOARDING_STALLED_AFTER_HOURS",
        24.0,
        _positive_number,
        "A customer whose onboarding is not complete is stalled when their last onboarding activity "
        "(or, without any, their first contact) is older than this many hours (more than 0, fractions "
        "allowed).",
    )
    onboarding_nudge_interval_seconds: float = _job_interval_from_env(
        "ONBOARDING_NUDGE_INTERVAL_SECONDS",
        300.0,
        "Seconds between two runs of the background job that nudges stalled customers through Rasa (the "
        "first run comes one interval after startup). 0 disables the job (`python -m cs_backend "
        "nudge-stalled` still runs it once on demand).",
    )
    survey_cooldown_hours: float = _from_env(
        "SURVEY_COOLDOWN_HOURS",
        72.0,
        _zero_or_more,
        "Survey fatigue: a survey trigger (ticket resolved, handoff ended, onboarding completed) within this "
        "many hours of the customer's last survey asks nothing (the survey is stored as suppressed). 0 "
        "disables the cooldown.",
    )
    survey_delivery_interval_seconds: float = _job_interval_from_env(
        "SURVEY_DELIVERY_INTERVAL_SECONDS",
        60.0,
        "Seconds between two runs of the background job that delivers the surveys Rasa did not take at once "
        "(ticket resolved) and abandons those older than SURVEY_DELIVERY_GIVE_UP_HOURS. 0 disables the job.",
    )
    survey_delivery_give_up_hours: float = _from_env(
        "SURVEY_DELIVERY_GIVE_UP_HOURS",
        24.0,
        _positive_number,
        "A survey Rasa has not taken this many hours after it was opened is abandoned (never sent: a late "
        "survey is worse than none).",
    )
    rasa_events_url: str = _from_env(
        "RASA_EVENTS_URL",
        DEFAULT_RASA_EVENTS_URL,
        _rasa_events_url,
        "Where Rasa's event broker (endpoints.yml `event_broker`) puts the conversation events that "
        "cs_backend turns into conversation outcomes: an SQL URL (sqlite:///, postgresql://, ...: the "
        "SQL broker's `events` table, polled; SQLite is opened read-only) or amqp:// / amqps:// "
        "(RabbitMQ: the pika broker's queue).",
        shown_default="sqlite:///<repo root>/var/rasa_events.db",
    )
    rasa_tracker_url: str | None = _from_env(
        "RASA_TRACKER_URL",
        None,
        _sql_url,
        "The database of Rasa's SQL tracker store (endpoints.yml `tracker_store`), an SQL URL (sqlite:///, "
        "postgresql://, ...). A customer's deletion and the transcript retention job delete their "
        "conversations' rows there: Rasa's API can empty a tracker but the SQL tracker store keeps the rows "
        "it already wrote. Unset: no SQL tracker store to clean (the launcher sets it to match "
        "RASA_TRACKER_DB).",
    )
    rasa_events_queue: str = _from_env(
        "RASA_EVENTS_QUEUE",
        "rasa_events",
        _text,
        "The RabbitMQ queue to consume when RASA_EVENTS_URL is amqp://; list it under the pika broker's "
        "`queues` in endpoints.yml.",
    )
    outcome_poll_interval_seconds: float = _job_interval_from_env(
        "OUTCOME_POLL_INTERVAL_SECONDS",
        2.0,
        "Seconds between two reads of the event stream (fractions allowed). 0 disables the outcomes "
        "consumer.",
    )
    outcome_abandon_after_minutes: float = _from_env(
        "OUTCOME_ABANDON_AFTER_MINUTES",
        30.0,
        _positive_number,
        "A conversation session without a customer message for this many minutes has ended; it is "
        "decided then (abandoned if a form or a fallback question was open).",
    )

    transcript_retention_days: float = _from_env(
        "TRANSCRIPT_RETENTION_DAYS",
        90.0,
        _zero_or_more,
        "Conversation transcripts are kept this many days (fractions allowed): the retention job deletes "
        "older events from the event store (the SQL broker's table), and empties the Rasa trackers of "
        "conversations without an event since. 0 keeps them forever.",
    )
    transcript_retention_interval_seconds: float = _job_interval_from_env(
        "TRANSCRIPT_RETENTION_INTERVAL_SECONDS",
        3600.0,
        "Seconds between two runs of the transcript retention job (it also runs at startup). 0 disables it.",
    )
    # Prefix of the routing live state's Redis keys; tests give each test its own so runs cannot interfere.
    routing_key_prefix: str = "cs_backend:routing:"
    routing_accept_seconds: float = _from_env(
        "ROUTING_ACCEPT_SECONDS",
        60.0,
        _positive_number,
        "Seconds an agent has to accept a handoff offered to them; after that the offer lapses, the handoff "
        "is escalated (priority one step up) and offered to the next eligible agent, never again to them.",
    )
    routing_first_response_seconds: float = _from_env(
        "ROUTING_FIRST_RESPONSE_SECONDS",
        120.0,
        _positive_number,
        "Seconds an agent has, after accepting a handoff, to answer the customer; after that it is "
        "escalated and goes back to the queue for another agent.",
    )
    routing_resolution_seconds: float = _from_env(
        "ROUTING_RESOLUTION_SECONDS",
        3600.0,
        _positive_number,
        "Seconds from a handoff's queueing to its resolution; a handoff still open after that is escalated "
        "once (priority one step up, a recorded breach, a live event).",
    )
    routing_sla_interval_seconds: float = _job_interval_from_env(
        "ROUTING_SLA_INTERVAL_SECONDS",
        5.0,
        "Seconds between two runs of the job that checks the handoffs' SLA timers, offers what business "
        "hours now allow and rebuilds a lost live state (fractions allowed). 0 disables it.",
    )
    routing_position_update_seconds: float = _job_interval_from_env(
        "ROUTING_POSITION_UPDATE_SECONDS",
        30.0,
        "Seconds between two runs of the job that tells queued customers their new place in the queue and "
        "estimated wait (through Rasa), only when it changed; a customer hears at most one update per this "
        "many seconds. 0 disables it.",
    )

    alert_webhook_url: str | None = _from_env(
        "ALERT_WEBHOOK_URL",
        None,
        _webhook_url,
        "Where alerts (a customer's health turning red, negative feedback; cs_backend/alerts) are POSTed "
        'as JSON, signed with ALERT_WEBHOOK_SECRET (docs/HEALTH_SCORES.md, "Alert webhook"), e.g. a Slack '
        "incoming webhook. Unset: alerts are only stored as tasks and published live. Never logged.",
        secret=True,
    )
    alert_webhook_secret: str | None = _from_env(
        "ALERT_WEBHOOK_SECRET",
        None,
        _service_secret,
        "Secret of the alert webhook's HMAC-SHA256 signature (X-CS-Signature), at least 32 characters; "
        "required with ALERT_WEBHOOK_URL.",
        secret=True,
    )
    alert_delivery_interval_seconds: float = _job_interval_from_env(
        "ALERT_DELIVERY_INTERVAL_SECONDS",
        2.0,
        "Seconds between two runs of the job that sends the alerts waiting for delivery to "
        "ALERT_WEBHOOK_URL (fractions allowed). 0 disables it.",
    )
    alert_delivery_max_attempts: int = _from_env(
        "ALERT_DELIVERY_MAX_ATTEMPTS",
        8,
        _count,
        "Attempts to deliver one alert to the webhook (backing off 5 s, 10 s, 20 s, ... up to an hour) "
        "before it is given up as dead and logged.",
    )
    health_weights_path: Path | None = _from_env(
        "HEALTH_WEIGHTS_PATH",
        None,
        _path,
        "A TOML file of the health score's weights and bands replacing the bundled "
        "cs_backend/health_scores/weights.toml (read and checked at startup: a bad file stops the backend).",
    )
    churn_model_dir: Path | None = _from_env(
        "CHURN_MODEL_DIR",
        None,
        _path,
        "A churn model directory written by `python -m cs_backend churn-train` (model.skops, metadata.json): "
        "when it loads, each customer's health response carries its churn probability (docs/CHURN.md).",
    )
    health_signals_poll_seconds: float = _job_interval_from_env(
        "HEALTH_SIGNALS_POLL_SECONDS",
        1.0,
        "Seconds the consumer of the health signals waits for one per read (each signal rescores its "
        "customer), and between two looks for newly decided conversation outcomes to signal (fractions "
        "allowed). 0 disables both: scores then change only with `python -m cs_backend health-rescore`.",
    )
    health_signals_claim_idle_seconds: float = _from_env(
        "HEALTH_SIGNALS_CLAIM_IDLE_SECONDS",
        60.0,
        _positive_number,
        "With REDIS_URL: a health signal read but not acknowledged for this many seconds (its consumer "
        "stopped, or its rescore failed) is claimed and handled by another consumer (or the same one).",
    )
    website_identity_secret: str | None = _from_env(
        "WEBSITE_IDENTITY_SECRET",
        None,
        _service_secret,
        "The website's identity secret: its server signs each signed-in user's id with it (userHash = hex "
        "HMAC-SHA256 of the user id), and the same value is given to Rasa, whose widget channel verifies it; "
        "here it proves the user asking for a link code (POST /api/identities/link-codes). At least 32 "
        "characters, never logged. Unset: website users are not verified and no link code is issued.",
        secret=True,
    )
    demo_website_user: str | None = _from_env(
        "DEMO_WEBSITE_USER",
        None,
        _text,
        "The demo website's signed-in user id: GET /demo/signed-in is the demo page with that user signed "
        "in (its userHash made with WEBSITE_IDENTITY_SECRET), and anyone who opens it is that user. "
        "Unset: no such page. The launcher sets demo-ada only when it generated WEBSITE_IDENTITY_SECRET for "
        "the run; a site with its own secret never shows it unless this is set.",
    )
    telegram_bot_username: str | None = _from_env(
        "TELEGRAM_BOT_USERNAME",
        None,
        _text,
        "The Telegram bot's username (without @): a link code also comes as the deep link "
        "https://t.me/<username>?start=<token>. Unset: codes only.",
    )
    link_code_minutes: float = _from_env(
        "LINK_CODE_MINUTES",
        10.0,
        _positive_number,
        "Minutes a link code (and its deep link) stays usable; each is single use.",
    )
    # The Redis stream of the health signals and its consumer group; tests give each test its own stream.
    health_signals_stream: str = "cs_backend:health-signals"
    health_signals_group: str = "health-rescore"

    def __post_init__(self) -> None:
        if self.alert_webhook_url is not None and self.alert_webhook_secret is None:
            raise SettingsError(
                "ALERT_WEBHOOK_URL needs ALERT_WEBHOOK_SECRET (its receiver checks signatures)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(**{variable_field.name: variable.read(env) for variable_field, variable in _variables()})


def _variables() -> list[tuple[Field[Any], EnvVariable[Any]]]:
    return [
        (settings_field, settings_field.metadata[_ENV_VARIABLE])
        for settings_field in fields(Settings)
        if _ENV_VARIABLE in settings_field.metadata
    ]


def environment_variables() -> list[EnvVariable[Any]]:
    """The environment variable of every setting read from one, in declaration order."""
    return [variable for _, variable in _variables()]
