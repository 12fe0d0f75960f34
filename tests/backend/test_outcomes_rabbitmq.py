"""RabbitMqEventSource against the real broker: messages published as Rasa's pika broker publishes them
(JSON body, persistent, through a fanout exchange bound to the queue), one unique queue and exchange per test.

Needs RabbitMQ (TEST_RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672/): skipped without it, failed
under CI=true (tests/support.py).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Self

import aio_pika
import pytest
from sqlalchemy import func, select

from cs_backend.db import Database
from cs_backend.outcomes import consumer as consumer_module
from cs_backend.outcomes.classifier import to_datetime
from cs_backend.outcomes.consumer import PROCESSED_EVENT_DAYS, OutcomeConsumer
from cs_backend.outcomes.models import OutcomeSession, ProcessedOutcomeEvent
from cs_backend.outcomes.sources import RabbitMqEventSource
from tests.support import unavailable

from .conftest import run_in_thread
from .rasa_events import FAQ_RESOLVED, RECORDED_AT, conversation
from .services import CONNECT_TIMEOUT_SECONDS, unique_name
from .test_outcomes_sources import IDLE, LAST, Clock, expected, recorded_mix, stored

THIRTY_MINUTES = timedelta(minutes=30)
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # the broker is the subject; the database is not


def rabbitmq_server_url() -> str:
    return os.environ.get("TEST_RABBITMQ_URL", "").strip() or "amqp://guest:guest@127.0.0.1:5672/"


async def _check(url: str) -> None:
    try:
        connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    except Exception as error:  # aio-pika raises several unrelated types for "not there"
        unavailable(f"RabbitMQ not reachable at {url}: {error!r}; set TEST_RABBITMQ_URL")
    await connection.close()


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    url = rabbitmq_server_url()
    run_in_thread(lambda: asyncio.run(_check(url)))
    return url


class Broker:
    """A queue bound to a fanout exchange, as Rasa's PikaEventBroker declares them, and a publisher."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = unique_name("cs_test_rasa_events")
        self.exchange_name = unique_name("cs_test_rasa_exchange")

    async def __aenter__(self) -> Self:
        self.connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_SECONDS)
        self.channel = await self.connection.channel()
        self.exchange = await self.channel.declare_exchange(
            self.exchange_name, type=aio_pika.ExchangeType.FANOUT
        )
        queue = await self.channel.declare_queue(self.queue, durable=True)
        await queue.bind(self.exchange, "")
        return self

    async def publish(self, events: list[Any]) -> None:
        for event in events:
            body = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await self.exchange.publish(message, "")

    async def waiting(self, expected: int | None = None) -> int:
        """Messages ready in the queue (waiting up to 5 s for `expected`: requeues are asynchronous)."""
        for _ in range(50):
            queue = await self.channel.declare_queue(self.queue, durable=True)
            count = int(queue.declaration_result.message_count or 0)
            if expected is None or count == expected:
                return count
            await asyncio.sleep(0.1)
        return count

    async def __aexit__(self, *_: object) -> None:
        await self.channel.queue_delete(self.queue)
        await self.exchange.delete()
        await self.connection.close()


@pytest.fixture
async def broker(rabbitmq_url: str) -> AsyncIterator[Broker]:
    async with Broker(rabbitmq_url) as broker:
        yield broker


@pytest.fixture
async def database(outcomes_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(outcomes_database_url)
    yield db
    await db.dispose()


def make_consumer(database: Database, broker: Broker, clock: Clock, prefetch: int = 50) -> OutcomeConsumer:
    source = RabbitMqEventSource(broker.url, broker.queue, prefetch=prefetch)
    return OutcomeConsumer(database, source, THIRTY_MINUTES, clock=clock, batch_size=prefetch)


async def test_consumes_rasa_messages_and_acknowledges_them(database: Database, broker: Broker) -> None:
    events = recorded_mix()
    await broker.publish(events)
    clock = Clock(LAST)
    consumer = make_consumer(database, broker, clock)
    # A cycle ends when the queue has no ready message and nothing is buffered; under load, messages the
    # broker already pushed may still be on their way into the client, and the next cycle takes them (as
    # the job's next run does). So: cycles until every event is read, while no session is idle yet; then
    # one cycle at a time when every session is idle decides them.
    read = skipped = 0
    try:
        for _ in range(50):
            report = await consumer.run_once()
            read, skipped = read + report.events, skipped + report.skipped
            if read >= len(events):
                break
        clock.now = IDLE
        await consumer.run_once()
    finally:
        await consumer.source.close()
    assert (read, skipped) == (len(events), 0)
    assert await stored(database) == expected(events, IDLE)
    assert await broker.waiting() == 0  # acknowledged: closing the connection requeued nothing


@SQLITE_ONLY
async def test_nothing_is_acknowledged_when_the_commit_fails(
    database: Database, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    await broker.publish(events)

    async def crash(*_: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(consumer_module, "insert_outcomes", crash)
    consumer = make_consumer(database, broker, Clock(IDLE))
    with pytest.raises(RuntimeError):
        await consumer.run_once()
    assert await broker.waiting(len(events)) == len(events)  # all back in the queue, in order

    monkeypatch.undo()
    consumer = make_consumer(database, broker, Clock(IDLE))
    await consumer.run_once()
    await consumer.source.close()
    assert await stored(database) == expected(events, IDLE)


@SQLITE_ONLY
async def test_a_message_redelivered_after_its_commit_is_applied_once(
    database: Database, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash window between commit and ack: the broker redelivers, the consumer recognises them."""
    events = recorded_mix()
    await broker.publish(events)
    consumer = make_consumer(database, broker, Clock(LAST), prefetch=len(events))

    async def lost_ack(batch: Any) -> None:
        return None

    monkeypatch.setattr(consumer.source, "acknowledge", lost_ack)
    await consumer.run_once()
    await consumer.source.close()
    assert await broker.waiting(len(events)) == len(events)

    consumer = make_consumer(database, broker, Clock(IDLE), prefetch=len(events))
    report = await consumer.run_once()
    await consumer.source.close()
    assert (report.events, report.skipped) == (len(events), len(events))
    assert await stored(database) == expected(events, IDLE)
    assert await broker.waiting() == 0


@SQLITE_ONLY
async def test_a_malformed_message_is_skipped_and_acknowledged(database: Database, broker: Broker) -> None:
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    await broker.publish([b"{not json", b"\xff\xfe", *events, json.dumps({"event": "bot"}).encode()])
    consumer = make_consumer(database, broker, Clock(IDLE))
    report = await consumer.run_once()
    await consumer.source.close()
    assert (report.events, report.skipped) == (len(events) + 3, 3)
    assert [row[2] for row in await stored(database)] == ["resolved_by_bot"]
    assert await broker.waiting() == 0


async def test_the_queue_has_one_consumer_at_a_time(broker: Broker) -> None:
    first = RabbitMqEventSource(broker.url, broker.queue, prefetch=10)
    second = RabbitMqEventSource(broker.url, broker.queue, prefetch=10)
    try:
        assert (await first.fetch(10)).reachable
        refused = await second.fetch(10)
        assert (refused.events, refused.reachable) == ([], False)
        await first.close()
        assert (await second.fetch(10)).reachable  # free again
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_broker_is_reported_not_raised() -> None:
    source = RabbitMqEventSource("amqp://guest:guest@127.0.0.1:1/", "rasa_events", prefetch=10)
    batch = await source.fetch(10)
    assert (batch.events, batch.reachable) == ([], False)
    await source.close()


@SQLITE_ONLY
async def test_hundreds_of_redeliveries_of_one_closed_conversation_are_all_recognised(
    database: Database, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More messages of one conversation in flight than any per-conversation memory would keep, and the
    session decided (its state row deleted) before the redelivery: every redelivered message is skipped."""
    events: list[dict[str, Any]] = []
    for hour in range(40):  # one session an hour: the next one's first message ends the previous one
        events += conversation(FAQ_RESOLVED, "bob", RECORDED_AT + hour * 3600)
        if len(events) > 300:
            break
    assert 300 < len(events) <= 500
    await broker.publish(events)
    decided_all = Clock(to_datetime(events[-1]["timestamp"]) + timedelta(hours=1))
    consumer = make_consumer(database, broker, decided_all, prefetch=500)

    async def lost_ack(batch: Any) -> None:
        return None

    monkeypatch.setattr(consumer.source, "acknowledge", lost_ack)
    for _ in range(50):
        if (await consumer.run_once()).events:
            break
    await consumer.source.close()
    decided = await stored(database)
    assert decided == expected(events, decided_all.now)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutcomeSession)) == 0
    assert await broker.waiting(len(events)) == len(events)

    consumer = make_consumer(database, broker, decided_all, prefetch=500)
    read = skipped = 0
    for _ in range(50):
        report = await consumer.run_once()
        read, skipped = read + report.events, skipped + report.skipped
        if read >= len(events):
            break
    await consumer.source.close()
    assert (read, skipped) == (len(events), len(events))
    assert await stored(database) == decided
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutcomeSession)) == 0
    assert await broker.waiting() == 0


@SQLITE_ONLY
async def test_digests_of_applied_messages_are_forgotten_after_their_retention(
    database: Database, broker: Broker
) -> None:
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    await broker.publish(events)
    clock = Clock(IDLE)
    consumer = make_consumer(database, broker, clock)
    await consumer.run_once()
    async with database.sessions() as session:
        keys = await session.scalar(select(func.count()).select_from(ProcessedOutcomeEvent))
    assert keys == len({json.dumps(event) for event in events})  # identical events share one digest

    clock.now = IDLE + timedelta(days=PROCESSED_EVENT_DAYS, seconds=1)
    await consumer.run_once()
    await consumer.source.close()
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedOutcomeEvent)) == 0
