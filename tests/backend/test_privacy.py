"""A customer's export and deletion (cs_backend/privacy), on SQLite and PostgreSQL, with a fake Rasa and a
real SQL event broker database: the export holds the customer's rows and nobody else's; after the deletion no
table of the (reflected) schema refers to the customer, their trackers are empty and their events gone, and
other customers keep everything; Rasa down means nothing deleted."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings
from cs_backend.db import Database, create_engine
from cs_backend.main import create_app
from cs_backend.nlu_review.models import MisunderstoodMessage
from cs_backend.onboarding.models import OnboardingNudge
from cs_backend.outcomes.models import ConversationOutcome, OutcomeSession
from cs_backend.privacy.event_store import EventStore
from cs_backend.privacy.jobs import purge_transcripts, retention_job
from cs_backend.rasa_client import RasaClient

from .fake_rasa import FakeRasa
from .helpers import bearer_of_new_account, complete, ticket_payload
from .rasa_events import session_started, user, write_rasa_events

ADA = {"email": "ada.private@example.com", "sender_id": "sender-ada"}
BOB = {"email": "bob.keeps@example.com", "sender_id": "sender-bob"}
# Ada's second conversation, on the widget.
ADA_WIDGET = "sender-ada-widget"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def service(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa, events_db: Path
) -> tuple[TestClient[Any, Any], TestClient[Any, Any]]:
    """(a client signed as the service, an unsigned client for people's bearer tokens) of one app."""
    settings = dataclasses.replace(
        settings, rasa_url=rasa.url, rasa_auth_token=rasa.token, rasa_events_url=f"sqlite:///{events_db}"
    )
    server = TestServer(create_app(settings))
    signed = await aiohttp_client(server)
    unsigned = await aiohttp_client(server, sign=False)
    return signed, unsigned


async def seed_customer(client: TestClient[Any, Any], who: dict[str, str]) -> dict[str, int]:
    """A customer with a row in every table that can hold theirs."""
    sender = who["sender_id"]
    response = await client.post(
        "/api/tickets", json=ticket_payload(email=who["email"], sender_id=sender, channel="rest")
    )
    assert response.status == 201, await response.text()
    ticket = await response.json()
    for rating in (
        {"kind": "csat", "score": 4, "ticket_id": ticket["id"], "comment": f"thanks, {who['email']}"},
        {"kind": "ces", "score": 6, "sender_id": sender, "channel": "rest"},
    ):
        response = await client.post("/api/feedback", json=rating)
        assert response.status == 201, await response.text()
    response = await client.post(
        "/api/churn/signals", json={"kind": "cancel_request", "sender_id": sender, "channel": "rest"}
    )
    assert response.status == 201, await response.text()
    await complete(client, "sign_up", sender_id=sender, channel="rest")
    async with client.app[DATABASE].sessions() as session, session.begin():
        session.add(
            OnboardingNudge(
                customer_id=ticket["customer_id"],
                step_key="invite_team",
                conversation_id=ticket["conversation_id"],
            )
        )
        session.add(
            ConversationOutcome(
                sender_id=sender,
                channel="rest",
                session_started_at=NOW,
                ended_at=NOW,
                outcome="ticket_created",
                intents=["report_problem"],
            )
        )
        session.add(OutcomeSession(sender_id=sender, state={"open": True}, idle_since=NOW))
    return {"customer_id": ticket["customer_id"], "conversation_id": ticket["conversation_id"]}


def write_transcript(events_db: Path, rasa: FakeRasa, who: dict[str, str], timestamp: float) -> None:
    sender = who["sender_id"]
    events = [session_started(timestamp, sender), user("inform", who["email"], timestamp + 1, sender)]
    write_rasa_events(events_db, events)
    rasa.trackers[sender] = events


def stored_senders(events_db: Path) -> list[str]:
    with sqlite3.connect(events_db) as connection:
        return [row[0] for row in connection.execute("SELECT sender_id FROM events ORDER BY id")]


async def seeded(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Ada (two conversations) and Bob with everything; Bob's churn signal heard in Ada's conversation; an
    admin's header."""
    signed, unsigned = service
    ada = await seed_customer(signed, ADA)
    bob = await seed_customer(signed, BOB)
    response = await signed.post(
        "/api/tickets", json=ticket_payload(email=ADA["email"], sender_id=ADA_WIDGET, channel="socketio")
    )
    assert response.status == 201, await response.text()
    async with signed.app[DATABASE].sessions() as session, session.begin():
        session.add(OutcomeSession(sender_id=ADA_WIDGET, state={"open": False}, idle_since=NOW))
        # A message of hers the assistant misunderstood, kept for review (cs_backend/nlu_review/).
        session.add(
            MisunderstoodMessage(
                sender_id=ADA_WIDGET,
                channel="socketio",
                message_key="m1",
                text="my invoice thingy looks weird",
                predicted_intent="billing_invoice",
                confidence=0.31,
                reason="fallback",
                said_at=NOW,
                collected_at=NOW,
            )
        )
    async with signed.app[DATABASE].engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO churn_signals (customer_id, conversation_id, kind, outcome, created_at) "
                "VALUES (:customer, :conversation, 'negative_feedback', 'open', :now)"
            ),
            {"customer": bob["customer_id"], "conversation": ada["conversation_id"], "now": NOW},
        )
    for who in (ADA, BOB):
        write_transcript(events_db, rasa, who, NOW.timestamp())
    admin = await bearer_of_new_account(signed, "admin")
    return ada, bob, admin


async def export_of(
    client: TestClient[Any, Any], customer_id: int, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/api/customers/{customer_id}/export", headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_export_returns_the_customers_rows_and_nobody_elses(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> None:
    ada, bob, admin = await seeded(service, rasa, events_db)
    export = await export_of(service[1], ada["customer_id"], admin)

    tables = export["tables"]
    assert set(tables) == {
        "customers",
        "conversations",
        "tickets",
        "feedback",
        "onboarding_progress",
        "onboarding_nudges",
        "churn_signals",
        "conversation_outcomes",
        "outcome_sessions",
        "nlu_review_messages",
    }
    # Ada, and the anonymous customer that stands for her first conversation (its ratings, onboarding and
    # churn signal are written for the conversation: a typed email does not attach it to her).
    assert [row["email"] for row in tables["customers"]] == [ADA["email"], None]
    ada_ids = {row["id"] for row in tables["customers"]}
    assert [row["sender_id"] for row in tables["conversations"]] == [ADA["sender_id"], ADA_WIDGET]
    assert len(tables["tickets"]) == 2
    assert sorted(row["sender_id"] for row in tables["outcome_sessions"]) == [ADA["sender_id"], ADA_WIDGET]
    assert [row["text"] for row in tables["nlu_review_messages"]] == ["my invoice thingy looks weird"]
    assert {row["customer_id"] for row in tables["tickets"]} == {ada["customer_id"]}
    assert {row["customer_id"] for row in tables["conversations"]} <= ada_ids | {None}
    assert sorted(row["kind"] for row in tables["feedback"]) == ["ces", "csat"]
    # Bob's signal heard in Ada's conversation is Bob's: not in Ada's export.
    assert [row["customer_id"] for row in tables["churn_signals"]] == sorted(ada_ids - {ada["customer_id"]})
    assert [row["sender_id"] for row in tables["conversation_outcomes"]] == [ADA["sender_id"]]
    transcript, widget = export["transcripts"]
    assert (widget["sender_id"], widget["channel"], widget["events"]) == (ADA_WIDGET, "socketio", [])
    assert transcript["sender_id"] == ADA["sender_id"] and transcript["channel"] == "rest"
    assert [event["event"] for event in transcript["tracker"]["events"]] == ["session_started", "user"]
    assert [event["text"] for event in transcript["events"] if event["event"] == "user"] == [ADA["email"]]

    dumped = json.dumps(export)
    assert BOB["email"] not in dumped and BOB["sender_id"] not in dumped
    assert f'"customer_id": {bob["customer_id"]}' not in dumped


async def reflected_rows(client: TestClient[Any, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the database has (reflected, not from the models)."""

    def read(connection: Any) -> dict[str, list[dict[str, Any]]]:
        schema = inspect(connection)
        rows = {}
        for table in schema.get_table_names():
            rows[table] = [dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table}"))]
        return rows

    async with client.app[DATABASE].engine.connect() as connection:
        return await connection.run_sync(read)


async def foreign_keys(client: TestClient[Any, Any]) -> list[tuple[str, str, str]]:
    """(table, column, referred table) of every foreign key of the database."""

    def read(connection: Any) -> list[tuple[str, str, str]]:
        schema = inspect(connection)
        return [
            (table, key["constrained_columns"][0], key["referred_table"])
            for table in schema.get_table_names()
            for key in schema.get_foreign_keys(table)
        ]

    async with client.app[DATABASE].engine.connect() as connection:
        return await connection.run_sync(read)


async def test_after_deletion_nothing_refers_to_the_customer_and_others_keep_everything(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> None:
    signed, unsigned = service
    ada, bob, admin = await seeded(service, rasa, events_db)
    adas_rows = (await export_of(unsigned, ada["customer_id"], admin))["tables"]
    bobs_export = await export_of(unsigned, bob["customer_id"], admin)
    before = await reflected_rows(signed)

    response = await unsigned.delete(f"/api/customers/{ada['customer_id']}", headers=admin)
    assert response.status == 200, await response.text()
    summary = await response.json()
    assert summary["customer_id"] == ada["customer_id"]
    assert summary["rows_deleted"] == sum(len(rows) for rows in adas_rows.values())
    assert (summary["trackers_emptied"], summary["events_deleted"]) == (2, 2)

    after = await reflected_rows(signed)
    # Generically, over the reflected schema: no row of Ada's is left, no foreign key points at one, and no
    # text column holds her email or sender id.
    gone = {table: {row["id"] for row in rows if "id" in row} for table, rows in adas_rows.items()}
    for table, rows in after.items():
        for row in rows:
            assert row.get("id") not in gone.get(table, set()), (table, row)
            for value in row.values():
                if isinstance(value, str):
                    assert ADA["email"] not in value and ADA["sender_id"] not in value, (table, row)
    for table, column, referred in await foreign_keys(signed):
        for row in after[table]:
            assert row[column] not in gone.get(referred, set()), (table, column, row)

    # Rasa's tracker is empty, the event store has only Bob's events.
    assert rasa.replaced == sorted([ADA["sender_id"], ADA_WIDGET]) and rasa.trackers[ADA["sender_id"]] == []
    assert stored_senders(events_db) == [BOB["sender_id"]] * 2

    # Bob keeps everything; only his signal from Ada's conversation lost that link (ON DELETE SET NULL).
    bobs_export_after = await export_of(unsigned, bob["customer_id"], admin)
    del bobs_export["exported_at"], bobs_export_after["exported_at"]
    for signal in bobs_export["tables"]["churn_signals"]:
        if signal["conversation_id"] == ada["conversation_id"]:
            signal["conversation_id"] = None
    assert bobs_export_after == bobs_export
    assert len(after["churn_signals"]) == len(before["churn_signals"]) - 1

    # The deletion is recorded: who, when, which customer id, nothing personal.
    [record] = after["customer_deletions"]
    admin_id = next(row["id"] for row in after["accounts"] if row["role"] == "admin")
    assert (record["customer_id"], record["account_id"]) == (ada["customer_id"], admin_id)
    assert record["deleted_at"] is not None

    response = await unsigned.get(f"/api/customers/{ada['customer_id']}/export", headers=admin)
    assert response.status == 404


async def test_with_rasa_down_nothing_is_deleted_and_the_answer_says_so(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> None:
    signed, unsigned = service
    ada, _, admin = await seeded(service, rasa, events_db)
    before = await reflected_rows(signed)
    rasa.status = 503

    response = await unsigned.delete(f"/api/customers/{ada['customer_id']}", headers=admin)
    assert response.status == 503
    message = (await response.json())["error"]["message"]
    assert "not deleted" in message and "nothing was deleted" in message and "try again" in message
    assert await reflected_rows(signed) == before
    assert stored_senders(events_db) == [ADA["sender_id"]] * 2 + [BOB["sender_id"]] * 2

    response = await unsigned.get(f"/api/customers/{ada['customer_id']}/export", headers=admin)
    assert response.status == 503

    rasa.status = 200  # Rasa is back: asking again deletes
    response = await unsigned.delete(f"/api/customers/{ada['customer_id']}", headers=admin)
    assert response.status == 200, await response.text()
    assert stored_senders(events_db) == [BOB["sender_id"]] * 2


async def test_only_admins_export_and_delete(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> None:
    signed, unsigned = service
    ada, _, admin = await seeded(service, rasa, events_db)
    agent = await bearer_of_new_account(signed, "agent")
    before = await reflected_rows(signed)
    for client, headers in ((unsigned, agent), (signed, {})):
        response = await client.get(f"/api/customers/{ada['customer_id']}/export", headers=headers)
        assert response.status == 403
        response = await client.delete(f"/api/customers/{ada['customer_id']}", headers=headers)
        assert response.status == 403
    response = await unsigned.delete(f"/api/customers/{ada['customer_id']}")
    assert response.status == 401
    assert await reflected_rows(signed) == before
    assert rasa.replaced == []
    response = await unsigned.delete("/api/customers/987654", headers=admin)
    assert response.status == 404


async def test_the_foreign_keys_cascade_in_the_database_itself(
    service: tuple[TestClient[Any, Any], TestClient[Any, Any]], rasa: FakeRasa, events_db: Path
) -> None:
    """A plain DELETE of customers takes their rows (SQLite enforces foreign keys: cs_backend/db.py): here
    Ada and the anonymous customer of her first conversation, whose ratings, onboarding and churn signal it
    holds."""
    signed, _ = service
    ada, bob, _ = await seeded(service, rasa, events_db)
    async with signed.app[DATABASE].engine.begin() as connection:
        found = await connection.execute(
            text("SELECT customer_id FROM conversations WHERE id = :id"), {"id": ada["conversation_id"]}
        )
        ada_ids = [ada["customer_id"], found.scalar_one()]
        for customer_id in ada_ids:
            await connection.execute(text("DELETE FROM customers WHERE id = :id"), {"id": customer_id})
    rows = await reflected_rows(signed)
    for table in ("conversations", "tickets", "onboarding_progress", "onboarding_nudges", "churn_signals"):
        assert all(row["customer_id"] not in ada_ids for row in rows[table]), table
    assert all(row["conversation_id"] != ada["conversation_id"] for row in rows["feedback"])
    assert len(rows["feedback"]) == 2  # Bob's two ratings


async def test_retention_purges_old_transcripts_and_empties_inactive_trackers(
    rasa: FakeRasa, events_db: Path
) -> None:
    old, recent = (NOW - timedelta(days=100)).timestamp(), (NOW - timedelta(days=1)).timestamp()
    write_rasa_events(
        events_db,
        [
            session_started(old, "inactive"),
            user("greet", "hi, +44 20 7946 0958", old + 1, "inactive"),
            session_started(old, "active"),
            user("greet", "hello", recent, "active"),
            session_started(recent, "new"),
        ],
    )
    rasa.trackers.update({"inactive": [{"event": "x"}], "active": [{"event": "y"}]})
    store = EventStore(f"sqlite:///{events_db}")
    try:
        async with RasaClient(rasa.url, auth_token=rasa.token) as client:
            rasa.status = 503  # Rasa down: the inactive conversation's events wait for the next run
            run = await purge_transcripts(store, client, timedelta(days=90), clock=lambda: NOW)
            assert (run.events_deleted, run.trackers_emptied, run.trackers_failed) == (1, 0, 1)
            assert stored_senders(events_db) == ["inactive", "inactive", "active", "new"]

            rasa.status = 200
            run = await purge_transcripts(store, client, timedelta(days=90), clock=lambda: NOW)
            assert (run.events_deleted, run.trackers_emptied, run.trackers_failed) == (2, 1, 0)
            assert stored_senders(events_db) == ["active", "new"]
            assert rasa.replaced == ["inactive"] and rasa.trackers["active"] == [{"event": "y"}]

            # 99 days later by the clock, everything is old.
            later = NOW + timedelta(days=99)
            run = await purge_transcripts(store, client, timedelta(days=90), clock=lambda: later)
            assert (run.events_deleted, run.trackers_emptied) == (2, 2)
            assert stored_senders(events_db) == []
    finally:
        await store.close()


async def test_the_retention_job_runs_with_the_settings(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa, events_db: Path
) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=8)).timestamp()
    write_rasa_events(events_db, [session_started(old, "inactive")])
    settings = dataclasses.replace(
        settings,
        rasa_url=rasa.url,
        rasa_auth_token=rasa.token,
        rasa_events_url=f"sqlite:///{events_db}",
        transcript_retention_days=7,
        transcript_retention_interval_seconds=3600,
    )
    await aiohttp_client(create_app(settings))  # the job runs at startup
    for _ in range(100):
        if not stored_senders(events_db):
            break
        await asyncio.sleep(0.05)
    assert stored_senders(events_db) == [] and rasa.replaced == ["inactive"]


async def test_retention_deletes_the_messages_collected_for_review_with_the_transcripts(
    migrated_database_url: str, rasa: FakeRasa
) -> None:
    # Their text is transcript: kept no longer than the events, even with RabbitMQ (no event store at all).
    database = Database.connect(migrated_database_url)
    try:
        async with database.sessions() as session:
            for key, days_ago in (("old", 100), ("recent", 1)):
                session.add(
                    MisunderstoodMessage(
                        sender_id=f"review-{key}",
                        channel="rest",
                        message_key=key,
                        text=f"a {key} message the bot did not understand",
                        predicted_intent="greet",
                        confidence=0.2,
                        reason="fallback",
                        said_at=NOW - timedelta(days=days_ago),
                    )
                )
            await session.commit()
        async with RasaClient(rasa.url, auth_token=rasa.token) as client:
            job = retention_job(database, None, client, retention_days=90, interval_seconds=3600)
            run = await job.run(lambda: NOW)
        assert run.review_messages_deleted == 1 and run.events_deleted == 0
        async with database.sessions() as session:
            kept = (await session.execute(text("SELECT sender_id FROM nlu_review_messages"))).scalars().all()
        assert kept == ["review-recent"]
    finally:
        await database.dispose()


def test_retention_is_on_by_default_and_off_in_code() -> None:
    from_env = Settings.from_env({})
    assert from_env.transcript_retention_days == 90 and from_env.transcript_retention_interval_seconds == 3600
    assert Settings().transcript_retention_interval_seconds == 0


async def test_a_failing_statement_shows_no_parameters(migrated_database_url: str) -> None:
    """The engine hides SQL parameters (db.create_engine), so the error and its log line hold no email."""
    engine = create_engine(migrated_database_url)
    try:
        insert = text("INSERT INTO customers (email, created_at) VALUES (:email, :now)")
        async with engine.begin() as connection:
            await connection.execute(insert, {"email": ADA["email"], "now": NOW})
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as connection:
                await connection.execute(insert, {"email": ADA["email"], "now": NOW})
    finally:
        await engine.dispose()
    assert ADA["email"] not in str(raised.value)
    assert "parameters hidden" in str(raised.value)
