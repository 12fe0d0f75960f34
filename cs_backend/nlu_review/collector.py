"""Which customer messages the assistant did not understand, decided from Rasa's tracker events: a pure
state machine per conversation (no I/O), fed the events in the order Rasa published them.

A message is collected, with its reason, when:
- fallback: NLU fell back (intent nlu_fallback); the suggestion is the best real intent of its ranking
  (Rasa's FallbackClassifier puts nlu_fallback first and keeps the classifier's ranking after it);
- something_else: after "Did you mean…?" (utter_ask_affirmation, actions/fallback.py) the customer
  chose "Something else" (payload /out_of_scope): the misunderstood message, none of the guesses was right;
- human_after_fallback: the customer asked for a person (request_human) while a misunderstanding was still
  unresolved (the fallback's episode: until a message is understood);
- low_rating: a CSAT of 1 or 2 (slot csat_score) given after the bot answered a message, before any other
  message outside a form: that message (the ticket form's answers do not count as messages here).
Button payloads ("/affirm") are never collected themselves, nor are messages sent by cs_backend
(trigger_intent). A session start or a restart forgets everything: "right after" never crosses sessions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cs_backend.nlu_review.models import CHANNEL_LENGTH, INTENT_LENGTH, MESSAGE_KEY_LENGTH, Reason

NLU_FALLBACK = "nlu_fallback"
# "Did you mean…?": the two-stage fallback runs action_default_ask_affirmation inside its loop, so no action
# event names it; its bot message carries the response's name (metadata utter_action).
ASK_AFFIRMATION_RESPONSE = "utter_ask_affirmation"
# The "Something else" button's intent (actions/fallback.py SOMETHING_ELSE).
SOMETHING_ELSE_INTENT = "out_of_scope"
HUMAN_INTENTS = frozenset({"request_human"})
CSAT_SLOT = "csat_score"
LOW_CSAT = 2.0
# The loop of Rasa's two-stage fallback is an active loop too, but not a form: messages typed during it are
# the customer's own words.
NOT_A_FORM = frozenset({"action_two_stage_fallback"})
# Answers and conversation management: a low rating after them says nothing about understanding them.
NOT_A_TOPIC = frozenset({"rate", "inform", "affirm", "deny", "stop", "greet", "goodbye", "thank"})
CONTROL_INTENTS = frozenset({"session_start", "restart"})
DEFAULT_CHANNEL = "api"
STATE_VERSION = 1


@dataclass
class Said:
    """A customer message as the collector keeps it (plain JSON values)."""

    key: str
    text: str
    intent: str | None
    confidence: float | None
    channel: str
    at: float


@dataclass(frozen=True)
class Candidate:
    """A message to store for review, with why."""

    sender_id: str
    said: Said
    reason: Reason


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _name(value: Any) -> str | None:
    return value[:INTENT_LENGTH] if isinstance(value, str) and value else None


def predicted(parse_data: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """The intent NLU would have chosen and its confidence: under nlu_fallback, the best ranked real one."""
    intent = parse_data.get("intent")
    name = _name(intent.get("name")) if isinstance(intent, Mapping) else None
    confidence = _number(intent.get("confidence")) if isinstance(intent, Mapping) else None
    if name != NLU_FALLBACK:
        return name, confidence
    ranking = parse_data.get("intent_ranking")
    for ranked in ranking if isinstance(ranking, list) else []:
        if isinstance(ranked, Mapping) and _name(ranked.get("name")) not in (None, NLU_FALLBACK):
            return _name(ranked.get("name")), _number(ranked.get("confidence"))
    return None, None


def said_of(event: Mapping[str, Any]) -> Said | None:
    """The customer message of a `user` event; None for messages not typed by the customer."""
    text = event.get("text")
    timestamp = _number(event.get("timestamp"))
    metadata = event.get("metadata")
    if not isinstance(text, str) or not text.strip() or timestamp is None:
        return None
    if (isinstance(metadata, Mapping) and metadata.get("is_external") is True) or text.startswith(
        "EXTERNAL: "
    ):
        return None
    parse_data = event.get("parse_data")
    parse_data = parse_data if isinstance(parse_data, Mapping) else {}
    intent, confidence = predicted(parse_data)
    if intent in CONTROL_INTENTS:
        return None
    message_id = event.get("message_id") or parse_data.get("message_id")
    key = message_id if isinstance(message_id, str) and message_id else f"t{timestamp!r}"
    channel = event.get("input_channel")
    channel = channel.strip() if isinstance(channel, str) and channel.strip() else DEFAULT_CHANNEL
    return Said(
        key=key[:MESSAGE_KEY_LENGTH],
        text=text,
        intent=intent,
        confidence=confidence,
        channel=channel[:CHANNEL_LENGTH],
        at=timestamp,
    )


def _fell_back(event: Mapping[str, Any]) -> bool:
    parse_data = event.get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, Mapping) else None
    return isinstance(intent, Mapping) and intent.get("name") == NLU_FALLBACK


@dataclass
class Watch:
    """One conversation's memory between events."""

    sender_id: str
    # The misunderstood message whose episode is not over (nothing understood since).
    missed: Said | None = None
    # "Did you mean…?" was the bot's last question.
    asked_affirmation: bool = False
    # The last message typed outside a form that a low rating would be about.
    answered: Said | None = None
    in_form: bool = False
    version: int = field(default=STATE_VERSION)

    @property
    def empty(self) -> bool:
        return (
            self.missed is None and self.answered is None and not self.asked_affirmation and not self.in_form
        )

    def feed(self, event: Mapping[str, Any]) -> list[Candidate]:
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            self.missed, self.answered, self.asked_affirmation, self.in_form = None, None, False, False
        elif kind == "bot":
            metadata = event.get("metadata")
            said = metadata.get("utter_action") if isinstance(metadata, Mapping) else None
            self.asked_affirmation = said == ASK_AFFIRMATION_RESPONSE and self.missed is not None
        elif kind == "active_loop":
            name = event.get("name")
            self.in_form = isinstance(name, str) and bool(name) and name not in NOT_A_FORM
        elif kind == "slot" and event.get("name") == CSAT_SLOT:
            return self._rated(event.get("value"))
        elif kind == "user":
            return self._message(event)
        return []

    def _message(self, event: Mapping[str, Any]) -> list[Candidate]:
        said = said_of(event)
        if said is None:
            return []
        asked, self.asked_affirmation = self.asked_affirmation, False
        if _fell_back(event):
            self.missed, self.answered = said, None
            return [Candidate(self.sender_id, said, "fallback")]
        missed = self.missed
        if missed is not None and asked and said.intent == SOMETHING_ELSE_INTENT:
            # None of the guesses: the episode goes on (Rasa asks to rephrase).
            return [Candidate(self.sender_id, missed, "something_else")]
        if missed is not None and said.intent in HUMAN_INTENTS:
            self.missed = None
            return [Candidate(self.sender_id, missed, "human_after_fallback")]
        self.missed = None  # understood: the misunderstanding is over
        typed = not said.text.startswith("/")
        if typed and not self.in_form and said.intent not in NOT_A_TOPIC:
            self.answered = said
        return []

    def _rated(self, value: Any) -> list[Candidate]:
        score = _number(value)
        if score is None or not 1 <= score <= LOW_CSAT:
            return []
        about = self.answered or self.missed
        self.answered = None
        return [Candidate(self.sender_id, about, "low_rating")] if about is not None else []

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Watch:
        missed, answered = data.get("missed"), data.get("answered")
        return cls(
            sender_id=str(data["sender_id"]),
            missed=Said(**missed) if isinstance(missed, Mapping) else None,
            asked_affirmation=bool(data.get("asked_affirmation")),
            answered=Said(**answered) if isinstance(answered, Mapping) else None,
            in_form=bool(data.get("in_form")),
        )
