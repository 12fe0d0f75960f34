"""The relay loop (action_relay_to_agent) and the session start that re-enters it (actions/handoff.py).

cs_backend's calls are answered by a local server speaking the live-handoff contract (`routing` fixture,
routing_contract_backend.py): the real backend holds a handoff only with an agent online. The
notifications arrive as Rasa puts a trigger_intent into the tracker: an external user event whose entities
are the contract's.
"""

from __future__ import annotations

from typing import Any

import pytest
from action_test_support import DOMAIN, action_event, make_tracker, render_response, slot_values, user_event
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from routing_contract_backend import RoutingContractBackend

from actions.handoff import RELAY_LOOP, ActionRelayToAgent, ActionSessionStart


def external(intent: str, **entities: Any) -> dict[str, Any]:
    """An event as Rasa records `POST /conversations/{id}/trigger_intent` (entities as a flat dict)."""
    event = user_event(
        f"EXTERNAL: {intent}", intent, [{"entity": k, "value": v} for k, v in entities.items()]
    )
    event["metadata"] = {"is_external": True}
    return event


def relaying(sender_id: str, *events: dict[str, Any], handoff_id: int | None = 101, **slots: Any) -> Tracker:
    """The conversation inside the relay loop, its latest message the last of `events`."""
    history = [
        user_event("I want to talk to a person", "request_human"),
        action_event("action_handoff_to_human"),
        action_event(RELAY_LOOP),
        {"event": "active_loop", "name": RELAY_LOOP},
        action_event("action_listen"),
        *events,
    ]
    values = {"handoff_id": str(handoff_id) if handoff_id else None, "handoff_outcome": "queued", **slots}
    return make_tracker(sender_id, history, slots=values, active_loop=RELAY_LOOP)


async def relay(tracker: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN)
    slots = slot_values(events)
    assert set(slots) <= set(DOMAIN["slots"]) | {"requested_slot"}, set(slots) - set(DOMAIN["slots"])
    return events, dispatcher.messages


def loops(events: list[dict[str, Any]]) -> list[str | None]:
    return [event["name"] for event in events if event.get("event") == "active_loop"]


# --- starting the relay -------------------------------------------------------------------------------------


async def test_the_relay_starts_silently_without_relaying_the_request(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    tracker = make_tracker(
        sender_id,
        [user_event("I want to talk to a person", "request_human"), action_event("action_handoff_to_human")],
        slots={"handoff_id": "101", "handoff_end": "resolved", "feedback_resolver": "agent"},
    )
    events, messages = await relay(tracker)
    assert loops(events) == [RELAY_LOOP] and messages == []
    assert slot_values(events) == {"handoff_end": None, "feedback_resolver": None}
    assert routing.received == []  # nothing to tell cs_backend


# --- the customer's messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [("hello there", "greet"), ("how much does the pro plan cost?", "faq"), ("5", "rate"), ("stop", "stop")],
)
async def test_every_customer_message_goes_to_the_agent_and_the_bot_says_nothing(
    routing: RoutingContractBackend, sender_id: str, text: str, intent: str
) -> None:
    handoff = routing.open_handoff(sender_id, state="accepted")
    message = user_event(text, intent, message_id=f"{sender_id}-m1")
    events, messages = await relay(relaying(sender_id, message, handoff_id=handoff["id"]))
    assert events == [] and messages == []
    assert routing.customer_messages == [
        {"handoff_id": handoff["id"], "text": text, "message_id": f"{sender_id}-m1"}
    ]
    (call,) = routing.received
    assert call.path == f"/api/routing/handoffs/{handoff['id']}/customer-messages"


async def test_a_message_relayed_twice_is_stored_once(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    handoff = routing.open_handoff(sender_id, state="queued")
    tracker = relaying(sender_id, user_event("are you there?", "greet"), handoff_id=handoff["id"])
    await relay(tracker)
    events, messages = await relay(tracker)  # Rasa ran the action again for the same message
    assert events == [] and messages == [] and len(routing.customer_messages) == 1


@pytest.mark.parametrize(("state", "told"), [("resolved", "resolved"), ("cancelled", "cancelled")])
async def test_a_handoff_already_over_hands_the_conversation_back(
    routing: RoutingContractBackend, sender_id: str, state: str, told: str
) -> None:
    """The safety net when EXTERNAL_handoff_ended was lost: cs_backend stores nothing and says it is over."""
    handoff = routing.open_handoff(sender_id, state=state)
    events, messages = await relay(
        relaying(sender_id, user_event("hello?", "greet"), handoff_id=handoff["id"])
    )
    assert messages == [] and routing.customer_messages == []
    assert loops(events) == [None]
    slots = slot_values(events)
    assert slots["handoff_end"] == told
    if state == "resolved":
        assert slots["feedback_resolver"] == "agent"
        assert slots["handoff_agent_id"] == "7" and slots["handoff_id"] == str(handoff["id"])
    else:
        assert slots["handoff_id"] is None


async def test_a_message_that_could_not_reach_the_agent_is_said_honestly(
    backend_down: str, sender_id: str
) -> None:
    events, messages = await relay(relaying(sender_id, user_event("hello?", "greet")))
    assert events == []  # still relaying: the next message may get through
    assert [message["response"] for message in messages] == ["utter_handoff_message_not_delivered"]
    (told,) = render_response("utter_handoff_message_not_delivered", {})
    assert "did NOT reach" in told


async def test_a_handoff_unknown_to_cs_backend_ends_the_relay(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    events, messages = await relay(relaying(sender_id, user_event("hello?", "greet"), handoff_id=999))
    assert loops(events) == [None] and slot_values(events)["handoff_end"] == "cancelled" and messages == []


async def test_without_its_handoff_id_the_relay_asks_cs_backend_which_it_is(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    handoff = routing.open_handoff(sender_id, state="accepted")
    events, _ = await relay(relaying(sender_id, user_event("hello?", "greet"), handoff_id=None))
    assert events == [] and routing.customer_messages[0]["handoff_id"] == handoff["id"]


# --- cs_backend's notifications -----------------------------------------------------------------------------


async def test_the_agents_message_is_said_exactly_and_alone(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    text = "Hi, I'm Ana 👋 <b>not bold</b> — let me check your invoice."
    message = external("EXTERNAL_agent_message", handoff_id=101, agent_name="Ana", text=text)
    events, messages = await relay(relaying(sender_id, message))
    assert messages == [
        {
            "text": text,
            "buttons": [],
            "elements": [],
            "custom": {},
            "template": None,
            "response": None,
            "image": None,
            "attachment": None,
        }
    ]
    assert loops(events) == [] and slot_values(events) == {"handoff_id": "101", "handoff_agent_name": "Ana"}
    assert routing.received == []  # no backend call


async def test_the_place_in_line_is_told_as_it_changes(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    update = external("EXTERNAL_handoff_update", handoff_id=101, state="queued", position=1, wait_minutes=2)
    events, messages = await relay(relaying(sender_id, update))
    ((message),) = messages
    assert message["response"] == "utter_handoff_position"
    told = {name: message[name] for name in ("handoff_position", "handoff_wait_minutes")}
    assert render_response("utter_handoff_position", told) == ["You're number 1 in line, about 2 min."]
    assert slot_values(events) == {"handoff_id": "101", **told}
    assert routing.received == []


async def test_the_agent_joining_is_told(routing: RoutingContractBackend, sender_id: str) -> None:
    update = external("EXTERNAL_handoff_update", handoff_id=101, state="accepted", agent_name="Ana")
    events, messages = await relay(relaying(sender_id, update))
    ((message),) = messages
    assert message["response"] == "utter_handoff_agent_joined"
    told = {"handoff_agent_name": message["handoff_agent_name"]}
    assert render_response("utter_handoff_agent_joined", told) == ["You're now chatting with Ana."]
    assert slot_values(events)["handoff_agent_name"] == "Ana"


async def test_an_update_without_its_values_says_nothing(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    update = external("EXTERNAL_handoff_update", handoff_id=101, state="queued")
    events, messages = await relay(relaying(sender_id, update))
    assert messages == [] and loops(events) == []


async def test_resolved_hands_back_for_the_feedback_about_the_agent(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    ended = external(
        "EXTERNAL_handoff_ended", handoff_id=101, outcome="resolved", agent_id=7, agent_name="Ana"
    )
    events, messages = await relay(relaying(sender_id, ended, csat_score=4.0, ces_score=6.0))
    assert messages == [] and loops(events) == [None]
    slots = slot_values(events)
    assert slots["handoff_end"] == "resolved"
    assert slots["feedback_resolver"] == "agent"
    assert slots["handoff_agent_id"] == "7" and slots["handoff_id"] == "101"
    assert slots["csat_score"] is None and slots["ces_score"] is None  # a fresh round of questions
    assert render_response("utter_handoff_resolved", slots)
    assert routing.received == []


async def test_cancelled_hands_back_without_questions(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    ended = external("EXTERNAL_handoff_ended", handoff_id=101, outcome="cancelled")
    events, messages = await relay(relaying(sender_id, ended))
    assert messages == [] and loops(events) == [None]
    assert slot_values(events) == {"handoff_end": "cancelled", "handoff_id": None, "feedback_resolver": None}
    assert render_response("utter_handoff_cancelled", {})


async def test_the_late_end_of_an_earlier_handoff_does_not_end_this_one(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    ended = external("EXTERNAL_handoff_ended", handoff_id=55, outcome="resolved", agent_id=3)
    events, messages = await relay(relaying(sender_id, ended, handoff_id=101))
    assert events == [] and messages == []


async def test_other_notifications_keep_the_bot_silent(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    nudge = external("EXTERNAL_onboarding_nudge", onboarding_step="invite_teammate")
    events, messages = await relay(relaying(sender_id, nudge))
    assert events == [] and messages == [] and routing.received == []


# --- notifications reaching a conversation that is not relaying ---------------------------------------------


async def test_an_agents_message_outside_the_relay_is_delivered_and_the_relay_resumes(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    message = external("EXTERNAL_agent_message", handoff_id=101, agent_name="Ana", text="Still there?")
    tracker = make_tracker(sender_id, [message], slots={"handoff_end": "cancelled"})
    events, messages = await relay(tracker)
    assert [m["text"] for m in messages] == ["Still there?"]
    assert loops(events) == [RELAY_LOOP]
    assert slot_values(events) == {
        "handoff_end": None,
        "feedback_resolver": None,
        "handoff_id": "101",
        "handoff_agent_name": "Ana",
    }


async def test_an_end_outside_the_relay_changes_nothing(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    ended = external("EXTERNAL_handoff_ended", handoff_id=101, outcome="resolved", agent_id=7)
    events, messages = await relay(make_tracker(sender_id, [ended], slots={"handoff_end": "resolved"}))
    assert events == [{"event": "slot", "timestamp": None, "name": "handoff_end", "value": "not_relaying"}]
    assert messages == []


# --- session start ------------------------------------------------------------------------------------------


def _previous_session(sender_id: str) -> Tracker:
    metadata = {"event": "slot", "timestamp": 1.0, "name": "session_started_metadata", "value": {"page": "/"}}
    metadata["metadata"] = {"source": "widget"}
    events = [
        user_event("hi", "greet"),
        {"event": "slot", "timestamp": 1.0, "name": "email", "value": "jane@startup.io"},
        {"event": "slot", "timestamp": 1.0, "name": "plan", "value": "pro"},
        metadata,
    ]
    return make_tracker(sender_id, events, slots={"email": "jane@startup.io", "plan": "pro"})


async def _start(tracker: Tracker, domain: dict[str, Any] = DOMAIN) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert events[0]["event"] == "session_started"
    assert events[-1] == {
        "event": "action",
        "name": "action_listen",
        "policy": None,
        "confidence": None,
        "timestamp": None,
    }
    return events


async def test_a_new_session_carries_the_slots_over_as_rasa_does(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    events = await _start(_previous_session(sender_id))
    carried = [(e["name"], e["value"]) for e in events if e["event"] == "slot"]
    assert carried == [
        ("email", "jane@startup.io"),
        ("plan", "pro"),
        ("session_started_metadata", {"page": "/"}),
    ]
    assert events[3]["metadata"] == {"source": "widget"}
    assert loops(events) == []
    (call,) = routing.received
    assert call.path == "/api/routing/conversations/active-handoff" and call.query == {"sender_id": sender_id}


async def test_a_conversation_an_agent_holds_goes_back_into_the_relay(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    handoff = routing.open_handoff(sender_id, state="accepted")
    events = await _start(_previous_session(sender_id))
    assert loops(events) == [RELAY_LOOP]
    slots = slot_values(events)
    assert slots["handoff_id"] == str(handoff["id"])
    assert slots["handoff_agent_name"] == "Ana" and slots["handoff_agent_id"] == "7"
    assert slots["email"] == "jane@startup.io"  # still carried over
    # the loop is set after the carried-over slots, right before action_listen
    assert events[-2] == {"event": "active_loop", "name": RELAY_LOOP, "timestamp": None}


async def test_without_cs_backend_the_session_starts_as_usual(backend_down: str, sender_id: str) -> None:
    events = await _start(_previous_session(sender_id))
    assert loops(events) == [] and len([e for e in events if e["event"] == "slot"]) == 3


async def test_no_slots_are_carried_over_when_the_domain_says_so(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    domain = {
        **DOMAIN,
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": False},
    }
    events = await _start(_previous_session(sender_id), domain)
    assert [e["event"] for e in events] == ["session_started", "action"]


async def test_on_the_widget_the_agents_message_is_marked_as_theirs(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    """The widget's channel turns the mark into `sender: {"kind": "agent", "name": ...}`
    (bot/channels/socketio.py), so the widget labels the message; other channels get the plain text."""
    message = external("EXTERNAL_agent_message", handoff_id=101, agent_name="Ana", text="Hello <b>there</b>")
    message["input_channel"] = "socketio"
    _, messages = await relay(relaying(sender_id, message))
    marked = [(m["text"], m["custom"]) for m in messages]
    assert marked == [("Hello <b>there</b>", {"agent_message": {"name": "Ana"}})]
