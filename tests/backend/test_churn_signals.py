"""POST/GET /api/churn/signals: identity (customer or conversation), idempotency, validation, lists, and
migration 0004. Runs on SQLite and PostgreSQL like the other database tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cs_backend import migrate
from cs_backend.app_keys import DATABASE

from .helpers import assert_error, page_ids
from .services import table_names

SIGNAL_FIELDS = {"id", "customer_id", "conversation_id", "kind", "reason", "outcome", "intent", "created_at"}
CHAT = {"sender_id": "chat-7", "channel": "socketio"}


async def signal(client: TestClient[Any, Any], status: int = 201, **body: Any) -> dict[str, Any]:
    headers = {"Idempotency-Key": body.pop("key")} if "key" in body else None
    response = await client.post("/api/churn/signals", json=body, headers=headers)
    assert response.status == status, await response.text()
    payload: dict[str, Any] = await response.json()
    assert set(payload) == SIGNAL_FIELDS
    return payload


async def signal_rows(client: TestClient[Any, Any]) -> int:
    async with client.app[DATABASE].engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM churn_signals")) or 0)


async def test_a_conversation_gets_an_anonymous_customer_and_keeps_it(client: TestClient[Any, Any]) -> None:
    first = await signal(
        client,
        kind="cancel_request",
        reason="too_expensive",
        outcome="retained",
        intent="cancel_subscription",
        **CHAT,
    )
    assert first["reason"] == "too_expensive" and first["outcome"] == "retained"
    assert first["intent"] == "cancel_subscription" and first["conversation_id"] is not None
    customer = await (await client.get(f"/api/customers/{first['customer_id']}")).json()
    assert customer["email"] is None

    # The same conversation later: same customer, same conversation; outcome defaults to open.
    second = await signal(client, kind="negative_feedback", **CHAT)
    assert (second["customer_id"], second["conversation_id"]) == (
        first["customer_id"],
        first["conversation_id"],
    )
    assert second["outcome"] == "open" and second["reason"] is None


async def test_signal_for_a_known_customer(client: TestClient[Any, Any]) -> None:
    ticket = await (
        await client.post("/api/tickets", json={"description": "Export is broken", "email": "ana@startup.io"})
    ).json()
    made = await signal(client, kind="downgrade_request", customer_id=ticket["customer_id"])
    assert made["customer_id"] == ticket["customer_id"] and made["conversation_id"] is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"kind"}),  # the body is checked before the identity
        ({"kind": "cancel_request"}, {"customer_id", "sender_id"}),
        ({"kind": "refund", **CHAT}, {"kind"}),
        ({"kind": "cancel_request", "outcome": "won", **CHAT}, {"outcome"}),
        ({"kind": "cancel_request", "reason": "r" * 201, **CHAT}, {"reason"}),
        ({"kind": "cancel_request", "reason": "   ", **CHAT}, {"reason"}),
        ({"kind": "cancel_request", "sender_id": "s"}, {"channel"}),
        ({"kind": "cancel_request", "channel": "rest"}, {"sender_id"}),
        ({"kind": "cancel_request", "customer_id": 1, **CHAT}, {"sender_id"}),
        ({"kind": "cancel_request", "mood": "sad", **CHAT}, {"mood"}),
    ],
)
async def test_bad_signals_are_400_and_write_nothing(
    client: TestClient[Any, Any], counts: Any, body: dict[str, Any], fields: set[str]
) -> None:
    before = await counts(client)
    await assert_error(await client.post("/api/churn/signals", json=body), 400, fields)
    assert await counts(client) == before  # no conversation or customer either
    assert await signal_rows(client) == 0


async def test_unknown_customer_is_404_naming_customer_id_and_writes_nothing(
    client: TestClient[Any, Any], counts: Any
) -> None:
    # The body is valid (the OpenAPI document cannot know which customers exist): what it names is not found.
    before = await counts(client)
    body = {"kind": "cancel_request", "customer_id": 999}
    error = await assert_error(await client.post("/api/churn/signals", json=body), 404, {"customer_id"})
    assert "999" in error["message"]
    assert await counts(client) == before
    assert await signal_rows(client) == 0


async def test_idempotency_key_records_one_signal(client: TestClient[Any, Any]) -> None:
    first = await signal(client, kind="cancel_request", reason="switching", key="churn-1", **CHAT)
    again = await signal(client, 200, kind="cancel_request", reason="switching", key="churn-1", **CHAT)
    assert again == first
    refused = await client.post(
        "/api/churn/signals",
        json={"kind": "cancel_request", "reason": "other", **CHAT},
        headers={"Idempotency-Key": "churn-1"},
    )
    await assert_error(refused, 422, {"Idempotency-Key"})
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/churn/signals",
                json={"kind": "cancel_request", **CHAT},
                headers={"Idempotency-Key": "k2"},
            )
            for _ in range(4)
        )
    )
    assert sorted(r.status for r in responses) == [200, 200, 200, 201]
    assert await signal_rows(client) == 2


async def test_list_filters_paging_and_order(client: TestClient[Any, Any]) -> None:
    s1 = await signal(client, kind="cancel_request", outcome="retained", **CHAT)
    s2 = await signal(client, kind="negative_feedback", sender_id="other", channel="rest")
    s3 = await signal(client, kind="cancel_request", outcome="cancelling", **CHAT)

    async def ids(query: str) -> tuple[list[int], int]:
        return await page_ids(client, f"/api/churn/signals{query}")

    assert await ids("") == ([s3["id"], s2["id"], s1["id"]], 3)
    assert await ids("?kind=cancel_request") == ([s3["id"], s1["id"]], 2)
    assert await ids("?outcome=retained") == ([s1["id"]], 1)
    assert await ids(f"?customer_id={s2['customer_id']}") == ([s2["id"]], 1)
    assert await ids("?limit=1&offset=1") == ([s2["id"]], 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?kind=refund", "kind"),
        ("?outcome=x", "outcome"),
        ("?customer_id=0", "customer_id"),
        ("?limit=101", "limit"),
        ("?sort=kind", "sort"),
    ],
)
async def test_bad_list_parameters_are_400(client: TestClient[Any, Any], query: str, field: str) -> None:
    await assert_error(await client.get(f"/api/churn/signals{query}"), 400, {field})


async def test_migration_0004_upgrades_and_downgrades(database_url: str) -> None:
    await migrate.upgrade_async(database_url, "0003")
    before = await table_names(database_url)
    await migrate.upgrade_async(database_url, "0004")
    assert await table_names(database_url) == before | {"churn_signals"}
    await migrate.downgrade_async(database_url, "0003")
    assert await table_names(database_url) == before
    await migrate.upgrade_async(database_url, "0004")  # and up again: the downgrade left nothing behind
    assert "churn_signals" in await table_names(database_url)
