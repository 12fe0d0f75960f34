"""Where Rasa's events come from: its SQL event broker's `events` table, or a RabbitMQ queue.

Both brokers carry the same JSON per event: `{"sender_id": ..., **Event.as_dict()}`
(rasa/core/tracker_store.py `_stream_new_events`). The SQL broker (rasa/core/brokers/sql.py) inserts one row
per event into `events(id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)`; the pika broker
(rasa/core/brokers/pika.py) publishes the JSON as a persistent message to the fanout exchange
`rasa-exchange`, bound to each queue listed in endpoints.yml.

The consumer uses a source in three steps per batch, so that nothing is lost and nothing counted twice:
`fetch` (read, change nothing), `commit` (inside the consumer's database transaction: the SQL source
advances its stored position there), and `acknowledge` (after that transaction committed: RabbitMQ messages
are acked only then; an ack lost to a crash means a redelivery, which the consumer recognises by the
message's digest, stored durably in outcome_processed_events).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy import column, func, inspect, select, table, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from cs_backend.db import Database, normalize_database_url, utcnow
from cs_backend.outcomes.models import OutcomeCursor

log = logging.getLogger(__name__)

AMQP_SCHEMES = ("amqp", "amqps")
CONNECT_TIMEOUT_SECONDS = 10.0
FIRST_MESSAGE_WAIT_SECONDS = 0.05
CURSOR_KEY_LENGTH = 255
# How long an id the cursor passed is awaited (Rasa's SQL broker commits each insert at once: an id still
# missing after this was a rolled-back insert).
GAP_WAIT_SECONDS = 300
MAX_TRACKED_GAPS = 5000
# Concurrent inserts leave holes of a few ids; a larger one (ids deleted, a table starting high) is awaited
# by its last ids only.
MAX_HOLE_TRACKED = 1000

# Rasa's SQL broker table, described just enough to read it (cs_backend does not own it).
EVENTS = table("events", column("id"), column("sender_id"), column("data"))


@dataclass(frozen=True)
class RawEvent:
    """One event as the broker delivered it, not parsed yet (a malformed one is skipped by the consumer)."""

    body: bytes | str
    # For log lines: "events row 42", "message 7".
    label: str
    # The SQL broker's own sender_id column (the JSON has it too).
    sender_hint: str | None = None
    # RabbitMQ: the digest of the body, stored durably when applied (outcome_processed_events), to recognise
    # a redelivered message that was already applied. The broker flags redeliveries; first deliveries are
    # never checked, so two identical events (Rasa repeats slot events at a session start) are both applied.
    dedupe_key: str | None = None
    redelivered: bool = False


@dataclass(frozen=True)
class SqlPosition:
    """What an SQL source has read: its cursor, the ids below it still awaited, its first row's digest."""

    last_event_id: int = 0
    # (id, unix time it was first missed), ascending ids.
    gaps: tuple[tuple[int, float], ...] = ()
    first_event: tuple[int, str] | None = None
    revision: int | None = None  # None: no row stored yet


@dataclass
class Batch:
    events: list[RawEvent]
    # Nothing more to read right now: the consumer may then close idle sessions against the clock.
    drained: bool
    # False when the broker could not be read: idle sessions must not be closed on stale knowledge.
    reachable: bool = True
    # SQL: the position this batch was read from and the one to store when it is committed.
    start_position: SqlPosition | None = None
    end_position: SqlPosition | None = None
    # RabbitMQ: the delivered messages, acknowledged after the commit.
    messages: list[Any] = field(default_factory=list)
    # Events left in the source after this batch (approximate: SQL counts ids, holes included).
    backlog: int = 0

    @property
    def start_cursor(self) -> int | None:
        return self.start_position.last_event_id if self.start_position is not None else None

    @property
    def end_cursor(self) -> int | None:
        return self.end_position.last_event_id if self.end_position is not None else None

    @property
    def moves_cursor(self) -> bool:
        """The stored position changes (cursor, awaited ids or fingerprint), even without new events."""
        if self.end_position is None or self.start_position is None:
            return False
        start = self.start_position
        return (start.last_event_id, start.gaps, start.first_event) != (
            self.end_position.last_event_id,
            self.end_position.gaps,
            self.end_position.first_event,
        )


class CursorMoved(RuntimeError):
    """Another consumer advanced the cursor since this batch was read: its transaction must roll back."""


class RasaEventSource(Protocol):
    description: str

    async def fetch(self, limit: int) -> Batch: ...

    async def commit(self, session: AsyncSession, batch: Batch) -> None: ...

    async def acknowledge(self, batch: Batch) -> None: ...

    async def close(self) -> None: ...


class _Availability:
    """Logs a broker problem once (and again only when it changes), and its recovery."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.problem: str | None = None

    def down(self, problem: str, level: int = logging.WARNING) -> None:
        if problem != self.problem:
            log.log(level, "outcomes: %s: %s", self.description, problem)
            self.problem = problem

    def up(self) -> None:
        if self.problem is not None:
            log.info("outcomes: %s is readable again", self.description)
            self.problem = None


def is_amqp_url(url: str) -> bool:
    return url.partition("://")[0].lower() in AMQP_SCHEMES


def _redacted(url: str) -> str:
    if is_amqp_url(url):
        scheme, _, rest = url.partition("://")
        credentials, at, host = rest.rpartition("@")
        if at:
            user = credentials.partition(":")[0]
            return f"{scheme}://{user}:***@{host}"
        return url
    return make_url(url).render_as_string(hide_password=True)


def cursor_key(events_url: str) -> str:
    """The outcome_cursors key of an events database: its URL without the password."""
    key = "sql:" + _redacted(normalize_database_url(events_url))
    if len(key) > CURSOR_KEY_LENGTH:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[: CURSOR_KEY_LENGTH - 17]}#{digest}"
    return key


class SqlEventSource:
    """Polls the SQL broker's `events` table from a position stored in cs_backend's own database.

    The position (outcome_cursors) is read at every fetch and stored in the consumer's transaction,
    conditionally on its revision: a second consumer on the same databases makes one of the two transactions
    roll back instead of counting events twice.

    Ids committed out of order: with several Rasa processes on PostgreSQL, a row can become visible after rows
    with larger ids (its transaction took its id first and committed later). Every id the cursor passes
    without seeing its row is kept as a gap and read again at each fetch, until its row appears or
    GAP_WAIT_SECONDS passed (then it was a rolled-back insert: sequences never reuse an id). At most
    MAX_TRACKED_GAPS are kept (the newest), and of one hole its last MAX_HOLE_TRACKED ids.

    A recreated table: the first row's id and digest are stored with the cursor. Ids that went back below it,
    the same first id with another content, or a largest id below the cursor mean a new table: it is read
    from the start. A first row with a larger id is old rows deleted (privacy retention), not a new table; the
    same first row is the same table (or a copy of it, ids included), read on from the cursor.

    Tolerated: the events database or table not existing yet (Rasa creates them on its first event).
    SQLite files are opened read-only, so this never creates a file where Rasa will look for its own.
    """

    def __init__(self, events_url: str, database: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._url = normalize_database_url(events_url)
        self._database = database
        self._clock = clock
        self._key = cursor_key(events_url)
        self._engine: AsyncEngine | None = None
        self._sqlite_path: Path | None = None
        self.description = f"Rasa events table at {_redacted(self._url)}"
        self._availability = _Availability(self.description)

    @property
    def key(self) -> str:
        return self._key

    def _events_engine(self) -> AsyncEngine:
        if self._engine is None:
            url = make_url(self._url)
            if url.get_backend_name() == "sqlite":
                if not url.database or url.database == ":memory:":
                    raise ValueError("RASA_EVENTS_URL: an in-memory SQLite database is not shared with Rasa")
                self._sqlite_path = Path(url.database).resolve()
                read_only = f"sqlite+aiosqlite:///file:{quote(str(self._sqlite_path))}?mode=ro&uri=true"
                # NullPool: a file Rasa deletes and creates again is opened anew at the next poll.
                self._engine = create_async_engine(read_only, poolclass=NullPool)
            else:
                self._engine = create_async_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1)
        return self._engine

    async def read_position(self) -> SqlPosition:
        async with self._database.sessions() as session:
            row = await session.get(OutcomeCursor, self._key)
        if row is None:
            return SqlPosition()
        first = None
        if row.first_event_id is not None and row.first_event_digest is not None:
            first = (int(row.first_event_id), row.first_event_digest)
        gaps = tuple((int(gap[0]), float(gap[1])) for gap in row.pending_gaps or [])
        return SqlPosition(int(row.last_event_id), gaps, first, int(row.revision))

    async def read_cursor(self) -> int:
        return (await self.read_position()).last_event_id

    async def fetch(self, limit: int) -> Batch:
        position = await self.read_position()
        engine = self._events_engine()
        if self._sqlite_path is not None and not self._sqlite_path.exists():
            self._availability.down("the database does not exist yet (Rasa creates it)", logging.INFO)
            return Batch([], drained=True)
        cursor = position.last_event_id
        try:
            async with engine.connect() as connection:
                if not await connection.run_sync(lambda sync: inspect(sync).has_table("events")):
                    self._availability.down("no `events` table yet (Rasa creates it)", logging.INFO)
                    return Batch([], drained=True)
                first_row = (
                    await connection.execute(
                        select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data).order_by(EVENTS.c.id).limit(1)
                    )
                ).first()
                first = (int(first_row[0]), row_digest(first_row[1], first_row[2])) if first_row else None
                if cursor > 0 and await self._recreated(connection, position, first):
                    log.warning(
                        "outcomes: %s was recreated (its rows no longer match the stored cursor %d); "
                        "reading it from the start",
                        self.description,
                        cursor,
                    )
                    restart = SqlPosition(0, (), None, position.revision)
                    return Batch([], drained=False, start_position=position, end_position=restart)
                rows = list(
                    (
                        await connection.execute(
                            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
                            .where(EVENTS.c.id > cursor)
                            .order_by(EVENTS.c.id)
                            .limit(limit)
                        )
                    ).all()
                )
                largest = None
                if len(rows) == limit:  # more to read: how much, for the lag metric (one indexed max)
                    largest = int(await connection.scalar(select(func.max(EVENTS.c.id))) or 0)
                late = []
                if position.gaps:
                    late = list(
                        (
                            await connection.execute(
                                select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
                                .where(EVENTS.c.id.in_([gap_id for gap_id, _ in position.gaps]))
                                .order_by(EVENTS.c.id)
                            )
                        ).all()
                    )
        except (OSError, SQLAlchemyError) as error:
            self._availability.down(f"cannot be read: {error.__class__.__name__}: {error}".splitlines()[0])
            return Batch([], drained=True, reachable=False)
        self._availability.up()
        now = self._clock().timestamp()
        end = int(rows[-1][0]) if rows else cursor
        gaps = self._next_gaps(position, {int(row[0]) for row in late}, [int(row[0]) for row in rows], now)
        events = [
            RawEvent(
                body=data if data is not None else "",
                label=f"events row {row_id}" + (" (committed late)" if index < len(late) else ""),
                sender_hint=sender_id,
            )
            for index, (row_id, sender_id, data) in enumerate(late + rows)
        ]
        end_position = SqlPosition(end, gaps, first, position.revision)
        return Batch(
            events,
            drained=len(rows) < limit,
            start_position=position,
            end_position=end_position,
            backlog=max(0, largest - end) if len(rows) == limit and largest is not None else 0,
        )

    async def _recreated(
        self, connection: AsyncConnection, position: SqlPosition, first: tuple[int, str] | None
    ) -> bool:
        if first is None:
            return True  # emptied: whatever comes next is read from its first row
        if position.first_event is not None:
            stored_id, stored_digest = position.first_event
            # A smaller first id is a new table, unless it is an awaited id committed late.
            committed_late = first[0] in {gap_id for gap_id, _ in position.gaps}
            if (first[0] < stored_id and not committed_late) or (
                first[0] == stored_id and first[1] != stored_digest
            ):
                return True
        largest = await connection.scalar(select(func.max(EVENTS.c.id)))
        return largest is None or int(largest) < position.last_event_id

    def _next_gaps(
        self, position: SqlPosition, found: set[int], new_ids: list[int], now: float
    ) -> tuple[tuple[int, float], ...]:
        """The awaited ids after this read: the old ones not found nor expired, and the new holes."""
        kept: list[tuple[int, float]] = []
        for gap_id, since in position.gaps:
            if gap_id in found:
                continue
            if now - since >= GAP_WAIT_SECONDS:
                log.info(
                    "outcomes: %s: row %d did not appear within %d s (a rolled-back insert); not awaited any "
                    "more",
                    self.description,
                    gap_id,
                    GAP_WAIT_SECONDS,
                )
                continue
            kept.append((gap_id, since))
        expected = position.last_event_id + 1
        for row_id in new_ids:
            kept.extend((gap_id, now) for gap_id in range(max(expected, row_id - MAX_HOLE_TRACKED), row_id))
            expected = row_id + 1
        if len(kept) > MAX_TRACKED_GAPS:
            log.warning(
                "outcomes: %s: %d ids awaited; the oldest %d are not awaited any more",
                self.description,
                len(kept),
                len(kept) - MAX_TRACKED_GAPS,
            )
            kept = kept[-MAX_TRACKED_GAPS:]
        return tuple(kept)

    async def commit(self, session: AsyncSession, batch: Batch) -> None:
        if not batch.moves_cursor:
            return
        assert batch.start_position is not None and batch.end_position is not None
        start, end = batch.start_position, batch.end_position
        values = {
            "last_event_id": end.last_event_id,
            "pending_gaps": [[gap_id, since] for gap_id, since in end.gaps],
            "first_event_id": end.first_event[0] if end.first_event else None,
            "first_event_digest": end.first_event[1] if end.first_event else None,
            "updated_at": utcnow(),
        }
        if start.revision is not None:
            result = await session.execute(
                update(OutcomeCursor)
                .where(OutcomeCursor.source == self._key, OutcomeCursor.revision == start.revision)
                .values(revision=start.revision + 1, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return
        elif await session.get(OutcomeCursor, self._key) is None:
            session.add(OutcomeCursor(source=self._key, revision=1, **values))
            try:
                await session.flush()
                return
            except IntegrityError:
                pass
        raise CursorMoved(f"the cursor of {self.description} moved since it was read (another consumer?)")

    async def acknowledge(self, batch: Batch) -> None:
        return None

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def row_digest(sender_id: str | None, data: str | None) -> str:
    """A fingerprint of one events row (its content, not its id)."""
    return hashlib.sha256(f"{sender_id}\0{data}".encode("utf-8", "surrogatepass")).hexdigest()


class RabbitMqEventSource:
    """Consumes the queue Rasa's pika broker publishes to, as the queue's only (exclusive) consumer.

    Exclusive, because the outcome of a session depends on the order of its events: a second cs_backend
    process cannot consume the queue at the same time (it reports the queue busy and retries). The queue is
    declared durable, as Rasa declares it, so it exists (and keeps events) whichever starts first; Rasa binds
    it to its exchange when it connects. Up to `prefetch` messages are delivered unacknowledged; they are
    acknowledged once their effect is committed. After a lost connection the broker redelivers what was not
    acknowledged, and the consumer skips the messages it has already applied (`dedupe_key`).
    """

    def __init__(self, url: str, queue: str, prefetch: int) -> None:
        self._url = url
        self._queue_name = queue
        self._prefetch = prefetch
        self._connection: Any = None
        self._channel: Any = None
        self._queue: Any = None
        self._buffer: asyncio.Queue[Any] = asyncio.Queue()
        self.description = f"RabbitMQ queue {queue!r} at {_redacted(url)}"
        self._availability = _Availability(self.description)

    async def _connect(self) -> None:
        import aio_pika

        if self._channel is not None and not self._channel.is_closed:
            return
        await self.close()
        self._connection = await aio_pika.connect(self._url, timeout=CONNECT_TIMEOUT_SECONDS)
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await self._channel.declare_queue(self._queue_name, durable=True)
        # Messages of an earlier channel cannot be acknowledged any more; the broker redelivers them.
        self._buffer = asyncio.Queue()
        await self._queue.consume(self._on_message, exclusive=True)

    async def _on_message(self, message: Any) -> None:
        self._buffer.put_nowait(message)

    async def fetch(self, limit: int) -> Batch:
        try:
            await self._connect()
            messages = []
            if self._buffer.empty():
                # Give the broker a moment to push what it has (right after connecting, or after acks).
                with contextlib.suppress(asyncio.TimeoutError):
                    messages.append(await asyncio.wait_for(self._buffer.get(), FIRST_MESSAGE_WAIT_SECONDS))
            while len(messages) < limit and not self._buffer.empty():
                messages.append(self._buffer.get_nowait())
            # Ready messages the broker has not delivered yet (it pushes them as acks free the prefetch).
            ready = int((await self._queue.declare()).message_count or 0)
            drained = len(messages) < limit and ready == 0 and self._buffer.empty()
        except Exception as error:  # aio-pika/aiormq errors have no common base besides Exception
            problem = f"cannot be consumed: {error.__class__.__name__}: {error}".splitlines()[0]
            self._availability.down(problem)
            await self.close()
            return Batch([], drained=True, reachable=False)
        self._availability.up()
        events = [
            RawEvent(
                body=message.body,
                label=f"message {message.delivery_tag}" + (" (redelivered)" if message.redelivered else ""),
                dedupe_key="amqp:" + hashlib.sha256(message.body).hexdigest(),
                redelivered=bool(message.redelivered),
            )
            for message in messages
        ]
        return Batch(events, drained=drained, messages=messages, backlog=ready + self._buffer.qsize())

    async def commit(self, session: AsyncSession, batch: Batch) -> None:
        return None

    async def acknowledge(self, batch: Batch) -> None:
        for message in batch.messages:
            try:
                await message.ack()
            except Exception as error:
                log.warning(
                    "outcomes: could not acknowledge a message of %s (%s); it will be redelivered and "
                    "skipped as already applied",
                    self.description,
                    error.__class__.__name__,
                )
                await self.close()
                return

    async def close(self) -> None:
        connection, self._connection, self._channel, self._queue = self._connection, None, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # closing a dead connection: nothing left to release
                log.debug("outcomes: closing the RabbitMQ connection failed", exc_info=True)


def create_source(
    events_url: str, queue: str, database: Database, batch_size: int
) -> SqlEventSource | RabbitMqEventSource:
    """RASA_EVENTS_URL starting with amqp:// or amqps:// → RabbitMQ; any other (SQL) URL → the SQL table."""
    if is_amqp_url(events_url):
        return RabbitMqEventSource(events_url, queue, prefetch=batch_size)
    return SqlEventSource(events_url, database)
