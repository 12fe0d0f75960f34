"""A conversation's summary for the agent who takes it over, read from its Rasa tracker's events: the intents
seen, the filled slots, the last messages and the messages the bot did not understand.

Only the events since the last `restart` count (a restart starts the conversation afresh). Events of other
shapes, or that are not JSON objects, are skipped: a summary never fails on an odd tracker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

# Messages (customer and bot together) the summary keeps, the latest ones.
LAST_MESSAGES: Final = 10
NLU_FALLBACK: Final = "nlu_fallback"
# Actions that follow a message the bot did not understand (dialogue/rules/fallback.yml, actions/fallback.py).
FALLBACK_ACTIONS: Final = frozenset(
    {"action_two_stage_fallback", "action_default_ask_affirmation", "action_default_fallback"}
)
# Slots Rasa keeps for itself: they say nothing about the customer.
INTERNAL_SLOTS: Final = frozenset({"requested_slot", "session_started_metadata"})
# The bot's own record of this handoff (actions/handoff.py): the packet shows the handoff itself.
HANDOFF_SLOT_PREFIX: Final = "handoff_"
# Slots named like a secret are never shown, whatever they hold.
_SECRET_NAME = re.compile(
    r"pass(word|wd|code)?|secret|token|api_?key|credential|otp|pin\b|cvv", re.IGNORECASE
)
# Events that sit between a user message and the action that answered it.
_BOOKKEEPING_EVENTS: Final = frozenset({"user_featurization", "slot", "active_loop", "entities"})

Speaker = Literal["customer", "bot"]


@dataclass(frozen=True)
class Message:
    speaker: Speaker
    text: str
    sent_at: datetime | None
    intent: str | None = None


@dataclass(frozen=True)
class IntentCount:
    intent: str
    count: int


@dataclass
class ConversationSummary:
    intents: list[IntentCount] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    last_messages: list[Message] = field(default_factory=list)
    not_understood: list[Message] = field(default_factory=list)
    customer_messages: list[str] = field(default_factory=list)


def is_shown_slot(name: str) -> bool:
    return (
        name not in INTERNAL_SLOTS
        and not name.startswith(HANDOFF_SLOT_PREFIX)
        and _SECRET_NAME.search(name) is None
    )


def _sent_at(event: Mapping[str, Any]) -> datetime | None:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        try:
            return datetime.fromtimestamp(timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _intent_of(event: Mapping[str, Any]) -> str | None:
    intent = (event.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, Mapping) else None
    return name if isinstance(name, str) and name else None


def _is_external(event: Mapping[str, Any]) -> bool:
    """Injected by the backend (trigger_intent: the onboarding nudges), not said by the customer."""
    metadata = event.get("metadata") or {}
    external = isinstance(metadata, Mapping) and bool(metadata.get("is_external"))
    return external or str(event.get("text") or "").startswith("EXTERNAL")


def _message_key(event: Mapping[str, Any], index: int) -> str:
    """Rasa's message id (a clarified message is re-added with the same one), else the event's position."""
    parse_data = event.get("parse_data") or {}
    message_id = event.get("message_id") or (
        parse_data.get("message_id") if isinstance(parse_data, Mapping) else None
    )
    return f"id:{message_id}" if message_id else f"at:{index}"


def _next_action(events: Sequence[Mapping[str, Any]], index: int) -> str | None:
    """The name of the first action after events[index], skipping bookkeeping events."""
    for event in events[index + 1 :]:
        kind = event.get("event")
        if kind == "action":
            name = event.get("name")
            return name if isinstance(name, str) else None
        if kind not in _BOOKKEEPING_EVENTS:
            return None
    return None


def summarize(raw_events: object, last_messages: int = LAST_MESSAGES) -> ConversationSummary:
    """The summary of a tracker's `events` (Rasa's JSON)."""
    events = (
        [event for event in raw_events if isinstance(event, Mapping)] if isinstance(raw_events, list) else []
    )
    restarts = [index for index, event in enumerate(events) if event.get("event") == "restart"]
    if restarts:
        events = events[restarts[-1] + 1 :]

    slots: dict[str, Any] = {}
    # One entry per customer message, in order; a clarified message takes its final intent.
    customer: dict[str, Message] = {}
    misunderstood: dict[str, Message] = {}
    timeline: list[tuple[str, Message]] = []
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "slot" and isinstance(event.get("name"), str):
            slots[event["name"]] = event.get("value")
        elif kind == "reset_slots":
            slots.clear()
        elif kind == "user" and not _is_external(event):
            text = " ".join(str(event.get("text") or "").split())
            if not text:
                continue
            key = _message_key(event, index)
            message = Message("customer", text, _sent_at(event), _intent_of(event))
            if key not in customer:
                timeline.append((key, message))
            customer[key] = message
            if message.intent == NLU_FALLBACK or _next_action(events, index) in FALLBACK_ACTIONS:
                misunderstood.setdefault(key, message)
        elif kind == "bot" and isinstance(event.get("text"), str) and event["text"].strip():
            timeline.append((f"bot:{index}", Message("bot", event["text"], _sent_at(event))))

    counts: dict[str, int] = {}
    for message in customer.values():
        if message.intent is not None:
            counts[message.intent] = counts.get(message.intent, 0) + 1
    messages = [customer.get(key, message) for key, message in timeline]
    return ConversationSummary(
        intents=[IntentCount(intent, count) for intent, count in counts.items()],
        slots={
            name: value for name, value in sorted(slots.items()) if value is not None and is_shown_slot(name)
        },
        last_messages=messages[-last_messages:] if last_messages > 0 else [],
        not_understood=list(misunderstood.values()),
        customer_messages=[message.text for message in customer.values()],
    )
