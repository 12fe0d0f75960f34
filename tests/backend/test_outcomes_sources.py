"""SqlEventSource and the consumer on real databases: Rasa's SQL broker table (SQLite files written in its
format, and PostgreSQL) in, cs_backend's database (SQLite and PostgreSQL) out; cursor persistence across
restarts, failures and a second consumer; bad events."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from cs_backend.db import Database, create_engine
from cs_backend.outcomes import consumer as consumer_module
from cs_backend.outcomes.classifier import classify, to_datetime
from cs_backend.outcomes.consumer import CycleReport, OutcomeConsumer
from cs_backend.outcomes.models import ConversationOutcome, OutcomeCursor, OutcomeSession
from cs_backend.outcomes.sources import (
    GAP_WAIT_SECONDS,
    CursorMoved,
    SqlEventSource,
    create_source,
    cursor_key,
)

from .rasa_events import (
    FALLBACK_LEFT,
    FAQ_RESOLVED,
    FORM_LEFT_OPEN,
    RASA_EVENTS_DDL,
    RECORDED_AT,
    TICKET_CREATED,
    TICKET_THEN_NEW_SESSION,
    conversation,
    write_rasa_events,
    write_raw_rows,
)

THIRTY_MINUTES = timedelta(minutes=30)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def database(outcomes_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(outcomes_database_url)
    yield db
    await db.dispose()


def recorded_mix() -> list[dict[str, Any]]:
    """Four recorded conversations (five sessions), interleaved by time as Rasa would publish them."""
    events = (
        conversation(TICKET_CREATED, "alice", RECORDED_AT)
        + conversation(FAQ_RESOLVED, "bob", RECORDED_AT + 0.3)
        + conversation(FORM_LEFT_OPEN, "carol", RECORDED_AT + 0.6, channel="socketio")
        + conversation(TICKET_THEN_NEW_SESSION, "dave", RECORDED_AT + 0.9)
        + conversation(FALLBACK_LEFT, "erin", RECORDED_AT + 1.2, channel="socketio")
    )
    return sorted(events, key=lambda event: event["timestamp"])


LAST = to_datetime(RECORDED_AT) + timedelta(minutes=1)  # every recorded session is still open
IDLE = to_datetime(RECORDED_AT) + timedelta(hours=1)  # every recorded session is idle


def make_consumer(
    database: Database, events_path: Path, clock: Callable[[], datetime], batch_size: int = 500
) -> OutcomeConsumer:
    source = SqlEventSource(f"sqlite:///{events_path}", database)
    return OutcomeConsumer(database, source, THIRTY_MINUTES, clock=clock, batch_size=batch_size)


async def stored(database: Database) -> list[tuple[str, str, str, list[str], datetime, datetime]]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(ConversationOutcome).order_by(ConversationOutcome.session_started_at)
        )
        return [
            (r.sender_id, r.channel, r.outcome, r.intents, r.session_started_at, r.ended_at) for r in rows
        ]


def expected(events: list[dict[str, Any]], now: datetime) -> list[tuple[Any, ...]]:
    decided = sorted(classify(events, THIRTY_MINUTES, now=now), key=lambda o: o.session_started_at)
    return [
        (o.sender_id, o.channel, o.outcome, list(o.intents), o.session_started_at, o.ended_at)
        for o in decided
    ]


async def cursor_of(consumer: OutcomeConsumer) -> int:
    assert isinstance(consumer.source, SqlEventSource)
    return await consumer.source.read_cursor()


async def count(database: Database, model: type[Any]) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_reads_rasa_events_in_id_order_from_the_stored_cursor(
    database: Database, events_db: Path
) -> None:
    events = recorded_mix()
    write_rasa_events(events_db, events)
    source = SqlEventSource(f"sqlite:///{events_db}", database)
    try:
        batch = await source.fetch(5)
        assert [raw.label for raw in batch.events] == [f"events row {i}" for i in range(1, 6)]
        assert (batch.start_cursor, batch.end_cursor, batch.drained) == (0, 5, False)
        assert batch.events[0].sender_hint == events[0]["sender_id"]
        assert await source.read_cursor() == 0  # fetching alone moves nothing

        report = await make_consumer(database, events_db, Clock(LAST), batch_size=70).run_once()
        assert (report.events, report.skipped, report.decided) == (len(events), 0, 1)
        assert await source.read_cursor() == len(events)
        # dave's first session ended at /session_start; the others are open until they idle.
        assert [row[:4] for row in await stored(database)] == [
            ("dave", "rest", "ticket_created", ["report_problem", "inform"])
        ]
        assert await count(database, OutcomeSession) == 5

        report = await make_consumer(database, events_db, Clock(IDLE)).run_once()
        assert (report.events, report.decided) == (0, 5)
        assert await stored(database) == expected(events, IDLE)
        assert await count(database, OutcomeSession) == 0
    finally:
        await source.close()


async def test_outcomes_of_the_recorded_conversations(database: Database, events_db: Path) -> None:
    write_rasa_events(events_db, recorded_mix())
    await make_consumer(database, events_db, Clock(IDLE)).run_once()
    assert [(row[0], row[1], row[2]) for row in await stored(database)] == [
        ("alice", "rest", "ticket_created"),
        ("bob", "rest", "resolved_by_bot"),
        ("carol", "socketio", "abandoned"),
        ("dave", "rest", "ticket_created"),
        ("erin", "socketio", "abandoned"),
        ("dave", "rest", "resolved_by_bot"),
    ]


async def test_no_events_database_or_table_yet_is_not_an_error(database: Database, events_db: Path) -> None:
    consumer = make_consumer(database, events_db, Clock(IDLE))
    batch = await consumer.source.fetch(10)
    assert (batch.events, batch.drained, batch.reachable) == ([], True, True)
    assert (await consumer.run_once()).events == 0
    assert not events_db.exists()  # read-only: never creates the file Rasa will create

    sqlite3.connect(events_db).close()  # an empty database: Rasa has not created its table yet
    batch = await consumer.source.fetch(10)
    assert (batch.events, batch.reachable) == ([], True)

    write_rasa_events(events_db, conversation(FAQ_RESOLVED, "bob", RECORDED_AT))
    await consumer.run_once()
    assert [row[2] for row in await stored(database)] == ["resolved_by_bot"]
    await consumer.source.close()


@pytest.mark.parametrize("split", [0.3, 0.7])
async def test_a_restart_neither_loses_nor_double_counts(
    database: Database, events_db: Path, split: float
) -> None:
    events = recorded_mix()
    cut = int(len(events) * split)
    write_rasa_events(events_db, events[:cut])
    first = make_consumer(database, events_db, Clock(LAST), batch_size=40)
    await first.run_once()
    await first.source.close()  # the process stops; open sessions wait in outcome_sessions

    write_rasa_events(events_db, events[cut:])
    second = make_consumer(database, events_db, Clock(IDLE), batch_size=40)
    await second.run_once()
    await second.source.close()
    assert await stored(database) == expected(events, IDLE)

    again = make_consumer(database, events_db, Clock(IDLE + timedelta(days=1)))
    assert (await again.run_once()).events == 0
    assert await stored(database) == expected(events, IDLE)
    await again.source.close()


async def test_a_failed_transaction_changes_nothing(
    database: Database, events_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between reading and committing: neither the cursor nor any state moved; the next run
    applies the same events exactly once."""
    events = recorded_mix()
    write_rasa_events(events_db, events)
    original = consumer_module.insert_outcomes
    calls = 0

    async def crashing(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch
            raise RuntimeError("power cut")
        await original(*args)

    monkeypatch.setattr(consumer_module, "insert_outcomes", crashing)
    consumer = make_consumer(database, events_db, Clock(LAST), batch_size=60)
    with pytest.raises(RuntimeError, match="power cut"):
        await consumer.run_once()
    assert await cursor_of(consumer) == 60  # the first batch only
    monkeypatch.setattr(consumer_module, "insert_outcomes", original)

    consumer.clock = Clock(IDLE)
    await consumer.run_once()
    assert await stored(database) == expected(events, IDLE)
    await consumer.source.close()


async def test_bad_events_are_logged_and_skipped(
    database: Database, events_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    rows: list[tuple[str | None, str | None]] = [("bob", json.dumps(event)) for event in good[:5]]
    rows += [
        ("bob", "{not json"),
        ("bob", "[1, 2]"),
        ("bob", json.dumps({"event": "user", "sender_id": "bob"})),  # no timestamp
        (None, None),
        ("x", json.dumps({**good[5], "sender_id": "\u0000"})),
        ("bob", '"\\ud800"'),
    ]
    rows += [("bob", json.dumps(event)) for event in good[5:]]
    write_raw_rows(events_db, rows)
    consumer = make_consumer(database, events_db, Clock(IDLE), batch_size=4)
    with caplog.at_level(logging.WARNING, logger="cs_backend.outcomes"):
        report = await consumer.run_once()
    assert (report.events, report.skipped) == (len(rows), 6)
    assert await cursor_of(consumer) == len(rows)
    assert [row[2:4] for row in await stored(database)] == [
        ("resolved_by_bot", ["greet", "get_started", "thank", "goodbye"])
    ]
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 6 and "events row 6" in skipped[0] and "not JSON" in skipped[0]
    await consumer.source.close()


async def test_a_recreated_events_table_is_read_from_the_start(database: Database, events_db: Path) -> None:
    write_rasa_events(events_db, conversation(FAQ_RESOLVED, "bob", RECORDED_AT))
    consumer = make_consumer(database, events_db, Clock(LAST))
    await consumer.run_once()
    assert await cursor_of(consumer) == len(FAQ_RESOLVED)

    events_db.unlink()  # Rasa's database deleted; its ids start at 1 again
    write_rasa_events(events_db, conversation(FORM_LEFT_OPEN, "carol", RECORDED_AT + 600))
    consumer.clock = Clock(IDLE + timedelta(hours=1))
    await consumer.run_once()
    assert await cursor_of(consumer) == len(FORM_LEFT_OPEN)
    assert [(row[0], row[2]) for row in await stored(database)] == [
        ("bob", "resolved_by_bot"),
        ("carol", "abandoned"),
    ]
    await consumer.source.close()


async def test_a_second_consumer_cannot_count_the_same_events(database: Database, events_db: Path) -> None:
    events = recorded_mix()
    write_rasa_events(events_db, events)
    first = make_consumer(database, events_db, Clock(LAST))
    second = make_consumer(database, events_db, Clock(LAST))
    stale = await second.source.fetch(500)  # read before the first consumer commits
    await first.run_once()
    states_before = await count(database, OutcomeSession)
    with pytest.raises(CursorMoved):
        await second._apply_batch(stale, CycleReport())
    assert await count(database, ConversationOutcome) == 1
    assert await count(database, OutcomeSession) == states_before
    assert await cursor_of(first) == len(events)
    await first.source.close()
    await second.source.close()


async def test_idle_sessions_are_not_closed_while_the_broker_cannot_be_read(
    database: Database, events_db: Path
) -> None:
    write_rasa_events(events_db, conversation(FAQ_RESOLVED, "bob", RECORDED_AT))
    consumer = make_consumer(database, events_db, Clock(LAST))
    await consumer.run_once()
    events_db.write_bytes(b"this is not a database")
    consumer.clock = Clock(IDLE)
    report = await consumer.run_once()
    assert report.decided == 0  # unread events could still continue bob's session
    assert await count(database, ConversationOutcome) == 0
    await consumer.source.close()


def test_cursor_keys_hide_passwords_and_fit_the_column() -> None:
    assert cursor_key("postgresql://rasa:secret@db/rasa") == "sql:postgresql+asyncpg://rasa:***@db/rasa"
    assert cursor_key("sqlite:////var/lib/rasa/ev.db") == "sql:sqlite+aiosqlite:////var/lib/rasa/ev.db"
    long = cursor_key("sqlite:////" + "d/" * 200 + "events.db")
    assert len(long) == 255 and long != cursor_key("sqlite:////" + "e/" * 200 + "events.db")


def test_the_source_follows_the_url(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'x.db'}")
    assert type(create_source("sqlite:///var/rasa_events.db", "q", database, 10)).__name__ == "SqlEventSource"
    assert type(create_source("postgresql://u@h/db", "q", database, 10)).__name__ == "SqlEventSource"
    amqp = create_source("amqp://guest:guest@127.0.0.1:5672/", "rasa_events", database, 10)
    assert type(amqp).__name__ == "RabbitMqEventSource"
    assert "guest:***@" in amqp.description and "rasa_events" in amqp.description


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_rasa_events_table_on_postgresql(database: Database, outcomes_database_url: str) -> None:
    """Rasa's SQL broker on PostgreSQL (dialect: postgresql in endpoints.yml): same table, SERIAL ids."""
    engine = create_engine(outcomes_database_url)
    events = recorded_mix()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS events"))
            await connection.execute(
                text(
                    "CREATE TABLE events "
                    "(id SERIAL NOT NULL, sender_id VARCHAR(255), data TEXT, PRIMARY KEY (id))"
                )
            )
            await connection.execute(
                text("INSERT INTO events (sender_id, data) VALUES (:sender_id, :data)"),
                [{"sender_id": e["sender_id"], "data": json.dumps(e)} for e in events],
            )
        source = SqlEventSource(outcomes_database_url, database)
        consumer = OutcomeConsumer(database, source, THIRTY_MINUTES, clock=Clock(IDLE), batch_size=50)
        await consumer.run_once()
        await source.close()
        assert await stored(database) == expected(events, IDLE)
        async with database.sessions() as session:
            assert await session.scalar(select(OutcomeCursor.last_event_id)) == len(events)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS events"))
        await engine.dispose()


def write_rows_with_ids(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Rows under chosen ids: what a reader sees when inserts commit in another order than their ids."""
    connection = sqlite3.connect(path)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            connection.execute(RASA_EVENTS_DDL)
        connection.executemany(
            "INSERT INTO events (id, sender_id, data) VALUES (?, ?, ?)",
            [(row_id, event["sender_id"], json.dumps(event)) for row_id, event in rows],
        )
        connection.commit()
    finally:
        connection.close()


async def test_rows_visible_after_larger_ids_are_read_once(database: Database, events_db: Path) -> None:
    """Ids 1-3 and 7-9 first, 4-6 later (their transaction committed last): nothing skipped or read twice."""
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)[:9]
    write_rows_with_ids(events_db, [(i + 1, e) for i, e in enumerate(events) if not 3 <= i < 6])
    clock = Clock(LAST)
    source = SqlEventSource(f"sqlite:///{events_db}", database, clock=clock)
    consumer = OutcomeConsumer(database, source, THIRTY_MINUTES, clock=clock)
    assert (await consumer.run_once()).events == 6
    position = await source.read_position()
    assert (position.last_event_id, [gap for gap, _ in position.gaps]) == (9, [4, 5, 6])

    write_rows_with_ids(events_db, [(i + 1, events[i]) for i in range(3, 6)])
    assert (await consumer.run_once()).events == 3
    assert (await source.read_position()).gaps == ()
    assert (await consumer.run_once()).events == 0
    async with database.sessions() as session:
        row = await session.get(OutcomeSession, "bob")
        assert row is not None
    # Every event was applied once (the late ones after the others: one conversation's events are written by
    # one Rasa process at a time under its lock store, so in practice a late row is another conversation's).
    assert sorted(row.state["session"]["intents"]) == sorted(
        e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"
    )
    await source.close()


async def test_an_id_that_never_appears_stops_being_awaited(database: Database, events_db: Path) -> None:
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    write_rows_with_ids(events_db, [(1, events[0]), (3, events[2])])  # 2: an insert rolled back
    clock = Clock(LAST)
    source = SqlEventSource(f"sqlite:///{events_db}", database, clock=clock)
    consumer = OutcomeConsumer(database, source, THIRTY_MINUTES, clock=clock)
    await consumer.run_once()
    assert [gap for gap, _ in (await source.read_position()).gaps] == [2]
    clock.now = LAST + timedelta(seconds=GAP_WAIT_SECONDS - 1)
    await consumer.run_once()
    assert [gap for gap, _ in (await source.read_position()).gaps] == [2]
    clock.now = LAST + timedelta(seconds=GAP_WAIT_SECONDS)
    await consumer.run_once()
    assert (await source.read_position()).gaps == ()
    await source.close()


async def test_a_recreated_table_grown_past_the_old_cursor_is_read_from_its_start(
    database: Database, events_db: Path
) -> None:
    old = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    write_rasa_events(events_db, old)
    consumer = make_consumer(database, events_db, Clock(LAST))
    await consumer.run_once()
    assert await cursor_of(consumer) == len(old)

    events_db.unlink()  # Rasa's database deleted, then more events than before before the next poll
    new = conversation(FORM_LEFT_OPEN, "carol", RECORDED_AT + 600) + conversation(
        TICKET_CREATED, "alice", RECORDED_AT + 700
    )
    assert len(new) > len(old)
    write_rasa_events(events_db, new)
    consumer.clock = Clock(IDLE + timedelta(hours=1))
    read = 0
    for _ in range(3):
        read += (await consumer.run_once()).events
    assert read == len(new)
    assert await cursor_of(consumer) == len(new)
    assert sorted((row[0], row[2]) for row in await stored(database)) == [
        ("alice", "ticket_created"),
        ("bob", "resolved_by_bot"),
        ("carol", "abandoned"),
    ]
    await consumer.source.close()


async def test_deleting_the_oldest_rows_is_not_taken_for_a_new_table(
    database: Database, events_db: Path
) -> None:
    """Privacy's retention deletes the oldest events (and a customer's): the cursor stays where it is."""
    first = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    write_rasa_events(events_db, first)
    consumer = make_consumer(database, events_db, Clock(LAST))
    await consumer.run_once()
    connection = sqlite3.connect(events_db)
    connection.execute("DELETE FROM events WHERE id <= 5")
    connection.commit()
    connection.close()
    more = conversation(FORM_LEFT_OPEN, "carol", RECORDED_AT + 600)
    write_rasa_events(events_db, more)
    assert (await consumer.run_once()).events == len(more)
    assert await cursor_of(consumer) == len(first) + len(more)
    assert (await consumer.run_once()).events == 0
    await consumer.source.close()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_rasa_processes_committing_out_of_order_on_postgresql(
    database: Database, outcomes_database_url: str
) -> None:
    """Two Rasa processes on one PostgreSQL events table: the first takes ids 1..n and commits after the
    second took and committed n+1..: the consumer reads the second's rows, then the first's, each once."""
    engine = create_engine(outcomes_database_url)
    slow_events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    fast_events = conversation(TICKET_CREATED, "alice", RECORDED_AT + 0.5)
    insert = text("INSERT INTO events (sender_id, data) VALUES (:sender_id, :data)")
    clock = Clock(LAST)
    source = SqlEventSource(outcomes_database_url, database, clock=clock)
    consumer = OutcomeConsumer(database, source, THIRTY_MINUTES, clock=clock, batch_size=50)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS events"))
            await connection.execute(
                text(
                    "CREATE TABLE events "
                    "(id SERIAL NOT NULL, sender_id VARCHAR(255), data TEXT, PRIMARY KEY (id))"
                )
            )
        async with engine.connect() as slow:
            transaction = await slow.begin()
            await slow.execute(
                insert, [{"sender_id": e["sender_id"], "data": json.dumps(e)} for e in slow_events]
            )
            async with engine.begin() as fast:
                await fast.execute(
                    insert, [{"sender_id": e["sender_id"], "data": json.dumps(e)} for e in fast_events]
                )
            assert (await consumer.run_once()).events == len(fast_events)
            assert await source.read_cursor() == len(slow_events) + len(fast_events)
            await transaction.commit()
        assert (await consumer.run_once()).events == len(slow_events)
        assert (await consumer.run_once()).events == 0
        clock.now = IDLE
        await consumer.run_once()
        assert await stored(database) == expected(slow_events + fast_events, IDLE)
    finally:
        await source.close()
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS events"))
        await engine.dispose()
