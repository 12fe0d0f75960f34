"""POST/GET /api/customers and /api/conversations (upserts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from .helpers import assert_error


async def test_customer_is_created_then_returned_for_the_same_email(client: TestClient[Any, Any]) -> None:
    first = await client.post("/api/customers", json={"email": "  Ada.Lovelace@Example.COM ", "name": "Ada"})
    assert first.status == 201
    customer = await first.json()
    assert set(customer) == {"id", "email", "name", "created_at"}
    assert customer["email"] == "ada.lovelace@example.com"
    assert customer["name"] == "Ada"
    assert datetime.fromisoformat(customer["created_at"]).utcoffset() == timedelta(0)

    again = await client.post("/api/customers", json={"email": "ada.lovelace@example.com", "name": "Other"})
    assert again.status == 200
    assert await again.json() == customer  # the existing customer, name not overwritten

    fetched = await client.get(f"/api/customers/{customer['id']}")
    assert fetched.status == 200
    assert await fetched.json() == customer


async def test_existing_customer_without_name_gets_one(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/api/customers", json={"email": "bob@example.com"})).json()
    assert created["name"] is None
    again = await client.post("/api/customers", json={"email": "bob@example.com", "name": "Bob"})
    assert again.status == 200
    assert (await again.json())["name"] == "Bob"


async def test_customer_validation(client: TestClient[Any, Any], counts: Any) -> None:
    before = await counts(client)
    await assert_error(await client.post("/api/customers", json={}), 400, {"email"})
    await assert_error(await client.post("/api/customers", json={"email": "not-an-email"}), 400, {"email"})
    await assert_error(await client.post("/api/customers", json={"email": "a@b"}), 400, {"email"})
    await assert_error(
        await client.post("/api/customers", json={"email": "a..b@example.com"}), 400, {"email"}
    )
    await assert_error(
        await client.post("/api/customers", json={"email": "a@example.com", "name": ""}), 400, {"name"}
    )
    await assert_error(
        await client.post("/api/customers", json={"email": "a@example.com", "name": "x" * 201}), 400, {"name"}
    )
    assert await counts(client) == before


async def test_unknown_customer_is_404(client: TestClient[Any, Any]) -> None:
    await assert_error(await client.get("/api/customers/999"), 404)
    await assert_error(await client.get("/api/customers/abc"), 404)
    await assert_error(await client.get("/api/customers/99999999999999999999"), 404)


async def test_conversation_upsert_on_sender_and_channel(client: TestClient[Any, Any]) -> None:
    first = await client.post("/api/conversations", json={"sender_id": "s-1", "channel": "rest"})
    assert first.status == 201
    conversation = await first.json()
    assert set(conversation) == {"id", "sender_id", "channel", "customer_id", "started_at", "last_seen_at"}
    assert conversation["customer_id"] is None
    assert conversation["started_at"] == conversation["last_seen_at"]

    again = await client.post(
        "/api/conversations", json={"sender_id": "s-1", "channel": "rest", "email": "Ada@Example.com"}
    )
    assert again.status == 200
    updated = await again.json()
    assert updated["id"] == conversation["id"]
    assert updated["started_at"] == conversation["started_at"]
    assert datetime.fromisoformat(updated["last_seen_at"]) > datetime.fromisoformat(
        conversation["last_seen_at"]
    )
    customer = await (await client.post("/api/customers", json={"email": "ada@example.com"})).json()
    assert updated["customer_id"] == customer["id"]

    # The same sender on another channel is another conversation.
    other = await client.post("/api/conversations", json={"sender_id": "s-1", "channel": "socketio"})
    assert other.status == 201
    assert (await other.json())["id"] != conversation["id"]

    fetched = await client.get(f"/api/conversations/{conversation['id']}")
    assert fetched.status == 200
    assert await fetched.json() == updated


async def test_conversation_validation_and_404(client: TestClient[Any, Any], counts: Any) -> None:
    before = await counts(client)
    await assert_error(await client.post("/api/conversations", json={"sender_id": "s"}), 400, {"channel"})
    await assert_error(
        await client.post("/api/conversations", json={"sender_id": "", "channel": "rest", "email": "x"}),
        400,
        {"sender_id", "email"},
    )
    await assert_error(
        await client.post("/api/conversations", json={"sender_id": 5, "channel": ["rest"]}),
        400,
        {"sender_id", "channel"},
    )
    assert await counts(client) == before
    await assert_error(await client.get("/api/conversations/1"), 404)
