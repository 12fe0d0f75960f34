"""GET /health/live and GET /health/ready."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.config import Settings
from cs_backend.main import create_app

from .services import unique_name


async def test_live(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health/live")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


EVERY_CHECK = {"database", "live_events", "routing_live_state", "rate_limits", "rasa_events"}


async def test_ready_reports_each_dependency(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health/ready")
    assert response.status == 200
    assert await response.json() == {"status": "ready", "checks": dict.fromkeys(EVERY_CHECK, "ok")}


async def test_ready_reports_the_tracker_store_when_configured(
    aiohttp_client: Any, settings: Settings, tmp_path: Any
) -> None:
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"  # not created yet (Rasa creates it): nothing to read
    client = await aiohttp_client(create_app(dataclasses.replace(settings, rasa_tracker_url=tracker)))
    body = await (await client.get("/health/ready")).json()
    assert body["checks"]["rasa_tracker_store"] == "ok"


async def test_an_unreachable_rabbitmq_broker_degrades_readiness(
    aiohttp_client: Any, settings: Settings
) -> None:
    broken = dataclasses.replace(settings, rasa_events_url="amqp://guest:secret@127.0.0.1:1/")
    client = await aiohttp_client(create_app(broken))
    response = await client.get("/health/ready")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["rasa_events"].startswith("unavailable:")
    assert "secret" not in await response.text()


async def test_not_ready_when_the_database_is_unreachable(aiohttp_client: Any) -> None:
    # Port 1: nothing listens there, the connection is refused at once. The app still starts (and is live).
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/health/live")).status == 200
    response = await client.get("/health/ready")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable: ConnectionRefusedError")
    assert body["checks"]["live_events"] == "ok"
    # A public route: the kind of error, not its text (which names the database's host and port).
    assert "Traceback" not in await response.text() and "127.0.0.1" not in await response.text()


async def test_not_ready_when_the_schema_is_not_migrated(aiohttp_client: Any, database_url: str) -> None:
    client = await aiohttp_client(create_app(Settings(database_url=database_url)))
    response = await client.get("/health/ready")
    assert response.status == 503
    assert "python -m cs_backend migrate" in (await response.json())["checks"]["database"]


@pytest.mark.redis
async def test_ready_with_redis(aiohttp_client: Any, migrated_database_url: str, redis_url: str) -> None:
    settings = Settings(
        database_url=migrated_database_url, redis_url=redis_url, redis_channel=unique_name("t")
    )
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/health/ready")
    assert response.status == 200, await response.text()


async def test_degraded_not_failing_when_redis_is_unreachable(
    aiohttp_client: Any, migrated_database_url: str
) -> None:
    # Writes still commit without Redis (tests/backend/test_degradation.py): taking the instance out of the
    # load balancer would lose them.
    settings = Settings(database_url=migrated_database_url, redis_url="redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/health/ready")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    for redis_user in ("live_events", "routing_live_state", "rate_limits"):
        assert body["checks"][redis_user].startswith("unavailable:"), redis_user
    assert "127.0.0.1" not in await response.text()
