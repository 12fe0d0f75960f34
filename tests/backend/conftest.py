"""Fixtures of the cs_backend tests: real databases (SQLite and PostgreSQL), the real app, real Redis.

Every database test runs twice, on SQLite and on PostgreSQL (`backend` parameter).

`migrated_database_url`: a database the real Alembic migration brought to head, with no rows. The migration
runs once per session: on SQLite into a template file that each test copies; on PostgreSQL into a new,
uniquely named database whose tables are emptied (and id sequences restarted) before each test: creating a
database per test would cost ~0.5 s each on PostgreSQL.
`database_url`: a new, empty database (no tables), for the tests of the migration itself.
`outcomes_database_url` and `events_db`: what the outcomes tests consume from (see rasa_events.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from cs_backend import migrate
from cs_backend.app_keys import DATABASE, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import create_engine
from cs_backend.main import create_app

from .fake_rasa import FakeRasa
from .service_signing import TEST_SERVICE_SECRET, signing_middleware
from .services import (
    check_redis,
    create_postgres_database,
    drop_postgres_database,
    empty_postgres_tables,
    postgres_server_url,
    redis_server_url,
    sqlalchemy_url,
    unique_name,
)

T = TypeVar("T")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def run_in_thread(function: Callable[[], T]) -> T:
    """Run blocking setup (that may start its own event loop) off the test's event loop thread."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


# Children before parents, for the foreign keys.
CORE_TABLES = ["feedback", "tickets", "conversations", "customers"]
# GET /metrics's bearer token in the tests' settings (tests/backend/test_observability.py).
TEST_METRICS_TOKEN = "test-metrics-token-0123456789abcdef"
OUTCOME_TABLES = [
    "conversation_outcomes",
    "outcome_sessions",
    "outcome_cursors",
    "outcome_processed_events",
    # The learning loop's, written by the outcomes consumer too (cs_backend/nlu_review/).
    "nlu_review_messages",
    "nlu_review_watches",
]
# Emptied between PostgreSQL tests.
TABLES = [
    *OUTCOME_TABLES,
    "surveys",
    "identity_link_events",
    "identity_link_codes",
    "customer_identities",
    "segment_runs",
    "alert_deliveries",
    "follow_up_tasks",
    "health_signal_cursors",
    "health_score_history",
    "health_scores",
    "customer_activities",
    "canned_responses",
    "sla_breaches",
    "handoff_messages",
    "handoff_requests",
    "agent_profiles",
    "teams",
    "onboarding_nudges",
    "onboarding_progress",
    "churn_signals",
    "customer_deletions",
    "account_sessions",
    "accounts",
    *CORE_TABLES,
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_in_thread(lambda: migrate.upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_migrated_database() -> Iterator[str]:
    """A new PostgreSQL database of this session, migrated to head; dropped at the end."""
    server_url = postgres_server_url()
    name = unique_name("cs_test_session")
    run_in_thread(lambda: asyncio.run(create_postgres_database(server_url, name)))
    try:
        url = sqlalchemy_url(server_url, name)
        run_in_thread(lambda: migrate.upgrade(url))
        yield url
    finally:
        run_in_thread(lambda: asyncio.run(drop_postgres_database(server_url, name)))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database (no tables), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server_url = postgres_server_url()
    name = unique_name("cs_test")
    await create_postgres_database(server_url, name)
    try:
        yield sqlalchemy_url(server_url, name)
    finally:
        await drop_postgres_database(server_url, name)


@pytest.fixture
async def migrated_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database at the head revision without rows (see the module docstring)."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "migrated.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated_database")
    await empty_postgres_tables(url, TABLES)
    return url


@pytest.fixture
async def outcomes_database_url(migrated_database_url: str) -> str:
    """The migrated database with the outcome tables empty and the outcome id sequence restarted."""
    engine = create_engine(migrated_database_url)
    try:
        async with engine.begin() as connection:
            for table in OUTCOME_TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))
            if connection.dialect.name == "postgresql":
                await connection.execute(text("ALTER SEQUENCE conversation_outcomes_id_seq RESTART"))
    finally:
        await engine.dispose()
    return migrated_database_url


@pytest.fixture
def events_db(tmp_path: Path) -> Path:
    """Where a test's Rasa SQL broker database lives (not created: tests write it when they need it)."""
    return tmp_path / "rasa_events.db"


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    # Background jobs stay off unless a test turns one on.
    return Settings(
        database_url=migrated_database_url,
        redis_url=None,
        redis_channel=unique_name("cs_test"),
        onboarding_nudge_interval_seconds=0,
        routing_position_update_seconds=0,
        service_secret=TEST_SERVICE_SECRET,
        metrics_token=TEST_METRICS_TOKEN,
    )


@pytest.fixture
def aiohttp_client(aiohttp_client: Any) -> Any:
    """pytest-aiohttp's `aiohttp_client`, whose clients sign every request as a service caller does (the
    routes are protected): an app built without a service secret gets TEST_SERVICE_SECRET, and the client
    signs with the app's secret. `sign=False` leaves both alone (the tests of the refusals)."""

    async def signing_client(
        app_or_server: web.Application | TestServer, *, sign: bool = True, **kwargs: Any
    ) -> TestClient[Any, Any]:
        app = app_or_server.app if isinstance(app_or_server, TestServer) else app_or_server
        settings = app.get(SETTINGS)  # None: not a cs_backend app (a test's own little app)
        if sign and settings is not None:
            secret = settings.service_secret
            if secret is None:
                secret = TEST_SERVICE_SECRET
                app[SETTINGS] = dataclasses.replace(settings, service_secret=secret)
            kwargs.setdefault("middlewares", (signing_middleware(secret),))
        client: TestClient[Any, Any] = await aiohttp_client(app_or_server, **kwargs)
        return client

    return signing_client


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    """The real app (create_app) on a migrated database, with in-process live events."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def rasa(aiohttp_server: Any) -> FakeRasa:
    """A fake Rasa HTTP API (tests/backend/fake_rasa.py) on a local port."""
    fake = FakeRasa()
    fake.server = await aiohttp_server(fake.app)
    return fake


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server (skip, or fail under CI=true, when unreachable); mark tests using it `redis`.

    Synchronous, so parametrised fixtures can ask for it with request.getfixturevalue.
    """
    url = redis_server_url()
    run_in_thread(lambda: asyncio.run(check_redis(url)))
    return url


@pytest.fixture
def redis_channel() -> str:
    """A channel of this test only, so concurrent runs on one Redis cannot see each other's events."""
    return unique_name("cs_test_events")


async def row_counts(client: TestClient[Any, Any]) -> dict[str, int]:
    """Rows of the ticket and feedback tables (and their parents), read through the app's own engine."""
    counts = {}
    async with client.app[DATABASE].engine.connect() as connection:
        for table in reversed(CORE_TABLES):
            counts[table] = int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    return counts


@pytest.fixture
def counts() -> Callable[[TestClient[Any, Any]], Any]:
    return row_counts
