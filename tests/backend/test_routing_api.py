"""The routing routes (cs_backend/routing/routes.py) against the real app on SQLite and PostgreSQL, with the
in-process live state: handoffs offered to the right agent, accepted, declined, transferred, resolved and
cancelled; the queue order; who may do what; team and profile administration; bad input changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cs_backend.app_keys import DATABASE, LIVE_EVENTS
from cs_backend.conversations.models import Conversation
from cs_backend.routing.models import HandoffRequest

from .helpers import assert_error
from .routing_support import (
    Person,
    act,
    handoff,
    keep_queued,
    person,
    queue,
    request_handoff,
    set_profile,
)

OFFICE_HOURS = [{"weekday": day, "opens": "09:00", "closes": "17:00"} for day in range(5)]


async def admin_of(client: TestClient[Any, Any]) -> Person:
    return await person(client, "admin", "boss")


async def handoff_count(client: TestClient[Any, Any]) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(HandoffRequest)) or 0)


async def test_a_handoff_goes_to_the_agent_who_fits_and_round_trips_to_resolved(
    client: TestClient[Any, Any],
) -> None:
    admin = await admin_of(client)
    chinese = await person(client, "agent", "li")
    english = await person(client, "agent", "ann")
    await set_profile(client, admin, chinese, languages=["zh"], skills=["billing"])
    await set_profile(client, admin, english, languages=["en"], skills=["billing", "technical"])

    offered = await request_handoff(
        client, "web-1", language="en", skill="technical", email="ada@example.com"
    )
    assert offered["state"] == "assigned"
    assert offered["agent_id"] == english.account_id
    assert offered["offered_at"] is not None and offered["queue_position"] is None
    assert offered["customer_id"] is not None and offered["conversation_id"] is not None

    # Another agent cannot act on it; the assigned one can.
    error = await act(client, chinese, offered["id"], "accept", status=403)
    assert "not offered to or held by you" in error["error"]["message"]
    accepted = await act(client, english, offered["id"], "accept")
    assert accepted["state"] == "accepted" and accepted["accepted_at"] is not None
    await act(client, english, offered["id"], "accept", status=409)

    answered = await act(client, english, offered["id"], "first-response")
    again = await act(client, english, offered["id"], "first-response")
    assert answered["first_response_at"] == again["first_response_at"] is not None

    resolved = await act(client, english, offered["id"], "resolve")
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None
    await act(client, english, offered["id"], "resolve", status=409)
    profiles = await (await client.get("/api/routing/agents", headers=admin.headers)).json()
    assert {p["account_id"]: p["load"] for p in profiles["items"]} == {
        chinese.account_id: 0,
        english.account_id: 0,
    }


async def test_the_queue_is_served_by_priority_flags_and_waiting_time(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    release = await keep_queued(client, admin)
    ids = {}
    for name, fields in [
        ("low", {"priority": "low"}),
        ("normal", {}),
        ("normal-high-value", {"high_value": True}),
        ("urgent", {"priority": "urgent"}),
        ("normal-at-risk-high-value", {"at_risk": True, "high_value": True}),
        ("normal-later", {}),
    ]:
        created = await request_handoff(client, name, **fields)
        assert created["state"] == "queued"  # the one agent online is busy
        ids[name] = created["id"]
    await release()
    expected = ["urgent", "normal-at-risk-high-value", "normal-high-value", "normal", "normal-later", "low"]
    page = await queue(client, admin)
    assert [item["id"] for item in page["items"]] == [ids[name] for name in expected]
    assert [item["queue_position"] for item in page["items"]] == [1, 2, 3, 4, 5, 6]
    assert page["total"] == 6 and page["held"] == []
    assert (await handoff(client, ids["low"]))["queue_position"] == 6
    second_page = await queue_page(client, admin, limit=2, offset=2)
    assert [item["id"] for item in second_page["items"]] == [ids["normal-high-value"], ids["normal"]]

    # An agent with room for one comes online: the head of the queue is offered to them.
    agent = await person(client, "agent", "ann")
    await set_profile(client, admin, agent, status="offline", capacity=1)
    response = await client.put(
        "/api/routing/agents/me/status", json={"status": "online"}, headers=agent.headers
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "online"
    assert (await handoff(client, ids["urgent"]))["agent_id"] == agent.account_id
    assert (await handoff(client, ids["normal-at-risk-high-value"]))["queue_position"] == 1
    # At capacity: nothing more until they finish.
    assert (await handoff(client, ids["normal-at-risk-high-value"]))["state"] == "queued"
    await act(client, agent, ids["urgent"], "accept")
    await act(client, agent, ids["urgent"], "resolve")
    assert (await handoff(client, ids["normal-at-risk-high-value"]))["agent_id"] == agent.account_id
    page = await queue(client, admin)
    assert page["total"] == 4 and [h["id"] for h in page["held"]] == [ids["normal-at-risk-high-value"]]


async def queue_page(client: TestClient[Any, Any], who: Person, limit: int, offset: int) -> dict[str, Any]:
    response = await client.get(
        "/api/routing/queue", params={"limit": str(limit), "offset": str(offset)}, headers=who.headers
    )
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def test_equally_loaded_agents_are_offered_handoffs_in_turn(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    agents = [await person(client, "agent", name) for name in ("a", "b", "c")]
    for agent in agents:
        await set_profile(client, admin, agent, capacity=5)
    offered_to = []
    for number in range(6):
        created = await request_handoff(client, f"turn-{number}")
        offered_to.append(created["agent_id"])
        # Each finishes before the next one arrives: the load is equal again.
        owner = next(a for a in agents if a.account_id == created["agent_id"])
        await act(client, owner, created["id"], "accept")
        await act(client, owner, created["id"], "resolve")
    ids = [a.account_id for a in agents]
    assert offered_to == ids + ids


async def test_a_declined_handoff_goes_to_the_next_agent_and_never_back(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    first, second = await person(client, "agent", "first"), await person(client, "agent", "second")
    await set_profile(client, admin, first)
    await set_profile(client, admin, second)
    created = await request_handoff(client, "declined")
    assert created["agent_id"] == first.account_id
    moved = await act(client, first, created["id"], "decline")
    assert moved["state"] == "assigned" and moved["agent_id"] == second.account_id
    back = await act(client, second, created["id"], "decline")
    assert back["state"] == "queued" and back["agent_id"] is None and back["queue_position"] == 1
    # Both declined: a status change does not bring it back to either.
    await client.put("/api/routing/agents/me/status", json={"status": "online"}, headers=first.headers)
    assert (await handoff(client, created["id"]))["state"] == "queued"
    await act(client, first, created["id"], "decline", status=403)  # no longer theirs


async def test_transfer_to_an_eligible_agent_or_back_to_a_teams_queue(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    team = await (
        await client.post(
            "/api/routing/teams",
            json={"name": "Night", "time_zone": "UTC", "business_hours": []},
            headers=admin.headers,
        )
    ).json()
    holder, colleague = await person(client, "agent", "holder"), await person(client, "agent", "colleague")
    away = await person(client, "agent", "away")
    await set_profile(client, admin, holder)
    created = await request_handoff(client, "transfer")
    await set_profile(client, admin, colleague)
    await set_profile(client, admin, away, status="away")
    await act(client, holder, created["id"], "accept")

    error = await act(client, holder, created["id"], "transfer", status=409, agent_id=away.account_id)
    assert "cannot take handoff" in error["error"]["message"]
    moved = await act(client, holder, created["id"], "transfer", agent_id=colleague.account_id)
    assert moved["state"] == "assigned" and moved["agent_id"] == colleague.account_id
    assert moved["accepted_at"] is None
    await act(client, holder, created["id"], "resolve", status=403)

    # Back to the queue of a team that is never open: it waits.
    queued = await act(client, colleague, created["id"], "transfer", team_id=team["id"])
    assert queued["state"] == "queued" and queued["team_id"] == team["id"]
    await act(client, admin, created["id"], "transfer", status=404, team_id=999)


async def test_an_agent_is_never_offered_more_than_their_capacity(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    agent = await person(client, "agent", "ann")
    await set_profile(client, admin, agent, capacity=2)
    states = [(await request_handoff(client, f"cap-{n}"))["state"] for n in range(4)]
    assert states == ["assigned", "assigned", "queued", "queued"]


async def test_the_service_cancels_a_handoff_and_the_agent_is_free_again(
    client: TestClient[Any, Any],
) -> None:
    admin = await admin_of(client)
    agent = await person(client, "agent", "ann")
    await set_profile(client, admin, agent, capacity=1)
    first = await request_handoff(client, "leaves")
    waiting = await request_handoff(client, "waits")
    response = await client.post(f"/api/routing/handoffs/{first['id']}/cancel")
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "cancelled"
    assert (await handoff(client, waiting["id"]))["agent_id"] == agent.account_id
    response = await client.post(f"/api/routing/handoffs/{first['id']}/cancel")
    await assert_error(response, 409, message="finished")


async def test_a_repeated_idempotency_key_answers_the_first_handoff(client: TestClient[Any, Any]) -> None:
    body = {"sender_id": "retry", "reason": "misunderstood"}
    first = await client.post("/api/routing/handoffs", json=body, headers={"Idempotency-Key": "k-1"})
    again = await client.post("/api/routing/handoffs", json=body, headers={"Idempotency-Key": "k-1"})
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    assert await handoff_count(client) == 1


async def test_handoffs_publish_live_events_for_the_consoles(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    agent = await person(client, "agent", "ann")
    async with client.app[LIVE_EVENTS].subscribe() as subscription:
        await set_profile(client, admin, agent)
        created = await request_handoff(client, "events")
        await act(client, agent, created["id"], "accept")
        seen = []
        while len(seen) < 4:
            event = await asyncio.wait_for(subscription.next(), 5)
            assert event is not None
            seen.append(event)
    assert [e.type for e in seen] == [
        "agent.status",
        "handoff.queued",
        "handoff.assigned",
        "handoff.accepted",
    ]
    assert seen[2].payload["agent_id"] == agent.account_id


async def test_bad_handoff_requests_are_refused_and_change_nothing(client: TestClient[Any, Any]) -> None:
    cases = [
        ({"reason": "customer_request"}, {"sender_id"}),
        ({"sender_id": "s", "reason": "bored"}, {"reason"}),
        ({"sender_id": "s", "reason": "misunderstood", "language": "english"}, {"language"}),
        ({"sender_id": "s", "reason": "misunderstood", "skill": "Bad Skill!"}, {"skill"}),
        ({"sender_id": "s", "reason": "misunderstood", "priority": "critical"}, {"priority"}),
        ({"sender_id": "s", "reason": "misunderstood", "at_risk": "yes"}, {"at_risk"}),
        ({"sender_id": "s", "reason": "misunderstood", "detail": "x" * 1001}, {"detail"}),
        ({"sender_id": "s", "reason": "misunderstood", "team_id": 0}, {"team_id"}),
    ]
    for body, fields in cases:
        response = await client.post("/api/routing/handoffs", json=body)
        await assert_error(response, 400, fields=fields)
    # A valid body naming a team that does not exist: 404, as for every id in a body.
    response = await client.post(
        "/api/routing/handoffs", json={"sender_id": "s", "reason": "misunderstood", "team_id": 4}
    )
    await assert_error(response, 404, fields={"team_id"})
    assert await handoff_count(client) == 0


async def test_agents_set_their_own_status_and_admins_manage_profiles(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    agent = await person(client, "agent", "ann")
    response = await client.put(
        "/api/routing/agents/me/status", json={"status": "online"}, headers=agent.headers
    )
    await assert_error(response, 404, message="no routing profile")
    profile = await set_profile(
        client, admin, agent, status="away", skills=["Billing", "billing", "api"], languages=["ZH", "en"]
    )
    assert profile["skills"] == ["api", "billing"] and profile["languages"] == ["en", "zh"]
    assert profile["status"] == "away" and profile["display_name"] == "Ann" and profile["load"] == 0
    response = await client.put(
        "/api/routing/agents/me/status", json={"status": "busy"}, headers=agent.headers
    )
    await assert_error(response, 400, fields={"status"})
    response = await client.put(
        "/api/routing/agents/me/status", json={"status": "offline"}, headers=agent.headers
    )
    assert (await response.json())["status"] == "offline"
    for body, fields in [
        ({"languages": [], "capacity": 1}, {"languages"}),
        ({"languages": ["en"], "capacity": 0}, {"capacity"}),
    ]:
        response = await client.put(
            f"/api/routing/agents/{agent.account_id}", json=body, headers=admin.headers
        )
        await assert_error(response, 404 if "team_id" in body else 400, fields=fields)
    response = await client.put(
        f"/api/routing/agents/{agent.account_id}",
        json={"languages": ["en"], "capacity": 1, "team_id": 77},
        headers=admin.headers,
    )
    await assert_error(response, 404, fields={"team_id"})
    response = await client.put(
        "/api/routing/agents/4242", json={"languages": ["en"], "capacity": 1}, headers=admin.headers
    )
    await assert_error(response, 404)


async def test_admins_manage_teams_with_valid_hours_and_time_zones(client: TestClient[Any, Any]) -> None:
    admin = await admin_of(client)
    body = {"name": "Support EU", "time_zone": "Europe/Paris", "business_hours": OFFICE_HOURS}
    response = await client.post("/api/routing/teams", json=body, headers=admin.headers)
    assert response.status == 201, await response.text()
    team = await response.json()
    assert team["business_hours"][0] == {"weekday": 0, "opens": "09:00", "closes": "17:00"}
    response = await client.post("/api/routing/teams", json=body, headers=admin.headers)
    await assert_error(response, 409)
    for bad, fields in [
        ({**body, "name": "X", "time_zone": "Mars/Olympus"}, {"time_zone"}),
        (
            {**body, "name": "X", "business_hours": [{"weekday": 7, "opens": "09:00", "closes": "17:00"}]},
            None,
        ),
        ({**body, "name": "X", "business_hours": [{"weekday": 1, "opens": "9:00", "closes": "24:00"}]}, None),
    ]:
        response = await client.post("/api/routing/teams", json=bad, headers=admin.headers)
        await assert_error(response, 400, fields=fields)
    response = await client.patch(
        f"/api/routing/teams/{team['id']}", json={"time_zone": "Asia/Shanghai"}, headers=admin.headers
    )
    assert (await response.json())["time_zone"] == "Asia/Shanghai"
    teams = await (await client.get("/api/routing/teams", headers=admin.headers)).json()
    assert [t["name"] for t in teams["items"]] == ["Support EU"]
    response = await client.patch("/api/routing/teams/999", json={"name": "Y"}, headers=admin.headers)
    await assert_error(response, 404)


async def test_a_typed_email_goes_with_the_handoff_but_does_not_take_the_conversation(
    client: TestClient[Any, Any],
) -> None:
    # Whoever chats may type anyone's email (docs/SECURITY.md): the conversation keeps its own customer.
    response = await client.post(
        "/api/churn/signals", json={"kind": "cancel_request", "sender_id": "web-9", "channel": "socketio"}
    )
    assert response.status == 201, await response.text()
    own_customer = (await response.json())["customer_id"]
    created = await request_handoff(client, "web-9", email="someone.else@example.com")
    async with client.app[DATABASE].sessions() as session:
        conversation = await session.get(Conversation, created["conversation_id"])
        assert conversation is not None and conversation.customer_id == own_customer
    assert created["customer_id"] not in (None, own_customer)
