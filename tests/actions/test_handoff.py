"""action_handoff_to_human and action_check_human_only (actions/handoff.py), and the ticket form the handoff
hands over to when nobody can take the chat and the email is unknown (ValidateTicketForm asks only the email,
then action_create_ticket asks for the handoff's ticket).

The routing calls are answered by a local server speaking the live-handoff contract (`routing` fixture,
routing_contract_backend.py: the real backend needs an agent online to queue a handoff, see there);
test_handoff_backend.py runs the same action against the real cs_backend.
"""

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
    user_event,
)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from routing_contract_backend import RoutingContractBackend

from actions.api.outbox import default_outbox
from actions.handoff import (
    HANDOFF_INTRO,
    HUMAN_ONLY_DEFAULT,
    ActionCheckHumanOnly,
    ActionHandoffToHuman,
    handoff_description,
    handoff_detail,
    handoff_priority,
    handoff_reason,
    human_only_intents,
    recent_customer_messages,
    topic_skill,
    wait_minutes,
)
from actions.tickets import ActionCreateTicket, ValidateTicketForm


def _reverted() -> dict[str, Any]:
    return {"event": "rewind", "timestamp": 0}


def bot_said(response: str) -> dict[str, Any]:
    """A bot message as Rasa records a response sent by an action (its name in `utter_action`)."""
    return {"event": "bot", "timestamp": 0, "text": "…", "metadata": {"utter_action": response}}


def _two_misses_then_yes() -> list[dict[str, Any]]:
    """Two messages the NLU did not understand (the fallback loop reverted the first), the offer of a
    person, then "yes"."""
    first = user_event("my stuff vanished from the thingy", "nlu_fallback", confidence=0.3)
    second = user_event("the board thing, all gone since this morning", "nlu_fallback", confidence=0.35)
    return [
        user_event("hi", "greet"),
        first,
        action_event("action_two_stage_fallback"),
        user_event("/out_of_scope", "out_of_scope"),
        second,
        action_event("action_two_stage_fallback"),
        bot_said("utter_offer_human"),
        user_event("yes", "affirm"),
    ]


def _tracker(sender_id: str, events: Sequence[dict[str, Any]], **slots: Any) -> Tracker:
    return make_tracker(sender_id, list(events), slots=slots)


async def _run(tracker: Any) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # the rules speak the utter_handoff_* responses
    slots = slot_values(events)
    assert set(slots) <= set(DOMAIN["slots"]) | {"requested_slot"}, set(slots) - set(DOMAIN["slots"])
    return slots


# --- what the handoff carries -------------------------------------------------------------------------------


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


def test_description_detail_and_priority() -> None:
    assert handoff_description([]) == HANDOFF_INTRO == "Customer asked to talk to a person."
    assert handoff_description(["a b", "c\nd"]) == (
        "Customer asked to talk to a person. Their last messages: “a b” / “c d”"
    )
    long = handoff_description(["x" * 900, "y" * 900])
    assert len(handoff_detail(long)) == 1000 and handoff_detail(long).endswith("…")
    assert handoff_detail("short") == "short"
    assert handoff_priority(["hi", "production is down, this is urgent"]) == "urgent"
    assert handoff_priority(["it's not urgent", "just a question"]) == "normal"
    assert handoff_priority([]) == "normal"


def test_the_skill_comes_from_the_latest_topic_of_the_session() -> None:
    def skill(*events: dict[str, Any]) -> str | None:
        return topic_skill(_tracker("skill", events))

    invoices = user_event("where are my invoices", "billing_invoice")
    assert skill(invoices, user_event("a human", "request_human")) == "billing"
    assert skill(user_event("refund me", "refund_request"), user_event("yes", "affirm")) == "billing"
    assert skill(user_event("I can't log in", "account_locked")) == "account"
    assert skill(user_event("it crashes", "report_problem"), user_event("thanks", "thank")) == "technical"
    assert skill(user_event("delete my data", "data_deletion")) == "privacy"
    # the latest topic decides; a topic needing no particular skill needs none
    assert skill(user_event("refund me", "refund_request"), user_event("what next?", "get_started")) is None
    assert skill(user_event("hi", "greet"), user_event("a person please", "request_human")) is None
    # an earlier session's topic is not this one's
    assert skill(user_event("refund", "refund_request"), {"event": "session_started"}) is None


def test_the_wait_is_told_in_whole_minutes() -> None:
    assert [wait_minutes(s, "en") for s in (0, 1, 60, 61, 150, 3600)] == ["1", "1", "1", "2", "3", "60"]
    assert wait_minutes(None, "en") == "a few"
    assert wait_minutes(None, "zh") == "几" and wait_minutes(150, "zh") == "3"


def test_the_reason_says_how_the_customer_got_here() -> None:
    def reason(events: list[dict[str, Any]], **slots: Any) -> str:
        return handoff_reason(_tracker("reason", events, **slots), HUMAN_ONLY_DEFAULT)

    assert reason([user_event("talk to a human", "request_human")]) == "customer_request"
    assert reason(_two_misses_then_yes()) == "misunderstood"
    # the "Yes, get me a person" button of the same offer
    assert reason([*_two_misses_then_yes()[:-1], user_event("/request_human", "request_human")]) == (
        "misunderstood"
    )
    low = [user_event("1", "rate"), bot_said("utter_offer_human_low_csat"), user_event("yes", "affirm")]
    assert reason(low) == "low_csat"
    human_only = [user_event("delete all my data", "data_deletion")]
    assert reason(human_only, human_only_topic=True) == "human_only_category"
    assert reason(human_only, human_only_topic=False) == "customer_request"
    # an offer answered with something else, and a request later: the customer's own request
    later = [bot_said("utter_offer_human"), user_event("no", "deny"), bot_said("utter_how_can_help")]
    assert reason([*later, user_event("a human", "request_human")]) == "customer_request"


def test_human_only_intents_come_from_the_environment() -> None:
    assert human_only_intents({}) == HUMAN_ONLY_DEFAULT == {"data_deletion", "refund_request"}
    assert human_only_intents({"HUMAN_ONLY_INTENTS": "  "}) == HUMAN_ONLY_DEFAULT
    assert human_only_intents({"HUMAN_ONLY_INTENTS": "none"}) == set()
    assert human_only_intents({"HUMAN_ONLY_INTENTS": "account_locked, data_deletion"}) == {
        "account_locked",
        "data_deletion",
    }
    # only the intents whose rules ask action_check_human_only can be
    assert human_only_intents({"HUMAN_ONLY_INTENTS": "greet,account_locked"}) == {"account_locked"}


@pytest.mark.parametrize(
    ("configured", "intent", "human_only"),
    [
        (None, "data_deletion", True),
        (None, "refund_request", True),
        (None, "account_locked", False),
        ("account_locked", "account_locked", True),
        ("account_locked", "data_deletion", False),
        ("none", "data_deletion", False),
    ],
)
async def test_check_human_only(
    monkeypatch: pytest.MonkeyPatch, configured: str | None, intent: str, human_only: bool
) -> None:
    if configured is None:
        monkeypatch.delenv("HUMAN_ONLY_INTENTS", raising=False)
    else:
        monkeypatch.setenv("HUMAN_ONLY_INTENTS", configured)
    tracker = _tracker("human-only", [user_event("…", intent)])
    dispatcher = CollectingDispatcher()
    events = await ActionCheckHumanOnly().run(dispatcher, tracker, DOMAIN)
    assert slot_values(events) == {"human_only_topic": human_only} and dispatcher.messages == []


# --- an agent can take it: queued or offered ----------------------------------------------------------------


async def test_a_queued_handoff_tells_the_place_in_line_and_the_wait(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    events = [
        user_event("I was charged twice for March", "refund_request", channel="socketio"),
        user_event("our production is down, this is urgent", "nlu_fallback", channel="socketio"),
        user_event("I want to talk to a person", "request_human", channel="socketio"),
    ]
    slots = await _run(_tracker(sender_id, events, email="Jane@Startup.io"))

    (call,) = routing.calls("POST", "/api/routing/handoffs")
    assert call.body == {
        "sender_id": sender_id,
        "channel": "socketio",
        "email": "Jane@startup.io",
        "language": "en",
        "skill": "billing",
        "priority": "urgent",
        "reason": "customer_request",
        "detail": (
            "Customer asked to talk to a person. Their last messages: “I was charged twice for March” / "
            "“our production is down, this is urgent” / “I want to talk to a person”"
        ),
    }
    assert call.headers["Idempotency-Key"].startswith("rasa-handoff-")
    (handoff,) = routing.handoffs.values()
    assert slots["handoff_outcome"] == "queued"
    assert slots["handoff_id"] == str(handoff["id"])
    assert slots["handoff_position"] == "2" and slots["handoff_wait_minutes"] == "3"
    assert slots["handoff_end"] is None and slots["feedback_resolver"] is None
    (told,) = render_response("utter_handoff_queued", slots)
    assert "number 2 in line, about 3 min" in told


async def test_the_same_message_handed_over_twice_is_one_handoff(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    tracker = _tracker(sender_id, [user_event("I need a real person", "request_human")])
    first = await _run(tracker)
    second = await _run(tracker)
    assert first["handoff_id"] == second["handoff_id"]
    assert len(routing.handoffs) == 1 and len(routing.calls("POST", "/api/routing/handoffs")) == 2


async def test_an_offered_handoff_names_the_agent(routing: RoutingContractBackend, sender_id: str) -> None:
    routing.availability = "assigned"
    slots = await _run(_tracker(sender_id, [user_event("a human please", "request_human")]))
    assert slots["handoff_outcome"] == "assigned"
    assert slots["handoff_agent_name"] == "Ana" and slots["handoff_agent_id"] == "7"
    (told,) = render_response("utter_handoff_assigned", slots)
    assert "Ana will join in a moment" in told
    # no email known: none is sent (cs_backend may know the customer's own)
    assert "email" not in routing.calls("POST", "/api/routing/handoffs")[0].body


async def test_a_customer_the_bot_speaks_chinese_with_goes_to_an_agent_speaking_it(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    events = [
        user_event("我的账户被锁定了", "nlu_fallback"),
        user_event("我想和人工客服谈谈", "request_human"),
    ]
    slots = await _run(_tracker(sender_id, events, language="zh"))
    assert routing.calls("POST", "/api/routing/handoffs")[0].body["language"] == "zh"
    # ... and is told their place in Chinese
    (told,) = render_response("utter_handoff_queued", {**slots, "language": "zh"})
    assert told.startswith("我已为您申请人工客服。您目前排在第 2 位，预计等待约3分钟。")


async def test_the_language_sent_is_the_conversations_not_the_script_of_a_message(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    # "English please" was said: the conversation is in English even if a name is written in Chinese.
    events = [user_event("my name is 王伟, I need a person", "request_human")]
    await _run(_tracker(sender_id, events, language="en"))
    assert routing.calls("POST", "/api/routing/handoffs")[0].body["language"] == "en"


@pytest.mark.parametrize(
    ("history", "slots", "reason"),
    [
        (_two_misses_then_yes(), {}, "misunderstood"),
        (
            [user_event("1", "rate"), bot_said("utter_offer_human_low_csat"), user_event("yes", "affirm")],
            {},
            "low_csat",
        ),
        (
            [user_event("delete my personal data", "data_deletion")],
            {"human_only_topic": True},
            "human_only_category",
        ),
    ],
)
async def test_the_reason_is_sent(
    routing: RoutingContractBackend,
    sender_id: str,
    monkeypatch: pytest.MonkeyPatch,
    history: list[dict[str, Any]],
    slots: dict[str, Any],
    reason: str,
) -> None:
    monkeypatch.delenv("HUMAN_ONLY_INTENTS", raising=False)
    await _run(_tracker(sender_id, history, **slots))
    body = routing.calls("POST", "/api/routing/handoffs")[0].body
    assert body["reason"] == reason
    if reason == "human_only_category":
        assert body["skill"] == "privacy"


# --- nobody can take it now: a ticket -----------------------------------------------------------------------


async def test_nobody_online_with_the_email_known_the_ticket_is_told(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.availability = "no_agent"
    slots = await _run(_tracker(sender_id, _two_misses_then_yes(), email="jane@startup.io"))
    (ticket,) = routing.tickets.values()
    assert slots["handoff_outcome"] == "ticket_created"
    assert slots["ticket_id"] == str(ticket["id"]) and slots["email"] == "jane@startup.io"
    assert slots["handoff_unavailable"] == "no_agent" and slots["handoff_reopens"] is None
    assert slots["handoff_id"] is None
    assert slots["description"] is None and slots["form_hint"] is None
    (told,) = render_response("utter_handoff_ticket_created", slots)
    assert told == (
        f"Nobody from our support team can take a live chat right now, so I've opened ticket #{ticket['id']} "
        "with this conversation. They'll reply by email to jane@startup.io, usually within 4 working hours."
    )


async def test_outside_business_hours_the_ticket_says_when_the_team_is_back(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.availability = "closed"
    routing.known_email = "owner@startup.io"  # the customer's record, not typed in this chat
    slots = await _run(_tracker(sender_id, [user_event("a person please", "request_human")]))
    (ticket,) = routing.tickets.values()
    assert slots["handoff_outcome"] == "ticket_created"
    assert slots["email"] == "owner@startup.io"  # read from the ticket, to tell where the answer goes
    assert slots["handoff_unavailable"] == "closed" and slots["handoff_reopens"] == "01 Dec 2026, 08:00 UTC"
    (told,) = render_response("utter_handoff_ticket_created", slots)
    assert told.startswith("Our support team is offline right now and back on 01 Dec 2026, 08:00 UTC")
    assert f"#{ticket['id']}" in told and "owner@startup.io" in told


async def test_nobody_online_and_no_email_the_form_asks_it_then_the_handoffs_ticket_is_opened(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.availability = "no_agent"
    history = _two_misses_then_yes()
    prepared = await _run(_tracker(sender_id, history))
    (handoff,) = routing.handoffs.values()
    assert prepared["handoff_outcome"] == "need_email"
    assert prepared["handoff_id"] == str(handoff["id"])
    assert prepared["description"].startswith("Customer asked to talk to a person. Their last messages: “hi”")
    assert prepared["form_hint"] == "handoff"
    (asked,) = render_response("utter_ask_email", prepared)
    assert asked.startswith("Nobody from our support team can take a live chat right now")

    # the form asked the email; its submission asks for the handoff's ticket, not a plain one
    last = user_event("jane@startup.io", "inform", [entity("email", "jane@startup.io")])
    filled = {**prepared, "email": "jane@startup.io"}
    tracker = make_tracker(sender_id, [*history, last], slots=filled)
    created = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), tracker, DOMAIN))
    (ticket,) = routing.tickets.values()
    assert routing.calls("POST", "/api/tickets") == []
    (call,) = routing.calls("POST", f"/api/routing/handoffs/{handoff['id']}/ticket")
    assert call.body == {"email": "jane@startup.io"}  # no key: the handoff has one ticket at most
    assert created["ticket_outcome"] == "handoff_ticket" and created["ticket_id"] == str(ticket["id"])
    assert created["handoff_id"] is None and created["description"] is None
    (told,) = render_response("utter_handoff_ticket_created", {**filled, **created})
    assert f"#{ticket['id']}" in told and "jane@startup.io" in told

    # Rasa running it again for the same message: the same ticket
    again = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), tracker, DOMAIN))
    assert again["ticket_id"] == created["ticket_id"] and len(routing.tickets) == 1


async def test_a_handoff_that_has_no_ticket_to_open_gets_a_plain_ticket(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    """409: the handoff was not closed as unavailable (it cannot be told apart from a stale slot)."""
    handoff = routing.open_handoff(sender_id, state="queued")
    slots = {
        "handoff_outcome": "need_email",
        "handoff_id": str(handoff["id"]),
        "description": "Customer asked to talk to a person.",
        "priority": "normal",
        "email": "jane@startup.io",
    }
    tracker = make_tracker(sender_id, [user_event("jane@startup.io", "inform")], slots=slots)
    created = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), tracker, DOMAIN))
    assert created["ticket_outcome"] == "created"
    assert len(routing.calls("POST", "/api/tickets")) == 1


async def test_the_handoffs_ticket_not_saved_keeps_the_details(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    handoff = routing.open_handoff(sender_id, state="cancelled", unavailable="no_agent")
    routing.failing["/api/routing/handoffs/"] = 503
    slots = {
        "handoff_outcome": "need_email",
        "handoff_id": str(handoff["id"]),
        "description": "Customer asked to talk to a person.",
        "priority": "normal",
        "email": "jane@startup.io",
    }
    tracker = make_tracker(sender_id, [user_event("jane@startup.io", "inform")], slots=slots)
    created = slot_values(await ActionCreateTicket().run(CollectingDispatcher(), tracker, DOMAIN))
    assert created["ticket_outcome"] == "unavailable" and "handoff_id" not in created
    # The handoff's ticket was asked for (503: tried three times), and no plain ticket opened in its place.
    assert len(routing.calls("POST", f"/api/routing/handoffs/{handoff['id']}/ticket")) == 3
    assert routing.calls("POST", "/api/tickets") == []


# --- the handoff fails --------------------------------------------------------------------------------------


async def test_backend_down_says_the_handoff_is_unavailable(backend_down: str, sender_id: str) -> None:
    for slots in ({"email": "jane@startup.io"}, {}):
        result = await _run(_tracker(sender_id, [user_event("talk to a human", "request_human")], **slots))
        assert result == {"handoff_outcome": "unavailable"}
    assert render_response("utter_handoff_unavailable", result)


async def test_an_answer_that_breaks_the_contract_keeps_the_ticket_instead(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    tracker = _tracker(sender_id, [user_event("talk to a human", "request_human")], email="jane@startup.io")
    async with backend_breaking_its_contract(monkeypatch) as fake:
        slots = await _run(tracker)
    # the handoff, then the ticket instead: neither answered as the contract says, so the ticket is kept in
    # the outbox, to be sent again under its key until confirmed
    assert slots["handoff_outcome"] == "ticket_queued" and slots["ticket_id"] is None
    assert [request.path for request in fake.received] == ["/api/routing/handoffs", "/api/tickets"]
    (entry,) = await default_outbox().pending()
    assert entry.path == "/api/tickets" and entry.idempotency_key.startswith("rasa-handoff-ticket-")
    (told,) = render_response("utter_handoff_ticket_queued", slots)
    assert "saved and will reach the team shortly" in told and "jane@startup.io" in told


async def test_a_failing_handoff_falls_back_to_a_ticket(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    """cs_backend answers, but the handoff fails (its routing answers 500): a plain ticket still reaches a
    person, with the same description."""
    routing.failing["/api/routing/"] = 500
    slots = await _run(_tracker(sender_id, _two_misses_then_yes(), email="jane@startup.io"))
    (ticket,) = routing.tickets.values()
    assert slots["handoff_outcome"] == "ticket_created" and slots["ticket_id"] == str(ticket["id"])
    assert ticket["description"].startswith("Customer asked to talk to a person. Their last messages: “hi”")
    (call,) = routing.calls("POST", "/api/tickets")
    assert call.headers["Idempotency-Key"].startswith("rasa-handoff-ticket-")
    (told,) = render_response("utter_handoff_ticket_created", slots)
    assert f"#{ticket['id']}" in told


async def test_a_failing_handoff_without_email_asks_it_for_a_plain_ticket(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.failing["/api/routing/"] = 500
    slots = await _run(_tracker(sender_id, _two_misses_then_yes()))
    assert slots["handoff_outcome"] == "need_email" and slots["handoff_id"] is None


async def test_a_refused_email_hands_over_without_it(routing: RoutingContractBackend, sender_id: str) -> None:
    routing.refused_emails.add("jane@startup.io")
    slots = await _run(_tracker(sender_id, [user_event("a human", "request_human")], email="jane@startup.io"))
    assert slots["handoff_outcome"] == "queued"
    first, second = (call.body for call in routing.calls("POST", "/api/routing/handoffs"))
    assert first["email"] == "jane@startup.io" and "email" not in second


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
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.availability = "no_agent"
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

    # the form is complete (the priority was pre-set): the handoff's ticket is created
    final = {**state, **answered, "handoff_outcome": "need_email"}
    last = user_event("it's jane@startup.io", "inform", [entity("email", "jane@startup.io")])
    created = slot_values(
        await ActionCreateTicket().run(
            CollectingDispatcher(), make_tracker(sender_id, [*history, last], slots=final), DOMAIN
        )
    )
    assert created["ticket_outcome"] == "handoff_ticket"
    (ticket,) = routing.tickets.values()
    assert ticket["description"] == prepared["description"]  # the handoff's detail: the same text
    assert ticket["email"] == "jane@startup.io"


async def test_an_urgent_handoff_still_asks_with_the_handoff_wording(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    routing.availability = "no_agent"
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
