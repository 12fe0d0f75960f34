"""The rows of Rasa's SQL event broker (`events`, the table the outcomes consumer reads: outcomes/sources.py)
that privacy reads and deletes: a customer's conversations' events, and events older than the retention.

The table is Rasa's; cs_backend writes to it only here, to delete. SQLite is opened read-write (unlike the
outcomes consumer) with a busy timeout, so a delete waits for Rasa's writes instead of failing. With RabbitMQ
(RASA_EVENTS_URL amqp://) there is no table: the broker's queue is consumed and acknowledged, and no event is
kept that cs_backend could export or delete (`event_store_for` returns None).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from cs_backend.db import normalize_database_url
from cs_backend.outcomes.sources import EVENTS, is_amqp_url

log = logging.getLogger(__name__)

# Rows read per step of the retention purge.
PURGE_BATCH = 1000
# SQLite: how long a delete waits for Rasa's write lock (seconds).
SQLITE_BUSY_TIMEOUT = 30


class EventStoreUnavailable(RuntimeError):
    """The events database could not be read or written."""


def event_timestamp(data: str | None) -> float | None:
    """The `timestamp` (Unix seconds) of an event's JSON, or None when it has none."""
    try:
        event = json.loads(data or "")
    except ValueError:
        return None
    value = event.get("timestamp") if isinstance(event, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class EventStore:
    """Rasa's `events` table in the database of `events_url` (sqlite:///, postgresql://, ...)."""

    def __init__(self, events_url: str) -> None:
        self._url = make_url(normalize_database_url(events_url))
        self._engine: AsyncEngine | None = None

    def _events_engine(self) -> AsyncEngine:
        if self._engine is None:
            if self._url.get_backend_name() == "sqlite":
                self._engine = create_async_engine(
                    self._url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}
                )
            else:
                self._engine = create_async_engine(self._url, pool_pre_ping=True, pool_size=1, max_overflow=1)
        return self._engine

    async def _has_table(self) -> bool:
        if self._url.get_backend_name() == "sqlite" and not Path(self._url.database or "").exists():
            return False  # Rasa creates the file with its first event; creating it here would be wrong
        async with self._events_engine().connect() as connection:
            return bool(await connection.run_sync(lambda sync: inspect(sync).has_table("events")))

    async def check(self) -> None:
        """Raise if the events database cannot be read (for /health/ready). A SQLite file Rasa has not created
        yet is fine: there is nothing to read."""
        if self._url.get_backend_name() == "sqlite" and not Path(self._url.database or "").exists():
            return
        async with self._events_engine().connect() as connection:
            await connection.execute(select(1))

    async def events_of(self, sender_ids: Sequence[str]) -> dict[str, list[Any]]:
        """Each sender id's events (the parsed JSON of each row, in order)."""
        found: dict[str, list[Any]] = {sender_id: [] for sender_id in sender_ids}
        if not sender_ids:
            return found
        try:
            if not await self._has_table():
                return found
            async with self._events_engine().connect() as connection:
                rows = await connection.execute(
                    select(EVENTS.c.sender_id, EVENTS.c.data)
                    .where(EVENTS.c.sender_id.in_(list(sender_ids)))
                    .order_by(EVENTS.c.id)
                )
                for sender_id, data in rows:
                    try:
                        found[sender_id].append(json.loads(data or ""))
                    except ValueError:
                        found[sender_id].append(data)  # kept as the text Rasa wrote
        except (OSError, SQLAlchemyError) as error:
            raise EventStoreUnavailable(
                f"the events database cannot be read ({error.__class__.__name__})"
            ) from None
        return found

    async def delete_events_of(self, sender_ids: Sequence[str]) -> int:
        """Delete every event of these sender ids; the number of rows deleted."""
        if not sender_ids:
            return 0
        try:
            if not await self._has_table():
                return 0
            async with self._events_engine().begin() as connection:
                result = await connection.execute(
                    delete(EVENTS).where(EVENTS.c.sender_id.in_(list(sender_ids)))
                )
        except (OSError, SQLAlchemyError) as error:
            raise EventStoreUnavailable(
                f"the events database cannot be written ({error.__class__.__name__})"
            ) from None
        return int(result.rowcount)

    async def old_events(
        self, cutoff: datetime, limit: int, batch: int = PURGE_BATCH
    ) -> dict[str, list[int]]:
        """The ids of up to `limit` events older than `cutoff` (by their timestamp), by sender id.

        Rows are appended in time order, so the scan goes up from the smallest id and stops at the first batch
        without an old event.
        """
        before = cutoff.astimezone(timezone.utc).timestamp()
        found: dict[str, list[int]] = {}
        count = 0
        try:
            if not await self._has_table():
                return found
            after = 0
            async with self._events_engine().connect() as connection:
                while count < limit:
                    rows = (
                        await connection.execute(
                            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
                            .where(EVENTS.c.id > after)
                            .order_by(EVENTS.c.id)
                            .limit(min(batch, limit - count))
                        )
                    ).all()
                    old = [(row[0], row[1]) for row in rows if (event_timestamp(row[2]) or before) < before]
                    for row_id, sender_id in old:
                        found.setdefault(sender_id or "", []).append(int(row_id))
                    count += len(old)
                    if not old or len(rows) < batch:
                        break
                    after = rows[-1][0]
        except (OSError, SQLAlchemyError) as error:
            raise EventStoreUnavailable(
                f"the events database cannot be read ({error.__class__.__name__})"
            ) from None
        return found

    async def event_counts(self, sender_ids: Sequence[str]) -> dict[str, int]:
        """How many events each of these sender ids has (absent: none)."""
        if not sender_ids:
            return {}
        try:
            async with self._events_engine().connect() as connection:
                rows = await connection.execute(
                    select(EVENTS.c.sender_id, func.count())
                    .where(EVENTS.c.sender_id.in_(list(sender_ids)))
                    .group_by(EVENTS.c.sender_id)
                )
                return {sender_id: int(count) for sender_id, count in rows}
        except (OSError, SQLAlchemyError) as error:
            raise EventStoreUnavailable(
                f"the events database cannot be read ({error.__class__.__name__})"
            ) from None

    async def delete_rows(self, row_ids: Sequence[int]) -> int:
        """Delete these rows; the number deleted."""
        deleted = 0
        try:
            async with self._events_engine().begin() as connection:
                for start in range(0, len(row_ids), PURGE_BATCH):
                    chunk = list(row_ids[start : start + PURGE_BATCH])
                    result = await connection.execute(delete(EVENTS).where(EVENTS.c.id.in_(chunk)))
                    deleted += int(result.rowcount)
        except (OSError, SQLAlchemyError) as error:
            raise EventStoreUnavailable(
                f"the events database cannot be written ({error.__class__.__name__})"
            ) from None
        return deleted

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def event_store_for(events_url: str) -> EventStore | None:
    """The SQL broker's table of RASA_EVENTS_URL; None for RabbitMQ, which keeps no events."""
    return None if is_amqp_url(events_url) else EventStore(events_url)
