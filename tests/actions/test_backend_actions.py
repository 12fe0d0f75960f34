"""The actions that call cs_backend, against a real running cs_backend (see conftest.py)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from action_test_support import DOMAIN, entity, make_tracker, render_response, slot_values, user_event
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.api.backend import BackendClient, BackendError, BackendUnavailable
from actions.feedback import ActionRecordFeedback
from actions.tickets import ActionCreateTicket, ActionResetTicketForm, ActionTicketStatus


def _form_filled_tracker(
    sender_id: str, *, channel: str = "rest", message_id: str | None = None, **slots: Any
):
    """The tracker after the ticket form completed: the last user message answered the priority question."""
    values = {
        "description": "the invoice PDF export shows an empty page for March",
        "email": "jane@startup.io",
        "priority": "high",
        **slots,
    }
    events = [
        user_event("the invoice PDF export shows an empty page for March", "report_problem", channel=channel),
        user_event("jane@startup.io", "inform", [entity("email", "jane@startup.io")], channel=channel),
        user_event("high", "inform", [entity("priority", "high")], channel=channel, message_id=message_id),
    ]
    return make_tracker(sender_id, events, slots=values)


async def _run(action: Any, tracker: Any) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher


def _tickets_of(backend: RunningBackend, sender_id: str) -> dict[str, Any]:
    return backend.get(f"/api/tickets?sender_id={quote(sender_id)}&limit=100")


async def _create_ticket(sender_id: str, **slots: Any) -> dict[str, Any]:
    events, _ = await _run(ActionCreateTicket(), _form_filled_tracker(sender_id, **slots))
    values = slot_values(events)
    assert values["ticket_outcome"] == "created", values
    return values


# --- ticket creation -------------------------------------------------------------------------------------------


async def test_ticket_is_created_and_its_number_told(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events, dispatcher = await _run(ActionCreateTicket(), _form_filled_tracker(sender_id))
    slots = slot_values(events)

    page = _tickets_of(backend, sender_id)
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
    slots = await _create_ticket(
        sender_id, priority="urgent", description="URGENT: checkout is down for everyone"
    )
    (ticket,) = _tickets_of(backend, sender_id)["items"]
    assert ticket["priority"] == "urgent"
    (told,) = render_response("utter_ticket_created", {**slots, "email": "jane@startup.io"})
    assert "marked urgent" in told


async def test_rerunning_the_action_for_the_same_message_creates_one_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = _form_filled_tracker(sender_id, message_id=f"{sender_id}-last-message")
    first, _ = await _run(ActionCreateTicket(), tracker)
    again, _ = await _run(
        ActionCreateTicket(), _form_filled_tracker(sender_id, message_id=f"{sender_id}-last-message")
    )

    assert slot_values(first)["ticket_id"] == slot_values(again)["ticket_id"]
    assert _tickets_of(backend, sender_id)["total"] == 1

    # a new message (a new request by the customer) is a new ticket
    await _run(
        ActionCreateTicket(), _form_filled_tracker(sender_id, message_id=f"{sender_id}-another-message")
    )
    assert _tickets_of(backend, sender_id)["total"] == 2


async def test_client_raises_a_typed_error_for_4xx(backend: RunningBackend, backend_url: str) -> None:
    async with BackendClient() as client:
        with pytest.raises(BackendError) as refused:
            await client.create_ticket(description="the app keeps crashing", email="not-an-email")
        with pytest.raises(BackendError) as missing:
            await client.get_ticket(987654321)
    assert refused.value.status == 400 and refused.value.is_client_error
    assert "email" in refused.value.fields
    assert not isinstance(refused.value, BackendUnavailable)
    assert missing.value.status == 404 and missing.value.is_not_found
    assert "not found" in missing.value.message


async def test_reset_forgets_a_cancelled_attempt_but_keeps_the_email() -> None:
    tracker = _form_filled_tracker("reset-test")
    events, _ = await _run(ActionResetTicketForm(), tracker)
    slots = slot_values(events)
    assert slots["description"] is None and slots["priority"] is None and slots["requested_slot"] is None
    assert "email" not in slots


# --- ticket status ---------------------------------------------------------------------------------------------


async def test_status_by_number(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    created = await _create_ticket(sender_id)
    number = created["ticket_id"]
    for said, value in [
        (f"what's the status of ticket {number}?", number),
        (f"#{number} status?", f"#{number}"),
    ]:
        tracker = make_tracker(
            sender_id, [user_event(said, "ticket_status", [entity("ticket_number", value)])], slots=created
        )
        events, dispatcher = await _run(ActionTicketStatus(), tracker)
        slots = slot_values(events)
        assert slots["lookup_outcome"] == "found"
        assert slots["lookup_number"] == number
        assert slots["lookup_status"] == "open"
        assert slots["lookup_priority"] == "high"
        assert slots["lookup_owned"] is True
        assert slots["ticket_number"] is None  # used up: a later "my last ticket" is not this number
        assert dispatcher.messages == []
        (told,) = render_response("utter_ticket_status", slots)
        assert f"#{number}" in told and "open" in told and "invoice PDF export" in told


async def test_status_of_someone_elses_ticket_hides_its_subject(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    number = (await _create_ticket(sender_id))["ticket_id"]
    stranger = make_tracker(
        f"{sender_id}-stranger",
        [user_event(f"status of ticket {number}", "ticket_status", [entity("ticket_number", number)])],
    )
    slots = slot_values((await _run(ActionTicketStatus(), stranger))[0])
    assert slots["lookup_outcome"] == "found"
    assert slots["lookup_owned"] is False and slots["lookup_subject"] is None
    (told,) = render_response("utter_ticket_status", slots)
    assert "invoice" not in told and f"#{number}" in told


async def test_status_number_found_in_the_text_when_no_entity(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    number = (await _create_ticket(sender_id))["ticket_id"]
    tracker = make_tracker(sender_id, [user_event(f"any news on ticket #{number}", "ticket_status")])
    slots = slot_values((await _run(ActionTicketStatus(), tracker))[0])
    assert slots["lookup_outcome"] == "found" and slots["lookup_number"] == number


async def test_status_of_my_last_ticket(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    await _create_ticket(sender_id, description="the calendar view is blank since this morning")
    latest = await _create_ticket(sender_id, description="my comments are not saving anymore", priority="low")
    tracker = make_tracker(sender_id, [user_event("any update on my last ticket?", "ticket_status")])
    events, _ = await _run(ActionTicketStatus(), tracker)
    slots = slot_values(events)
    assert slots["lookup_outcome"] == "found"
    assert slots["lookup_number"] == latest["ticket_id"]
    assert slots["lookup_subject"] == "my comments are not saving anymore"
    assert slots["lookup_priority"] == "low"


async def test_my_last_ticket_when_there_is_none(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = make_tracker(sender_id, [user_event("is my ticket fixed yet?", "ticket_status")])
    slots = slot_values((await _run(ActionTicketStatus(), tracker))[0])
    assert slots["lookup_outcome"] == "no_tickets"
    (told,) = render_response("utter_no_tickets_found", slots)
    assert "couldn't find a ticket" in told


async def test_unknown_ticket_number_gets_a_clear_message(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = make_tracker(
        sender_id, [user_event("check ticket 987654", "ticket_status", [entity("ticket_number", "987654")])]
    )
    slots = slot_values((await _run(ActionTicketStatus(), tracker))[0])
    assert slots["lookup_outcome"] == "not_found"
    (told,) = render_response("utter_ticket_not_found", slots)
    assert "couldn't find ticket #987654" in told


# --- feedback (CSAT and CES) ------------------------------------------------------------------------------------


def _feedback_tracker(
    sender_id: str,
    ticket_id: str | None,
    csat: Any = None,
    ces: Any = None,
    *,
    message_id: str | None = None,
    form: str = "feedback_form",
    topic: str | None = None,
):
    events = [
        user_event("the app keeps crashing", "report_problem", channel="socketio"),
        user_event("jane@startup.io", "inform", channel="socketio"),
        {"event": "active_loop", "name": form},
        user_event("★★★★", "rate", channel="socketio"),
        user_event("6", "rate", channel="socketio", message_id=message_id),
        {"event": "active_loop", "name": None},
    ]
    slots = {"ticket_id": ticket_id, "csat_score": csat, "ces_score": ces, "feedback_topic": topic}
    return make_tracker(sender_id, events, slots=slots)


def _feedback_of(backend: RunningBackend, **query: Any) -> list[dict[str, Any]]:
    params = "&".join(f"{name}={quote(str(value))}" for name, value in query.items())
    return backend.get(f"/api/feedback?{params}&limit=100")["items"]


def _conversation_id(backend: RunningBackend, sender_id: str, channel: str) -> int:
    """The backend's id of the conversation (sender_id, channel) (an upsert: it exists already here)."""
    body = json.dumps({"sender_id": sender_id, "channel": channel}).encode()
    request = urllib.request.Request(
        f"{backend.url}/api/conversations",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["id"])


def _feedback_of_conversation(backend: RunningBackend, sender_id: str, channel: str) -> list[dict[str, Any]]:
    conversation_id = _conversation_id(backend, sender_id, channel)
    return [item for item in _feedback_of(backend) if item["conversation_id"] == conversation_id]


async def test_csat_and_ces_are_stored_with_channel_intent_resolver_and_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await _create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(sender_id, ticket_id, 4.0, 6.0, message_id=f"{sender_id}-rating")
    events, dispatcher = await _run(ActionRecordFeedback(), tracker)
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "saved"
    # the round is over: a later rating question starts afresh
    assert slots["csat_score"] is None and slots["ces_score"] is None and slots["feedback_topic"] is None
    assert dispatcher.messages == []

    stored = {item["kind"]: item for item in _feedback_of(backend, ticket_id=ticket_id)}
    assert set(stored) == {"csat", "ces"}
    assert stored["csat"]["score"] == 4 and stored["ces"]["score"] == 6
    for feedback in stored.values():
        assert feedback["channel"] == "socketio"
        assert feedback["intent"] == "report_problem"
        assert feedback["resolver"] == "bot"
        assert feedback["ticket_id"] == int(ticket_id)
        assert feedback["conversation_id"] is not None

    # Rasa running the action again for the same message stores no second rating of either kind
    await _run(
        ActionRecordFeedback(),
        _feedback_tracker(sender_id, ticket_id, 4.0, 6.0, message_id=f"{sender_id}-rating"),
    )
    assert len(_feedback_of(backend, ticket_id=ticket_id)) == 2
    (told,) = render_response("utter_feedback_thanks", slots)
    assert "thanks" in told.lower()


async def test_csat_alone_is_stored_when_the_customer_stops_before_ces(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await _create_ticket(sender_id))["ticket_id"]
    events, _ = await _run(ActionRecordFeedback(), _feedback_tracker(sender_id, ticket_id, 1))
    assert slot_values(events)["feedback_outcome"] == "saved"
    (feedback,) = _feedback_of(backend, ticket_id=ticket_id)
    assert feedback["kind"] == "csat" and feedback["score"] == 1


async def test_nothing_answered_is_skipped(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    events, _ = await _run(ActionRecordFeedback(), _feedback_tracker(sender_id, None))
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "skipped"
    (told,) = render_response("utter_feedback_skipped", slots)
    assert "skip" in told


async def test_onboarding_ces_is_attributed_to_onboarding_not_the_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await _create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(
        sender_id, ticket_id, ces="7", form="onboarding_feedback_form", topic="onboarding"
    )
    events, _ = await _run(ActionRecordFeedback(), tracker)
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "saved" and slots["feedback_topic"] is None
    (feedback,) = _feedback_of_conversation(backend, sender_id, "socketio")
    assert feedback["kind"] == "ces" and feedback["score"] == 7
    assert feedback["intent"] == "onboarding"
    assert feedback["ticket_id"] is None
    assert _feedback_of(backend, ticket_id=ticket_id) == []


async def test_feedback_topic_slot_says_onboarding_when_no_form_is_in_the_events(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events = [user_event("I've created my first project", "onboarding_step_done"), user_event("6", "rate")]
    tracker = make_tracker(sender_id, events, slots={"ces_score": 6.0, "feedback_topic": "onboarding"})
    assert slot_values((await _run(ActionRecordFeedback(), tracker))[0])["feedback_outcome"] == "saved"
    (feedback,) = _feedback_of_conversation(backend, sender_id, "rest")
    assert (feedback["kind"], feedback["score"], feedback["intent"]) == ("ces", 6, "onboarding")


async def test_a_stale_onboarding_topic_does_not_capture_ticket_feedback(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await _create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(sender_id, ticket_id, 5, 7, topic="onboarding")  # feedback_form ran last
    assert slot_values((await _run(ActionRecordFeedback(), tracker))[0])["feedback_outcome"] == "saved"
    assert {item["intent"] for item in _feedback_of(backend, ticket_id=ticket_id)} == {"report_problem"}


async def test_csat_for_a_vanished_ticket_is_still_stored(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events, _ = await _run(ActionRecordFeedback(), _feedback_tracker(sender_id, "99999999", 5, 7))
    assert slot_values(events)["feedback_outcome"] == "saved"


# --- backend down ----------------------------------------------------------------------------------------------


async def test_backend_down_create_ticket_says_so_and_keeps_the_details(
    backend_down: str, sender_id: str
) -> None:
    events, dispatcher = await _run(ActionCreateTicket(), _form_filled_tracker(sender_id))
    slots = slot_values(events)
    assert slots["ticket_outcome"] == "unavailable"
    assert "description" not in slots and "email" not in slots  # kept for the retry
    (told,) = render_response("utter_ticket_not_saved", slots)
    assert "NOT saved" in told and "again" in told


async def test_backend_down_status_lookup_says_so(backend_down: str, sender_id: str) -> None:
    tracker = make_tracker(
        sender_id, [user_event("#12 status?", "ticket_status", [entity("ticket_number", "#12")])]
    )
    slots = slot_values((await _run(ActionTicketStatus(), tracker))[0])
    assert slots["lookup_outcome"] == "unavailable"
    (told,) = render_response("utter_lookup_unavailable", slots)
    assert "try again" in told


async def test_backend_down_feedback_says_it_was_not_saved(backend_down: str, sender_id: str) -> None:
    slots = slot_values((await _run(ActionRecordFeedback(), _feedback_tracker(sender_id, "3", 4, 5)))[0])
    assert slots["feedback_outcome"] == "unavailable"
    assert slots["csat_score"] is None and slots["ces_score"] is None  # asked afresh next time
    (told,) = render_response("utter_feedback_not_saved", slots)
    assert "couldn't save your rating" in told


async def test_client_raises_a_typed_error_when_unreachable(backend_down: str) -> None:
    async with BackendClient(attempts=2, backoff=0.01) as client:
        with pytest.raises(BackendUnavailable) as error:
            await client.get_ticket(1)
    assert error.value.status == 0
    assert error.value.message


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
