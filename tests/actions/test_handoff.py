"""action_handoff_to_human (actions/handoff.py), against a real running cs_backend (see conftest.py), and the
ticket form it hands over to when the email is unknown (ValidateTicketForm asks only the email)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from action_test_support import (
    DOMAIN,
    action_event,
    backend_breaking_its_contract,
    entity,
    make_tracker,
    render_response,
    slot_event,
    slot_values,
    tickets_of,
    user_event,
)
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import (
    HANDOFF_INTRO,
    ActionHandoffToHuman,
    handoff_description,
    handoff_priority,
    recent_customer_messages,
)
from actions.tickets import ActionCreateTicket, ValidateTicketForm


def _reverted() -> dict[str, Any]:
    return {"event": "rewind", "timestamp": 0}


def _two_misses_then_yes() -> list[dict[str, Any]]:
    """Two messages the NLU did not understand (the fallback loop reverted the first), then "yes" to the
    offer."""
    first = user_event("my stuff vanished from the thingy", "nlu_fallback", confidence=0.3)
    second = user_event("the board thing, all gone since this morning", "nlu_fallback", confidence=0.35)
    return [
        user_event("hi", "greet"),
        first,
        action_event("action_two_stage_fallback"),
        user_event("/out_of_scope", "out_of_scope"),
        second,
        action_event("action_two_stage_fallback"),
        user_event("yes", "affirm"),
    ]


def _tracker(sender_id: str, events: Sequence[dict[str, Any]], **slots: Any):
    return make_tracker(sender_id, list(events), slots=slots)


async def _run(tracker: Any) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # the rules speak the utter_handoff_* responses
    slots = slot_values(events)
    assert set(slots) <= set(DOMAIN["slots"]) | {"requested_slot"}, set(slots) - set(DOMAIN["slots"])
    return slots


# --- the conversation quoted in the ticket ------------------------------------------------------------------


def test_recent_messages_are_typed_ones_of_this_session_including_misunderstood_ones() -> None:
    missed = user_event("blorp invoices thing", "nlu_fallback")
    # "Did you mean…?" answered by typing a clear message: the two-stage loop reverts it and re-adds a copy of
    # it (same message id, confidence 1.0) as the clarification; it is quoted once.
    clarified = user_event("where do I find invoices", "billing_invoice", confidence=0.9)
    clarification = copy.deepcopy(clarified)
    clarification["parse_data"]["intent"]["confidence"] = 1.0
    nudge = user_event("EXTERNAL: EXTERNAL_onboarding_nudge", "EXTERNAL_onboarding_nudge")
    nudge["metadata"] = {"is_external": True}
    events = [
        user_event("old session message", "greet"),
        {"event": "session_started", "timestamp": 0},
        user_event("hello there", "greet"),
        missed,
        action_event("action_two_stage_fallback"),
        clarified,
        _reverted(),
        action_event("action_listen"),
        clarification,
        nudge,
        user_event("/request_human", "request_human"),
        user_event('/inform{"priority": "high"}', "inform"),
        user_event("  I want   a human  ", "request_human"),
    ]
    messages = recent_customer_messages(_tracker("quote-test", events))
    assert messages == ["hello there", "blorp invoices thing", "where do I find invoices", "I want a human"]


def test_only_the_last_five_messages_are_quoted() -> None:
    events = [user_event(f"message number {n}", "nlu_fallback") for n in range(1, 9)]
    assert recent_customer_messages(_tracker("five-test", events)) == [
        f"message number {n}" for n in range(4, 9)
    ]


def test_description_and_priority() -> None:
    assert handoff_description([]) == HANDOFF_INTRO == "Customer asked to talk to a person."
    assert handoff_description(["a b", "c\nd"]) == (
        "Customer asked to talk to a person. Their last messages: “a b” / “c d”"
    )
    assert handoff_priority(["hi", "production is down, this is urgent"]) == "urgent"
    assert handoff_priority(["it's not urgent", "just a question"]) == "normal"
    assert handoff_priority([]) == "normal"


# --- email known: the ticket is opened at once --------------------------------------------------------------


async def test_known_email_opens_a_ticket_with_the_conversation(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(_tracker(sender_id, _two_misses_then_yes(), email="Jane@Startup.io"))

    page = tickets_of(backend, sender_id)
    assert page["total"] == 1
    (ticket,) = page["items"]
    assert ticket["description"] == (
        "Customer asked to talk to a person. Their last messages: “hi” / "
        "“my stuff vanished from the thingy” / “the board thing, all gone since this morning” / “yes”"
    )
    assert ticket["email"] == "jane@startup.io"
    assert ticket["priority"] == "normal"
    assert ticket["channel"] == "rest"

    assert slots["handoff_outcome"] == "ticket_created"
    assert slots["ticket_id"] == str(ticket["id"])
    assert slots["ticket_priority"] == "normal"
    assert slots["description"] is None and slots["priority"] is None and slots["form_hint"] is None
    (told,) = render_response("utter_handoff_ticket_created", {**slots})
    assert f"#{ticket['id']}" in told and "jane@startup.io" in told


async def test_urgency_in_the_conversation_makes_the_ticket_urgent(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events = [
        user_event("our production is down!!", "nlu_fallback"),
        user_event("get me a human", "request_human"),
    ]
    slots = await _run(_tracker(sender_id, events, email="ops@startup.io"))
    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert ticket["priority"] == "urgent" and slots["ticket_priority"] == "urgent"


async def test_rerunning_the_handoff_for_the_same_message_opens_one_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = _tracker(
        sender_id, [user_event("I need a real person", "request_human")], email="jane@startup.io"
    )
    first = await _run(tracker)
    second = await _run(tracker)
    assert first["ticket_id"] == second["ticket_id"]
    assert tickets_of(backend, sender_id)["total"] == 1


async def test_the_handoff_and_a_ticket_from_the_same_message_are_not_confused(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    """Different write kinds: the handoff's idempotency key is not the ticket form's."""
    tracker = _tracker(
        sender_id,
        [user_event("I need a real person", "request_human")],
        email="jane@startup.io",
        description="exports are empty since monday",
        priority="low",
    )
    created = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), tracker, DOMAIN))
    handed = await _run(tracker)
    assert created["ticket_id"] != handed["ticket_id"]


async def test_backend_down_says_the_handoff_is_unavailable(backend_down: str, sender_id: str) -> None:
    slots = await _run(
        _tracker(sender_id, [user_event("talk to a human", "request_human")], email="jane@startup.io")
    )
    assert slots == {"handoff_outcome": "unavailable"}
    assert render_response("utter_handoff_unavailable", slots)


async def test_an_answer_that_breaks_the_contract_says_the_handoff_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    tracker = _tracker(sender_id, [user_event("talk to a human", "request_human")], email="jane@startup.io")
    async with backend_breaking_its_contract(monkeypatch):
        slots = await _run(tracker)
    assert slots == {"handoff_outcome": "unavailable"}


# --- email unknown: the ticket form asks only for it --------------------------------------------------------


async def test_unknown_email_prepares_the_ticket_form(backend_down: str, sender_id: str) -> None:
    """No backend call is needed to ask for the email (so it works even when the backend is down)."""
    slots = await _run(_tracker(sender_id, _two_misses_then_yes()))
    assert slots["handoff_outcome"] == "need_email"
    assert slots["description"].startswith("Customer asked to talk to a person. Their last messages: “hi”")
    assert slots["priority"] == "normal"
    assert slots["form_hint"] == "handoff"
    (asked,) = render_response("utter_ask_email", slots)
    assert asked.startswith("Live chat with our team isn't available here yet")


async def _activate_ticket_form(history: list[dict[str, Any]], prepared: dict[str, Any]) -> dict[str, Any]:
    """validate_ticket_form at the form's activation: Rasa validates the pre-filled description and
    priority."""
    events = [
        *history,
        action_event("action_handoff_to_human"),
        *[slot_event(name, value) for name, value in prepared.items()],
        action_event("ticket_form"),
        slot_event("description", prepared["description"]),
        slot_event("priority", prepared["priority"]),
    ]
    tracker = make_tracker("handoff-form", events, slots=prepared)
    dispatcher = CollectingDispatcher()
    result = slot_values(await ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert dispatcher.messages == []
    return result


async def _answer_email(text: str, state: dict[str, Any], email: str | None) -> dict[str, Any]:
    events = [
        user_event(text, "inform", [entity("email", email)] if email else []),
        slot_event("requested_slot", "email"),
        action_event("ticket_form"),
        slot_event("email", email or text),
    ]
    tracker = make_tracker(
        "handoff-form",
        events,
        slots={**state, "requested_slot": "email", "email": email or text},
        active_loop="ticket_form",
    )
    return slot_values(await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN))


async def test_the_ticket_form_keeps_the_handoff_details_and_asks_only_the_email(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    history = _two_misses_then_yes()
    prepared = await _run(_tracker(sender_id, history))
    del prepared["handoff_outcome"]

    activated = await _activate_ticket_form(history, prepared)
    assert activated["description"] == prepared["description"]  # not replaced by the opening message
    assert activated["priority"] == "normal"
    assert activated["form_hint"] == "handoff"
    state = {**prepared, **activated}
    (asked,) = render_response("utter_ask_email", state)
    assert "Which email address should they reply to?" in asked

    wrong = await _answer_email("no thanks", state, None)
    assert wrong["email"] is None and wrong["form_hint"] == "email_invalid"

    answered = await _answer_email("it's jane@startup.io", {**state, **wrong}, "jane@startup.io")
    assert answered == {"email": "jane@startup.io", "form_hint": None}

    # the form is complete (the priority was pre-set): the ticket is created as usual
    final = {**state, **answered}
    last = user_event("it's jane@startup.io", "inform", [entity("email", "jane@startup.io")])
    created = slot_values(
        await ActionCreateTicket().run(
            CollectingDispatcher(), make_tracker(sender_id, [*history, last], slots=final), DOMAIN
        )
    )
    assert created["ticket_outcome"] == "created"
    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert ticket["description"] == prepared["description"]
    assert ticket["email"] == "jane@startup.io" and ticket["priority"] == "normal"


async def test_an_urgent_handoff_still_asks_with_the_handoff_wording(
    backend_down: str, sender_id: str
) -> None:
    history = [
        user_event("everything is down, urgent!", "nlu_fallback"),
        user_event("a human please", "request_human"),
    ]
    prepared = await _run(_tracker(sender_id, history))
    assert prepared["priority"] == "urgent"
    del prepared["handoff_outcome"]
    activated = await _activate_ticket_form(history, prepared)
    assert activated["priority"] == "urgent"
    assert activated["form_hint"] == "handoff"  # not "urgent_inferred"


async def test_a_report_problem_form_still_prefills_and_remarks_as_before() -> None:
    """Without the handoff hint the activation keeps its usual remarks (regression guard)."""
    events = [
        user_event("the app crashes when I upload a CSV file, urgent", "report_problem"),
        action_event("ticket_form"),
    ]
    tracker = make_tracker("no-handoff", events)
    result = slot_values(await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN))
    assert result["description"] == "the app crashes when I upload a CSV file, urgent"
    assert result["form_hint"] == "urgent_inferred"
