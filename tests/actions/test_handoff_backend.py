"""The live handoff's calls against the real cs_backend (conftest.py): with no agent online, a handoff is
closed as unavailable and a ticket carries the conversation; a conversation nobody holds is answered by the
bot. (The queue and the relay need an agent online: test_handoff.py and test_handoff_relay.py drive those
through the contract server, routing_contract_backend.py.)"""

from __future__ import annotations

from typing import Any

from action_test_support import DOMAIN, entity, make_tracker, slot_values, tickets_of, user_event
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoffToHuman, ActionRelayToAgent, ActionSessionStart
from actions.tickets import ActionCreateTicket


def _request() -> list[dict[str, Any]]:
    return [
        user_event("the export is broken since monday", "report_problem"),
        user_event("a human", "request_human"),
    ]


async def test_nobody_online_with_the_email_known_opens_the_handoffs_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = make_tracker(sender_id, _request(), slots={"email": "jane@startup.io"})
    slots = slot_values(await ActionHandoffToHuman().run(CollectingDispatcher(), tracker, DOMAIN))
    assert slots["handoff_outcome"] == "ticket_created"
    assert slots["handoff_unavailable"] in ("no_agent", "closed")
    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert slots["ticket_id"] == str(ticket["id"]) and ticket["email"] == "jane@startup.io"
    # Rasa running it again for the same message: the same handoff and ticket
    again = slot_values(await ActionHandoffToHuman().run(CollectingDispatcher(), tracker, DOMAIN))
    assert again["ticket_id"] == slots["ticket_id"] and tickets_of(backend, sender_id)["total"] == 1


async def test_nobody_online_without_email_the_form_asks_it_then_the_handoffs_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    history = _request()
    prepared = slot_values(
        await ActionHandoffToHuman().run(CollectingDispatcher(), make_tracker(sender_id, history), DOMAIN)
    )
    assert prepared["handoff_outcome"] == "need_email" and prepared["handoff_id"]
    assert tickets_of(backend, sender_id)["total"] == 0

    answer = user_event("jane@startup.io", "inform", [entity("email", "jane@startup.io")])
    filled = make_tracker(sender_id, [*history, answer], slots={**prepared, "email": "jane@startup.io"})
    created = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), filled, DOMAIN))
    assert created["ticket_outcome"] == "handoff_ticket"
    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert created["ticket_id"] == str(ticket["id"]) and ticket["email"] == "jane@startup.io"


async def test_a_conversation_nobody_holds_starts_without_the_relay(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events = await ActionSessionStart().run(CollectingDispatcher(), make_tracker(sender_id, []), DOMAIN)
    assert [event["event"] for event in events] == ["session_started", "action"]


async def test_relaying_to_a_handoff_cs_backend_does_not_know_ends_the_relay(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = make_tracker(
        sender_id,
        [user_event("hello?", "greet")],
        slots={"handoff_id": "987654"},
        active_loop="action_relay_to_agent",
    )
    dispatcher = CollectingDispatcher()
    events = await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert slot_values(events)["handoff_end"] == "cancelled"
