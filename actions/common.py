"""Helpers shared by the action modules: reading the tracker, building idempotency keys."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Tracker

from actions.api.backend import idempotency_key

# Intents that answer a question or manage the conversation rather than say what it is about; skipped when
# looking for the topic a CSAT rating refers to.
_NON_TOPIC_INTENTS = frozenset(
    {
        "rate",
        "inform",
        "affirm",
        "deny",
        "stop",
        "thank",
        "greet",
        "goodbye",
        "bot_challenge",
        "out_of_scope",
        "nlu_fallback",
    }
)


def latest_user_event(tracker: Tracker) -> dict[str, Any] | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return None


def triggering_event_marker(tracker: Tracker) -> str:
    """Identifies the user message that led to the current action run.

    Rasa gives each user message a unique ``message_id``; a re-run of the action for the same message sees the
    same marker, a new message a new one. Falls back to the message's timestamp.
    """
    event = latest_user_event(tracker)
    if event is None:
        return "no-user-message"
    message_id = event.get("message_id") or (event.get("parse_data") or {}).get("message_id")
    if message_id:
        return f"msg:{message_id}"
    return f"ts:{event.get('timestamp')}"


def write_key(kind: str, tracker: Tracker) -> str:
    """The Idempotency-Key of a write of `kind` triggered by the latest user message of this conversation."""
    return idempotency_key(kind, tracker.sender_id, triggering_event_marker(tracker))


def resuming_after_interruption(tracker: Tracker, form_name: str) -> bool:
    """True when a form runs again after a digression or a "do you want to continue?" question.

    Rasa then calls the form's validation action with nothing to validate; the last bot action before this
    form run is not the form's own question (an `utter_iamabot`, `utter_ask_continue_ticket`, ...).
    """
    actions = [
        event.get("name")
        for event in tracker.events
        if event.get("event") == "action"
        and event.get("name") not in ("action_listen", "action_extract_slots")
    ]
    # The last one is the form run that called us (Rasa appends it before calling the validation action).
    previous = actions[-2] if len(actions) >= 2 else None
    return previous is not None and previous != form_name


def input_channel(tracker: Tracker) -> str | None:
    channel = tracker.get_latest_input_channel()
    return channel or None


def topic_intent(tracker: Tracker) -> str | None:
    """The latest intent that says what the conversation is about (e.g. report_problem), for feedback."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name and name not in _NON_TOPIC_INTENTS:
            return name
    return None


def human_time(timestamp: str) -> str:
    """ "2026-11-22T07:30:12.345+00:00" -> "22 Nov 2026, 07:30 UTC" (unchanged if it can't be parsed)."""
    if not timestamp:
        return "recently"
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%d %b %Y, %H:%M UTC")
