"""Rasa's SQL tracker store (endpoints.yml) keeps the rows it wrote when Rasa's API empties a tracker, so
cs_backend deletes them itself (RASA_TRACKER_URL): on a customer's deletion, and in the retention job for an
inactive conversation; a conversation still going keeps its rows, and other customers keep theirs.

The end-to-end test against the real Rasa is tests/e2e/test_privacy.py."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from cs_backend.config import Settings
from cs_backend.main import create_app
from cs_backend.privacy.event_store import EventStore
from cs_backend.privacy.jobs import purge_transcripts
from cs_backend.rasa_client import RasaClient

from .fake_rasa import FakeRasa
from .helpers import bearer_of_new_account, ticket_payload
from .rasa_events import session_started, user, write_rasa_events

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
# What Rasa 3.6's SQLTrackerStore creates on SQLite (rasa.core.tracker_store.SQLTrackerStore.SQLEvent).
TRACKER_STORE_DDL = (
    "CREATE TABLE events (id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) "
    "NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, "
    "PRIMARY KEY (id))"
)


def write_tracker_rows(database: Path, senders: list[str]) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(TRACKER_STORE_DDL)
        for sender in senders:
            for type_name in ("action", "session_started", "action", "user"):
                connection.execute(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, '{}')",
                    (sender, type_name, NOW.timestamp()),
                )


def tracker_senders(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return sorted({row[0] for row in connection.execute("SELECT sender_id FROM events")})


async def test_retention_deletes_the_tracker_rows_of_inactive_conversations_only(
    rasa: FakeRasa, events_db: Path, tmp_path: Path
) -> None:
    old, recent = (NOW - timedelta(days=100)).timestamp(), (NOW - timedelta(days=1)).timestamp()
    write_rasa_events(
        events_db,
        [
            session_started(old, "inactive"),
            user("greet", "hi", old + 1, "inactive"),
            session_started(old, "active"),
            user("greet", "hello", recent, "active"),
        ],
    )
    tracker_db = tmp_path / "rasa_tracker.db"
    write_tracker_rows(tracker_db, ["inactive", "active", "untouched"])
    rasa.trackers.update({"inactive": [{"event": "x"}], "active": [{"event": "y"}]})
    events, trackers = EventStore(f"sqlite:///{events_db}"), EventStore(f"sqlite:///{tracker_db}")
    try:
        async with RasaClient(rasa.url, auth_token=rasa.token) as client:
            rasa.status = 503  # Rasa down: nothing of the inactive conversation goes
            await purge_transcripts(events, client, timedelta(days=90), lambda: NOW, tracker_store=trackers)
            assert tracker_senders(tracker_db) == ["active", "inactive", "untouched"]
            rasa.status = 200
            run = await purge_transcripts(
                events, client, timedelta(days=90), lambda: NOW, tracker_store=trackers
            )
    finally:
        await events.close()
        await trackers.close()
    assert run.trackers_emptied == 1
    assert tracker_senders(tracker_db) == ["active", "untouched"]


async def test_deleting_a_customer_deletes_their_tracker_store_rows(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa, events_db: Path, tmp_path: Path
) -> None:
    tracker_db = tmp_path / "rasa_tracker.db"
    settings = dataclasses.replace(
        settings,
        rasa_url=rasa.url,
        rasa_auth_token=rasa.token,
        rasa_events_url=f"sqlite:///{events_db}",
        rasa_tracker_url=f"sqlite:///{tracker_db}",
    )
    server = TestServer(create_app(settings))
    client = await aiohttp_client(server)
    customers = {}
    for name in ("ada", "bob"):
        response = await client.post(
            "/api/tickets",
            json=ticket_payload(email=f"{name}@example.com", sender_id=f"sender-{name}", channel="rest"),
        )
        assert response.status == 201, await response.text()
        customers[name] = (await response.json())["customer_id"]
    write_tracker_rows(tracker_db, ["sender-ada", "sender-bob"])
    admin = await bearer_of_new_account(client, "admin")

    unsigned = await aiohttp_client(server, sign=False)
    response = await unsigned.delete(f"/api/customers/{customers['ada']}", headers=admin)
    assert response.status == 200, await response.text()
    assert tracker_senders(tracker_db) == ["sender-bob"]
    assert rasa.replaced == ["sender-ada"]
