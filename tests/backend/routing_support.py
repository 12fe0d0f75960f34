"""What the routing tests share: people with sessions, their routing profiles, handoff requests through the
API, and a clock the tests move."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from cs_backend.accounts import service as accounts
from cs_backend.accounts.models import Role
from cs_backend.app_keys import DATABASE

from .helpers import FAST_HASHER


@dataclass(frozen=True)
class Person:
    account_id: int
    headers: dict[str, str]


async def person(client: TestClient[Any, Any], role: Role, name: str) -> Person:
    database = client.app[DATABASE]
    account = await accounts.create_account(
        database, f"{name}@example.com", name.title(), role, "correct horse battery staple", FAST_HASHER
    )
    session = await accounts.start_session(database, account, timedelta(hours=1))
    return Person(account.id, {"Authorization": f"Bearer {session.token}"})


async def set_profile(
    client: TestClient[Any, Any], admin: Person, agent: Person, status: str = "online", **profile: Any
) -> dict[str, Any]:
    body = {"languages": ["en"], "skills": ["billing"], "capacity": 2, "status": status, **profile}
    response = await client.put(f"/api/routing/agents/{agent.account_id}", json=body, headers=admin.headers)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def request_handoff(client: TestClient[Any, Any], sender_id: str, **fields: Any) -> dict[str, Any]:
    body = {"sender_id": sender_id, "channel": "socketio", "reason": "customer_request", "skill": "billing"}
    body.update(fields)
    response = await client.post("/api/routing/handoffs", json=body)
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def handoff(client: TestClient[Any, Any], handoff_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/routing/handoffs/{handoff_id}")
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def act(
    client: TestClient[Any, Any], who: Person, handoff_id: int, action: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/routing/handoffs/{handoff_id}/{action}", json=body or None, headers=who.headers
    )
    assert response.status == status, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def queue(client: TestClient[Any, Any], who: Person, limit: int = 100) -> dict[str, Any]:
    response = await client.get("/api/routing/queue", params={"limit": str(limit)}, headers=who.headers)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def keep_queued(client: TestClient[Any, Any], admin: Person) -> Callable[[], Awaitable[None]]:
    """An online agent who fits request_handoff's handoffs (en, billing), at capacity with a handoff of their
    own: new handoffs wait in the queue instead of being closed as unavailable (nobody online who fits).
    Returns `release`: the agent goes offline and their handoff is cancelled, leaving the queue as it is."""
    busy = await person(client, "agent", "busy")
    await set_profile(client, admin, busy, capacity=1)
    held = await request_handoff(client, "busy-holder")
    assert held["agent_id"] == busy.account_id, held

    async def release() -> None:
        response = await client.put(
            "/api/routing/agents/me/status", json={"status": "offline"}, headers=busy.headers
        )
        assert response.status == 200, await response.text()
        response = await client.post(f"/api/routing/handoffs/{held['id']}/cancel")
        assert response.status == 200, await response.text()

    return release


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
