"""Helpers shared by the action modules: reading the tracker, building idempotency keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Tracker

from actions.language import EN, Bilingual, format_utc

# The channel cs_backend records for a conversation when Rasa gave none.
DEFAULT_CHANNEL = "api"

# Intents that answer a question or manage the conversation rather than say what it is about; skipped when
# looking for the topic a CSAT rating refers to.
NON_TOPIC_INTENTS = frozenset(
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
        "switch_language",
    }
)


def latest_user_event(tracker: Tracker) -> dict[str, Any] | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return None


def message_id(event: Mapping[str, Any]) -> str | None:
    """The id Rasa gave a `user` event's message (on the event, or in its parse data), if any."""
    return event.get("message_id") or (event.get("parse_data") or {}).get("message_id") or None


def triggering_event_marker(tracker: Tracker) -> str:
    """Identifies the user message that led to the current action run.

    Rasa gives each user message a unique ``message_id``; a re-run of the action for the same message sees the
    same marker, a new message a new one. Falls back to the message's timestamp.
    """
    event = latest_user_event(tracker)
    if event is None:
        return "no-user-message"
    marker = message_id(event)
    if marker:
        return f"msg:{marker}"
    return f"ts:{event.get('timestamp')}"


def make_idempotency_key(kind: str, sender_id: str, event_marker: str) -> str:
    """A stable key for "this kind of write, in this conversation, caused by this user message".

    The same inputs always give the same key (so a re-run never writes twice); the hash keeps the header short
    and ASCII whatever the sender id looks like.
    """
    digest = hashlib.sha256(f"{kind}\x1f{sender_id}\x1f{event_marker}".encode()).hexdigest()
    return f"rasa-{kind}-{digest[:48]}"


def write_key(kind: str, tracker: Tracker) -> str:
    """The Idempotency-Key of a write of `kind` triggered by the latest user message of this conversation."""
    return make_idempotency_key(kind, tracker.sender_id, triggering_event_marker(tracker))


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


def stale_hint_after_interruption(tracker: Tracker, form_name: str) -> bool:
    """The form asks again after a digression while its remark on an earlier answer (`form_hint`) is still
    set: the validation drops the remark, so the question is not prefixed with it again."""
    return bool(tracker.get_slot("form_hint")) and resuming_after_interruption(tracker, form_name)


def validated_an_answer(events: Iterable[Mapping[str, Any]]) -> bool:
    """True when a form's validation events set a slot other than `requested_slot`: the message answered."""
    return any(event.get("event") == "slot" and event.get("name") != "requested_slot" for event in events)


def conversation_channel(tracker: Tracker) -> str:
    """The conversation's channel as cs_backend knows it: Rasa's latest input channel, else "api"."""
    return tracker.get_latest_input_channel() or DEFAULT_CHANNEL


def topic_intent(tracker: Tracker) -> str | None:
    """The latest intent that says what the conversation is about (e.g. report_problem), for feedback."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        # cs_backend's notifications (EXTERNAL_*) are not the customer's: they say nothing of the topic.
        if name and name not in NON_TOPIC_INTENTS and not name.startswith("EXTERNAL_"):
            return name
    return None


RECENTLY = Bilingual("recently", "最近")


def human_time(timestamp: str, language: str = EN) -> str:
    """ "2026-11-22T07:30:12.345+00:00" -> "22 Nov 2026, 07:30 UTC", or "2026年11月22日 07:30（UTC）" in
    Chinese (unchanged if it can't be parsed)."""
    if not timestamp:
        return RECENTLY.in_language(language)
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return format_utc(parsed.astimezone(timezone.utc), language)
