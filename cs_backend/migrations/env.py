"""Alembic environment of cs_backend: async engines, the app's URL normalisation, SQLite batch mode.

The database URL is, in order: `config.attributes["database_url"]` (set by cs_backend.migrate), the ini's
`sqlalchemy.url` if not empty, else DATABASE_URL through cs_backend.config.Settings (the app's default too).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cs_backend.config import Settings
from cs_backend.db import create_engine, normalize_database_url
from cs_backend.models import Base

config = context.config

# Only the alembic command line configures logging from the ini; when cs_backend runs migrations itself it
# has configured logging already, and fileConfig would disable the app's loggers.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return normalize_database_url(url or Settings.from_env().database_url)


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: emit the SQL instead of running it."""
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=_database_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = _database_url()
    if url.startswith("sqlite"):
        # The app's engine factory: same SQLite pragmas, and it creates the database file's directory.
        connectable = create_engine(url)
    else:
        # NullPool: no connection survives the migration (tests clone migrated databases right after).
        connectable = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await connectable.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # A caller already inside an event loop passes a sync-facing connection (AsyncConnection.run_sync).
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
