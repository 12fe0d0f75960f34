"""alerts/: raise_alert (task, live event, queued webhook), the delivery job against a local receiver that
checks the signature, retries and dead deliveries, and GET /api/tasks, POST /api/tasks/{id}/done."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from cs_backend.alerts.jobs import AlertSender, retry_delay
from cs_backend.alerts.models import AlertDelivery
from cs_backend.alerts.service import raise_alert
from cs_backend.alerts.signing import signature, verify
from cs_backend.app_keys import DATABASE, LIVE_EVENTS
from cs_backend.config import Settings, SettingsError
from cs_backend.db import utcnow
from cs_backend.main import create_app

from .helpers import assert_error, bearer_of_new_account
from .webhook_receiver import WEBHOOK_SECRET, WebhookReceiver


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[WebhookReceiver, TestServer]:
    hook = WebhookReceiver()
    server: TestServer = await aiohttp_server(hook.app())
    return hook, server


def with_webhook(settings: Settings, server: TestServer, interval: float = 0.0) -> Settings:
    return dataclasses.replace(
        settings,
        alert_webhook_url=str(server.make_url("/hook")),
        alert_webhook_secret=WEBHOOK_SECRET,
        alert_delivery_interval_seconds=interval,
    )


async def customer_id(client: TestClient[Any, Any], email: str = "ann@example.com") -> int:
    response = await client.post("/api/customers", json={"email": email})
    return int((await response.json())["id"])


async def deliveries(client: TestClient[Any, Any]) -> list[AlertDelivery]:
    async with client.app[DATABASE].sessions() as session:
        return list(await session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


async def test_an_alert_is_a_task_a_live_event_and_a_signed_webhook(
    aiohttp_client: Any, settings: Settings, receiver: tuple[WebhookReceiver, TestServer]
) -> None:
    hook, server = receiver
    client = await aiohttp_client(create_app(with_webhook(settings, server, interval=0.05)))
    customer = await customer_id(client)
    async with client.app[LIVE_EVENTS].subscribe() as events:
        task = await raise_alert(
            client.app,
            kind="health_red",
            customer_id=customer,
            title="Ann's health is red (31)",
            detail="3 open tickets; asked to cancel",
            source_ref="health:1",
        )
        event = await events.next(timeout=5)
    assert event is not None and event.type == "alert.raised"
    assert event.payload["id"] == task.id and event.payload["status"] == "open"

    await hook.wait_for(1)
    (received,) = hook.received
    assert received.signature_valid
    assert received.body["text"] == "Ann's health is red (31)\n3 open tickets; asked to cancel"
    assert received.body["alert"] == event.payload
    (delivery,) = await deliveries(client)
    assert received.delivery_id == str(delivery.id)
    for _ in range(100):  # the job records the answer just after the receiver has it
        (delivery,) = await deliveries(client)
        if delivery.state != "pending":
            break
        await asyncio.sleep(0.05)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 1, None)

    # Raised again from the same source: the same task, nothing sent or stored twice.
    again = await raise_alert(
        client.app, kind="health_red", customer_id=customer, title="x", detail="y", source_ref="health:1"
    )
    assert again.id == task.id
    assert len(await deliveries(client)) == 1


async def test_failed_deliveries_are_retried_with_backoff_then_given_up(
    aiohttp_client: Any, settings: Settings, receiver: tuple[WebhookReceiver, TestServer]
) -> None:
    hook, server = receiver
    settings = dataclasses.replace(with_webhook(settings, server), alert_delivery_max_attempts=3)
    client = await aiohttp_client(create_app(settings))
    customer = await customer_id(client)
    for ref in ("a", "b"):
        await raise_alert(
            client.app, kind="negative_feedback", customer_id=customer, title=ref, detail="", source_ref=ref
        )
    async with aiohttp.ClientSession() as http:
        sender = AlertSender(client.app[DATABASE], settings, http)
        now = utcnow()
        # a: 503 then 200 (retried, delivered); b: 500, 502, 504 (dead after 3 attempts).
        hook.statuses = [503, 500]
        run = await sender.deliver_due(now)
        assert (run.delivered, run.retried, run.dead) == (0, 2, 0)
        # Not due again before the backoff.
        assert await sender.deliver_due(now + timedelta(seconds=1)) == type(run)()
        hook.statuses = [200, 502]
        run = await sender.deliver_due(now + retry_delay(1))
        assert (run.delivered, run.retried, run.dead) == (1, 1, 0)
        hook.statuses = [504]
        run = await sender.deliver_due(now + retry_delay(1) + retry_delay(2))
        assert (run.delivered, run.retried, run.dead) == (0, 0, 1)
    first, second = await deliveries(client)
    assert (first.state, first.attempts) == ("delivered", 2)
    assert (second.state, second.attempts, second.last_error) == ("dead", 3, "HTTP 504")
    assert all(item.signature_valid for item in hook.received) and len(hook.received) == 5


async def test_a_refused_delivery_is_dead_at_once_and_an_unreachable_one_retried(
    aiohttp_client: Any, settings: Settings, receiver: tuple[WebhookReceiver, TestServer]
) -> None:
    hook, server = receiver
    client = await aiohttp_client(create_app(with_webhook(settings, server)))
    await raise_alert(client.app, kind="health_red", customer_id=None, title="t", detail="d", source_ref="r")
    async with aiohttp.ClientSession() as http:
        hook.statuses = [400]
        sender = AlertSender(client.app[DATABASE], with_webhook(settings, server), http)
        assert (await sender.deliver_due(utcnow())).dead == 1
        await raise_alert(
            client.app, kind="health_red", customer_id=None, title="t", detail="d", source_ref="s"
        )
        await server.close()
        assert (await sender.deliver_due(utcnow())).retried == 1
    dead, retried = await deliveries(client)
    assert (dead.state, dead.last_error) == ("dead", "HTTP 400")
    assert retried.state == "pending" and retried.last_error and "Connect" in retried.last_error


async def test_without_a_webhook_url_alerts_are_only_tasks(client: TestClient[Any, Any]) -> None:
    task = await raise_alert(
        client.app, kind="negative_feedback", customer_id=None, title="t", detail="d", source_ref="feedback:1"
    )
    assert task.id and await deliveries(client) == []


def test_a_webhook_url_needs_a_secret() -> None:
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_SECRET"):
        Settings.from_env({"ALERT_WEBHOOK_URL": "https://hooks.example.com/x"})
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_URL"):
        Settings.from_env({"ALERT_WEBHOOK_URL": "file:///etc/passwd", "ALERT_WEBHOOK_SECRET": "s" * 32})
    assert "hooks.example" not in repr(
        Settings.from_env(
            {"ALERT_WEBHOOK_URL": "https://hooks.example.com/x", "ALERT_WEBHOOK_SECRET": "s" * 32}
        )
    )


def test_signatures_verify_only_for_the_same_body_secret_and_time() -> None:
    header = signature("k" * 32, 1_000, b'{"a":1}')
    assert verify("k" * 32, header, b'{"a":1}', now=1_100)
    assert not verify("k" * 32, header, b'{"a":2}', now=1_100)
    assert not verify("x" * 32, header, b'{"a":1}', now=1_100)
    assert not verify("k" * 32, header, b'{"a":1}', now=2_000)
    assert not verify("k" * 32, "garbage", b'{"a":1}', now=1_000)


async def test_tasks_are_listed_and_marked_done_by_a_person(client: TestClient[Any, Any]) -> None:
    customer = await customer_id(client)
    first = await raise_alert(
        client.app, kind="negative_feedback", customer_id=customer, title="1", detail="", source_ref="f:1"
    )
    second = await raise_alert(
        client.app, kind="health_red", customer_id=customer, title="2", detail="", source_ref="h:1"
    )
    agent = await bearer_of_new_account(client, "agent")
    page = await (await client.get("/api/tasks?status=open", headers=agent)).json()
    assert [item["id"] for item in page["items"]] == [second.id, first.id] and page["total"] == 2

    async with client.app[LIVE_EVENTS].subscribe() as events:
        response = await client.post(f"/api/tasks/{first.id}/done", headers=agent)
        assert response.status == 200, await response.text()
        done = await response.json()
        event = await events.next(timeout=5)
    assert done["status"] == "done" and done["done_by"] is not None and done["done_at"]
    assert event is not None and event.type == "task.done" and event.payload == done
    # Done again: unchanged.
    assert await (await client.post(f"/api/tasks/{first.id}/done", headers=agent)).json() == done

    open_page = await (await client.get("/api/tasks?status=open&kind=health_red", headers=agent)).json()
    assert [item["id"] for item in open_page["items"]] == [second.id]
    await assert_error(await client.get("/api/tasks?status=closed", headers=agent), 400, {"status"})
    await assert_error(await client.post("/api/tasks/999/done", headers=agent), 404)
    # The service reads tasks but only a person marks them done.
    assert (await client.get("/api/tasks")).status == 200
    await assert_error(await client.post(f"/api/tasks/{second.id}/done"), 403)
