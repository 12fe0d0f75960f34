"""The handoff packet (GET /api/routing/handoffs/{id}/packet, cs_backend/routing/packet.py) against the
real app on SQLite and PostgreSQL, with a fake Rasa serving trackers built from recorded events: what it holds
for a seeded customer and conversation, nothing of another customer, Rasa down, an unknown handoff; and the
conversation summary and the priority rule on their own."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.config import Settings
from cs_backend.main import create_app
from cs_backend.routing.conversation_summary import LAST_MESSAGES, summarize
from cs_backend.routing.priority import PriorityFacts, suggest_priority

from .fake_rasa import FakeRasa
from .helpers import assert_error, complete, ticket_payload
from .rasa_events import FALLBACK_LEFT, RECORDED_AT, action, bot, conversation, restart, slot, user
from .routing_support import Person, keep_queued, person, request_handoff

SENDER = "web-ada"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, rasa: FakeRasa) -> TestClient[Any, Any]:
    settings = dataclasses.replace(settings, rasa_url=rasa.url, rasa_auth_token=rasa.token)
    return await aiohttp_client(create_app(settings))


def ada_conversation() -> list[dict[str, Any]]:
    """The recorded "asdf" misunderstanding, then a low-confidence message the two-stage fallback took, a
    form's slots (one internal, one secret-like), the bot's record of the handoff, and an urgent message."""
    start = RECORDED_AT
    events = conversation(FALLBACK_LEFT, SENDER, start, channel="socketio")
    events += [
        user("billing_invoice", "my invoise thing", start + 1, SENDER),
        action("action_two_stage_fallback", start + 1.1, SENDER),
        bot("Did you mean…?", start + 1.2, SENDER),
        user("report_problem", "production is down, please help asap", start + 2, SENDER),
        action("ticket_form", start + 2.1, SENDER),
        slot("description", "production is down", start + 2.1, SENDER),
        slot("requested_slot", "email", start + 2.1, SENDER),
        slot("account_password", "hunter2", start + 2.1, SENDER),
        slot("priority", None, start + 2.1, SENDER),
        slot("handoff_agent_name", "Ann", start + 2.2, SENDER),
        user("greet", "hi again", start + 3, SENDER),
    ]
    return events


async def post(client: TestClient[Any, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status in (200, 201), await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def seed_customer(client: TestClient[Any, Any], email: str, sender_id: str, csat: int, ces: int) -> int:
    """A customer with an open ticket, a resolved one, a CSAT, a CES, a churn signal, one onboarding step."""
    ticket = await post(
        client, "/api/tickets", ticket_payload(email=email, sender_id=sender_id, channel="socketio")
    )
    closed = await post(
        client, "/api/tickets", ticket_payload(email=email, description="Old question, answered.")
    )
    response = await client.patch(f"/api/tickets/{closed['id']}", json={"status": "resolved"})
    assert response.status == 200, await response.text()
    await post(client, "/api/feedback", {"kind": "csat", "score": csat, "ticket_id": ticket["id"]})
    await post(
        client, "/api/feedback", {"kind": "ces", "score": ces, "sender_id": sender_id, "channel": "socketio"}
    )
    await post(
        client,
        "/api/churn/signals",
        {"kind": "downgrade_request", "sender_id": sender_id, "channel": "socketio", "outcome": "open"},
    )
    await complete(client, "sign_up", customer_id=ticket["customer_id"])
    return int(ticket["id"])


async def packet_of(client: TestClient[Any, Any], who: Person, handoff_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/routing/handoffs/{handoff_id}/packet", headers=who.headers)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def test_the_packet_holds_the_customer_and_the_conversation_and_nothing_of_others(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    ada_ticket = await seed_customer(client, "ada@example.com", SENDER, csat=2, ces=6)
    await seed_customer(client, "bob@example.com", "web-bob", csat=5, ces=1)
    rasa.trackers[SENDER] = ada_conversation()
    rasa.trackers["web-bob"] = conversation(FALLBACK_LEFT, "web-bob", RECORDED_AT)
    await keep_queued(client, await person(client, "admin", "boss"))
    created = await request_handoff(
        client, SENDER, email="ada@example.com", reason="misunderstood", detail="Two misses in a row."
    )
    agent = await person(client, "agent", "ann")

    packet = await packet_of(client, agent, created["id"])

    assert packet["handoff"]["id"] == created["id"]
    assert packet["handoff"]["reason"] == "misunderstood"
    assert packet["handoff"]["detail"] == "Two misses in a row."
    assert packet["handoff"]["queue_position"] == 1
    assert packet["customer"]["email"] == "ada@example.com"
    assert [ticket["id"] for ticket in packet["open_tickets"]] == [ada_ticket]
    assert packet["last_csat"]["score"] == 2 and packet["last_ces"]["score"] == 6
    assert [signal["kind"] for signal in packet["churn_signals"]] == ["downgrade_request"]
    assert packet["onboarding"]["done_count"] == 1
    assert [step["key"] for step in packet["onboarding"]["steps"] if step["done"]] == ["sign_up"]

    summary = packet["conversation"]
    assert packet["conversation_available"] is True
    assert summary["intents"] == [
        {"intent": "greet", "count": 2},
        {"intent": "nlu_fallback", "count": 1},
        {"intent": "billing_invoice", "count": 1},
        {"intent": "report_problem", "count": 1},
    ]
    assert summary["slots"] == {"description": "production is down"}
    assert [message["text"] for message in summary["not_understood"]] == ["asdf", "my invoise thing"]
    texts = [(message["speaker"], message["text"]) for message in summary["last_messages"]]
    assert texts[-3:] == [
        ("bot", "Did you mean…?"),
        ("customer", "production is down, please help asap"),
        ("customer", "hi again"),
    ]
    assert texts[0] == ("customer", "hi")

    suggested = packet["suggested_priority"]
    assert suggested["priority"] == "urgent"
    assert "the customer's last messages say it is urgent" in suggested["reasons"]
    assert "last CSAT 2 of 5" in suggested["reasons"]

    body = str(packet)
    assert "bob@example.com" not in body and "hunter2" not in body


async def test_without_rasa_the_packet_says_the_summary_is_unavailable_and_holds_the_rest(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    await seed_customer(client, "ada@example.com", SENDER, csat=4, ces=3)
    rasa.trackers[SENDER] = ada_conversation()
    admin = await person(client, "admin", "boss")
    await keep_queued(client, admin)
    created = await request_handoff(client, SENDER, email="ada@example.com", at_risk=True)
    rasa.status = 503

    packet = await packet_of(client, admin, created["id"])

    assert packet["conversation_available"] is False and packet["conversation"] is None
    assert packet["customer"]["email"] == "ada@example.com"
    assert len(packet["open_tickets"]) == 1 and packet["last_csat"]["score"] == 4
    assert packet["suggested_priority"]["priority"] == "high"
    assert "customer flagged at risk" in packet["suggested_priority"]["reasons"]


async def test_a_handoff_without_a_customer_has_an_empty_record(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    await seed_customer(client, "ada@example.com", SENDER, csat=4, ces=3)
    created = await request_handoff(client, "web-anonymous")
    agent = await person(client, "agent", "ann")

    packet = await packet_of(client, agent, created["id"])

    assert packet["customer"] is None
    assert packet["open_tickets"] == [] and packet["churn_signals"] == []
    assert packet["last_csat"] is None and packet["last_ces"] is None
    assert packet["onboarding"]["done_count"] == 0
    assert packet["conversation"]["intents"] == [] and packet["conversation"]["last_messages"] == []
    assert packet["suggested_priority"] == {"priority": "normal", "reasons": ["handoff requested as normal"]}


async def test_an_unknown_handoff_has_no_packet(client: TestClient[Any, Any]) -> None:
    agent = await person(client, "agent", "ann")
    response = await client.get("/api/routing/handoffs/987654/packet", headers=agent.headers)
    await assert_error(response, 404, message="handoff 987654 not found")


def test_a_restart_starts_the_summary_afresh_and_only_the_last_messages_are_kept() -> None:
    events = [user("greet", "hello", RECORDED_AT), slot("email", "old@example.com", RECORDED_AT)]
    events.append(restart(RECORDED_AT + 1))
    events += [user("faq", f"question {n}", RECORDED_AT + 2 + n) for n in range(LAST_MESSAGES + 2)]
    summary = summarize(events)
    assert [(count.intent, count.count) for count in summary.intents] == [("faq", LAST_MESSAGES + 2)]
    assert summary.slots == {}
    assert [message.text for message in summary.last_messages] == [
        f"question {n}" for n in range(2, LAST_MESSAGES + 2)
    ]


def test_external_events_and_odd_shapes_are_not_the_customers() -> None:
    external = user("EXTERNAL_onboarding_nudge", "EXTERNAL: EXTERNAL_onboarding_nudge", RECORDED_AT)
    external["metadata"] = {"is_external": True}
    summary = summarize([external, "not an event", {"event": "user"}, {"event": "bot", "text": 3}])
    assert summary.intents == [] and summary.last_messages == [] and summary.not_understood == []
    assert summarize({"events": "no"}).last_messages == []


def test_a_clarified_message_counts_once_with_its_final_intent() -> None:
    first = user("nlu_fallback", "pw help", RECORDED_AT)
    clarified = {**first, "parse_data": {**first["parse_data"], "intent": {"name": "password_reset"}}}
    summary = summarize([first, action("action_two_stage_fallback", RECORDED_AT), clarified])
    assert [(count.intent, count.count) for count in summary.intents] == [("password_reset", 1)]
    assert [message.text for message in summary.not_understood] == ["pw help"]
    assert [message.intent for message in summary.last_messages] == ["password_reset"]


@pytest.mark.parametrize(
    ("facts", "priority"),
    [
        (PriorityFacts("low", False, False, None, [], ["this is not urgent at all"]), "low"),
        (PriorityFacts("low", False, False, None, [], ["our site is down"]), "urgent"),
        (PriorityFacts("normal", False, True, None, [], []), "high"),
        (PriorityFacts("normal", False, False, 3, ["retained"], []), "normal"),
        (PriorityFacts("normal", False, False, 1, [], []), "high"),
        (PriorityFacts("low", False, False, None, ["cancelling"], []), "high"),
        (PriorityFacts("urgent", True, False, None, [], []), "urgent"),
    ],
)
def test_the_suggested_priority_only_ever_raises(facts: PriorityFacts, priority: str) -> None:
    assert suggest_priority(facts).priority == priority
