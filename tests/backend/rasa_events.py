"""Rasa events for the outcomes tests: recorded conversations, builders of events, and the broker's database.

Everything here comes from the project's own assistant: Rasa 3.6 (.venv-bot) ran models/assistant.tar.gz
with the action server and a cs_backend, with the event broker `{type: SQL, dialect: sqlite, db: ...}` in
its endpoints, and the SQL broker's `events` table was read back. RECORDED_SAMPLES holds one event of
each type verbatim (`user_external` is `UserUttered.create_external(...).as_dict()`, what `trigger_intent`
produces); the conversation scripts below are the recorded sequences (type, seconds since the first event,
name/intent, text or slot value), replayed by `conversation()` through builders that produce exactly the
recorded shape (test_rasa_events.py keeps them honest). `write_rasa_events` and `write_raw_rows` fill a
database as Rasa's SQL event broker does. The fixtures built on these are in conftest.py.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# What Rasa's SQLEventBroker creates (SQLAlchemy's DDL of rasa.core.brokers.sql.SQLBrokerEvent on SQLite).
RASA_EVENTS_DDL = (
    "CREATE TABLE events (\n\tid INTEGER NOT NULL, \n\tsender_id VARCHAR(255), \n\tdata TEXT, \n\t"
    "PRIMARY KEY (id)\n)"
)
MODEL_METADATA = {"model_id": "8cc60ae6f926410c867b935bd54b8c06", "assistant_id": "acme-cloud-support"}
# 2026-11-22 08:10:23 UTC, when the recordings were made.
RECORDED_AT = 1795335023.3176658

RECORDED_SAMPLES: dict[str, dict[str, Any]] = json.loads(
    Path(__file__).with_name("recorded_rasa_events.json").read_text(encoding="utf-8")
)

# greet, report a problem, email, priority: action_create_ticket runs (ticket #1); the CSAT form
# that follows is rejected by the customer's goodbye (action_execution_rejected csat_form).
TICKET_CREATED = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.719, "greet", "hi"),
    ("user_featurization", 0.742),
    ("action", 0.742, "utter_greet"),
    ("bot", 0.742, "Hi! I'm the Acme Cloud support assistant. I can help you get…"),
    ("action", 0.758, "action_listen"),
    ("user", 0.848, "report_problem", "my app keeps crashing when I upload a file"),
    ("user_featurization", 0.941),
    ("action", 0.941, "ticket_form"),
    ("active_loop", 0.942, "ticket_form"),
    ("slot", 0.942, "description", "my app keeps crashing when I upload a file"),
    ("slot", 0.942, "form_hint", "description_prefilled"),
    ("slot", 0.942, "requested_slot", "email"),
    ("bot", 0.942, "Got it: “my app keeps crashing when I upload a file”. Which …"),
    ("action", 0.961, "action_listen"),
    ("user", 1.201, "inform", "ada@example.com"),
    ("slot", 1.202, "email", "ada@example.com"),
    ("user_featurization", 1.349),
    ("action", 1.349, "ticket_form"),
    ("slot", 1.349, "email", "ada@example.com"),
    ("slot", 1.349, "form_hint", None),
    ("slot", 1.349, "requested_slot", "priority"),
    ("bot", 1.349, "How urgent is it? Choose low, normal, high or urgent (urgent…"),
    ("action", 1.377, "action_listen"),
    ("user", 1.557, "inform", "high"),
    ("slot", 1.558, "priority", "high"),
    ("user_featurization", 1.639),
    ("action", 1.639, "ticket_form"),
    ("slot", 1.639, "priority", "high"),
    ("slot", 1.639, "form_hint", None),
    ("slot", 1.639, "requested_slot", None),
    ("active_loop", 1.639, None),
    ("action", 1.774, "action_create_ticket"),
    ("slot", 1.775, "ticket_id", "1"),
    ("slot", 1.775, "ticket_priority", "high"),
    ("slot", 1.775, "ticket_outcome", "created"),
    ("slot", 1.775, "backend_error", None),
    ("slot", 1.775, "email", "ada@example.com"),
    ("slot", 1.775, "description", None),
    ("slot", 1.775, "priority", None),
    ("slot", 1.775, "form_hint", None),
    ("slot", 1.775, "requested_slot", None),
    ("slot", 1.775, "csat_score", None),
    ("slot", 1.775, "csat_outcome", None),
    ("action", 1.806, "utter_ticket_created"),
    ("bot", 1.806, "Your ticket #1 is open with high priority. Our team will ema…"),
    ("action", 1.925, "csat_form"),
    ("active_loop", 1.927, "csat_form"),
    ("slot", 1.927, "priority", "high"),
    ("slot", 1.927, "requested_slot", "csat_score"),
    ("bot", 1.927, "How would you rate this support experience from 1 to 5?"),
    ("action", 2.044, "action_listen"),
    ("user", 2.298, "goodbye", "thanks, bye"),
    ("action_execution_rejected", 2.369, "csat_form"),
    ("user_featurization", 2.385),
    ("action", 2.385, "action_deactivate_loop"),
    ("active_loop", 2.385, None),
    ("slot", 2.385, "requested_slot", None),
    ("action", 2.399, "utter_goodbye"),
    ("bot", 2.399, "Goodbye, and good luck with your project! I'm here whenever …"),
    ("action", 2.415, "action_listen"),
]

# greet, "how do I get started?", thanks, bye: answered by responses only.
FAQ_RESOLVED = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.032, "greet", "hello"),
    ("user_featurization", 0.052),
    ("action", 0.052, "utter_greet"),
    ("bot", 0.052, "Hi! I'm the Acme Cloud support assistant. I can help you get…"),
    ("action", 0.065, "action_listen"),
    ("user", 0.146, "get_started", "how do I get started?"),
    ("user_featurization", 0.164),
    ("action", 0.164, "utter_getting_started"),
    ("bot", 0.164, "Welcome to Acme Cloud! Here are the first steps:\n1. Sign up …"),
    ("action", 0.182, "utter_getting_started_docs"),
    ("bot", 0.182, "The full guide, with screenshots, is at https://docs.example…"),
    ("action", 0.197, "action_listen"),
    ("user", 0.258, "thank", "thank you"),
    ("user_featurization", 0.276),
    ("action", 0.276, "utter_you_are_welcome"),
    ("bot", 0.276, "You're welcome! Anything else, just ask."),
    ("action", 0.291, "action_listen"),
    ("user", 0.357, "goodbye", "bye"),
    ("user_featurization", 0.375),
    ("action", 0.375, "utter_goodbye"),
    ("bot", 0.375, "Bye for now! Come back any time."),
    ("action", 0.39, "action_listen"),
]

# "I want to report a problem": the ticket form asks for a description; the customer goes quiet.
FORM_LEFT_OPEN = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.033, "report_problem", "I want to report a problem"),
    ("user_featurization", 0.178),
    ("action", 0.178, "ticket_form"),
    ("active_loop", 0.179, "ticket_form"),
    ("slot", 0.179, "requested_slot", "description"),
    ("bot", 0.179, "I'm sorry you've hit a problem. Please describe it in a sent…"),
    ("action", 0.194, "action_listen"),
]

# a ticket is created, the CSAT form is open, then /session_start: Rasa carries every slot
# (ticket_id too) over into the new session, where the customer asks for the ticket's status.
TICKET_THEN_NEW_SESSION = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.031, "report_problem", "I have a problem: the dashboard shows a blank page"),
    ("user_featurization", 0.098),
    ("action", 0.098, "ticket_form"),
    ("active_loop", 0.098, "ticket_form"),
    ("slot", 0.098, "description", "I have a problem: the dashboard shows a blank page"),
    ("slot", 0.098, "form_hint", "description_prefilled"),
    ("slot", 0.098, "requested_slot", "email"),
    ("bot", 0.098, "Got it: “I have a problem: the dashboard shows a blank page”…"),
    ("action", 0.112, "action_listen"),
    ("user", 0.235, "inform", "grace@example.com"),
    ("slot", 0.236, "email", "grace@example.com"),
    ("user_featurization", 0.329),
    ("action", 0.329, "ticket_form"),
    ("slot", 0.329, "email", "grace@example.com"),
    ("slot", 0.329, "form_hint", None),
    ("slot", 0.329, "requested_slot", "priority"),
    ("bot", 0.329, "How urgent is it? Choose low, normal, high or urgent (urgent…"),
    ("action", 0.346, "action_listen"),
    ("user", 0.423, "inform", "normal"),
    ("slot", 0.424, "priority", "normal"),
    ("user_featurization", 0.508),
    ("action", 0.508, "ticket_form"),
    ("slot", 0.509, "priority", "normal"),
    ("slot", 0.509, "form_hint", None),
    ("slot", 0.509, "requested_slot", None),
    ("active_loop", 0.509, None),
    ("action", 0.631, "action_create_ticket"),
    ("slot", 0.631, "ticket_id", "2"),
    ("slot", 0.631, "ticket_priority", "normal"),
    ("slot", 0.631, "ticket_outcome", "created"),
    ("slot", 0.631, "backend_error", None),
    ("slot", 0.631, "email", "grace@example.com"),
    ("slot", 0.631, "description", None),
    ("slot", 0.631, "priority", None),
    ("slot", 0.631, "form_hint", None),
    ("slot", 0.631, "requested_slot", None),
    ("slot", 0.631, "csat_score", None),
    ("slot", 0.631, "csat_outcome", None),
    ("action", 0.651, "utter_ticket_created"),
    ("bot", 0.651, "Your ticket #2 is open with normal priority. Our team will e…"),
    ("action", 0.738, "csat_form"),
    ("active_loop", 0.738, "csat_form"),
    ("slot", 0.738, "priority", "normal"),
    ("slot", 0.738, "requested_slot", "csat_score"),
    ("bot", 0.738, "How would you rate this support experience from 1 to 5?"),
    ("action", 0.758, "action_listen"),
    ("user", 0.907, "session_start", "/session_start"),
    ("slot", 0.907, "csat_score", "/session_start"),
    ("user_featurization", 0.928),
    ("action", 0.928, "action_session_start"),
    ("session_started", 0.929),
    ("slot", 0.929, "description", "I have a problem: the dashboard shows a blank page"),
    ("slot", 0.929, "form_hint", "description_prefilled"),
    ("slot", 0.929, "requested_slot", "email"),
    ("slot", 0.929, "email", "grace@example.com"),
    ("slot", 0.929, "email", "grace@example.com"),
    ("slot", 0.929, "form_hint", None),
    ("slot", 0.929, "requested_slot", "priority"),
    ("slot", 0.929, "priority", "normal"),
    ("slot", 0.929, "priority", "normal"),
    ("slot", 0.929, "form_hint", None),
    ("slot", 0.929, "requested_slot", None),
    ("slot", 0.929, "ticket_id", "2"),
    ("slot", 0.929, "ticket_priority", "normal"),
    ("slot", 0.929, "ticket_outcome", "created"),
    ("slot", 0.929, "backend_error", None),
    ("slot", 0.929, "email", "grace@example.com"),
    ("slot", 0.929, "description", None),
    ("slot", 0.929, "priority", None),
    ("slot", 0.929, "form_hint", None),
    ("slot", 0.929, "requested_slot", None),
    ("slot", 0.929, "csat_score", None),
    ("slot", 0.929, "csat_outcome", None),
    ("slot", 0.929, "priority", "normal"),
    ("slot", 0.929, "requested_slot", "csat_score"),
    ("slot", 0.929, "csat_score", "/session_start"),
    ("action", 0.929, "action_listen"),
    ("user", 1.296, "greet", "hi"),
    ("user_featurization", 1.31),
    ("action", 1.31, "utter_greet"),
    ("bot", 1.31, "Hello 👋 I'm Acme Cloud's assistant. Ask me how to get starte…"),
    ("action", 1.321, "action_listen"),
    ("user", 1.395, "ticket_status", "what is the status of my ticket?"),
    ("user_featurization", 1.522),
    ("action", 1.522, "action_ticket_status"),
    ("slot", 1.523, "lookup_outcome", "found"),
    ("slot", 1.523, "ticket_number", None),
    ("slot", 1.523, "lookup_number", "2"),
    ("slot", 1.523, "lookup_status", "open"),
    ("slot", 1.523, "lookup_priority", "normal"),
    ("slot", 1.523, "lookup_updated", "22 Nov 2026, 08:10 UTC"),
    ("slot", 1.523, "lookup_subject", "I have a problem: the dashboard shows a blank page"),
    ("slot", 1.523, "lookup_owned", True),
    ("action", 1.539, "utter_ticket_status"),
    ("bot", 1.539, "Ticket #None — “I have a problem: the dashboard shows a blan…"),
    ("action", 1.552, "action_listen"),
]

# the ticket form is open when the customer sends /restart; Rasa restarts and starts a new session.
RESTART_IN_FORM = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.001),
    ("action", 0.001, "action_listen"),
    ("user", 0.027, "report_problem", "I want to report a problem"),
    ("user_featurization", 0.155),
    ("action", 0.155, "ticket_form"),
    ("active_loop", 0.155, "ticket_form"),
    ("slot", 0.155, "requested_slot", "description"),
    ("bot", 0.155, "I'm sorry you've hit a problem. Please describe it in a sent…"),
    ("action", 0.165, "action_listen"),
    ("user", 0.219, "restart", "/restart"),
    ("slot", 0.22, "description", "/restart"),
    ("user_featurization", 0.236),
    ("action", 0.236, "action_restart"),
    ("restart", 0.236),
    ("action", 0.237, "action_session_start"),
    ("session_started", 0.238),
    ("action", 0.238, "action_listen"),
    ("user", 0.292, "greet", "hello"),
    ("user_featurization", 0.31),
    ("action", 0.31, "utter_greet"),
    ("bot", 0.31, "Hi! I'm the Acme Cloud support assistant. I can help you get…"),
    ("action", 0.325, "action_listen"),
]

# the ticket form completes while cs_backend is down: action_create_ticket runs but reports
# ticket_outcome=unavailable (no ticket_id).
TICKET_BACKEND_DOWN = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.52, "report_problem", "the export button gives an error 500"),
    ("user_featurization", 0.626),
    ("action", 0.626, "ticket_form"),
    ("active_loop", 0.626, "ticket_form"),
    ("slot", 0.626, "description", "the export button gives an error 500"),
    ("slot", 0.626, "form_hint", "description_prefilled"),
    ("slot", 0.626, "requested_slot", "email"),
    ("bot", 0.626, "Got it: “the export button gives an error 500”. Which email …"),
    ("action", 0.642, "action_listen"),
    ("user", 0.72, "inform", "linus@example.com"),
    ("slot", 0.721, "email", "linus@example.com"),
    ("user_featurization", 0.804),
    ("action", 0.804, "ticket_form"),
    ("slot", 0.804, "email", "linus@example.com"),
    ("slot", 0.804, "form_hint", None),
    ("slot", 0.804, "requested_slot", "priority"),
    ("bot", 0.804, "How urgent is it? Choose low, normal, high or urgent (urgent…"),
    ("action", 0.82, "action_listen"),
    ("user", 0.879, "inform", "low"),
    ("slot", 0.88, "priority", "low"),
    ("user_featurization", 0.955),
    ("action", 0.955, "ticket_form"),
    ("slot", 0.955, "priority", "low"),
    ("slot", 0.955, "form_hint", None),
    ("slot", 0.955, "requested_slot", None),
    ("active_loop", 0.955, None),
    ("action", 2.626, "action_create_ticket"),
    ("slot", 2.626, "ticket_outcome", "unavailable"),
    ("slot", 2.626, "backend_error", None),
    ("slot", 2.626, "form_hint", None),
    ("slot", 2.626, "requested_slot", None),
    ("action", 2.666, "utter_ticket_not_saved"),
    ("bot", 2.666, "I'm sorry — I couldn't reach our ticket system, so your tick…"),
    ("action", 2.701, "action_listen"),
]

# "asdf" is below the NLU threshold (nlu_fallback): utter_default asks to rephrase; no answer.
FALLBACK_LEFT = [
    ("action", 0.0, "action_session_start"),
    ("session_started", 0.0),
    ("action", 0.0, "action_listen"),
    ("user", 0.066, "greet", "hi"),
    ("user_featurization", 0.088),
    ("action", 0.088, "utter_greet"),
    ("bot", 0.088, "Hi! I'm the Acme Cloud support assistant. I can help you get…"),
    ("action", 0.127, "action_listen"),
    ("user", 0.37, "nlu_fallback", "asdf"),
    ("user_featurization", 0.411),
    ("action", 0.411, "utter_default"),
    ("bot", 0.412, "Sorry, I didn't quite understand that. Could you rephrase it…"),
    ("action", 0.451, "action_listen"),
]

RECORDED_SCRIPTS: dict[str, list[tuple[Any, ...]]] = {
    "TICKET_CREATED": TICKET_CREATED,
    "FAQ_RESOLVED": FAQ_RESOLVED,
    "FORM_LEFT_OPEN": FORM_LEFT_OPEN,
    "TICKET_THEN_NEW_SESSION": TICKET_THEN_NEW_SESSION,
    "RESTART_IN_FORM": RESTART_IN_FORM,
    "TICKET_BACKEND_DOWN": TICKET_BACKEND_DOWN,
    "FALLBACK_LEFT": FALLBACK_LEFT,
}


def _event(kind: str, sender_id: str, timestamp: float, **fields: Any) -> dict[str, Any]:
    return {
        "sender_id": sender_id,
        "event": kind,
        "timestamp": timestamp,
        "metadata": dict(MODEL_METADATA),
        **fields,
    }


def action(name: str, timestamp: float, sender_id: str = "s1", policy: str | None = None) -> dict[str, Any]:
    return _event(
        "action",
        sender_id,
        timestamp,
        name=name,
        policy=policy,
        confidence=1.0,
        action_text=None,
        hide_rule_turn=False,
    )


def rejected(name: str, timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event(
        "action_execution_rejected", sender_id, timestamp, name=name, policy="RulePolicy", confidence=1.0
    )


def user(
    intent: str | None, text_: str, timestamp: float, sender_id: str = "s1", channel: str | None = "rest"
) -> dict[str, Any]:
    tokens, start = [], 0
    for word in text_.split():
        start = text_.index(word, start)
        tokens.append([start, start + len(word)])
        start += len(word)
    message_id = uuid.uuid4().hex
    ranking = [{"name": intent, "confidence": 0.998}, {"name": "out_of_scope", "confidence": 0.001}]
    return _event(
        "user",
        sender_id,
        timestamp,
        text=text_,
        parse_data={
            "intent": {"name": intent, "confidence": 0.998},
            "entities": [],
            "text": text_,
            "message_id": message_id,
            "metadata": {},
            "text_tokens": tokens,
            "intent_ranking": ranking,
            "response_selector": {
                "all_retrieval_intents": ["faq"],
                "faq": {
                    "response": {
                        "responses": [{"text": "You can reset your password from the login page."}],
                        "confidence": 0.41,
                        "intent_response_key": "faq/reset_password",
                        "utter_action": "utter_faq/reset_password",
                    },
                    "ranking": [{"confidence": 0.41, "intent_response_key": "faq/reset_password"}],
                },
            },
        },
        input_channel=channel,
        message_id=message_id,
    )


def external_user(
    intent: str, timestamp: float, sender_id: str = "s1", channel: str = "socketio"
) -> dict[str, Any]:
    """What POST /conversations/{id}/trigger_intent logs (UserUttered.create_external): not the customer."""
    text_ = f"EXTERNAL: {intent}"
    return {
        "sender_id": sender_id,
        "event": "user",
        "timestamp": timestamp,
        "metadata": {"is_external": True},
        "text": text_,
        "parse_data": {
            "intent": {"name": intent},
            "entities": [],
            "text": text_,
            "message_id": None,
            "metadata": {"is_external": True},
        },
        "input_channel": channel,
        "message_id": None,
    }


def bot(
    text_: str, timestamp: float, sender_id: str = "s1", utter_action: str | None = None
) -> dict[str, Any]:
    metadata = {"utter_action": utter_action, **MODEL_METADATA} if utter_action else dict(MODEL_METADATA)
    return {
        **_event("bot", sender_id, timestamp),
        "metadata": metadata,
        "text": text_,
        "data": {
            "elements": None,
            "quick_replies": None,
            "buttons": None,
            "attachment": None,
            "image": None,
            "custom": None,
        },
    }


def slot(name: str, value: Any, timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event("slot", sender_id, timestamp, name=name, value=value)


def active_loop(name: str | None, timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event("active_loop", sender_id, timestamp, name=name)


def session_started(timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event("session_started", sender_id, timestamp)


def user_featurization(timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event("user_featurization", sender_id, timestamp, use_text_for_featurization=False)


def restart(timestamp: float, sender_id: str = "s1") -> dict[str, Any]:
    return _event("restart", sender_id, timestamp)


def conversation(
    script: Iterable[tuple[Any, ...]], sender_id: str, start: float, channel: str = "rest"
) -> list[dict[str, Any]]:
    """A recorded script as Rasa's event dicts, for `sender_id`, shifted to begin at `start`."""
    events = []
    for kind, offset, *rest in script:
        at = start + offset
        if kind == "user":
            events.append(user(rest[0], rest[1], at, sender_id, channel))
        elif kind == "bot":
            events.append(bot(rest[0], at, sender_id))
        elif kind == "action":
            events.append(action(rest[0], at, sender_id))
        elif kind == "action_execution_rejected":
            events.append(rejected(rest[0], at, sender_id))
        elif kind == "active_loop":
            events.append(active_loop(rest[0], at, sender_id))
        elif kind == "slot":
            events.append(slot(rest[0], rest[1], at, sender_id))
        elif kind == "session_started":
            events.append(session_started(at, sender_id))
        elif kind == "user_featurization":
            events.append(user_featurization(at, sender_id))
        elif kind == "restart":
            events.append(restart(at, sender_id))
        else:
            raise ValueError(kind)
    return events


def write_rasa_events(path: Path, events: Iterable[dict[str, Any]]) -> None:
    """Append events to a Rasa SQL broker database, as SQLEventBroker.publish does (creating it if new).

    Blocking: while a consumer runs on the event loop, call it through asyncio.to_thread, as Rasa writes from
    another process (a blocked loop could not finish the read that holds the lock the write waits for).
    """
    connection = sqlite3.connect(path)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            connection.execute(RASA_EVENTS_DDL)
        connection.executemany(
            "INSERT INTO events (sender_id, data) VALUES (?, ?)",
            [(event.get("sender_id"), json.dumps(event)) for event in events],
        )
        connection.commit()
    finally:
        connection.close()


def write_raw_rows(path: Path, rows: Iterable[tuple[str | None, str | None]]) -> None:
    """Rows of arbitrary (possibly malformed) data, for the bad-event tests."""
    connection = sqlite3.connect(path)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            connection.execute(RASA_EVENTS_DDL)
        connection.executemany("INSERT INTO events (sender_id, data) VALUES (?, ?)", list(rows))
        connection.commit()
    finally:
        connection.close()
