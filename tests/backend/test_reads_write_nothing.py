"""Reading never creates rows (issue 9, abuse limits): every GET route of the registry, called with plausible
parameters (known and unknown ids, emails and sender ids), leaves the row count of every table unchanged.

A read that wrote would let anyone who can call it fill the database, and, for onboarding, create customers
that the nudge job then messages. The routes and their parameters come from the registry, so a new GET route
is swept without touching this file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cs_backend.api.registry import ApiRoute
from cs_backend.app_keys import API_ROUTES, DATABASE
from cs_backend.config import Settings
from cs_backend.db import Base
from cs_backend.main import create_app

from .conftest import TEST_METRICS_TOKEN
from .fake_rasa import FakeRasa
from .helpers import bearer_of_new_account, complete, ticket_payload
from .routing_support import person, set_profile

KNOWN_SENDER = "reader-known"
UNKNOWN_SENDERS = ["reader-never-seen", "x" * 200]
KNOWN_EMAIL = "ada@example.com"
UNKNOWN_ID = 987654
# The seeded rows' ids by parameter name: customer_id, conversation_id, ticket_id.
Seeded = dict[str, int]
# A path's {id} by its collection: /api/customers/{id} is a customer_id.
_ID_OF_COLLECTION = {"customers": "customer_id", "conversations": "conversation_id", "tickets": "ticket_id"}


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa, events_db: Any
) -> TestClient[Any, Any]:
    """The real app, with a fake Rasa and an events database: a customer's export reads both."""
    settings = dataclasses.replace(
        settings, rasa_url=rasa.url, rasa_auth_token=rasa.token, rasa_events_url=f"sqlite:///{events_db}"
    )
    return await aiohttp_client(create_app(settings))


def get_routes() -> list[Any]:
    return [
        pytest.param(route, id=route.path)
        for route in create_app(Settings())[API_ROUTES]
        if route.method == "GET"
    ]


async def all_row_counts(client: TestClient[Any, Any]) -> dict[str, int]:
    async with client.app[DATABASE].engine.connect() as connection:
        return {
            table.name: int(await connection.scalar(text(f"SELECT count(*) FROM {table.name}")) or 0)
            for table in Base.metadata.sorted_tables
        }


async def seed(client: TestClient[Any, Any]) -> Seeded:
    """One row in each table the API writes, so reads also find something."""
    response = await client.post(
        "/api/tickets", json=ticket_payload(email=KNOWN_EMAIL, sender_id=KNOWN_SENDER, channel="rest")
    )
    assert response.status == 201, await response.text()
    ticket = await response.json()
    rating = {"kind": "csat", "score": 4, "ticket_id": ticket["id"]}
    response = await client.post("/api/feedback", json=rating)
    assert response.status == 201, await response.text()
    response = await client.post(
        "/api/churn/signals", json={"kind": "cancel_request", "sender_id": KNOWN_SENDER, "channel": "rest"}
    )
    assert response.status == 201, await response.text()
    progress = await complete(client, "sign_up", sender_id=KNOWN_SENDER, channel="rest")
    survey = {
        "trigger": "onboarding_completed",
        "subject_id": progress["customer_id"],
        "sender_id": KNOWN_SENDER,
        "channel": "rest",
    }
    response = await client.post("/api/surveys", json=survey)
    assert response.status == 201, await response.text()
    # An agent online, so the handoff is offered (not closed as unavailable) and has a transcript entry.
    admin = await person(client, "admin", "seeder")
    agent = await person(client, "agent", "seeded-agent")
    await set_profile(client, admin, agent, skills=[])
    handoff = {"sender_id": KNOWN_SENDER, "channel": "rest", "reason": "misunderstood"}
    response = await client.post("/api/routing/handoffs", json=handoff)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["state"] == "assigned", created
    response = await client.post(
        f"/api/routing/handoffs/{created['id']}/notes", json={"text": "seeded"}, headers=agent.headers
    )
    assert response.status == 201, await response.text()
    return {
        "customer_id": ticket["customer_id"],
        "conversation_id": ticket["conversation_id"],
        "ticket_id": ticket["id"],
    }


def plausible_values(name: str, schema: dict[str, Any], seeded: Seeded) -> list[str]:
    """Values a caller would send for the query parameter `name` (its JSON schema given)."""
    if name == "sender_id":
        return [KNOWN_SENDER, *UNKNOWN_SENDERS]
    if name == "channel":
        return ["rest", "socketio"]
    if name == "email":
        return [KNOWN_EMAIL, "nobody@example.com"]
    if name.endswith("_id"):
        return [str(seeded.get(name, 1)), str(UNKNOWN_ID)]
    variants = schema.get("anyOf", [schema])
    enum = next((variant["enum"] for variant in variants if "enum" in variant), None)
    if enum is not None:
        return [str(value) for value in enum[:2]]
    kinds = {variant.get("type") for variant in variants}
    return ["1"] if "integer" in kinds else ["x"]


def query_variants(route: ApiRoute, seeded: Seeded) -> Iterator[dict[str, str]]:
    """No parameter; each parameter alone with each of its values; every combination of sender_id and
    channel (a conversation); and every parameter at once."""
    yield {}
    if route.query is None:
        return
    properties: dict[str, Any] = route.query.model_json_schema().get("properties", {})
    values = {name: plausible_values(name, schema, seeded) for name, schema in properties.items()}
    for name, options in values.items():
        for value in options:
            yield {name: value}
    if "sender_id" in values and "channel" in values:
        for sender_id, channel in itertools.product(values["sender_id"], values["channel"]):
            yield {"sender_id": sender_id, "channel": channel}
    yield {name: options[0] for name, options in values.items()}


def paths(route: ApiRoute, seeded: Seeded) -> list[str]:
    """The route's path with its ids filled in: the seeded row's, and one that does not exist."""
    if not route.path_parameters:
        return [route.path]
    collection = route.path.split("/")[2]
    filled = []
    for value in (seeded.get(_ID_OF_COLLECTION.get(collection, ""), 1), UNKNOWN_ID):
        path = route.path
        for name in route.path_parameters:
            path = path.replace(f"{{{name}}}", str(value))
        filled.append(path)
    return filled


async def read(
    client: TestClient[Any, Any], path: str, params: dict[str, str], headers: dict[str, str]
) -> int:
    """GET it; a stream is read up to its first line, then closed. Returns the status."""
    response = await client.get(path, params=params, headers=headers)
    try:
        if response.content_type == "text/event-stream":
            await asyncio.wait_for(response.content.readline(), 5)
        else:
            await response.read()
        return response.status
    finally:
        response.close()


async def open_socket(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> int:
    """Open the websocket from this site's page, read its first frame, close it. Returns 101."""
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    socket = await client.ws_connect(path, headers={**headers, **origin})
    try:
        await asyncio.wait_for(socket.receive_json(), 5)
    finally:
        await socket.close()
    return 101


@pytest.mark.parametrize("route", get_routes())
async def test_every_get_route_writes_nothing(client: TestClient[Any, Any], route: ApiRoute) -> None:
    seeded = await seed(client)
    # The client signs as the service; a route not open to it (accounts) is read by an admin.
    headers = {} if "service" in route.access else await bearer_of_new_account(client, "admin")
    if route.path == "/metrics":  # its own token (tests/backend/test_observability.py)
        headers = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}
    before = await all_row_counts(client)
    statuses = []
    for path in paths(route, seeded):
        for params in query_variants(route, seeded):
            if 101 in route.responses:  # a websocket: opened as the console's page does
                status = await open_socket(client, path, headers)
            else:
                status = await read(client, path, params, headers)
            assert status < 500, (path, params, status)
            statuses.append(status)
            assert await all_row_counts(client) == before, f"GET {path} {params} wrote rows"
    assert {101, 200} & set(statuses), f"no read of {route.path} succeeded, so none was checked: {statuses}"
