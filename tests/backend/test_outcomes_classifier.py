"""The outcome classifier (cs_backend/outcomes/classifier.py): pure, table-driven, on Rasa-shaped events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from cs_backend.outcomes.classifier import BadEvent, ConversationState, classify, parse_event, to_datetime

from .rasa_events import (
    FALLBACK_LEFT,
    FAQ_RESOLVED,
    FORM_LEFT_OPEN,
    RESTART_IN_FORM,
    TICKET_BACKEND_DOWN,
    TICKET_CREATED,
    TICKET_THEN_NEW_SESSION,
    action,
    active_loop,
    bot,
    conversation,
    external_user,
    rejected,
    session_started,
    slot,
    user,
    user_featurization,
)

T0 = 1_780_000_000.0  # 2026-05-28
THIRTY_MINUTES = timedelta(minutes=30)
LATER = to_datetime(T0) + timedelta(days=1)  # every session is idle by then


def opening(at: float = T0, sender_id: str = "s1") -> list[dict[str, Any]]:
    """How Rasa opens every session: action_session_start, session_started, action_listen."""
    return [
        action("action_session_start", at, sender_id),
        session_started(at + 0.001, sender_id),
        action("action_listen", at + 0.001, sender_id),
    ]


def turn(
    intent: str, text: str, at: float, *, replies: Sequence[tuple[str, str]] = (), sender_id: str = "s1"
) -> list[dict[str, Any]]:
    """A customer message and the bot's reply actions (name, text): as Rasa logs a turn."""
    events = [user(intent, text, at, sender_id), user_featurization(at + 0.02, sender_id)]
    for offset, (name, reply) in enumerate(replies, start=1):
        events.append(action(name, at + 0.02 * offset, sender_id))
        if reply:
            events.append(bot(reply, at + 0.02 * offset, sender_id, utter_action=name))
    events.append(action("action_listen", at + 0.5, sender_id))
    return events


def recorded(script: list[tuple[Any, ...]], sender_id: str = "s1") -> list[dict[str, Any]]:
    return conversation(script, sender_id, T0)


@dataclass(frozen=True)
class Case:
    id: str
    events: list[dict[str, Any]]
    expected: list[tuple[str, list[str]]]  # (outcome, intents) per decided session, in order


GREETING = [("utter_greet", "Hi! I'm the Acme Cloud support assistant.")]
# What the onboarding nudge job makes Rasa do (POST /conversations/{id}/trigger_intent).
NUDGE = [
    external_user("EXTERNAL_onboarding_nudge", T0 + 1),
    action("utter_onboarding_nudge", T0 + 1.1),
    bot("Still there? Next step: verify your email.", T0 + 1.1),
]

CASES = [
    # --- recorded conversations of the project's assistant ---
    Case(
        "recorded: ticket created (and the CSAT form rejected by a goodbye)",
        recorded(TICKET_CREATED),
        [("ticket_created", ["greet", "report_problem", "inform", "goodbye"])],
    ),
    Case(
        "recorded: FAQ answered",
        recorded(FAQ_RESOLVED),
        [("resolved_by_bot", ["greet", "get_started", "thank", "goodbye"])],
    ),
    Case(
        "recorded: left with the ticket form open",
        recorded(FORM_LEFT_OPEN),
        [("abandoned", ["report_problem"])],
    ),
    Case(
        "recorded: left after a fallback (utter_default)",
        recorded(FALLBACK_LEFT),
        [("abandoned", ["greet", "nlu_fallback"])],
    ),
    Case(
        "recorded: ticket action ran but reported ticket_outcome=unavailable",
        recorded(TICKET_BACKEND_DOWN),
        [("resolved_by_bot", ["report_problem", "inform"])],
    ),
    Case(
        "recorded: /session_start splits; carried-over ticket_id is not the new session's ticket",
        recorded(TICKET_THEN_NEW_SESSION),
        [("ticket_created", ["report_problem", "inform"]), ("resolved_by_bot", ["greet", "ticket_status"])],
    ),
    Case(
        "recorded: /restart with the form open abandons that session",
        recorded(RESTART_IN_FORM),
        [("abandoned", ["report_problem"]), ("resolved_by_bot", ["greet"])],
    ),
    # --- escalation ---
    Case(
        "escalated: request_human intent",
        opening()
        + turn("greet", "hi", T0 + 1, replies=GREETING)
        + turn("request_human", "a person, please", T0 + 5, replies=[("utter_handoff", "Connecting.")]),
        [("escalated", ["greet", "request_human"])],
    ),
    Case(
        "escalated: human_handoff intent",
        opening() + turn("human_handoff", "human please", T0 + 1, replies=[("utter_handoff", "Sure.")]),
        [("escalated", ["human_handoff"])],
    ),
    Case(
        "escalated: action_handoff_to_human",
        opening() + turn("report_problem", "it is broken", T0 + 1, replies=[("action_handoff_to_human", "")]),
        [("escalated", ["report_problem"])],
    ),
    Case(
        # A new session while a person holds the conversation: only the relay loop runs, the bot is silent.
        "escalated: the relay loop alone",
        opening() + turn("greet", "hello again", T0 + 1, replies=[("action_relay_to_agent", "")]),
        [("escalated", ["greet"])],
    ),
    # --- tickets ---
    Case(
        "ticket_created: ticket_id slot set (without the action event)",
        opening()
        + turn("report_problem", "broken", T0 + 1, replies=[("utter_ok", "Okay.")])
        + [slot("ticket_id", "17", T0 + 2)],
        [("ticket_created", ["report_problem"])],
    ),
    Case(
        "ticket_created wins over escalation in the same session",
        opening()
        + turn("request_human", "a human", T0 + 1, replies=[("utter_offer_ticket", "Shall I open a ticket?")])
        + turn("affirm", "yes", T0 + 5, replies=[("action_create_ticket", ""), ("utter_created", "#3")]),
        [("ticket_created", ["request_human", "affirm"])],
    ),
    Case(
        "not a ticket: action_create_ticket rejected in the same turn",
        opening()
        + turn("affirm", "yes", T0 + 1, replies=[("utter_ok", "Okay.")])
        + [action("action_create_ticket", T0 + 2), rejected("action_create_ticket", T0 + 2.01)],
        [("resolved_by_bot", ["affirm"])],
    ),
    Case(
        "a rejection in a later turn does not undo an earlier ticket",
        opening()
        + turn("affirm", "yes", T0 + 1, replies=[("action_create_ticket", ""), ("utter_created", "#4")])
        + turn("affirm", "yes again", T0 + 5, replies=[("utter_ok", "Okay.")])
        + [rejected("action_create_ticket", T0 + 6)],
        [("ticket_created", ["affirm"])],
    ),
    # --- abandoned / resolved ---
    Case(
        "abandoned: the last question got no answer",
        opening() + turn("greet", "hi", T0 + 1, replies=GREETING) + [user("faq", "how much is it?", T0 + 9)],
        [("abandoned", ["greet", "faq"])],
    ),
    Case(
        "abandoned: action_default_fallback was the last bot action",
        opening()
        + turn("greet", "hi", T0 + 1, replies=GREETING)
        + turn("nlu_fallback", "qwop", T0 + 5, replies=[("action_default_fallback", "Sorry, what?")])
        + [{**user_featurization(T0 + 5.5), "event": "rewind"}],
        [("abandoned", ["greet", "nlu_fallback"])],
    ),
    Case(
        "abandoned: two-stage fallback loop active",
        opening()
        + turn("nlu_fallback", "hm", T0 + 1, replies=[("action_two_stage_fallback", "Did you mean ...?")])
        + [active_loop("action_two_stage_fallback", T0 + 1.1)],
        [("abandoned", ["nlu_fallback"])],
    ),
    Case(
        "resolved: a form that completed (active_loop null) is not open",
        opening()
        + turn("rate", "5 stars", T0 + 1, replies=[("csat_form", "")])
        + [active_loop("csat_form", T0 + 1.05), active_loop(None, T0 + 1.06)]
        + [action("utter_csat_thanks", T0 + 1.1), bot("Thanks!", T0 + 1.1)],
        [("resolved_by_bot", ["rate"])],
    ),
    Case(
        "resolved: distinct intents in order of first appearance",
        opening()
        + turn("greet", "hi", T0 + 1, replies=GREETING)
        + turn("faq", "pricing?", T0 + 5, replies=[("utter_faq", "9 EUR.")])
        + turn("greet", "hello again", T0 + 9, replies=GREETING)
        + turn("faq", "refunds?", T0 + 13, replies=[("utter_faq", "Yes.")])
        + turn("thank", "thanks", T0 + 17, replies=[("utter_you_are_welcome", "You're welcome!")]),
        [("resolved_by_bot", ["greet", "faq", "thank"])],
    ),
    # --- sessions ---
    Case(
        "no customer message: no outcome",
        opening() + [action("utter_greet", T0 + 1), bot("Hi!", T0 + 1)],
        [],
    ),
    Case(
        "a nudge (trigger_intent) nobody answered: no outcome",
        opening() + NUDGE,
        [],
    ),
    Case(
        "a nudge the customer answered: only the customer's intents",
        opening() + NUDGE + turn("affirm", "yes, thanks", T0 + 60, replies=[("utter_great", "Great!")]),
        [("resolved_by_bot", ["affirm"])],
    ),
    Case(
        "no session_started: the first event starts the session",
        turn("greet", "hi", T0 + 1, replies=GREETING),
        [("resolved_by_bot", ["greet"])],
    ),
    Case(
        "session_started ends the previous session",
        opening()
        + turn("report_problem", "broken", T0 + 1, replies=[("ticket_form", "Describe it?")])
        + [active_loop("ticket_form", T0 + 1.05)]
        + opening(T0 + 120)
        + turn("greet", "hi", T0 + 121, replies=GREETING),
        [("abandoned", ["report_problem"]), ("resolved_by_bot", ["greet"])],
    ),
    Case(
        "31 minutes without a customer message: the next event starts a new session",
        opening()
        + turn("greet", "hi", T0 + 1, replies=GREETING)
        + turn("faq", "pricing?", T0 + 1 + 31 * 60, replies=[("utter_faq", "9 EUR.")]),
        [("resolved_by_bot", ["greet"]), ("resolved_by_bot", ["faq"])],
    ),
    Case(
        "29 minutes: still the same session (bot messages do not count as activity)",
        opening()
        + turn("greet", "hi", T0 + 1, replies=GREETING)
        + [action("utter_reminder", T0 + 20 * 60), bot("Anything else?", T0 + 20 * 60)]
        + turn("faq", "pricing?", T0 + 1 + 29 * 60, replies=[("utter_faq", "9 EUR.")]),
        [("resolved_by_bot", ["greet", "faq"])],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_outcomes(case: Case) -> None:
    decided = classify(case.events, THIRTY_MINUTES, now=LATER)
    assert [(o.outcome, list(o.intents)) for o in decided] == case.expected


def test_an_outcome_carries_the_session_times_and_channel() -> None:
    events = recorded(FAQ_RESOLVED)
    (outcome,) = classify(events, THIRTY_MINUTES, now=LATER)
    assert outcome.sender_id == "s1"
    assert outcome.channel == "rest"
    # The session starts at session_started (the second event: action_session_start comes first).
    assert outcome.session_started_at == to_datetime(events[1]["timestamp"])
    assert outcome.ended_at == to_datetime(max(event["timestamp"] for event in events))
    assert outcome.session_started_at.tzinfo == timezone.utc


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (["socketio", "socketio"], "socketio"),
        ([None, None], "api"),  # Rasa gave none: as the actions do, cs_backend's default channel
        (["rest", None], "rest"),
    ],
)
def test_channel(channels: list[str | None], expected: str) -> None:
    events = (
        opening()
        + [user("greet", "hi", T0 + 1 + i, channel=channel) for i, channel in enumerate(channels)]
        + [bot("Hi!", T0 + 5)]
    )
    (outcome,) = classify(events, THIRTY_MINUTES, now=LATER)
    assert outcome.channel == expected


@pytest.mark.parametrize(
    ("idle_minutes", "expected"),
    [(29.99, []), (30, ["abandoned"]), (45, ["abandoned"])],
)
def test_an_idle_session_is_decided_against_the_clock(idle_minutes: float, expected: list[str]) -> None:
    """No user message for OUTCOME_ABANDON_AFTER_MINUTES, measured from the last customer message."""
    last_message = T0 + 10
    events = recorded(FORM_LEFT_OPEN)[:3] + [user("report_problem", "it broke", last_message)]
    events += [action("ticket_form", last_message + 0.1), active_loop("ticket_form", last_message + 0.1)]
    events += [bot("Describe it?", last_message + 0.1), action("action_listen", last_message + 0.2)]
    now = to_datetime(last_message) + timedelta(minutes=idle_minutes)
    assert [o.outcome for o in classify(events, THIRTY_MINUTES, now=now)] == expected


def test_the_threshold_is_a_parameter() -> None:
    events = recorded(FAQ_RESOLVED)
    last_user = max(e["timestamp"] for e in events if e["event"] == "user")
    now = to_datetime(last_user) + timedelta(minutes=6)
    assert classify(events, timedelta(minutes=10), now=now) == []
    assert [o.outcome for o in classify(events, timedelta(minutes=5), now=now)] == ["resolved_by_bot"]


def test_without_a_clock_open_sessions_stay_open() -> None:
    assert classify(recorded(FAQ_RESOLVED), THIRTY_MINUTES) == []


def test_conversations_are_independent() -> None:
    mixed = sorted(
        conversation(FAQ_RESOLVED, "a", T0) + conversation(FORM_LEFT_OPEN, "b", T0),
        key=lambda event: event["timestamp"],
    )
    decided = {o.sender_id: o.outcome for o in classify(mixed, THIRTY_MINUTES, now=LATER)}
    assert decided == {"a": "resolved_by_bot", "b": "abandoned"}


def test_the_state_survives_json_between_any_two_events() -> None:
    """The consumer stores the state as JSON between batches: splitting anywhere changes nothing."""
    events = recorded(TICKET_THEN_NEW_SESSION) + conversation(FALLBACK_LEFT, "s1", T0 + 3600)
    expected = classify(events, THIRTY_MINUTES, now=LATER)
    for split in range(0, len(events), 7):
        state = ConversationState("s1")
        decided = []
        for index, data in enumerate(events):
            if index == split:
                state = ConversationState.from_json(json.loads(json.dumps(state.to_json())))
            decided.extend(state.feed(parse_event(data), THIRTY_MINUTES))
        decided.extend(state.close_if_idle(LATER, THIRTY_MINUTES))
        assert decided == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"sender_id": "s1", "timestamp": T0}, "'event'"),
        ({"sender_id": "s1", "event": "user"}, "'timestamp'"),
        ({"sender_id": "s1", "event": "user", "timestamp": "yesterday"}, "'timestamp'"),
        ({"sender_id": "s1", "event": "user", "timestamp": True}, "'timestamp'"),
        ({"sender_id": "s1", "event": "user", "timestamp": float("nan")}, "'timestamp'"),
        ({"sender_id": "s1", "event": "user", "timestamp": 1e20}, "'timestamp'"),
        ({"event": "user", "timestamp": T0}, "'sender_id'"),
        ({"sender_id": "", "event": "user", "timestamp": T0}, "'sender_id'"),
        ({"sender_id": "x" * 256, "event": "user", "timestamp": T0}, "'sender_id'"),
        ({"sender_id": "a\x00b", "event": "user", "timestamp": T0}, "'sender_id'"),
        ({"sender_id": "\ud800", "event": "user", "timestamp": T0}, "'sender_id'"),
    ],
)
def test_what_is_not_a_rasa_event(data: Any, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        parse_event(data)


def test_odd_but_valid_fields_are_tolerated() -> None:
    """Rasa's optional fields may be null or missing; unstorable names are dropped, not fatal."""
    event = parse_event(
        {"sender_id": "s1", "event": "user", "timestamp": T0, "parse_data": None, "input_channel": "\x00"}
    )
    assert (event.intent, event.input_channel) == (None, None)
    event = parse_event({"event": "action", "timestamp": T0, "name": None}, sender_id="from-column")
    assert (event.sender_id, event.name) == ("from-column", None)
    assert parse_event({"sender_id": "s1", "event": "new_kind", "timestamp": 1}).type == "new_kind"
    long_channel = {"sender_id": "s1", "event": "user", "timestamp": T0, "input_channel": "c" * 80}
    assert parse_event(long_channel).input_channel == "c" * 50


def test_events_of_another_conversation_are_refused() -> None:
    with pytest.raises(ValueError):
        ConversationState("s1").feed(parse_event(user("greet", "hi", T0, "s2")), THIRTY_MINUTES)


def test_to_datetime_keeps_microseconds() -> None:
    assert to_datetime(1795335023.3176658) == datetime(2026, 11, 22, 8, 10, 23, 317666, tzinfo=timezone.utc)


def test_action_session_start_belongs_to_the_next_session() -> None:
    """Rasa logs action_session_start before the session_started it produces: it must not prolong (or end)
    the previous session."""
    first = opening() + turn("greet", "hi", T0 + 1, replies=GREETING)
    second = opening(T0 + 120) + turn("thank", "thanks", T0 + 121, replies=[("utter_welcome", "Welcome!")])
    one, two = classify(first + second, THIRTY_MINUTES, now=LATER)
    assert one.ended_at == to_datetime(max(event["timestamp"] for event in first))
    assert two.session_started_at == to_datetime(T0 + 120.001)
