"""Settings from the environment and DATABASE_URL normalisation (no servers needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cs_backend.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_RASA_EVENTS_URL,
    REPO_ROOT,
    Settings,
    SettingsError,
)
from cs_backend.db import DatabaseUrlError, UTCDateTime, normalize_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("POSTGRES://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        # A password with escaped characters survives unchanged.
        ("postgresql://u:p%40ss%25@db/app", "postgresql+asyncpg://u:p%40ss%25@db/app"),
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite:////abs/path.db", "sqlite+aiosqlite:////abs/path.db"),
        ("sqlite+aiosqlite:////abs/path.db", "sqlite+aiosqlite:////abs/path.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_database_urls_are_normalised_to_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
    assert normalize_database_url(expected) == expected  # idempotent


@pytest.mark.parametrize("given", ["mysql://u@db/app", "postgresql+psycopg2://u@db/app", "not a url", ""])
def test_unsupported_database_urls_are_refused_clearly(given: str) -> None:
    with pytest.raises(DatabaseUrlError, match=r"postgresql|database URL"):
        normalize_database_url(given)


def test_defaults_are_safe_for_one_machine() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'cs_backend.db'}" == DEFAULT_DATABASE_URL
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.rasa_auth_token is None
    assert settings.log_level == "INFO"
    assert settings.max_body_bytes == 64 * 1024


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u@db/app",
            "REDIS_URL": "redis://cache:6379/1",
            "CS_BACKEND_HOST": "0.0.0.0",
            "CS_BACKEND_PORT": "9000",
            "RASA_URL": "http://rasa:5005",
            "RASA_AUTH_TOKEN": "rasa-api-token-from-env",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.database_url == "postgres://u@db/app"  # normalised where it is used
    assert settings.redis_url == "redis://cache:6379/1"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.rasa_url == "http://rasa:5005"
    assert settings.rasa_auth_token == "rasa-api-token-from-env"
    assert settings.log_level == "DEBUG"


def test_the_rasa_token_is_not_in_the_settings_repr() -> None:
    # Settings reach log lines and tracebacks through their repr; the token must not.
    settings = Settings.from_env({"RASA_AUTH_TOKEN": "rasa-api-token-from-env"})
    assert "rasa-api-token-from-env" not in repr(settings)
    assert "rasa_url=" in repr(settings)


def test_empty_variables_mean_unset() -> None:
    # The launcher passes REDIS_URL="" for "no Redis".
    settings = Settings.from_env({"REDIS_URL": "", "DATABASE_URL": " ", "CS_BACKEND_PORT": ""})
    assert settings.redis_url is None
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.port == 8000


def test_onboarding_settings_defaults_and_environment() -> None:
    defaults = Settings.from_env({})
    assert defaults.onboarding_stalled_after_hours == 24
    assert defaults.onboarding_nudge_interval_seconds == 300
    assert Settings().onboarding_nudge_interval_seconds == 0  # built in code: no background job
    settings = Settings.from_env(
        {"ONBOARDING_STALLED_AFTER_HOURS": "1.5", "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0"}
    )
    assert settings.onboarding_stalled_after_hours == 1.5
    assert settings.onboarding_nudge_interval_seconds == 0  # disabled
    assert Settings.from_env({"ONBOARDING_STALLED_AFTER_HOURS": " "}).onboarding_stalled_after_hours == 24


def test_outcome_settings_defaults_and_environment() -> None:
    defaults = Settings.from_env({})
    assert defaults.rasa_events_url == DEFAULT_RASA_EVENTS_URL
    assert f"sqlite:///{REPO_ROOT / 'var' / 'rasa_events.db'}" == DEFAULT_RASA_EVENTS_URL
    assert defaults.rasa_events_queue == "rasa_events"
    assert defaults.outcome_poll_interval_seconds == 2.0
    assert defaults.outcome_abandon_after_minutes == 30.0
    given = Settings.from_env(
        {
            "RASA_EVENTS_URL": " amqp://rasa:secret@mq:5672/ ",
            "RASA_EVENTS_QUEUE": "events_for_cs",
            "OUTCOME_POLL_INTERVAL_SECONDS": "0",
            "OUTCOME_ABANDON_AFTER_MINUTES": "12.5",
        }
    )
    assert given.rasa_events_url == "amqp://rasa:secret@mq:5672/"
    assert given.rasa_events_queue == "events_for_cs"
    assert (given.outcome_poll_interval_seconds, given.outcome_abandon_after_minutes) == (0.0, 12.5)
    postgres = Settings.from_env({"RASA_EVENTS_URL": "postgresql://rasa@db/rasa"})
    assert postgres.rasa_events_url == "postgresql://rasa@db/rasa"


@pytest.mark.parametrize(
    "env",
    [
        {"CS_BACKEND_PORT": "http"},
        {"CS_BACKEND_PORT": "70000"},
        {"LOG_LEVEL": "LOUD"},
        {"ONBOARDING_STALLED_AFTER_HOURS": "0"},
        {"ONBOARDING_STALLED_AFTER_HOURS": "-3"},
        {"ONBOARDING_STALLED_AFTER_HOURS": "a day"},
        {"ONBOARDING_NUDGE_INTERVAL_SECONDS": "-1"},
        {"ONBOARDING_NUDGE_INTERVAL_SECONDS": "inf"},
        {"ONBOARDING_NUDGE_INTERVAL_SECONDS": "5m"},
        {"RASA_EVENTS_URL": "mysql://rasa@db/rasa"},
        {"RASA_EVENTS_URL": "var/rasa_events.db"},
        {"OUTCOME_POLL_INTERVAL_SECONDS": "-1"},
        {"OUTCOME_POLL_INTERVAL_SECONDS": "often"},
        {"OUTCOME_ABANDON_AFTER_MINUTES": "0"},
        {"OUTCOME_ABANDON_AFTER_MINUTES": "inf"},
    ],
)
def test_bad_settings_are_reported_by_name(env: dict[str, str]) -> None:
    (name,) = env
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_timestamps_are_utc_aware_on_sqlite_and_postgres() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    column = UTCDateTime()
    paris = datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    stored_sqlite = column.process_bind_param(paris, sqlite.dialect())
    assert stored_sqlite == datetime(2025, 1, 1, 12, 0)  # naive UTC text on SQLite
    read_back = column.process_result_value(stored_sqlite, sqlite.dialect())
    assert read_back == paris
    assert read_back is not None and read_back.tzinfo == timezone.utc
    stored_postgres = column.process_bind_param(paris, postgresql.dialect())
    assert stored_postgres is not None and stored_postgres.tzinfo == timezone.utc
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2025, 1, 1), sqlite.dialect())
