"""health_scores/features.py on real rows of every source table (SQLite and PostgreSQL), and
POST /api/customers/{id}/activities."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cs_backend.activities.models import CustomerActivity
from cs_backend.app_keys import DATABASE
from cs_backend.db import Database
from cs_backend.health_scores.features import FEATURE_NAMES, CustomerFeatures, customer_features

from .health_rows import NOW, CustomerRows, healthy_and_struggling
from .helpers import assert_error


async def features_at_now(db: Database, ids: list[int] | None) -> list[CustomerFeatures]:
    async with db.sessions() as session:
        return await customer_features(session, ids, now=NOW)


async def test_features_of_a_healthy_and_a_struggling_customer(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    happy_id, sad_id = await healthy_and_struggling(db)
    happy, sad = await features_at_now(db, None)
    assert (happy.customer_id, sad.customer_id) == (happy_id, sad_id)

    assert happy.onboarding_progress == pytest.approx(5 / 6)
    assert happy.days_since_last_activity == pytest.approx(1)
    assert (happy.tickets_open, happy.tickets_90d, happy.oldest_open_ticket_days) == (0, 1, 0)
    assert (happy.csat_mean_90d, happy.csat_responses_90d, happy.csat_trend) == (5, 1, 0)
    assert (happy.ces_mean_90d, happy.ces_responses_90d) == (7, 1)
    assert (happy.handoffs_90d, happy.repeat_contacts_30d, happy.abandoned_30d) == (0, 0, 0)
    assert happy.churn_signals_90d == 0
    assert (happy.monthly_revenue, happy.lifetime_revenue, happy.activities_30d) == (49, 98, 2)
    assert happy.tenure_days == pytest.approx(200)

    assert sad.onboarding_progress == pytest.approx(1 / 6)
    assert sad.days_since_last_activity == pytest.approx(45)
    assert (sad.tickets_open, sad.tickets_90d) == (3, 3)
    assert sad.oldest_open_ticket_days == pytest.approx(40)
    # 90 days: 4, 1, 2; the last 30 days (1, 2) against the 60 before (4).
    assert sad.csat_mean_90d == pytest.approx(7 / 3) and sad.csat_responses_90d == 3
    assert sad.csat_trend == pytest.approx(1.5 - 4)
    assert (sad.ces_mean_90d, sad.ces_responses_90d) == (2, 1)
    assert (sad.handoffs_90d, sad.repeat_contacts_30d, sad.abandoned_30d) == (2, 3, 3)
    assert sad.churn_signals_90d == 1
    assert (sad.monthly_revenue, sad.lifetime_revenue, sad.activities_30d) == (0, 0, 0)

    assert set(sad.as_dict()) == set(FEATURE_NAMES) and "customer_id" not in FEATURE_NAMES
    assert all(isinstance(value, float) for value in sad.as_dict().values())


async def test_a_list_of_ids_reads_only_those_customers(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    happy_id, sad_id = await healthy_and_struggling(db)
    everyone = {features.customer_id: features for features in await features_at_now(db, None)}
    # Unknown ids are left out; the rows of the others do not leak into the one asked for.
    assert await features_at_now(db, [sad_id, 999_999]) == [everyone[sad_id]]
    assert await features_at_now(db, [happy_id]) == [everyone[happy_id]]
    assert await features_at_now(db, []) == []


async def test_old_rows_fall_out_of_the_windows(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    async with db.sessions() as session:
        old = await CustomerRows.create(session, "old@example.com", joined_days_ago=400)
        await old.ticket(days=200, status="closed")
        old.rating("csat", 1, days=100)
        old.rating("ces", 1, days=95)
        old.handoff(days=91)
        old.session_outcome("abandoned", days=31)
        old.session_outcome("abandoned", days=35)
        old.churn_signal(days=92)
        old.activity("payment", days=31, amount_cents=1000)
        old.step("no_longer_in_the_checklist", days=300)
        await session.commit()
    (features,) = await features_at_now(db, None)
    assert features.as_dict() | {"days_since_last_activity": 0, "tenure_days": 0} == {
        **dict.fromkeys(FEATURE_NAMES, 0.0),
        "csat_mean_90d": 3.0,
        "ces_mean_90d": 4.0,
        "lifetime_revenue": 10.0,
    }
    assert features.days_since_last_activity == pytest.approx(31)


async def activity(
    client: TestClient[Any, Any], customer_id: int, status: int = 201, key: str | None = None, **body: Any
) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else None
    response = await client.post(f"/api/customers/{customer_id}/activities", json=body, headers=headers)
    assert response.status == status, await response.text()
    payload: dict[str, Any] = await response.json()
    return payload


async def activity_rows(client: TestClient[Any, Any]) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CustomerActivity)) or 0)


async def test_posting_activities(client: TestClient[Any, Any]) -> None:
    customer = await (await client.post("/api/customers", json={"email": "pay@example.com"})).json()
    login = await activity(client, customer["id"], kind="login")
    assert login["kind"] == "login" and login["amount_cents"] is None and login["currency"] is None
    paid = await activity(
        client,
        customer["id"],
        key="pay-1",
        kind="payment",
        amount_cents=4900,
        currency="EUR",
        occurred_at="2026-11-01T10:00:00+01:00",
    )
    assert paid["occurred_at"].startswith("2026-11-01T09:00:00")
    again = await activity(
        client,
        customer["id"],
        status=200,
        key="pay-1",
        kind="payment",
        amount_cents=4900,
        currency="EUR",
        occurred_at="2026-11-01T10:00:00+01:00",
    )
    assert again == paid
    assert await activity_rows(client) == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"kind"}),
        ({"kind": "Login"}, {"kind"}),
        ({"kind": "x" * 65}, {"kind"}),
        ({"kind": "payment"}, {"body"}),
        ({"kind": "payment", "amount_cents": 100}, {"body"}),
        ({"kind": "login", "currency": "EUR"}, {"body"}),
        ({"kind": "payment", "amount_cents": -1, "currency": "EUR"}, {"amount_cents"}),
        ({"kind": "payment", "amount_cents": "12", "currency": "EUR"}, {"amount_cents"}),
        ({"kind": "payment", "amount_cents": 1, "currency": "eur"}, {"currency"}),
        ({"kind": "login", "occurred_at": "yesterday"}, {"occurred_at"}),
        ({"kind": "login", "occurred_at": "2026-11-01T10:00:00"}, {"occurred_at"}),
        ({"kind": "login", "occurred_at": "2999-01-01T00:00:00Z"}, {"occurred_at"}),
        ({"kind": "login", "occurred_at": 1700000000}, {"occurred_at"}),
        ({"kind": "login", "mood": "happy"}, {"mood"}),
    ],
)
async def test_bad_activities_are_refused_and_write_nothing(
    client: TestClient[Any, Any], body: dict[str, Any], fields: set[str]
) -> None:
    customer = await (await client.post("/api/customers", json={"email": "bad@example.com"})).json()
    response = await client.post(f"/api/customers/{customer['id']}/activities", json=body)
    await assert_error(response, 400, fields)
    assert await activity_rows(client) == 0


async def test_an_unknown_customer_is_a_404(client: TestClient[Any, Any]) -> None:
    for path in ("/api/customers/12345/activities", "/api/customers/abc/activities"):
        await assert_error(await client.post(path, json={"kind": "login"}), 404)
    assert await activity_rows(client) == 0


async def test_agents_cannot_post_activities(aiohttp_client: Any, client: TestClient[Any, Any]) -> None:
    unsigned = await aiohttp_client(client.server, sign=False)
    await assert_error(await unsigned.post("/api/customers/1/activities", json={"kind": "login"}), 401)
