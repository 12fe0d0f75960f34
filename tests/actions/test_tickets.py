"""The ticket actions (actions/tickets.py): the ticket form's validation, driven like Rasa drives it (a
tracker whose last events are the candidate SlotSets, then the next question rendered from domain.yml);
creating a ticket and looking one up, against a real running cs_backend (see conftest.py)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from action_test_support import (
    DOMAIN,
    action_event,
    backend_breaking_its_contract,
    create_ticket,
    entity,
    filled_ticket_form_tracker,
    form_resumed_after_a_digression,
    make_tracker,
    render_response,
    run_action,
    slot_event,
    slot_values,
    tickets_of,
    user_event,
)
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.api.errors import BackendError
from actions.api.outbox import OUTBOX_PATH_ENV, default_outbox
from actions.api.replayer import OutboxReplayer
from actions.tickets import ActionCreateTicket, ActionResetTicketForm, ActionTicketStatus, ValidateTicketForm

# --- the ticket form's validation ---------------------------------------------------------------------------


async def _validate_ticket(
    text: str, intent: str, candidates: dict[str, Any], *, requested: Any, slots: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Events of validate_ticket_form after the user said `text` and Rasa extracted `candidates`."""
    current = dict(slots or {})
    current["requested_slot"] = requested
    current.update(candidates)
    events = [
        user_event(text, intent),
        slot_event("requested_slot", requested),
        action_event("ticket_form"),
        *[slot_event(name, value) for name, value in candidates.items()],
    ]
    tracker = make_tracker(
        "validation-test", events, slots=current, active_loop="ticket_form" if requested else None
    )
    dispatcher = CollectingDispatcher()
    result = await ValidateTicketForm().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # the text comes from the next utter_ask_* response
    assert not any(str(e.get("name", "")).startswith("__hint_") for e in result)
    return result


async def test_invalid_email_is_asked_again_with_a_helpful_message() -> None:
    events = await _validate_ticket(
        "my email is bob at example dot com",
        "inform",
        {"email": "my email is bob at example dot com"},
        requested="email",
        slots={"description": "the dashboard won't load at all"},
    )
    slots = slot_values(events)
    assert slots["email"] is None
    assert slots["form_hint"] == "email_invalid"
    (question,) = render_response("utter_ask_email", slots)
    assert "doesn't look like an email address" in question and "name@yourcompany.com" in question


async def test_valid_email_is_cleaned() -> None:
    events = await _validate_ticket(
        "sure, it's Jane@Startup.IO.", "inform", {"email": "sure, it's Jane@Startup.IO."}, requested="email"
    )
    assert slot_values(events)["email"] == "Jane@startup.io"
    assert slot_values(events)["form_hint"] is None


async def test_too_short_description_is_asked_again() -> None:
    events = await _validate_ticket(
        "it crashes", "report_problem", {"description": "it crashes"}, requested="description"
    )
    slots = slot_values(events)
    assert slots["description"] is None
    assert slots["form_hint"] == "description_too_short"
    (question,) = render_response("utter_ask_description", slots)
    assert "more detail" in question


async def test_urgent_priority_is_inferred_from_the_description() -> None:
    text = "URGENT: the checkout page returns a 500 error for all our customers"
    events = await _validate_ticket(text, "report_problem", {"description": text}, requested="description")
    slots = slot_values(events)
    assert slots["description"] == text
    assert slots["priority"] == "urgent"
    assert slots["form_hint"] == "urgent_inferred"
    (question,) = render_response("utter_ask_email", slots)
    assert "urgent" in question


async def test_not_urgent_description_leaves_priority_to_ask() -> None:
    text = "not urgent, but the avatar upload fails with big images"
    events = await _validate_ticket(text, "report_problem", {"description": text}, requested="description")
    assert "priority" not in slot_values(events)


async def test_priority_is_normalised() -> None:
    events = await _validate_ticket(
        "asap please", "inform", {"priority": "asap please"}, requested="priority"
    )
    assert slot_values(events)["priority"] == "urgent"


async def test_unknown_priority_is_asked_again() -> None:
    events = await _validate_ticket("banana", "inform", {"priority": "banana"}, requested="priority")
    slots = slot_values(events)
    assert slots["priority"] is None and slots["form_hint"] == "priority_invalid"
    (question,) = render_response("utter_ask_priority", slots)
    assert "low, normal, high or urgent" in question


async def test_description_is_prefilled_from_the_opening_message() -> None:
    text = "the app keeps crashing when I upload a CSV file"
    events = await _validate_ticket(text, "report_problem", {}, requested=None)
    slots = slot_values(events)
    assert slots["description"] == text
    assert slots["form_hint"] == "description_prefilled"
    (question,) = render_response("utter_ask_email", slots)
    assert text in question


async def test_generic_opening_message_is_not_used_as_description() -> None:
    events = await _validate_ticket("I want to open a ticket", "report_problem", {}, requested=None)
    assert "description" not in slot_values(events)


async def test_nothing_extracted_returns_no_slots_so_rasa_can_reject_the_form() -> None:
    # e.g. "are you a bot?" while the form asks for the email: the digression rules must take over.
    events = await _validate_ticket("are you a bot?", "bot_challenge", {}, requested="email")
    assert [e for e in events if e.get("event") == "slot" and e.get("name") != "requested_slot"] == []


async def test_priority_entity_in_the_opening_message_is_kept() -> None:
    tracker_events = [
        user_event("urgent: nobody can log in", "report_problem", [entity("priority", "urgent")]),
        slot_event("requested_slot", None),
        action_event("ticket_form"),
        slot_event("priority", "urgent"),
    ]
    tracker = make_tracker("validation-test", tracker_events, slots={"priority": "urgent"})
    events = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(events)["priority"] == "urgent"


async def test_resuming_after_a_digression_drops_the_previous_remark() -> None:
    tracker = form_resumed_after_a_digression(
        "ticket_form",
        user_event("URGENT: checkout is down for everyone", "report_problem"),
        requested_slot="email",
        hint="urgent_inferred",
    )
    result = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(result) == {"form_hint": None}


async def test_rejected_answer_keeps_no_slot_events_even_with_a_hint_set() -> None:
    events = [
        user_event("URGENT: checkout is down for everyone", "report_problem"),
        action_event("ticket_form"),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        slot_event("requested_slot", "email"),
        action_event("ticket_form"),
    ]
    tracker = make_tracker(
        "reject-test",
        events,
        slots={"form_hint": "urgent_inferred", "requested_slot": "email"},
        active_loop="ticket_form",
    )
    result = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert [e for e in result if e.get("event") == "slot" and e.get("name") != "requested_slot"] == []


# --- ticket creation ----------------------------------------------------------------------------------------


async def test_ticket_is_created_and_its_number_told(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events, dispatcher = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))
    slots = slot_values(events)

    page = tickets_of(backend, sender_id)
    assert page["total"] == 1
    (ticket,) = page["items"]
    assert ticket["description"] == "the invoice PDF export shows an empty page for March"
    assert ticket["email"] == "jane@startup.io"
    assert ticket["priority"] == "high"
    assert ticket["status"] == "open"
    assert ticket["channel"] == "rest"

    assert slots["ticket_outcome"] == "created"
    assert slots["ticket_id"] == str(ticket["id"])
    assert slots["ticket_priority"] == "high"
    # the attempt is forgotten (a next "open a ticket" starts afresh), the email is kept
    assert slots["description"] is None and slots["priority"] is None and slots["email"] == "jane@startup.io"
    assert dispatcher.messages == []  # the rule speaks utter_ticket_created
    told = render_response("utter_ticket_created", {**slots, "email": "jane@startup.io"})
    assert all(f"#{ticket['id']}" in text for text in told)


async def test_urgent_ticket_is_stored_urgent_and_said_so(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await create_ticket(
        sender_id, priority="urgent", description="URGENT: checkout is down for everyone"
    )
    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert ticket["priority"] == "urgent"
    (told,) = render_response("utter_ticket_created", {**slots, "email": "jane@startup.io"})
    assert "marked urgent" in told


async def test_rerunning_the_action_for_the_same_message_creates_one_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = filled_ticket_form_tracker(sender_id, message_id=f"{sender_id}-last-message")
    first, _ = await run_action(ActionCreateTicket(), tracker)
    again, _ = await run_action(
        ActionCreateTicket(), filled_ticket_form_tracker(sender_id, message_id=f"{sender_id}-last-message")
    )

    assert slot_values(first)["ticket_id"] == slot_values(again)["ticket_id"]
    assert tickets_of(backend, sender_id)["total"] == 1


async def test_the_same_ticket_asked_again_after_a_lost_answer_is_the_same_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    # The action server died after cs_backend stored the ticket and before Rasa heard back: the customer's
    # next message runs the action again, under another message id, with the same form content.
    first, _ = await run_action(
        ActionCreateTicket(), filled_ticket_form_tracker(sender_id, message_id=f"{sender_id}-first-try")
    )
    again, _ = await run_action(
        ActionCreateTicket(), filled_ticket_form_tracker(sender_id, message_id=f"{sender_id}-asked-again")
    )
    assert slot_values(again)["ticket_id"] == slot_values(first)["ticket_id"]
    assert tickets_of(backend, sender_id)["total"] == 1

    # Another problem in the same conversation is another ticket.
    other = filled_ticket_form_tracker(
        sender_id, message_id=f"{sender_id}-another-problem", description="the CSV import skips rows"
    )
    await run_action(ActionCreateTicket(), other)
    assert tickets_of(backend, sender_id)["total"] == 2


async def test_reset_forgets_a_cancelled_attempt_but_keeps_the_email() -> None:
    tracker = filled_ticket_form_tracker("reset-test")
    events, _ = await run_action(ActionResetTicketForm(), tracker)
    slots = slot_values(events)
    assert slots["description"] is None and slots["priority"] is None and slots["requested_slot"] is None
    assert "email" not in slots
    # a handoff's ticket given up: a later ticket is not that handoff's (actions/handoff.py)
    assert slots["handoff_id"] is None


def test_a_refused_ticket_clears_the_named_fields_and_says_why() -> None:
    error = BackendError(400, "invalid request body", {"email": "value is not a valid email address"})
    slots = slot_values(ActionCreateTicket._failure_events(error))
    assert slots["ticket_outcome"] == "rejected"
    assert slots["email"] is None and "description" not in slots
    (told,) = render_response("utter_ticket_rejected", slots)
    assert "value is not a valid email address" in told and "no ticket was created" in told


def test_a_server_error_counts_as_unavailable() -> None:
    slots = slot_values(ActionCreateTicket._failure_events(BackendError(500, "internal error")))
    assert slots["ticket_outcome"] == "unavailable"


# --- ticket status ------------------------------------------------------------------------------------------


async def _status_lookup(
    sender_id: str,
    said: str,
    number: Any = None,
    *,
    slots: dict[str, Any] | None = None,
    channel: str = "rest",
) -> dict[str, Any]:
    """The slots action_ticket_status sets after the customer said `said` (NLU extracting `number` as the
    ticket_number entity, when given); like every ticket action it says nothing itself."""
    entities = [entity("ticket_number", number)] if number is not None else []
    events = [user_event(said, "ticket_status", entities, channel=channel)]
    tracker = make_tracker(sender_id, events, slots=slots)
    events, dispatcher = await run_action(ActionTicketStatus(), tracker)
    assert dispatcher.messages == []
    return slot_values(events)


async def test_status_by_number(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    created = await create_ticket(sender_id)
    number = created["ticket_id"]
    for said, value in [
        (f"what's the status of ticket {number}?", number),
        (f"#{number} status?", f"#{number}"),
    ]:
        slots = await _status_lookup(sender_id, said, value, slots=created)
        assert slots["lookup_outcome"] == "found"
        assert slots["lookup_number"] == number
        assert slots["lookup_status"] == "open"
        assert slots["lookup_priority"] == "high"
        assert slots["ticket_number"] is None  # used up: a later "my last ticket" is not this number
        (told,) = render_response("utter_ticket_status", slots)
        assert f"#{number}" in told and "open" in told and "invoice PDF export" in told


async def test_status_in_a_chinese_conversation(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    created = await create_ticket(sender_id)
    number = created["ticket_id"]
    slots = await _status_lookup(
        sender_id, f"工单 {number} 怎么样了", number, slots={**created, "language": "zh"}
    )
    assert slots["lookup_status"] == "open"  # the value the response is chosen by stays cs_backend's
    assert slots["lookup_priority"] == "高"
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}（UTC）", slots["lookup_updated"])
    (told,) = render_response("utter_ticket_status", {**slots, "language": "zh"})
    assert told.startswith(f"工单 #{number}（“") and "处于待处理状态" in told and "优先级：高" in told


async def test_a_typed_email_shows_none_of_that_customers_tickets(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    """Another conversation that typed the customer's email (even the ticket's number) is shown nothing of
    their tickets: a number that is not of this conversation is answered like an unknown one."""
    email = f"victim-{uuid.uuid4().hex[:12]}@example.com"
    number = (await create_ticket(sender_id, email=email))["ticket_id"]
    stranger = f"{sender_id}-stranger"
    typed = {"email": email}
    for said, value in [(f"status of ticket {number}", number), ("any news on my last ticket?", None)]:
        slots = await _status_lookup(stranger, said, value, slots=typed)
        assert slots["lookup_outcome"] == ("not_found" if value else "no_tickets"), said
        assert slots["lookup_status"] is None and slots["lookup_subject"] is None
        told = render_response("utter_ticket_not_found" if value else "utter_no_tickets_found", slots)
        assert "invoice" not in told[0]
    # The same sender id on another channel is another conversation.
    slots = await _status_lookup(sender_id, f"status of ticket {number}", number, channel="socketio")
    assert slots["lookup_outcome"] == "not_found"
    assert (await _status_lookup(sender_id, "my last ticket?", channel="socketio"))[
        "lookup_outcome"
    ] == "no_tickets"
    (told,) = render_response("utter_ticket_not_found", {"lookup_number": number})
    assert f"#{number}" in told and "opened in this chat" in told
    # Its own conversation still finds it by number, also once it is no longer the latest.
    await create_ticket(sender_id, email=email, description="my comments are not saving anymore")
    slots = await _status_lookup(sender_id, f"status of ticket {number}", number)
    assert slots["lookup_outcome"] == "found" and slots["lookup_number"] == number
    assert slots["lookup_subject"] == "the invoice PDF export shows an empty page for March"


async def test_status_number_found_in_the_text_when_no_entity(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    number = (await create_ticket(sender_id))["ticket_id"]
    slots = await _status_lookup(sender_id, f"any news on ticket #{number}")
    assert slots["lookup_outcome"] == "found" and slots["lookup_number"] == number


async def test_status_of_my_last_ticket(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    await create_ticket(sender_id, description="the calendar view is blank since this morning")
    latest = await create_ticket(sender_id, description="my comments are not saving anymore", priority="low")
    slots = await _status_lookup(sender_id, "any update on my last ticket?")
    assert slots["lookup_outcome"] == "found"
    assert slots["lookup_number"] == latest["ticket_id"]
    assert slots["lookup_subject"] == "my comments are not saving anymore"
    assert slots["lookup_priority"] == "low"


async def test_my_last_ticket_when_there_is_none(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _status_lookup(sender_id, "is my ticket fixed yet?")
    assert slots["lookup_outcome"] == "no_tickets"
    (told,) = render_response("utter_no_tickets_found", slots)
    assert "couldn't find a ticket" in told


async def test_unknown_ticket_number_gets_a_clear_message(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _status_lookup(sender_id, "check ticket 987654", "987654")
    assert slots["lookup_outcome"] == "not_found"
    (told,) = render_response("utter_ticket_not_found", slots)
    assert "couldn't find ticket #987654" in told


# --- backend down, or breaking its contract -----------------------------------------------------------------


async def test_backend_down_create_ticket_keeps_it_and_says_so(backend_down: str, sender_id: str) -> None:
    events, dispatcher = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))
    slots = slot_values(events)
    assert slots["ticket_outcome"] == "queued" and slots["ticket_id"] is None
    assert slots["description"] is None and slots["email"] == "jane@startup.io"  # this attempt is done
    (told,) = render_response("utter_ticket_queued", slots)
    assert "saved and will reach our support team shortly" in told and "jane@startup.io" in told
    (entry,) = await default_outbox().pending()
    assert json.loads(entry.body)["description"] == "the invoice PDF export shows an empty page for March"


async def test_a_ticket_neither_confirmed_nor_kept_keeps_the_details_and_claims_nothing(
    backend_down: str, sender_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv(OUTBOX_PATH_ENV, str(tmp_path / "not-a-folder" / "outbox.db"))
    events, dispatcher = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))
    slots = slot_values(events)
    assert slots["ticket_outcome"] == "unavailable"
    assert "description" not in slots and "email" not in slots  # kept for the retry
    (told,) = render_response("utter_ticket_not_saved", slots)
    assert "couldn't confirm" in told and "again" in told and "NOT saved" not in told


async def test_backend_down_status_lookup_says_so(backend_down: str, sender_id: str) -> None:
    slots = await _status_lookup(sender_id, "#12 status?", "#12")
    assert slots["lookup_outcome"] == "unavailable"
    (told,) = render_response("utter_lookup_unavailable", slots)
    assert "try again" in told


async def test_a_refused_credential_is_unavailable_not_the_customers_mistake(
    backend: RunningBackend, monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    """The real cs_backend refuses a wrong service secret (401): the ticket is kept in the outbox (the
    customer hears it will reach the team), not refused as the customer's mistake; once the secret is right,
    the replay delivers it."""
    monkeypatch.setenv("CS_BACKEND_SERVICE_SECRET", "not-the-secret-" + "x" * 32)
    events, _ = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))
    slots = slot_values(events)
    assert slots["ticket_outcome"] == "queued" and slots["ticket_id"] is None
    lookup = await _status_lookup(sender_id, "#12 status?", "#12")
    assert lookup["lookup_outcome"] == "unavailable"

    monkeypatch.setenv("CS_BACKEND_SERVICE_SECRET", backend.service_secret)
    assert (await OutboxReplayer(default_outbox()).replay_pending()).delivered == 1
    assert tickets_of(backend, sender_id)["total"] == 1


async def test_a_ticket_answer_that_breaks_the_contract_is_kept_not_claimed_as_created(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    # No number can be read from the answer: the ticket is kept and sent again under its key until confirmed.
    async with backend_breaking_its_contract(monkeypatch):
        events, _ = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))
    slots = slot_values(events)
    assert slots["ticket_outcome"] == "queued" and slots["ticket_id"] is None
    assert len(await default_outbox().pending()) == 1


async def test_a_lookup_answer_that_breaks_the_contract_says_unavailable(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    async with backend_breaking_its_contract(monkeypatch):
        slots = await _status_lookup(sender_id, "#12 status?", "#12")
    assert slots["lookup_outcome"] == "unavailable" and slots["lookup_status"] is None
