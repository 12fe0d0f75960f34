"""The real PostgreSQL and Redis servers the tests use, and what to do when one is missing.

Without a server the tests that need it are skipped with the reason, except under CI=true, where they fail
(tests/support.py: CI must never pass because a service quietly was not there).

    TEST_POSTGRES_URL  server (and maintenance database) to create test databases on
                       (default postgresql://postgres@127.0.0.1:5432/test)
    TEST_REDIS_URL     Redis for the live-events tests (default redis://127.0.0.1:6379/0)
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import redis.asyncio as redis
from sqlalchemy.engine import make_url

from tests.support import unavailable

CONNECT_TIMEOUT_SECONDS = 5.0


def postgres_server_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "").strip() or "postgresql://postgres@127.0.0.1:5432/test"


def redis_server_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    """A libpq-style DSN asyncpg accepts, optionally for another database on the same server."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def sqlalchemy_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def _run_on_maintenance_database(server_url: str, statement: str) -> None:
    """Run `statement` on the maintenance database, or skip/fail with the reason it is unreachable."""
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(server_url), timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as error:
        redacted = make_url(server_url).render_as_string(hide_password=True)
        unavailable(f"PostgreSQL not reachable at {redacted}: {error!r}; set TEST_POSTGRES_URL")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_postgres_database(server_url: str, name: str) -> None:
    # Names come from unique_name(): safe to interpolate (identifiers cannot be bind parameters).
    await _run_on_maintenance_database(server_url, f'CREATE DATABASE "{name}"')


async def empty_postgres_tables(database_url: str, tables: list[str]) -> None:
    """Delete every row and restart the id sequences: the database is as the migration left it.

    Much faster than a new database per test (CREATE DATABASE copies and fsyncs every file: ~0.5 s).
    """
    connection = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        # One statement for all tables: foreign keys between them are no obstacle, and RESTART IDENTITY
        # resets whichever tables have id sequences.
        await connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    finally:
        await connection.close()


async def drop_postgres_database(server_url: str, name: str) -> None:
    # FORCE: a connection a failed test left open must not make the database undroppable.
    await _run_on_maintenance_database(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def check_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        unavailable(f"Redis not reachable at {url}: {error!r}; set TEST_REDIS_URL")
    finally:
        await client.aclose()


async def table_names(database_url: str) -> set[str]:
    """The tables a database has now (to check what a migration created or dropped)."""
    from sqlalchemy import inspect

    from cs_backend.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
