"""Conversation outcomes end to end in the real app (create_app: the consumer in its cleanup context, the
routes in the OpenAPI table): Rasa events written into an SQL broker database appear at /api/outcomes.
Also the OpenAPI document and migration 0003 (the outcome settings are tested in test_config.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend import migrate
from cs_backend.config import Settings
from cs_backend.main import create_app

from .conftest import OUTCOME_TABLES
from .helpers import assert_error
from .rasa_events import FAQ_RESOLVED, conversation, write_rasa_events
from .services import table_names, unique_name
from .test_outcomes_sources import recorded_mix

OUTCOME_FIELDS = {
    "id",
    "sender_id",
    "channel",
    "session_started_at",
    "ended_at",
    "outcome",
    "intents",
    "decided_at",
}
# Recorded two hours ago: the app's real clock sees every session as idle past the 30 minutes.
TWO_HOURS_AGO = time.time() - 2 * 3600


def app_settings(database_url: str, events_path: Path, poll: float = 0.05) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=None,
        redis_channel=unique_name("cs_test"),
        rasa_events_url=f"sqlite:///{events_path}",
        outcome_poll_interval_seconds=poll,
        outcome_abandon_after_minutes=30,
    )


@pytest.fixture
async def outcomes_client(
    aiohttp_client: Any, outcomes_database_url: str, events_db: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with its outcomes consumer polling `events_db` every 50 ms."""
    yield await aiohttp_client(create_app(app_settings(outcomes_database_url, events_db)))


def shifted(events: list[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    offset = start - events[0]["timestamp"]
    return [{**event, "timestamp": event["timestamp"] + offset} for event in events]


async def wait_for_total(client: TestClient[Any, Any], total: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get("/api/outcomes/summary")
        assert response.status == 200, await response.text()
        summary = await response.json()
        if summary["total"] >= total or time.monotonic() > deadline:
            return summary  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


async def test_events_become_outcomes_and_the_summary(
    outcomes_client: TestClient[Any, Any], events_db: Path
) -> None:
    await asyncio.to_thread(write_rasa_events, events_db, shifted(recorded_mix(), TWO_HOURS_AGO))
    summary = await wait_for_total(outcomes_client, 6)
    assert summary == {
        "total": 6,
        "by_outcome": {"ticket_created": 2, "escalated": 0, "resolved_by_bot": 2, "abandoned": 2},
        "containment_rate": pytest.approx(2 / 6),
        "handoff_rate": 0.0,
    }

    response = await outcomes_client.get("/api/outcomes")
    page = await response.json()
    assert (page["total"], page["limit"], page["offset"]) == (6, 20, 0)
    assert all(set(item) == OUTCOME_FIELDS for item in page["items"])
    ended = [item["ended_at"] for item in page["items"]]
    assert ended == sorted(ended, reverse=True)  # newest first
    by_sender = {(item["sender_id"], item["outcome"]): item for item in page["items"]}
    alice = by_sender[("alice", "ticket_created")]
    assert alice["intents"] == ["greet", "report_problem", "inform", "goodbye"]
    assert alice["channel"] == "rest"
    assert alice["session_started_at"] < alice["ended_at"] <= alice["decided_at"]
    assert ("dave", "ticket_created") in by_sender and ("dave", "resolved_by_bot") in by_sender

    # More events later: the consumer continues from its cursor (no double count).
    frank = conversation(FAQ_RESOLVED, "frank", TWO_HOURS_AGO + 60, channel="socketio")
    await asyncio.to_thread(write_rasa_events, events_db, frank)
    summary = await wait_for_total(outcomes_client, 7)
    assert summary["total"] == 7
    assert summary["by_outcome"]["resolved_by_bot"] == 3
    assert summary["containment_rate"] == pytest.approx(3 / 7)
    await asyncio.sleep(0.2)  # a few more polls
    assert (await wait_for_total(outcomes_client, 8, timeout=0))["total"] == 7


async def test_escalations_count_in_the_handoff_rate(
    outcomes_client: TestClient[Any, Any], events_db: Path
) -> None:
    from .test_outcomes_classifier import opening, turn

    start = TWO_HOURS_AGO
    handoff = [("utter_handoff", "Connecting you.")]
    events = opening(start, "gina")
    events += turn("request_human", "a person", start + 1, replies=handoff, sender_id="gina")
    events += conversation(FAQ_RESOLVED, "hank", start + 5)
    await asyncio.to_thread(write_rasa_events, events_db, events)
    summary = await wait_for_total(outcomes_client, 2)
    assert summary["by_outcome"]["escalated"] == 1
    assert (summary["handoff_rate"], summary["containment_rate"]) == (0.5, 0.5)


async def test_filters_and_paging(outcomes_client: TestClient[Any, Any], events_db: Path) -> None:
    await asyncio.to_thread(write_rasa_events, events_db, shifted(recorded_mix(), TWO_HOURS_AGO))
    await wait_for_total(outcomes_client, 6)

    async def page(query: str) -> dict[str, Any]:
        response = await outcomes_client.get(f"/api/outcomes?{query}")
        assert response.status == 200, await response.text()
        return await response.json()  # type: ignore[no-any-return]

    abandoned = await page("outcome=abandoned")
    assert abandoned["total"] == 2
    assert {item["sender_id"] for item in abandoned["items"]} == {"carol", "erin"}
    socketio = await page("channel=socketio")
    assert {item["sender_id"] for item in socketio["items"]} == {"carol", "erin"}
    assert (await page("channel=socketio&outcome=ticket_created"))["total"] == 0
    assert (await page("outcome=&channel="))["total"] == 6  # empty means not given

    everything = (await page("limit=100"))["items"]
    first, second = await page("limit=4"), await page("limit=4&offset=4")
    assert (first["total"], len(first["items"]), len(second["items"])) == (6, 4, 2)
    assert first["items"] + second["items"] == everything


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("outcome=solved", {"outcome"}),
        ("limit=0", {"limit"}),
        ("limit=101", {"limit"}),
        ("offset=-1", {"offset"}),
        ("channel=" + "c" * 51, {"channel"}),
        ("sender=alice", {"sender"}),
        ("outcome=abandoned&outcome=escalated", {"outcome"}),
    ],
)
async def test_bad_list_queries_are_400(client: TestClient[Any, Any], query: str, fields: set[str]) -> None:
    await assert_error(await client.get(f"/api/outcomes?{query}"), 400, fields)


async def test_summary_takes_no_parameters_and_starts_empty(
    outcomes_database_url: str, client: TestClient[Any, Any]
) -> None:
    # (outcomes_database_url first: it empties the outcome tables of the shared PostgreSQL test database)
    await assert_error(await client.get("/api/outcomes/summary?channel=rest"), 400, {"channel"})
    response = await client.get("/api/outcomes/summary")
    assert await response.json() == {
        "total": 0,
        "by_outcome": {"ticket_created": 0, "escalated": 0, "resolved_by_bot": 0, "abandoned": 0},
        "containment_rate": None,
        "handoff_rate": None,
    }
    empty_page = {"items": [], "total": 0, "limit": 20, "offset": 0}
    assert await (await client.get("/api/outcomes")).json() == empty_page


async def test_the_routes_are_in_the_openapi_document(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    listing = document["paths"]["/api/outcomes"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"outcome", "channel", "limit", "offset"}
    outcome = next(p for p in listing["parameters"] if p["name"] == "outcome")
    assert set(outcome["schema"]["enum"]) == {"ticket_created", "escalated", "resolved_by_bot", "abandoned"}
    assert "200" in document["paths"]["/api/outcomes/summary"]["get"]["responses"]
    assert {"OutcomePage", "OutcomeSummary", "OutcomeOut"} <= set(document["components"]["schemas"])


async def test_the_consumer_is_off_unless_configured(
    aiohttp_client: Any, outcomes_database_url: str, events_db: Path
) -> None:
    """Settings() built in code leaves it off: a test app never reads a real Rasa events database."""
    assert Settings().outcome_poll_interval_seconds == 0
    await asyncio.to_thread(write_rasa_events, events_db, shifted(recorded_mix(), TWO_HOURS_AGO))
    client = await aiohttp_client(create_app(app_settings(outcomes_database_url, events_db, poll=0)))
    await asyncio.sleep(0.2)
    assert (await wait_for_total(client, 1, timeout=0))["total"] == 0


async def test_the_app_starts_and_stops_while_rasa_has_written_nothing(
    aiohttp_client: Any, outcomes_database_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "not-yet" / "rasa_events.db"
    client = await aiohttp_client(create_app(app_settings(outcomes_database_url, missing)))
    await asyncio.sleep(0.2)
    assert (await client.get("/health/ready")).status == 200
    assert not missing.exists()
    await client.close()  # the consumer task is cancelled cleanly


async def test_migration_0003_upgrades_and_downgrades(database_url: str) -> None:
    tables_0003 = {"conversation_outcomes", "outcome_sessions", "outcome_cursors"}
    await migrate.upgrade_async(database_url, "0002")
    before = await table_names(database_url)
    assert not set(OUTCOME_TABLES) & before

    await migrate.upgrade_async(database_url, "0003")
    assert await table_names(database_url) == before | tables_0003

    await migrate.downgrade_async(database_url, "0002")
    assert await table_names(database_url) == before

    await migrate.upgrade_async(database_url, "0003")  # and up again: the downgrade left nothing behind
    assert await table_names(database_url) == before | tables_0003


async def test_migration_0014_upgrades_and_downgrades(database_url: str) -> None:
    await migrate.upgrade_async(database_url, "0013")
    before = await table_names(database_url)
    await migrate.upgrade_async(database_url, "0014")
    assert await table_names(database_url) == before | {"outcome_processed_events"}
    await migrate.downgrade_async(database_url, "0013")
    assert await table_names(database_url) == before
    await migrate.upgrade_async(database_url, "0014")
    assert await table_names(database_url) == before | {"outcome_processed_events"}
