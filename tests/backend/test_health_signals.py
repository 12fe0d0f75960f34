"""Health signals: every domain's change publishes one after its commit and the consumer rescores the
customer and stores the history (in-process queue, and a Redis stream through the app); the Redis stream's
consumer group on the real Redis (acknowledged after the commit, a crashed consumer's pending signal claimed
and handled by another); decided conversation outcomes turned into signals."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from cs_backend.alerts.models import FollowUpTask
from cs_backend.alerts.service import AlertServices
from cs_backend.app_keys import DATABASE, HEALTH_SCORER, HEALTH_SIGNALS
from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.health_scores.consumer import SignalConsumer, signal_new_outcomes
from cs_backend.health_scores.models import HealthScore, HealthScoreHistory
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.signals import InProcessHealthSignals, RedisHealthSignals, Signal
from cs_backend.main import create_app

from .health_rows import CustomerRows, healthy_and_struggling
from .services import unique_name

CHAT = {"sender_id": "chat-1", "channel": "socketio"}


async def reasons(db: Database, customer_id: int) -> list[str]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(HealthScoreHistory.reason)
            .where(HealthScoreHistory.customer_id == customer_id)
            .order_by(HealthScoreHistory.id)
        )
        return list(found)


async def wait_for_reason(db: Database, customer_id: int, reason: str, timeout: float = 10.0) -> list[str]:
    async def seen() -> list[str]:
        while reason not in (found := await reasons(db, customer_id)):
            await asyncio.sleep(0.05)
        return found

    return await asyncio.wait_for(seen(), timeout)


async def post(client: TestClient[Any, Any], path: str, body: dict[str, Any], status: int = 201) -> Any:
    response = await client.post(path, json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def test_each_domain_signals_and_the_consumer_rescores(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(dataclasses.replace(settings, health_signals_poll_seconds=0.05)))
    db = client.app[DATABASE]
    ticket = await post(client, "/api/tickets", {"description": "Broken", "email": "ann@example.com", **CHAT})
    customer = ticket["customer_id"]
    await wait_for_reason(db, customer, "ticket.created")

    response = await client.patch(f"/api/tickets/{ticket['id']}", json={"status": "resolved"})
    assert response.status == 200
    await wait_for_reason(db, customer, "ticket.resolved")
    await post(client, "/api/feedback", {"kind": "csat", "score": 2, "ticket_id": ticket["id"]})
    await wait_for_reason(db, customer, "feedback.csat")
    await post(client, "/api/feedback", {"kind": "ces", "score": 2, "ticket_id": ticket["id"]})
    await wait_for_reason(db, customer, "feedback.ces")
    await post(client, "/api/onboarding/progress", {"step": "sign_up", "customer_id": customer}, status=200)
    await wait_for_reason(db, customer, "onboarding.step")
    await post(client, f"/api/customers/{customer}/activities", {"kind": "login"})
    await wait_for_reason(db, customer, "activity.login")
    await post(client, "/api/churn/signals", {"kind": "cancel_request", "customer_id": customer})
    await wait_for_reason(db, customer, "churn.cancel_request")
    handoff = {**CHAT, "email": "ann@example.com", "reason": "customer_request"}
    await post(client, "/api/routing/handoffs", handoff)
    await wait_for_reason(db, customer, "handoff.requested")

    async with db.sessions() as session:
        current = await session.get(HealthScore, customer)
    assert current is not None and current.factors
    # Rescored on each signal, from what was committed before it: the churn signal's penalty shows.
    assert any(factor["name"] == "churn_signals" for factor in current.factors)


async def test_a_customer_entering_red_gets_one_alert(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(dataclasses.replace(settings, health_signals_poll_seconds=0.05)))
    db = client.app[DATABASE]
    _, sad = await healthy_and_struggling(db)
    signals = client.app[HEALTH_SIGNALS]
    for reason in ("first", "second", "third"):
        await signals.publish(sad, reason)
        await wait_for_reason(db, sad, reason)
    async with db.sessions() as session:
        alerts = list(await session.scalars(select(FollowUpTask).where(FollowUpTask.customer_id == sad)))
    assert [alert.kind for alert in alerts] == ["health_red"]


class FailingScorer(Scorer):
    def score_batch(self, matrix: Any) -> Any:
        raise RuntimeError("scoring failed")


async def test_a_failed_rescore_puts_in_process_signals_back(client: TestClient[Any, Any]) -> None:
    signals = InProcessHealthSignals()
    broken = FailingScorer.of(client.app[HEALTH_SCORER].weights)
    consumer = SignalConsumer(signals, client.app[DATABASE], broken, AlertServices.of(client.app), 0.05)
    happy, _ = await healthy_and_struggling(client.app[DATABASE])
    await signals.publish(happy, "ticket.created")
    with pytest.raises(RuntimeError, match="scoring failed"):
        await consumer.handle_once()
    assert await signals.read(10, 0.05) == [Signal(happy, "ticket.created")]


@pytest.fixture
async def stream(redis_url: str) -> AsyncIterator[str]:
    name = unique_name("cs_test_health_signals")
    yield name
    client = redis.Redis.from_url(redis_url)
    await client.delete(name)
    await client.aclose()


async def pending(redis_url: str, stream: str, group: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        summary = await client.xpending(stream, group)
        return int(summary["pending"])
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_stream_consumer_group_acks_after_the_rescore_commits(
    client: TestClient[Any, Any], redis_url: str, stream: str
) -> None:
    db = client.app[DATABASE]
    happy, sad = await healthy_and_struggling(db)
    signals = RedisHealthSignals(redis_url, stream, "rescore", consumer="one", claim_idle_seconds=60)
    consumer = SignalConsumer(signals, db, client.app[HEALTH_SCORER], AlertServices.of(client.app), 0.2)
    try:
        await signals.publish(happy, "ticket.created")
        await signals.publish(sad, "feedback.csat")
        assert await consumer.handle_once() == 2
        assert await reasons(db, happy) == ["ticket.created"] and await reasons(db, sad) == ["feedback.csat"]
        assert await pending(redis_url, stream, "rescore") == 0
        assert await consumer.handle_once() == 0  # nothing more
    finally:
        await signals.close()


@pytest.mark.redis
async def test_a_crashed_consumers_pending_signal_is_claimed_by_another(
    client: TestClient[Any, Any], redis_url: str, stream: str
) -> None:
    db = client.app[DATABASE]
    happy, _ = await healthy_and_struggling(db)
    crashed = RedisHealthSignals(redis_url, stream, "rescore", consumer="crashed", claim_idle_seconds=60)
    await crashed.publish(happy, "activity.login")
    # Read, then the process dies before its rescore committed: the signal stays pending, unacknowledged.
    (read,) = await crashed.read(10, 0.2)
    assert read.customer_id == happy and read.entry_id is not None
    await crashed.close()
    assert await pending(redis_url, stream, "rescore") == 1
    assert await reasons(db, happy) == []

    # A consumer started later claims what has been pending longer than its claim time, rescores, acks.
    await asyncio.sleep(0.3)
    restarted = RedisHealthSignals(redis_url, stream, "rescore", consumer="restarted", claim_idle_seconds=0.2)
    consumer = SignalConsumer(restarted, db, client.app[HEALTH_SCORER], AlertServices.of(client.app), 0.2)
    try:
        assert await consumer.handle_once() == 1
    finally:
        await restarted.close()
    assert await reasons(db, happy) == ["activity.login"]
    assert await pending(redis_url, stream, "rescore") == 0


@pytest.mark.redis
async def test_the_app_uses_the_redis_stream_with_redis_url(
    aiohttp_client: Any, settings: Settings, redis_url: str, stream: str
) -> None:
    settings = dataclasses.replace(
        settings, redis_url=redis_url, health_signals_stream=stream, health_signals_poll_seconds=0.1
    )
    client = await aiohttp_client(create_app(settings))
    assert isinstance(client.app[HEALTH_SIGNALS], RedisHealthSignals)
    customer = await post(client, "/api/customers", {"email": "redis@example.com"}, status=201)
    await post(client, f"/api/customers/{customer['id']}/activities", {"kind": "feature_used"})
    await wait_for_reason(client.app[DATABASE], customer["id"], "activity.feature_used")
    assert await pending(redis_url, stream, settings.health_signals_group) == 0


async def test_decided_outcomes_become_signals(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    signals = InProcessHealthSignals()
    async with db.sessions() as session:
        rows = await CustomerRows.create(session, "talk@example.com", joined_days_ago=10)
        rows.session_outcome("resolved_by_bot", days=2)
        await session.commit()
    # The first look starts after what is there already.
    assert await signal_new_outcomes(db, signals) == 0
    async with db.sessions() as session:
        rows.session = session
        rows.session_outcome("abandoned", days=1)
        rows.session_outcome("escalated", days=0.5)
        await session.commit()
    assert await signal_new_outcomes(db, signals) == 2
    assert await signal_new_outcomes(db, signals) == 0
    assert await signals.read(10, 0.05) == [
        Signal(rows.id, "outcome.abandoned"),
        Signal(rows.id, "outcome.escalated"),
    ]
