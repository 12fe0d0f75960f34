"""The live handoff's conversation (cs_backend/routing/messages.py, customer_relay.py, unavailable.py,
position_updates.py) against the real app on SQLite and PostgreSQL, with a fake Rasa capturing every
trigger_intent: the customer's, agent's and notes' transcript; the idempotency of message_id and client_id; a
failed delivery retried; the customer told of acceptance, resolution and cancellation; throttled position
updates; no agent or a closed team ending in a ticket carrying the packet; the active-handoff lookup;
ratings of an agent's help; a customer's export and deletion with the transcript."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from cs_backend.app_keys import DATABASE, HANDOFF_MESSAGING, LIVE_EVENTS, ROUTING_ENGINE
from cs_backend.config import Settings
from cs_backend.main import create_app
from cs_backend.routing.models import HandoffMessage
from cs_backend.routing.position_updates import tell_positions
from cs_backend.routing.service import Actor
from cs_backend.routing.wait_estimate import DEFAULT_TYPICAL_WAIT, wait_minutes, wait_seconds

from .fake_rasa import FakeRasa
from .helpers import assert_error
from .rasa_events import RECORDED_AT, user
from .routing_support import FakeClock, Person, act, keep_queued, person, request_handoff, set_profile


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, rasa: FakeRasa) -> TestClient[Any, Any]:
    settings = dataclasses.replace(settings, rasa_url=rasa.url, rasa_auth_token=rasa.token)
    return await aiohttp_client(create_app(settings))


def triggered(rasa: FakeRasa, intent: str | None = None) -> list[dict[str, Any]]:
    """The trigger_intent calls Rasa got (of `intent`): each {"name", "entities", "sender_id", "channel"}."""
    return [
        {**request["json"], "sender_id": request["sender_id"], "channel": request["query"]["output_channel"]}
        for request in rasa.requests
        if intent is None or request["json"]["name"] == intent
    ]


async def live_handoff(client: TestClient[Any, Any]) -> tuple[Person, Person, dict[str, Any]]:
    """(admin, agent, the handoff accepted by the agent)."""
    admin = await person(client, "admin", "boss")
    agent = await person(client, "agent", "ana")
    await set_profile(client, admin, agent)
    created = await request_handoff(client, "web-live")
    assert created["state"] == "assigned" and created["agent_name"] == "Ana", created
    accepted = await act(client, agent, created["id"], "accept")
    return admin, agent, accepted


async def send(
    client: TestClient[Any, Any], who: Person, handoff_id: int, text: str, status: int = 201, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/routing/handoffs/{handoff_id}/messages", json={"text": text, **body}, headers=who.headers
    )
    assert response.status == status, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def customer_says(
    client: TestClient[Any, Any], handoff_id: int, text: str, message_id: str | None = None
) -> dict[str, Any]:
    body = {"text": text, **({"message_id": message_id} if message_id else {})}
    response = await client.post(f"/api/routing/handoffs/{handoff_id}/customer-messages", json=body)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def transcript(client: TestClient[Any, Any], who: Person, handoff_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/routing/handoffs/{handoff_id}/messages", headers=who.headers)
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def test_customer_agent_and_note_round_trip_and_the_bot_takes_the_conversation_back(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    admin, agent, handoff = await live_handoff(client)
    handoff_id = handoff["id"]
    [told] = triggered(rasa, "EXTERNAL_handoff_update")
    assert told["entities"] == {"handoff_id": handoff_id, "state": "accepted", "agent_name": "Ana"}
    assert (told["sender_id"], told["channel"]) == ("web-live", "socketio")

    async with client.app[LIVE_EVENTS].subscribe() as subscription:
        first = await customer_says(client, handoff_id, "Hello, my invoice is wrong", message_id="m-1")
        again = await customer_says(client, handoff_id, "Hello, my invoice is wrong", message_id="m-1")
        assert (first["stored"], again["stored"]) == (True, False)
        assert first["handoff"]["state"] == "accepted"
        sent = await send(client, agent, handoff_id, "Let me check that for you.", client_id="c-1")
        event = await asyncio.wait_for(subscription.next(), 5)
        assert event is not None and event.type == "handoff.message"
        assert event.payload["handoff_id"] == handoff_id and event.payload["kind"] == "customer"
        assert event.payload["text"] == "Hello, my invoice is wrong"
    assert sent["kind"] == "agent" and sent["delivery"] == "delivered"
    assert (sent["author_id"], sent["author_name"]) == (agent.account_id, "Ana")
    [relayed] = triggered(rasa, "EXTERNAL_agent_message")
    assert relayed["entities"] == {"handoff_id": handoff_id, "agent_name": "Ana", "text": sent["text"]}

    # The same client_id again: the same message, not relayed twice.
    repeated = await send(client, agent, handoff_id, "Let me check that for you.", client_id="c-1")
    assert repeated["id"] == sent["id"] and len(triggered(rasa, "EXTERNAL_agent_message")) == 1
    after_first = await (await client.get(f"/api/routing/handoffs/{handoff_id}")).json()
    assert after_first["first_response_at"] is not None

    response = await client.post(
        f"/api/routing/handoffs/{handoff_id}/notes", json={"text": "VIP, be kind"}, headers=admin.headers
    )
    assert response.status == 201, await response.text()
    note = await response.json()
    assert note["kind"] == "note" and note["delivery"] is None and note["author_name"] == "Boss"
    assert len(triggered(rasa)) == 2  # the note never reaches Rasa

    entries = await transcript(client, agent, handoff_id)
    assert [(e["kind"], e["text"]) for e in entries] == [
        ("system", "Ana accepted the conversation."),
        ("customer", "Hello, my invoice is wrong"),
        ("agent", "Let me check that for you."),
        ("note", "VIP, be kind"),
    ]
    assert set(entries[0]) == {"id", "kind", "text", "author_id", "author_name", "created_at", "delivery"}

    await act(client, agent, handoff_id, "resolve")
    [ended] = triggered(rasa, "EXTERNAL_handoff_ended")
    assert ended["entities"] == {
        "handoff_id": handoff_id,
        "outcome": "resolved",
        "agent_id": agent.account_id,
        "agent_name": "Ana",
    }
    # A message after the end stores nothing: the bot leaves its relay loop.
    late = await customer_says(client, handoff_id, "thanks!", message_id="m-2")
    assert late["stored"] is False and late["handoff"]["state"] == "resolved"
    assert (await transcript(client, agent, handoff_id))[-1]["kind"] == "system"
    await send(client, agent, handoff_id, "one more thing", status=409)


async def test_only_the_agent_holding_an_accepted_handoff_or_an_admin_sends(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    admin = await person(client, "admin", "boss")
    agent = await person(client, "agent", "ana")
    other = await person(client, "agent", "olga")
    await set_profile(client, admin, agent)
    offered = await request_handoff(client, "web-offered")
    error = await send(client, agent, offered["id"], "too early", status=409)
    assert "accepted" in error["error"]["message"]
    await act(client, agent, offered["id"], "accept")
    await send(client, other, offered["id"], "not mine", status=403)
    by_admin = await send(client, admin, offered["id"], "An admin here.")
    assert by_admin["author_name"] == "Boss"
    await send(client, agent, 987654, "nobody", status=404)
    response = await client.post(
        f"/api/routing/handoffs/{offered['id']}/messages", json={"text": "  "}, headers=agent.headers
    )
    await assert_error(response, 400, fields={"text"})
    async with client.app[DATABASE].sessions() as session:
        count = await session.scalar(select(func.count()).select_from(HandoffMessage))
    assert count == 2  # the system entry and the admin's message


async def test_a_failed_delivery_is_stored_and_retried_with_the_same_client_id(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    _, agent, handoff = await live_handoff(client)
    rasa.status = 503
    error = await send(client, agent, handoff["id"], "Are you there?", status=503, client_id="c-9")
    assert "send it again with the same client_id" in error["error"]["message"]
    [failed] = [e for e in await transcript(client, agent, handoff["id"]) if e["kind"] == "agent"]
    assert failed["delivery"] == "failed"
    current = await (await client.get(f"/api/routing/handoffs/{handoff['id']}")).json()
    assert current["first_response_at"] is None

    rasa.status = 200
    retried = await send(client, agent, handoff["id"], "Are you there?", client_id="c-9")
    assert retried["id"] == failed["id"] and retried["delivery"] == "delivered"
    agent_entries = [e for e in await transcript(client, agent, handoff["id"]) if e["kind"] == "agent"]
    assert len(agent_entries) == 1
    assert len(triggered(rasa, "EXTERNAL_agent_message")) == 2  # the failed try and the retry

    # The Python entry point of the console's websocket answers the same way.
    messaging = client.app[HANDOFF_MESSAGING]
    message = await messaging.send_agent_message(
        handoff["id"], Actor(agent.account_id, "agent"), "ws", "c-10"
    )
    assert message.delivery == "delivered" and message.text == "ws"


async def test_a_cancellation_by_an_agent_is_told_and_by_the_service_not(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    _, agent, handoff = await live_handoff(client)
    await act(client, agent, handoff["id"], "cancel")
    [ended] = triggered(rasa, "EXTERNAL_handoff_ended")
    assert ended["entities"]["outcome"] == "cancelled" and ended["entities"]["agent_id"] == agent.account_id

    second = await request_handoff(client, "web-second")
    response = await client.post(f"/api/routing/handoffs/{second['id']}/cancel")
    assert response.status == 200, await response.text()
    assert len(triggered(rasa, "EXTERNAL_handoff_ended")) == 1


async def test_a_relay_failure_never_undoes_the_change(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    admin = await person(client, "admin", "boss")
    agent = await person(client, "agent", "ana")
    await set_profile(client, admin, agent)
    created = await request_handoff(client, "web-down")
    rasa.status = 500
    accepted = await act(client, agent, created["id"], "accept")
    resolved = await act(client, agent, created["id"], "resolve")
    assert (accepted["state"], resolved["state"]) == ("accepted", "resolved")


async def test_queued_customers_hear_their_new_position_at_most_once_per_interval(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    clock = FakeClock(datetime.now(UTC))
    engine = client.app[ROUTING_ENGINE]
    engine.clock = clock
    relay = client.app[HANDOFF_MESSAGING].relay
    interval = timedelta(seconds=30)
    admin = await person(client, "admin", "boss")
    release = await keep_queued(client, admin)
    first = await request_handoff(client, "web-first")
    second = await request_handoff(client, "web-second")
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    # One agent could take them, no history: the default typical wait per place in the queue.
    assert second["estimated_wait_seconds"] == wait_seconds(DEFAULT_TYPICAL_WAIT, 2, 1)

    # Told with their answers: nothing changed, nothing to tell.
    clock.advance(seconds=31)
    assert (await tell_positions(engine, relay, interval, clock())).told == 0

    response = await client.post(f"/api/routing/handoffs/{first['id']}/cancel")
    assert response.status == 200
    assert (await tell_positions(engine, relay, interval, clock())).told == 1
    [update] = triggered(rasa, "EXTERNAL_handoff_update")
    assert update["sender_id"] == "web-second"
    assert update["entities"] == {
        "handoff_id": second["id"],
        "state": "queued",
        "position": 1,
        "wait_minutes": wait_minutes(wait_seconds(DEFAULT_TYPICAL_WAIT, 1, 1)),
    }
    # Unchanged since: nothing more, and a change within the interval waits for it.
    assert (await tell_positions(engine, relay, interval, clock())).told == 0
    third = await request_handoff(client, "web-third", priority="urgent")
    assert third["queue_position"] == 1
    clock.advance(seconds=10)
    assert (await tell_positions(engine, relay, interval, clock())).told == 0
    clock.advance(seconds=25)
    assert (await tell_positions(engine, relay, interval, clock())).told == 1
    assert triggered(rasa, "EXTERNAL_handoff_update")[-1]["entities"]["position"] == 2
    await release()


async def test_with_no_agent_the_handoff_becomes_a_ticket_carrying_the_packet(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    rasa.trackers["web-lonely"] = [user("report_problem", "the export is broken", RECORDED_AT, "web-lonely")]
    closed = await request_handoff(client, "web-lonely", email="ada@example.com", detail="Export fails")
    assert (closed["state"], closed["unavailable"], closed["reopens_at"]) == ("cancelled", "no_agent", None)
    assert closed["queue_position"] is None and closed["estimated_wait_seconds"] is None
    ticket = await (await client.get(f"/api/tickets/{closed['ticket_id']}")).json()
    assert ticket["email"] == "ada@example.com" and ticket["customer_id"] == closed["customer_id"]
    assert f"handoff {closed['id']}" in ticket["description"]
    assert "Detail: Export fails" in ticket["description"]
    assert "customer: the export is broken" in ticket["description"]
    assert len(ticket["description"]) <= 5000

    # Without an email: no ticket until the bot asked for one.
    anonymous = await request_handoff(client, "web-anonymous")
    assert anonymous["unavailable"] == "no_agent" and anonymous["ticket_id"] is None
    path = f"/api/routing/handoffs/{anonymous['id']}/ticket"
    opened = await client.post(path, json={"email": "Bob@Example.com"}, headers={"Idempotency-Key": "k-1"})
    assert opened.status == 201, await opened.text()
    body = await opened.json()
    assert body["ticket_id"] is not None and body["customer_id"] is not None
    again = await client.post(path, json={"email": "bob@example.com"}, headers={"Idempotency-Key": "k-2"})
    assert again.status == 200 and (await again.json())["ticket_id"] == body["ticket_id"]
    response = await client.post(path, json={"email": "not an email"})
    await assert_error(response, 400, fields={"email"})

    # A handoff that was not closed as unavailable has no ticket to open.
    admin = await person(client, "admin", "boss")
    await set_profile(client, admin, await person(client, "agent", "ana"))
    live = await request_handoff(client, "web-live")
    response = await client.post(
        f"/api/routing/handoffs/{live['id']}/ticket", json={"email": "a@example.com"}
    )
    await assert_error(response, 409)
    response = await client.post("/api/routing/handoffs/987654/ticket", json={"email": "a@example.com"})
    await assert_error(response, 404)


async def test_outside_business_hours_the_customer_learns_when_the_team_opens(
    client: TestClient[Any, Any],
) -> None:
    admin = await person(client, "admin", "boss")
    now = datetime.now(UTC)
    opening_day = (now + timedelta(days=2)).date()
    hours = [{"weekday": opening_day.weekday(), "opens": "09:00", "closes": "10:00"}]
    response = await client.post(
        "/api/routing/teams",
        json={"name": "Paris", "time_zone": "UTC", "business_hours": hours},
        headers=admin.headers,
    )
    assert response.status == 201, await response.text()
    team = await response.json()
    await set_profile(client, admin, await person(client, "agent", "ana"), team_id=team["id"])
    closed = await request_handoff(client, "web-night", team_id=team["id"], email="ada@example.com")
    assert (closed["state"], closed["unavailable"]) == ("cancelled", "closed")
    reopens = datetime.fromisoformat(closed["reopens_at"])
    assert reopens == datetime(opening_day.year, opening_day.month, opening_day.day, 9, tzinfo=UTC)
    assert closed["ticket_id"] is not None


async def test_the_active_handoff_of_a_conversation(client: TestClient[Any, Any]) -> None:
    path = "/api/routing/conversations/active-handoff"
    await assert_error(await client.get(path, params={"sender_id": "web-live"}), 404)
    await assert_error(await client.get(path), 400, fields={"sender_id"})
    _, agent, handoff = await live_handoff(client)
    found = await client.get(path, params={"sender_id": "web-live"})
    assert found.status == 200 and (await found.json())["id"] == handoff["id"]
    await act(client, agent, handoff["id"], "resolve")
    await assert_error(await client.get(path, params={"sender_id": "web-live"}), 404)


async def test_ratings_of_an_agents_help_name_the_agent_and_the_handoff(client: TestClient[Any, Any]) -> None:
    _, agent, handoff = await live_handoff(client)
    rating = {"kind": "csat", "score": 5, "resolver": "agent"}
    response = await client.post(
        "/api/feedback", json={**rating, "agent_id": agent.account_id, "handoff_id": handoff["id"]}
    )
    assert response.status == 201, await response.text()
    stored = await response.json()
    assert (stored["agent_id"], stored["handoff_id"]) == (agent.account_id, handoff["id"])
    assert stored["conversation_id"] == handoff["conversation_id"]
    for field, value in (("agent_id", 987654), ("handoff_id", 987654)):
        response = await client.post("/api/feedback", json={**rating, field: value})
        await assert_error(response, 404, fields={field})


async def test_a_customers_export_holds_their_transcripts_and_deletion_removes_them(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa
) -> None:
    settings = dataclasses.replace(settings, rasa_url=rasa.url, rasa_auth_token=rasa.token)
    server = TestServer(create_app(settings))
    client = await aiohttp_client(server)
    admin = await person(client, "admin", "boss")
    agent = await person(client, "agent", "ana")
    await set_profile(client, admin, agent)
    created = await request_handoff(client, "web-private", email="ada.private@example.com")
    await act(client, agent, created["id"], "accept")
    await customer_says(client, created["id"], "my secret order 42", message_id="m-1")
    await send(client, agent, created["id"], "Found order 42.")
    others = await request_handoff(client, "web-other", email="bob@example.com")
    await act(client, agent, others["id"], "accept")

    response = await client.get(f"/api/customers/{created['customer_id']}/export", headers=admin.headers)
    assert response.status == 200, await response.text()
    messages = (await response.json())["tables"]["handoff_messages"]
    assert [m["text"] for m in messages if m["kind"] != "system"] == ["my secret order 42", "Found order 42."]
    assert {m["handoff_id"] for m in messages} == {created["id"]}

    response = await client.delete(f"/api/customers/{created['customer_id']}", headers=admin.headers)
    assert response.status == 200, await response.text()
    async with client.app[DATABASE].sessions() as session:
        left = list(await session.scalars(select(HandoffMessage)))
    assert left and {m.handoff_id for m in left} == {others["id"]}
    assert all("order 42" not in m.text for m in left)


def test_the_packet_text_fits_the_ticket_cutting_the_oldest_messages_first() -> None:
    from types import SimpleNamespace

    from cs_backend.routing.conversation_summary import ConversationSummary, Message
    from cs_backend.routing.packet_text import render_packet

    handoff = SimpleNamespace(
        id=7,
        reason="customer_request",
        detail="Needs a refund",
        at_risk=True,
        high_value=False,
        sender_id="web-7",
        channel="socketio",
        language="en",
    )
    messages = [Message("customer", f"message {n} " + "x" * 280 + "\x00", None) for n in range(40)]
    packet = SimpleNamespace(
        handoff=handoff,
        suggested_priority=SimpleNamespace(priority="high", reasons=["customer flagged at risk"]),
        customer=SimpleNamespace(id=3, email="ada@example.com", name=None),
        onboarding=SimpleNamespace(done_count=1, total=5),
        open_tickets=[],
        last_csat=SimpleNamespace(score=2),
        last_ces=None,
        churn_signals=[],
        conversation=ConversationSummary(last_messages=messages),
    )
    text = render_packet(packet, limit=2000)  # type: ignore[arg-type]
    assert len(text) <= 2000 and "\x00" not in text
    assert text.startswith("The customer asked for a person (handoff 7, reason: customer request)")
    assert "Customer 3: ada@example.com" in text and "Last CSAT: 2" in text
    assert "message 39 " in text and "message 0 " not in text
    assert "Conversation summary: unavailable" in render_packet(
        SimpleNamespace(**{**packet.__dict__, "conversation": None})  # type: ignore[arg-type]
    )
