"""actions/identity.py against the real cs_backend: action_link_account redeems a link code for the Slack or
Telegram user (and answers each refusal with its response), and action_session_start binds a verified
website user's conversation to their customer."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from action_test_support import entity, make_tracker, run_action, slot_event, user_event
from conftest import RunningBackend

from actions.handoff import ActionSessionStart
from actions.identity import VERIFIED_USER_KEY, ActionLinkAccount
from actions.tickets import ActionTicketStatus


def link_code(backend: RunningBackend, user_id: str) -> str:
    user_hash = hmac.new(backend.website_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    issued = backend.post("/api/identities/link-codes", {"user_id": user_id, "user_hash": user_hash})
    return str(issued["code"])


def bind(backend: RunningBackend, user_id: str, sender_id: str) -> Any:
    body = {"user_id": user_id, "sender_id": sender_id, "channel": "socketio"}
    return backend.post("/api/identities/website/bindings", body)


def responses(dispatcher: Any) -> list[str]:
    return [message["response"] for message in dispatcher.messages]


def link_tracker(sender_id: str, text: str, code: str | None, channel: str = "telegram") -> Any:
    entities = [entity("link_code", code)] if code is not None else []
    return make_tracker(sender_id, [user_event(text, "link_account", entities, channel=channel)])


async def test_a_typed_code_links_the_telegram_user_to_the_website_customer(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    user_id = f"user-{sender_id}"
    code = link_code(backend, user_id)
    events, dispatcher = await run_action(ActionLinkAccount(), link_tracker(sender_id, f"link {code}", code))
    assert events == []
    assert responses(dispatcher) == ["utter_link_account_done"]
    # The same code again is used up; an unknown code is refused the same way.
    _, again = await run_action(ActionLinkAccount(), link_tracker(sender_id, f"link {code}", code))
    assert responses(again) == ["utter_link_account_invalid_code"]


async def test_the_code_is_read_from_the_text_when_no_entity_was_found(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    code = link_code(backend, f"user-{sender_id}")
    tracker = link_tracker(sender_id, f"my code: {code}", None, channel="slack")
    _, dispatcher = await run_action(ActionLinkAccount(), tracker)
    assert responses(dispatcher) == ["utter_link_account_done"]


async def test_refusals_are_answered_with_their_responses(backend_url: str, sender_id: str) -> None:
    _, no_code = await run_action(ActionLinkAccount(), link_tracker(sender_id, "link my account", None))
    assert responses(no_code) == ["utter_link_account_ask_code"]
    widget = link_tracker(sender_id, "link 123456", "123456", channel="socketio")
    _, on_the_website = await run_action(ActionLinkAccount(), widget)
    assert responses(on_the_website) == ["utter_link_account_not_here"]


async def test_an_unreachable_backend_is_said_plainly(backend_down: str, sender_id: str) -> None:
    _, dispatcher = await run_action(ActionLinkAccount(), link_tracker(sender_id, "link 123456", "123456"))
    assert responses(dispatcher) == ["utter_link_account_unavailable"]


async def test_session_start_binds_the_verified_website_user(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    user_id = f"user-{sender_id}"
    # An anonymous visitor's progress, before they sign in.
    visitor = backend.post(
        "/api/onboarding/progress", {"step": "sign_up", "sender_id": sender_id, "channel": "socketio"}
    )
    metadata = {VERIFIED_USER_KEY: user_id}
    earlier = user_event("hi", "greet", channel="socketio")
    # Rasa starts the session for the first message: it has just set the metadata slot.
    tracker = make_tracker(
        sender_id,
        [earlier, slot_event("session_started_metadata", metadata)],
        slots={"session_started_metadata": metadata},
    )
    events, _ = await run_action(ActionSessionStart(), tracker)
    assert events[0]["event"] == "session_started"
    bound = backend.get(f"/api/onboarding/progress?sender_id={sender_id}&channel=socketio")
    assert bound["customer_id"] != visitor["customer_id"]  # the visitor's anonymous customer was merged
    assert [step["key"] for step in bound["steps"] if step["done"]] == ["sign_up"]
    again = bind(backend, user_id, sender_id)
    assert again == {**again, "customer_id": bound["customer_id"], "merged_customer_id": None}


async def test_a_visitor_who_signs_in_mid_conversation_is_bound_by_the_session_start_message(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    user_id = f"user-{sender_id}"
    session_start = user_event("/session_start", "session_start", channel="socketio")
    session_start["metadata"] = {VERIFIED_USER_KEY: user_id}
    tracker = make_tracker(sender_id, [user_event("hi", "greet", channel="socketio"), session_start])
    events, _ = await run_action(ActionSessionStart(), tracker)
    # Recorded in the slot, which the widget's channel reads to know whom the session is for.
    recorded = [e for e in events if e.get("name") == "session_started_metadata"]
    assert recorded[-1]["value"] == {VERIFIED_USER_KEY: user_id}
    bound = backend.get(f"/api/onboarding/progress?sender_id={sender_id}&channel=socketio")
    binding = bind(backend, user_id, sender_id)
    assert binding["merged_customer_id"] is None
    assert bound["customer_id"] in (None, binding["customer_id"])


async def test_a_visitors_session_binds_nothing(backend_url: str, sender_id: str) -> None:
    metadata = {VERIFIED_USER_KEY: None}
    slot = slot_event("session_started_metadata", metadata)
    tracker = make_tracker(sender_id, [slot], slots={"session_started_metadata": metadata})
    events, _ = await run_action(ActionSessionStart(), tracker)
    assert [e["event"] for e in events] == ["session_started", "slot", "action"]


async def status_lookup(sender_id: str, number: int | None = None) -> dict[str, Any]:
    entities = [entity("ticket_number", str(number))] if number is not None else []
    said = f"status of ticket {number}" if number is not None else "my last ticket"
    tracker = make_tracker(sender_id, [user_event(said, "ticket_status", entities, channel="socketio")])
    events, _ = await run_action(ActionTicketStatus(), tracker)
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


async def test_my_last_ticket_is_found_in_a_later_session_of_the_verified_user(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    user_id = f"user-{sender_id}"
    monday, friday = f"{sender_id}-monday", f"{sender_id}-friday"
    opened = {"description": "Export fails", "email": "ada@example.com", "sender_id": monday}
    ticket = backend.post("/api/tickets", {**opened, "channel": "socketio"})
    bind(backend, user_id, monday)
    assert (await status_lookup(friday))["lookup_outcome"] == "no_tickets"  # a visitor's new conversation
    bind(backend, user_id, friday)
    found = await status_lookup(friday)
    assert (found["lookup_outcome"], found["lookup_number"]) == ("found", str(ticket["id"]))
    by_number = await status_lookup(friday, ticket["id"])
    assert by_number["lookup_outcome"] == "found"
    # Another visitor asking for that number learns nothing.
    stranger = f"{sender_id}-stranger"
    backend.post(
        "/api/tickets",
        {"description": "Mine", "email": "eve@example.com", "sender_id": stranger, "channel": "socketio"},
    )
    assert (await status_lookup(stranger, ticket["id"]))["lookup_outcome"] == "not_found"
