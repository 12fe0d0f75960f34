"""The learning loop (cs_backend/nlu_review/): misunderstood messages collected from Rasa's event stream by
the outcomes consumer (Rasa's SQL broker table and a real RabbitMQ queue in, cs_backend's SQLite and
PostgreSQL out), and their export as Rasa NLU YAML, read back with Rasa's own YAML reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from cs_backend.db import Database
from cs_backend.nlu_review.collector import Watch
from cs_backend.nlu_review.export import render_review_yaml
from cs_backend.nlu_review.models import MisunderstoodMessage, ReviewWatch
from cs_backend.nlu_review.service import NluReviewCollector, collected_messages
from cs_backend.outcomes.classifier import to_datetime
from cs_backend.outcomes.consumer import OutcomeConsumer
from cs_backend.outcomes.sources import RabbitMqEventSource, SqlEventSource
from tests.support import REPO_ROOT, unavailable

from .nlu_review_events import (
    answered_then_rated_low,
    nothing_to_review,
    something_else_then_rephrased,
    two_misses_then_a_person,
)
from .rasa_events import FALLBACK_LEFT, RECORDED_AT, TICKET_CREATED, conversation, write_rasa_events
from .test_outcomes_rabbitmq import Broker, rabbitmq_server_url
from .test_outcomes_sources import LAST, Clock

THIRTY_MINUTES = timedelta(minutes=30)
BOT_PYTHON = REPO_ROOT / ".venv-bot" / "bin" / "python"
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])

# (sender, text, reason, predicted intent, confidence) of everything the conversations below hold.
EXPECTED = [
    ("alice", "my invoice thingy looks weird", "fallback", "billing_invoice", 0.31),
    ("alice", "my invoice thingy looks weird", "something_else", "billing_invoice", 0.31),
    ("bob", "the thingy broke again lol", "fallback", "report_problem", 0.35),
    ("bob", "it no work", "fallback", "report_problem", 0.28),
    ("bob", "it no work", "human_after_fallback", "report_problem", 0.28),
    ("carol", "the VAT number on my bill is wrong, write to EMAIL", "low_rating", "billing_invoice", 0.71),
    # The recorded "asdf" (rasa_events.FALLBACK_LEFT): its ranking's best real intent.
    ("erin", "asdf", "fallback", "out_of_scope", 0.001),
]


def all_conversations() -> list[dict[str, Any]]:
    """Five conversations interleaved by time as Rasa publishes them; dave's and frank's hold nothing."""
    events = (
        something_else_then_rephrased("alice", RECORDED_AT)
        + two_misses_then_a_person("bob", RECORDED_AT + 0.2)
        + answered_then_rated_low("carol", RECORDED_AT + 0.4)
        + conversation(TICKET_CREATED, "dave", RECORDED_AT + 0.6)
        + conversation(FALLBACK_LEFT, "erin", RECORDED_AT + 0.8)
        + nothing_to_review("frank", RECORDED_AT + 1.0)
    )
    return sorted(events, key=lambda event: event["timestamp"])


def collected_by_watches(events: list[dict[str, Any]], through_json: bool) -> list[tuple[Any, ...]]:
    watches: dict[str, Watch] = {}
    found = []
    for event in events:
        sender = event["sender_id"]
        watch = watches.get(sender) or Watch(sender)
        for candidate in watch.feed(event):
            said = candidate.said
            found.append((sender, said.text, candidate.reason, said.intent, said.confidence))
        watches[sender] = Watch.from_json(json.loads(json.dumps(watch.to_json()))) if through_json else watch
    return found


def _unredacted(expected: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(s, t.replace("EMAIL", "ada@example.com"), r, i, c) for s, t, r, i, c in expected]


@pytest.mark.parametrize("through_json", [False, True])
def test_the_watch_collects_each_reason(through_json: bool) -> None:
    found = collected_by_watches(all_conversations(), through_json)
    assert sorted(found) == sorted(_unredacted(EXPECTED))


def test_a_new_session_forgets_the_misunderstanding() -> None:
    events = two_misses_then_a_person("bob", RECORDED_AT)
    offer_answered = events.pop(-3)  # the "/request_human" of the offer, sent after a new session instead
    again = [*something_else_then_rephrased("bob", RECORDED_AT + 3600)[:3]]
    offer_answered["timestamp"] = RECORDED_AT + 3601
    found = collected_by_watches([*events, *again, offer_answered], through_json=False)
    assert [reason for _, _, reason, _, _ in found] == ["fallback", "fallback"]


@pytest.fixture
async def database(outcomes_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(outcomes_database_url)
    yield db
    await db.dispose()


def sql_consumer(database: Database, events_db: Path) -> OutcomeConsumer:
    source = SqlEventSource(f"sqlite:///{events_db}", database)
    return OutcomeConsumer(
        database, source, THIRTY_MINUTES, clock=Clock(LAST), observers=(NluReviewCollector(),)
    )


async def stored(database: Database) -> list[tuple[Any, ...]]:
    return sorted(
        (m.sender_id, m.text, m.reason, m.predicted_intent, m.confidence)
        for m in await collected_messages(database)
    )


def redacted(expected: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((s, t.replace("EMAIL", "[email]"), r, i, c) for s, t, r, i, c in expected)


async def test_the_consumer_collects_from_rasas_sql_broker_once(database: Database, events_db: Path) -> None:
    events = all_conversations()
    half = len(events) // 2
    write_rasa_events(events_db, events[:half])
    consumer = sql_consumer(database, events_db)
    await consumer.run_once()
    await consumer.source.close()
    # A restart between two batches: the watches kept in the database carry on where the first stopped.
    write_rasa_events(events_db, events[half:])
    consumer = sql_consumer(database, events_db)
    try:
        await consumer.run_once()
        await consumer.run_once()  # nothing new: nothing collected twice
    finally:
        await consumer.source.close()
    assert await stored(database) == redacted(EXPECTED)
    carol = next(m for m in await collected_messages(database) if m.sender_id == "carol")
    assert "ada@example.com" not in carol.text
    assert carol.said_at == to_datetime(RECORDED_AT + 0.4 + 1)
    assert carol.channel == "rest"
    assert await watched(database) == ["alice", "carol", "dave", "erin", "frank"]

    # A day later the conversations that went quiet are forgotten; a new one is watched.
    write_rasa_events(events_db, nothing_to_review("henry", RECORDED_AT + 2 * 86400))
    consumer = sql_consumer(database, events_db)
    consumer.clock = Clock(LAST + timedelta(days=2))
    try:
        await consumer.run_once()
    finally:
        await consumer.source.close()
    assert await watched(database) == ["henry"]
    assert len(await collected_messages(database)) == len(EXPECTED)


async def watched(database: Database) -> list[str]:
    """The conversations the collector remembers something of."""
    async with database.sessions() as session:
        return sorted(await session.scalars(select(ReviewWatch.sender_id)))


@SQLITE_ONLY
async def test_the_consumer_collects_from_a_rabbitmq_queue(database: Database) -> None:
    events = all_conversations()
    try:
        broker_context = Broker(rabbitmq_server_url())
        broker = await broker_context.__aenter__()
    except Exception as error:  # aio-pika raises several unrelated types for "not there"
        unavailable(f"RabbitMQ not reachable: {error!r}; set TEST_RABBITMQ_URL")
    try:
        await broker.publish(events)
        source = RabbitMqEventSource(broker.url, broker.queue, prefetch=50)
        consumer = OutcomeConsumer(
            database,
            source,
            THIRTY_MINUTES,
            clock=Clock(LAST),
            batch_size=50,
            observers=(NluReviewCollector(),),
        )
        read = 0
        try:
            for _ in range(50):
                read += (await consumer.run_once()).events
                if read >= len(events):
                    break
        finally:
            await source.close()
        assert read == len(events)
        assert await broker.waiting() == 0
    finally:
        await broker_context.__aexit__(None, None, None)
    assert await stored(database) == redacted(EXPECTED)


def read_with_rasa(path: Path) -> list[tuple[str, str]]:
    """The (intent, text) examples Rasa 3.6's YAML reader finds in `path` (schema validated)."""
    if not BOT_PYTHON.exists():
        unavailable(f"{BOT_PYTHON} is missing: install the bot environment (`make envs`)")
    script = (
        "import json, sys\n"
        "from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader\n"
        "data = RasaYAMLReader().read(sys.argv[1])\n"
        "print(json.dumps([[m.get('intent'), m.get('text')] for m in data.intent_examples]))\n"
    )
    result = subprocess.run(
        [str(BOT_PYTHON), "-W", "error::UserWarning", "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [tuple(pair) for pair in json.loads(result.stdout.strip().splitlines()[-1])]


@SQLITE_ONLY
async def test_the_export_is_rasa_nlu_data_grouped_by_the_suggestion(
    database: Database, events_db: Path, tmp_path: Path
) -> None:
    # The same misunderstanding in another conversation, differently spaced and cased: one example.
    grace = something_else_then_rephrased("grace", RECORDED_AT + 10)
    miss = next(event for event in grace if event.get("text") == "my invoice thingy looks weird")
    miss["text"] = "My  invoice thingy LOOKS weird"
    events = all_conversations() + grace
    write_rasa_events(events_db, events)
    consumer = sql_consumer(database, events_db)
    try:
        await consumer.run_once()
    finally:
        await consumer.source.close()
    messages = await collected_messages(database)
    generated = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
    text = render_review_yaml(messages, generated)
    path = tmp_path / "review.yml"
    path.write_text(text, encoding="utf-8")

    assert sorted(read_with_rasa(path)) == [
        ("billing_invoice", "my invoice thingy looks weird"),
        ("billing_invoice", "the VAT number on my bill is wrong, write to [email]"),
        ("out_of_scope", "asdf"),
        ("report_problem", "it no work"),
        ("report_problem", "the thingy broke again lol"),
    ]
    document = yaml.safe_load(text)
    assert document["version"] == "3.1"
    assert [group["intent"] for group in document["nlu"]] == [
        "billing_invoice",
        "out_of_scope",
        "report_problem",
    ]
    lines = text.splitlines()
    comment = lines[lines.index('  - text: "my invoice thingy looks weird"') - 1]
    assert comment == (
        "  # not understood (fallback), none of the guesses (Something else); predicted billing_invoice at "
        "0.31; 2 conversations; last 2026-11-22"
    )
    person = lines[lines.index('  - text: "it no work"') - 1]
    assert "asked for a person after a fallback" in person and "at 0.28" in person


def test_an_empty_export_is_still_nlu_data(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text(render_review_yaml([], datetime(2026, 11, 30, tzinfo=timezone.utc)), encoding="utf-8")
    assert read_with_rasa(path) == []


def test_texts_yaml_could_misread_are_kept_as_typed(tmp_path: Path) -> None:
    tricky = [
        'yes: "no" # not a comment',
        "- [x] {y} \\n",
        "我想取消订阅",
        "- 5 ★★",
        "null",
        "tab\there\u0085",
    ]
    at = datetime(2026, 11, 30, tzinfo=timezone.utc)
    messages = [
        MisunderstoodMessage(
            sender_id=f"s{index}",
            channel="rest",
            message_key=f"m{index}",
            text=value,
            predicted_intent="cancel_subscription",
            confidence=0.3,
            reason="fallback",
            said_at=at,
        )
        for index, value in enumerate(tricky)
    ]
    path = tmp_path / "tricky.yml"
    path.write_text(render_review_yaml(messages, at), encoding="utf-8")
    texts = [example["text"] for example in yaml.safe_load(path.read_text())["nlu"][0]["examples"]]
    assert sorted(texts) == sorted(" ".join(t.replace("\u0085", " ").split()) for t in tricky)


def run_cli(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cs_backend", "nlu-review-export", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@SQLITE_ONLY
async def test_the_command_writes_the_review_file(
    database: Database, outcomes_database_url: str, events_db: Path, tmp_path: Path
) -> None:
    write_rasa_events(events_db, all_conversations())
    consumer = sql_consumer(database, events_db)
    try:
        await consumer.run_once()
    finally:
        await consumer.source.close()
    out = tmp_path / "out" / "review.yml"
    result = run_cli(outcomes_database_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"5 distinct messages (7 collected) written to {out}" in result.stdout
    assert len(read_with_rasa(out)) == 5

    later = run_cli(outcomes_database_url, "--out", str(out), "--since", "2026-11-23")
    assert later.returncode == 0, later.stderr
    assert read_with_rasa(out) == []
    assert "since 2026-11-23T00:00:00+00:00" in out.read_text()

    refused = run_cli(outcomes_database_url, "--out", str(tmp_path / "never.yml"), "--since", "last week")
    assert refused.returncode == 2
    assert "'last week' is not an ISO date or date-time" in refused.stderr
    assert not (tmp_path / "never.yml").exists()
