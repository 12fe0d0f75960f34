"""Database access: URL normalisation, the async engine and session factory, the declarative base.

SQLite (aiosqlite) is the embedded default and PostgreSQL (asyncpg) the production database; the same models,
migration and queries run on both. The schema is owned by Alembic (cs_backend/migrations): the app never
creates tables itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar, get_args

from sqlalchemy import CheckConstraint, DateTime, Dialect, MetaData, event, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from cs_backend.api.errors import NotFound, ServiceUnavailable
from cs_backend.api.idempotency import IdempotencyKey, IdempotencyKeyReused

log = logging.getLogger(__name__)

T = TypeVar("T")

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite"}

# Explicit constraint names: Alembic needs them to drop or alter constraints later (and SQLite batch mode
# recreates tables by name), and they make IntegrityError messages readable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, allowed: Any) -> CheckConstraint:
    """The CHECK that `column` holds one of the strings of the Literal alias `allowed`.

    The models declare their allowed values once, as the Literal their schemas validate with; this turns it
    into `column IN ('a', 'b')`, named after the column (ck_<table>_<column> by NAMING_CONVENTION).
    """
    values = get_args(allowed)
    if not values or not all(isinstance(value, str) and "'" not in value for value in values):
        raise TypeError(f"one_of() needs a Literal of plain strings, got {allowed!r}")
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=column)


# What a 503 caused by the database tells the client: the engine's pool reconnects by itself (pre-ping), so
# a restart or failover of a few seconds is over by then.
DATABASE_RETRY_AFTER_SECONDS = 5
# How long opening a PostgreSQL connection may take: an unreachable server must fail requests (503) quickly,
# not after asyncpg's default minute.
CONNECT_TIMEOUT_SECONDS = 5
# How long a request waits for a free pooled PostgreSQL connection before its 503 (SQLAlchemy's default 30).
POOL_TIMEOUT_SECONDS = 5
# SQLite's busy timeout: how long a write waits for another writer's lock before its 503. With the pool's and
# the connection's timeouts, the longest a request waits for the database (10 s): the actions' client gives
# each attempt more than that (actions/api/client.py; docs/API_CONTRACT.md, "Timeouts and retries").
SQLITE_BUSY_TIMEOUT_SECONDS = 10
# SQLSTATEs of a server that cannot serve now but may soon: connection exceptions (class 08), an
# administrator's or a crash's shutdown, a server starting up or shutting down, too many connections.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLite's lock errors, once the busy timeout has run out.
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


class DatabaseUnavailable(ServiceUnavailable):
    """503 with Retry-After: the database cannot be reached, or cannot take this request now.

    `message` is what the client reads; `detail` (the cause, for the log and /health/ready) is never sent.
    """

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message, DATABASE_RETRY_AFTER_SECONDS)
        self.detail = detail


def database_unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 that `error` means when it says the database is unavailable (down, restarting, unreachable,
    out of connections, locked past the busy timeout); None for any other error (a bug stays a 500).

    Follows the exception's causes: SQLAlchemy wraps the driver's exception, asyncpg wraps the server's.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable):
            return current
        if isinstance(current, PoolTimeout):
            return DatabaseUnavailable(
                "the database is busy: no connection became free in time; try again shortly",
                "connection pool timeout",
            )
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return _unavailable(current.orig or current)
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
            return _unavailable(current)
        if current.__class__.__module__ == "sqlite3" and any(
            busy in str(current) for busy in _SQLITE_BUSY_MESSAGES
        ):
            return DatabaseUnavailable(
                "the database is busy with other writes; try again shortly", _short(current)
            )
        current = current.__cause__ or current.__context__
    return None


def _short(error: BaseException) -> str:
    text_ = " ".join(str(error).split())[:200]
    return f"{error.__class__.__name__}: {text_}" if text_ else error.__class__.__name__


def _unavailable(error: BaseException) -> DatabaseUnavailable:
    cause = error
    while cause.__cause__ is not None:  # the server's own words (asyncpg's), not the wrappers'
        cause = cause.__cause__
    return DatabaseUnavailable("the database is unavailable; try again shortly", _short(cause))


def _connect_or_unavailable(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """The engine's connect, with every failure to open a connection raised as DatabaseUnavailable.

    A refused or timed-out connection reaches the caller as a bare OSError or TimeoutError (SQLAlchemy wraps
    only the driver's own errors), indistinguishable from any other network error by the time it reaches
    the error middleware; raised from here, it says what it is.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        raise _unavailable(error) from error


class DatabaseUrlError(ValueError):
    """DATABASE_URL is not a URL of a supported database."""


def normalize_database_url(url: str | URL) -> str:
    """Return `url` with the async driver of its database, as a string SQLAlchemy accepts.

    postgres://, postgresql:// and postgresql+asyncpg:// become postgresql+asyncpg:// (Heroku-style `postgres`
    is not a SQLAlchemy dialect name); sqlite:// and sqlite+aiosqlite:// become sqlite+aiosqlite://. libpq's
    `sslmode` query parameter is renamed to asyncpg's `ssl`, so URLs copied from hosting providers work.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            "DATABASE_URL is not a database URL; expected e.g. postgresql://user@host:5432/db "
            "or sqlite:///path/to/file.db"
        ) from None
    scheme = parsed.drivername.lower()
    if scheme in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+asyncpg")
        if "sslmode" in parsed.query:
            query = dict(parsed.query)
            query["ssl"] = query.pop("sslmode")
            parsed = parsed.set(query=query)
    elif scheme in _SQLITE_SCHEMES:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise DatabaseUrlError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql://, postgres://, "
            "postgresql+asyncpg://, sqlite:/// or sqlite+aiosqlite:///"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers run while one request writes, instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for `database_url` (normalised first); creates the SQLite file's directory."""
    url = make_url(normalize_database_url(database_url))
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # `timeout` is SQLite's busy timeout: concurrent writers wait for the lock instead of failing.
        # hide_parameters: a failing statement's log line and traceback never show the values (emails, text).
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    else:
        # pre_ping: after a PostgreSQL restart, each pooled connection is found dead and replaced on checkout,
        # so requests succeed again as soon as the server is back, without restarting cs_backend.
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            hide_parameters=True,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    return engine


@dataclass(frozen=True)
class Database:
    """The engine and the session factory the request handlers use."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, database_url: str) -> Database:
        engine = create_engine(database_url)
        # expire_on_commit=False: handlers serialise rows after commit without an implicit (async-unsafe)
        # reload of every attribute.
        return cls(engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False))

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def run_transaction(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    attempts: int = 4,
) -> T:
    """Run `work` in a new session and commit; start over on IntegrityError, and give up with a 503 after
    `attempts` (DatabaseUnavailable: the client may retry; nothing of the attempts was committed).

    Upserts read first and insert when the row is missing. Two requests can race past the read; the loser's
    insert then hits a unique constraint (email, (sender_id, channel), idempotency key), and running the
    work again in a fresh transaction finds the winner's committed row. Each attempt can lose at most one
    new race (ticket creation: customer, then conversation, then idempotency key), hence 4 attempts. Any
    other exception rolls back and propagates.
    """
    for attempt in range(1, attempts + 1):
        async with sessions() as session:
            try:
                result = await work(session)
                await session.commit()
                return result
            except IntegrityError as error:
                await session.rollback()
                if attempt == attempts:
                    log.warning(
                        "transaction gave up after %d attempts: %s", attempts, _short(error.orig or error)
                    )
                    raise DatabaseUnavailable(
                        "the request kept conflicting with concurrent writes; try again shortly",
                        f"gave up after {attempts} attempts",
                    ) from error
                log.info("concurrent insert detected; retrying the transaction (attempt %d)", attempt + 1)
    raise AssertionError("unreachable")


class IdempotentRow(Protocol):
    """A model whose rows carry the unique Idempotency-Key of the request that created them, and that
    request's fingerprint (api/idempotency.py; null on rows stored before fingerprints were)."""

    # As a row reads it: a model's `Mapped[str | None]` column matches this (a `Mapped` member would not).
    idempotency_key: str | None
    idempotency_fingerprint: str | None


R = TypeVar("R", bound=IdempotentRow)


async def create_once(
    db: Database,
    model: type[R],
    idempotency_key: IdempotencyKey | None,
    build: Callable[[AsyncSession], Awaitable[R]],
) -> tuple[R, bool]:
    """Create one row per Idempotency-Key: (the new row, True), or (the row first made with the key, False).

    The one place of the rule: the same key with the same request (fingerprint) answers the first row; with
    another request it raises IdempotencyKeyReused (422) and changes nothing. A row stored before
    fingerprints were has none, and answers any request with its key, as it did then.

    `build` makes the row (and upserts what it refers to) in the transaction; the key and fingerprint are set
    and the row added and flushed here, so a concurrent request with the same key fails on the unique key
    and, on run_transaction's retry, finds the row the other request created (and compares fingerprints).
    """

    async def work(session: AsyncSession) -> tuple[R, bool]:
        if idempotency_key is not None:
            existing = await session.scalar(
                # On the class the attribute is the column, which the protocol cannot express.
                select(model).where(model.idempotency_key == idempotency_key.value)  # type: ignore[arg-type]
            )
            if existing is not None:
                stored = existing.idempotency_fingerprint
                if stored is not None and stored != idempotency_key.fingerprint:
                    # A client bug (two writes under one key) an operator should see; the key is the
                    # client's text, so only the model is named.
                    log.warning("Idempotency-Key reused with a different request (%s)", model.__name__)
                    raise IdempotencyKeyReused()
                return existing, False
        row = await build(session)
        if idempotency_key is not None:
            row.idempotency_key = idempotency_key.value
            row.idempotency_fingerprint = idempotency_key.fingerprint
        session.add(row)
        await session.flush()
        return row, True

    return await run_transaction(db.sessions, work)


ModelT = TypeVar("ModelT", bound=Base)


async def get_or_not_found(db: Database, model: type[ModelT], row_id: int, what: str) -> ModelT:
    """The row of `model` with this primary key; NotFound (404) naming `what` when there is none."""
    async with db.sessions() as session:
        row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as naive UTC text (one
    format, so text order is time order) and get their UTC tzinfo back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
