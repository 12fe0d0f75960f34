"""Assertions and payloads shared by the cs_backend tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from cs_backend.accounts import service as accounts
from cs_backend.accounts.models import Role
from cs_backend.app_keys import DATABASE

# Cheap argon2 parameters for the accounts the tests create (signing in through the API rehashes them).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# Markers of Python tracebacks and internals that must never reach a client.
_LEAK_MARKERS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "IntegrityError",
    "pydantic.dev",
)


def assert_no_internals(text: str) -> None:
    for marker in _LEAK_MARKERS:
        assert marker not in text, f"error body leaks {marker!r}: {text}"


async def assert_error(
    response: ClientResponse, status: int, fields: set[str] | None = None, message: str | None = None
) -> dict[str, Any]:
    """The response is the contract's JSON error with this status (and exactly these bad fields)."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json", text
    assert_no_internals(text)
    body = await response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    if message is not None:
        assert message in error["message"], error
    if fields is not None:
        assert set(error.get("fields", {})) == fields, error
        assert all(isinstance(m, str) and m for m in error["fields"].values()), error
    return error


async def page_ids(client: TestClient[Any, Any], url: str) -> tuple[list[int], int]:
    """GET a page of a list endpoint: the ids of its items, in order, and the total over all pages."""
    response = await client.get(url)
    assert response.status == 200, await response.text()
    page = await response.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    return [item["id"] for item in page["items"]], page["total"]


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"description": "My order #123 has not arrived.", "email": "ada@example.com"}
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not ...}


ONBOARDING_PROGRESS_FIELDS = {"customer_id", "steps", "done_count", "total", "next_step", "completed"}


async def complete(client: TestClient[Any, Any], step: str, **identity: Any) -> dict[str, Any]:
    """Mark an onboarding step done through the API; the progress it answers."""
    response = await client.post("/api/onboarding/progress", json={"step": step, **identity})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    assert set(body) == ONBOARDING_PROGRESS_FIELDS
    return body


async def bearer_of_new_account(
    client: TestClient[Any, Any], role: Role, email: str | None = None
) -> dict[str, str]:
    """The Authorization header of a session of a new account with `role` (password "correct horse battery
    staple"), for a route not open to the service."""
    database = client.app[DATABASE]
    account = await accounts.create_account(
        database,
        email or f"{role}@example.com",
        role.title(),
        role,
        "correct horse battery staple",
        FAST_HASHER,
    )
    new_session = await accounts.start_session(database, account, timedelta(hours=1))
    return {"Authorization": f"Bearer {new_session.token}"}
