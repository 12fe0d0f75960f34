"""Graceful degradation: the database or Redis goes away mid-test and comes back, under the same app.

The database unavailable → 503 with Retry-After (never 500), readiness fails, nothing half-written; back →
the same process serves again (the pool reconnects), a retried write is stored exactly once.
Redis unavailable → every write still commits and answers 201 (live events pause, rate limits count in
this process, routing rebuilds from SQL), readiness is "degraded"; back → live events flow again.

Each outage uses a throwaway server of its own (tests/backend/throwaway_servers.py), never the shared ones.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from cs_backend import migrate
from cs_backend.api.middlewares import error_middleware
from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings
from cs_backend.db import (
    DATABASE_RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    create_engine,
    database_unavailable,
    run_transaction,
)
from cs_backend.main import create_app

from .helpers import assert_error, assert_no_internals, ticket_payload
from .routing_support import request_handoff
from .service_signing import TEST_SERVICE_SECRET
from .services import unique_name
from .test_live_events import open_stream, read_event
from .throwaway_servers import ThrowawayPostgres, ThrowawayRedis

# A request during an outage is answered within this (asyncpg connect timeout, Redis publish timeout: 2-5 s;
# a refused connection is immediate).
PROMPT_SECONDS = 6.0


def settings_for(database_url: str, redis_url: str | None = None) -> Settings:
    # Background jobs off: the test decides what touches the database, and when.
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_channel=unique_name("cs_test_events"),
        onboarding_nudge_interval_seconds=0,
        outcome_poll_interval_seconds=0,
        transcript_retention_interval_seconds=0,
        routing_sla_interval_seconds=0,
        service_secret=TEST_SERVICE_SECRET,
    )


@pytest.fixture
async def postgres() -> AsyncIterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL (its own cluster, free port), migrated to head; removed afterwards."""
    server = ThrowawayPostgres()
    try:
        await asyncio.to_thread(server.init)
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(migrate.upgrade, server.url)
        yield server
    finally:
        await asyncio.to_thread(server.remove)


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def count(client: TestClient[Any, Any], table: str) -> int:
    async with client.app[DATABASE].engine.connect() as connection:
        return int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def post_ticket(client: TestClient[Any, Any], key: str, **fields: Any) -> Any:
    return await client.post("/api/tickets", json=ticket_payload(**fields), headers={"Idempotency-Key": key})


async def assert_unavailable(response: Any) -> None:
    """A 503 in the contract's error format, with Retry-After, and no internals."""
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    await assert_error(response, 503)
    assert_no_internals(await response.text())


async def test_a_postgresql_outage_answers_503_and_the_same_app_recovers(
    aiohttp_client: Any, postgres: ThrowawayPostgres
) -> None:
    client = await aiohttp_client(create_app(settings_for(postgres.url)))
    before = await post_ticket(client, "before-outage")
    assert before.status == 201, await before.text()
    before_id = (await before.json())["id"]
    assert (await client.get("/health/ready")).status == 200

    # A transaction in flight when the server shuts down: its write must not survive.
    half_written = await client.app[DATABASE].engine.connect()
    await half_written.begin()
    await half_written.execute(
        text("UPDATE tickets SET subject = 'half-written' WHERE id = :id"), {"id": before_id}
    )

    await asyncio.to_thread(postgres.stop)

    with pytest.raises(DBAPIError) as lost:
        await half_written.commit()
    assert database_unavailable(lost.value) is not None  # the connection was invalidated: a 503
    await half_written.close()

    started = time.monotonic()
    during = await post_ticket(client, "during-outage", description="Sent while the database was down.")
    await assert_unavailable(during)
    await assert_unavailable(await client.get(f"/api/tickets/{before_id}"))
    await assert_unavailable(await client.get("/api/tickets"))
    assert time.monotonic() - started < PROMPT_SECONDS
    ready = await client.get("/health/ready")
    assert ready.status == 503
    checks = (await ready.json())["checks"]
    assert checks["database"].startswith("unavailable: ConnectionRefusedError"), checks
    assert (await client.get("/health/live")).status == 200

    await asyncio.to_thread(postgres.start)

    # The same app, no restart: the pool replaces its dead connections (pre-ping) on the next checkout.
    ready = await client.get("/health/ready")
    assert ready.status == 200, await ready.text()
    retried = await post_ticket(client, "during-outage", description="Sent while the database was down.")
    assert retried.status == 201, await retried.text()  # the 503 committed nothing
    again = await post_ticket(client, "during-outage", description="Sent while the database was down.")
    assert again.status == 200
    assert (await again.json())["id"] == (await retried.json())["id"]
    repeated_before = await post_ticket(client, "before-outage")
    assert repeated_before.status == 200
    assert (await repeated_before.json())["id"] == before_id
    assert await count(client, "tickets") == 2
    stored = await client.get(f"/api/tickets/{before_id}")
    assert (await stored.json())["subject"] != "half-written"


async def test_a_full_connection_pool_is_503(postgres: ThrowawayPostgres) -> None:
    engine = create_async_engine(
        postgres.url.replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
    )
    try:
        async with engine.connect():
            with pytest.raises(PoolTimeout) as timed_out:
                async with engine.connect():
                    pass
        unavailable = database_unavailable(timed_out.value)
        assert unavailable is not None and unavailable.headers["Retry-After"]
    finally:
        await engine.dispose()


def error_app(handler: Any) -> web.Application:
    """Just the error middleware around one handler."""
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", handler)
    return app


async def test_a_transaction_that_gives_up_after_its_retries_is_503(
    aiohttp_client: Any, tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    attempts = 0

    async def always_conflicting(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(
            text("INSERT INTO customers (email, created_at) VALUES ('a@example.com', '2026-01-01 00:00:00')")
        )
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    async def handler(request: web.Request) -> web.Response:
        await run_transaction(sessions, always_conflicting)
        return web.Response()

    try:
        client = await aiohttp_client(error_app(handler), sign=False)
        response = await client.get("/")
        await assert_unavailable(response)
        assert attempts == 4
        async with engine.connect() as connection:  # every attempt rolled back
            assert await connection.scalar(text("SELECT count(*) FROM customers")) == 0
    finally:
        await engine.dispose()


async def test_sqlite_locked_past_the_busy_timeout_is_503(
    aiohttp_client: Any, tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    # The app's busy timeout is 10 s (db.SQLITE_BUSY_TIMEOUT_SECONDS); the same error comes sooner with a
    # short one.
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.1})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock

    async def handler(request: web.Request) -> web.Response:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO customers (email, created_at) VALUES ('b@example.com', '2026-01-01')")
            )
        return web.Response()

    try:
        client = await aiohttp_client(error_app(handler), sign=False)
        await assert_unavailable(await client.get("/"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()


def test_other_database_errors_stay_500() -> None:
    assert database_unavailable(IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed"))) is None
    assert database_unavailable(ValueError("bug")) is None
    assert isinstance(database_unavailable(PoolTimeout("pool")), DatabaseUnavailable)


async def test_a_redis_outage_keeps_every_write_and_live_events_come_back(
    aiohttp_client: Any,
    redis_server: ThrowawayRedis,
    tmp_path: Path,
    sqlite_template: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cs_backend")
    path = tmp_path / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    client = await aiohttp_client(create_app(settings_for(f"sqlite:///{path}", redis_server.url)))

    async with open_stream(client) as stream:
        before = await post_ticket(client, "before-redis-outage")
        assert before.status == 201
        assert await read_event(stream) == ("ticket.created", await before.json())

        await asyncio.to_thread(redis_server.stop)
        # The stream's Redis connection is gone: the stream ends, and the client reconnects.
        while await asyncio.wait_for(stream.content.readline(), PROMPT_SECONDS):
            pass

    started = time.monotonic()
    during = await post_ticket(client, "during-redis-outage", description="Sent while Redis was down.")
    assert during.status == 201, await during.text()
    during_id = (await during.json())["id"]
    feedback = await client.post("/api/feedback", json={"kind": "csat", "score": 5})
    assert feedback.status == 201, await feedback.text()
    # Routing keeps SQL as its truth: the handoff is stored, the live state is rebuilt once Redis is back.
    handoff = await request_handoff(client, "redis-outage-customer")
    assert time.monotonic() - started < 3 * PROMPT_SECONDS
    assert (await client.get(f"/api/tickets/{during_id}")).status == 200
    assert (await client.get(f"/api/routing/handoffs/{handoff['id']}")).status == 200
    ready = await client.get("/health/ready")
    assert ready.status == 200
    body = await ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["live_events"].startswith("unavailable:")
    refused_stream = await client.get("/api/events")
    assert refused_stream.status == 503 and refused_stream.headers["Retry-After"]

    await asyncio.to_thread(redis_server.start)  # the same port: the app's clients reconnect

    async with open_stream(client) as stream:
        after = await post_ticket(client, "after-redis-outage")
        assert after.status == 201
        assert await read_event(stream) == ("ticket.created", await after.json())
    assert (await (await client.get("/health/ready")).json())["status"] == "ready"
    assert await count(client, "tickets") == 3
    assert await count(client, "feedback") == 1
    # The fallbacks say so once per outage, not once per request, and say when Redis is back.
    for fallback in ("rate limits: Redis unavailable", "replay store: Redis unavailable"):
        assert caplog.text.count(fallback) == 1, fallback
    assert "rate limits: Redis reachable again" in caplog.text
    assert "replay store: Redis reachable again" in caplog.text
