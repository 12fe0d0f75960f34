"""The Idempotency-Key rule of every route that takes one (db.create_once): the same key with the same request
answers the first row; with a different request, 422 naming the header and nothing changed, also when the two
requests race; rows stored before fingerprints (migration 0010) answer any request with their key, as before.
Runs on SQLite and PostgreSQL like the other database tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pydantic import BaseModel
from sqlalchemy import inspect, text

from cs_backend import migrate
from cs_backend.api.idempotency import request_fingerprint
from cs_backend.app_keys import API_ROUTES, DATABASE, LIVE_EVENTS
from cs_backend.db import create_engine
from cs_backend.tickets.schemas import TicketCreate

from .conftest import TABLES
from .helpers import assert_error, ticket_payload

CHAT = {"sender_id": "idem-chat", "channel": "rest"}


@dataclass(frozen=True)
class KeyedRoute:
    path: str
    table: str
    body: dict[str, Any]
    # The same request as `body` once validated: optional fields as null or at their default, padded text.
    same_body: dict[str, Any]
    other_body: dict[str, Any]


KEYED_ROUTES = [
    KeyedRoute(
        "/api/tickets",
        "tickets",
        ticket_payload(**CHAT),
        {**ticket_payload(email="  Ada@Example.com ", **CHAT), "priority": "normal", "subject": None},
        ticket_payload(description="Another problem entirely.", **CHAT),
    ),
    KeyedRoute(
        "/api/feedback",
        "feedback",
        {"kind": "csat", "score": 5, **CHAT},
        {"score": 5, "kind": "csat", "resolver": "bot", "comment": None, **CHAT, "sender_id": " idem-chat "},
        {"kind": "csat", "score": 4, **CHAT},
    ),
    KeyedRoute(
        "/api/churn/signals",
        "churn_signals",
        {"kind": "cancel_request", "reason": "too_expensive", **CHAT},
        {"reason": " too_expensive ", "kind": "cancel_request", "outcome": "open", "intent": None, **CHAT},
        {"kind": "cancel_request", "reason": "switching", **CHAT},
    ),
    KeyedRoute(
        "/api/routing/handoffs",
        "handoff_requests",
        {"reason": "customer_request", **CHAT},
        {**CHAT, "reason": "customer_request", "language": "en", "detail": None, "at_risk": False},
        {"reason": "customer_request", "priority": "high", **CHAT},
    ),
    KeyedRoute(
        # {id}: a customer the test creates first (`post`).
        "/api/customers/{id}/activities",
        "customer_activities",
        {"kind": "payment", "amount_cents": 4900, "currency": "EUR"},
        {"currency": "EUR", "amount_cents": 4900, "kind": "payment", "occurred_at": None},
        {"kind": "payment", "amount_cents": 9900, "currency": "EUR"},
    ),
]
ROUTE_IDS = [route.table for route in KEYED_ROUTES]


async def post(
    client: TestClient[Any, Any],
    route: KeyedRoute,
    body: dict[str, Any],
    key: str,
    *,
    indent: int | None = None,
) -> ClientResponse:
    """POST the body as JSON written as given (key order, indentation), with the Idempotency-Key."""
    path = route.path
    if "{id}" in path:
        # The customer of a customer's sub-resource: created (or found, by its email) before the request.
        customer = await client.post("/api/customers", json={"email": "keyed-route@example.com"})
        path = path.format(id=(await customer.json())["id"])
    return await client.post(
        path,
        data=json.dumps(body, indent=indent).encode(),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )


async def snapshot(client: TestClient[Any, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the app writes, to prove a refused request changed nothing."""
    rows = {}
    async with client.app[DATABASE].engine.connect() as connection:
        for table in TABLES:
            result = await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
            rows[table] = [tuple(row) for row in result]
    return rows


async def rows_with_key(client: TestClient[Any, Any], route: KeyedRoute, key: str) -> list[int]:
    async with client.app[DATABASE].engine.connect() as connection:
        result = await connection.execute(
            text(f"SELECT id FROM {route.table} WHERE idempotency_key = :key"), {"key": key}
        )
        return [int(row_id) for row_id in result.scalars()]


@pytest.mark.parametrize("route", KEYED_ROUTES, ids=ROUTE_IDS)
async def test_the_same_key_with_the_same_request_answers_the_first_row(
    client: TestClient[Any, Any], route: KeyedRoute
) -> None:
    first = await post(client, route, route.body, "same-1")
    assert first.status == 201, await first.text()
    created = await first.json()
    again = await post(client, route, route.body, "same-1")
    # Written another way: key order, whitespace, padded text, optional fields null or at their default.
    rewritten = await post(client, route, route.same_body, " same-1 ", indent=4)
    for response in (again, rewritten):
        assert response.status == 200, await response.text()
        assert (await response.json())["id"] == created["id"]
    assert await rows_with_key(client, route, "same-1") == [created["id"]]


@pytest.mark.parametrize("route", KEYED_ROUTES, ids=ROUTE_IDS)
async def test_the_same_key_with_another_request_is_422_and_changes_nothing(
    client: TestClient[Any, Any], route: KeyedRoute, caplog: pytest.LogCaptureFixture
) -> None:
    first = await post(client, route, route.body, "reused-1")
    assert first.status == 201, await first.text()
    before = await snapshot(client)
    async with client.app[LIVE_EVENTS].subscribe() as subscription:
        refused = await post(client, route, route.other_body, "reused-1")
        error = await assert_error(refused, 422, {"Idempotency-Key"}, message="Idempotency-Key")
        assert "reused with a different request" in error["fields"]["Idempotency-Key"]
        assert await subscription.next(timeout=0.2) is None  # nothing published either
    assert await snapshot(client) == before
    warnings = [r.getMessage() for r in caplog.records if "reused with a different request" in r.getMessage()]
    assert len(warnings) == 1 and "reused-1" not in warnings[0]  # logged for operators, without the key
    # The first request is still answered with its row, and a new key stores the other request.
    assert (await post(client, route, route.body, "reused-1")).status == 200
    assert (await post(client, route, route.other_body, "reused-2")).status == 201


@pytest.mark.parametrize("route", KEYED_ROUTES, ids=ROUTE_IDS)
async def test_concurrent_requests_with_one_key_store_one_row(
    client: TestClient[Any, Any], route: KeyedRoute
) -> None:
    """Two clients race with one key and different bodies: one row; the loser's request is refused."""
    responses = await asyncio.gather(
        post(client, route, route.body, "race-1"), post(client, route, route.other_body, "race-1")
    )
    assert sorted(r.status for r in responses) == [201, 422], [r.status for r in responses]
    winner = next(r for r in responses if r.status == 201)
    assert await rows_with_key(client, route, "race-1") == [(await winner.json())["id"]]


@pytest.mark.parametrize("route", KEYED_ROUTES, ids=ROUTE_IDS)
async def test_many_racing_requests_get_the_winners_row_or_422(
    client: TestClient[Any, Any], route: KeyedRoute
) -> None:
    bodies = [route.body, route.other_body] * 3
    responses = await asyncio.gather(*(post(client, route, body, "race-many") for body in bodies))
    statuses = [r.status for r in responses]
    assert statuses.count(201) == 1, statuses
    winning_body = bodies[statuses.index(201)]
    row_id = (await responses[statuses.index(201)].json())["id"]
    for body, response in zip(bodies, responses, strict=True):
        if body == winning_body:
            assert response.status in (200, 201)
            assert (await response.json())["id"] == row_id
        else:
            await assert_error(response, 422, {"Idempotency-Key"})
    assert await rows_with_key(client, route, "race-many") == [row_id]


@pytest.mark.parametrize("route", KEYED_ROUTES, ids=ROUTE_IDS)
async def test_a_row_stored_before_fingerprints_answers_any_request_with_its_key(
    client: TestClient[Any, Any], route: KeyedRoute
) -> None:
    created = await (await post(client, route, route.body, "before-0010")).json()
    async with client.app[DATABASE].engine.begin() as connection:
        # What migration 0010 leaves on the rows stored before it.
        await connection.execute(text(f"UPDATE {route.table} SET idempotency_fingerprint = NULL"))
    again = await post(client, route, route.other_body, "before-0010")
    assert again.status == 200, await again.text()
    assert (await again.json())["id"] == created["id"]


async def test_a_key_belongs_to_its_route(client: TestClient[Any, Any]) -> None:
    """Keys are unique per route (per table), as before: one key on two routes stores two rows."""
    for route in KEYED_ROUTES:
        response = await post(client, route, route.body, "shared-key")
        assert response.status == 201, await response.text()


async def test_a_refused_request_leaves_its_key_free(client: TestClient[Any, Any]) -> None:
    """A request that stores nothing (a rating about an unknown ticket: 404) does not take its key."""
    feedback = KEYED_ROUTES[1]
    unknown_ticket = await post(client, feedback, {**feedback.body, "ticket_id": 999}, "free-key")
    await assert_error(unknown_ticket, 404, {"ticket_id"})
    assert (await post(client, feedback, feedback.body, "free-key")).status == 201


class _Body(BaseModel):
    text: str
    count: int = 1


def test_the_fingerprint_is_of_the_route_and_the_validated_body() -> None:
    ticket = TicketCreate.model_validate({"description": "It broke.", "email": "a@example.com"})
    same = TicketCreate.model_validate(
        {"priority": "normal", "email": " A@example.com", "description": " It broke. ", "subject": None}
    )
    other = TicketCreate.model_validate({"description": "It broke again.", "email": "a@example.com"})
    fingerprint = request_fingerprint("POST /api/tickets", ticket)
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0
    assert request_fingerprint("POST /api/tickets", same) == fingerprint
    assert request_fingerprint("POST /api/tickets", other) != fingerprint
    assert request_fingerprint("POST /api/feedback", ticket) != fingerprint
    # A field at its default is left out, so a field added later with a default keeps old fingerprints.
    assert request_fingerprint("r", _Body(text="a")) == request_fingerprint("r", _Body(text="a", count=1))
    assert request_fingerprint("r", _Body(text="a")) != request_fingerprint("r", _Body(text="a", count=2))


async def test_the_document_lists_the_422_of_every_route_taking_a_key(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    keyed: Sequence[str] = [
        f"{route.method} {route.path}" for route in client.app[API_ROUTES] if route.idempotency_key
    ]
    assert sorted(keyed) == sorted(f"POST {route.path}" for route in KEYED_ROUTES)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            takes_key = f"{method.upper()} {path}" in keyed
            assert ("422" in operation["responses"]) == takes_key, (method, path)
            if takes_key:
                header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
                assert "422" in header["description"]


FINGERPRINTED_TABLES = ("tickets", "feedback", "churn_signals", "handoff_requests")
NOW = "2025-01-01 00:00:00+00"


async def _columns(database_url: str, table: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {column["name"] for column in inspect(sync).get_columns(table)}
            )
    finally:
        await engine.dispose()


async def test_migration_0010_keeps_the_rows_and_their_keys_without_a_fingerprint(database_url: str) -> None:
    """0010's parent is 0007 for now (0008 and 0009 are written in parallel; the merge re-points it)."""
    await migrate.upgrade_async(database_url, "0007")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(f"INSERT INTO customers (id, email, created_at) VALUES (1, 'a@example.com', '{NOW}')")
            )
            await connection.execute(
                text(
                    "INSERT INTO tickets (id, subject, description, priority, status, email, customer_id, "
                    "channel, idempotency_key, created_at, updated_at) VALUES (1, 's', 'd', 'low', 'open', "
                    f"'a@example.com', 1, 'api', 'old-key', '{NOW}', '{NOW}')"
                )
            )
        await migrate.upgrade_async(database_url, "0010")
        for table in FINGERPRINTED_TABLES:
            assert "idempotency_fingerprint" in await _columns(database_url, table)
        async with engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT idempotency_key, idempotency_fingerprint FROM tickets"))
            ).one()
        assert tuple(row) == ("old-key", None)

        await migrate.downgrade_async(database_url, "0007")
        for table in FINGERPRINTED_TABLES:
            assert "idempotency_fingerprint" not in await _columns(database_url, table)
        async with engine.connect() as connection:
            keys = (await connection.execute(text("SELECT idempotency_key FROM tickets"))).scalars().all()
        assert keys == ["old-key"]
        await migrate.upgrade_async(database_url)  # and up again: the downgrade left nothing behind
    finally:
        await engine.dispose()
