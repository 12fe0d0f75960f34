"""Decide each conversation session's outcome from Rasa's tracker events: a pure state machine (no I/O).

Feed one conversation's events in the order Rasa published them (`ConversationState.feed`), and ask it to
close an idle session against a clock you pass in (`ConversationState.close_if_idle`); both return the
sessions they decided. `classify()` runs a whole list of events through it, for tests and one-off analyses.

Sessions. A session starts at a `session_started` event, or at the first event when none is open. It ends
when a new session starts, or when no customer message came for `abandon_after`: measured against the next
event's timestamp while events keep coming, and against the clock otherwise, so a consumer that catches up
on a backlog decides exactly what a live one would. An event after a session was closed as idle starts a new
session, even if Rasa's own session (`session_expiration_time`) continues.

Outcome of an ended session, first match wins:
1. `ticket_created`: an `action` event `action_create_ticket` that was not rejected in the same turn (an
   `action_execution_rejected` for it, or, as this project's action reports failures, a `ticket_outcome`
   slot set to something other than "created"), or the `ticket_id` slot set to a value after the
   session's first customer message (Rasa re-sends every slot right after `session_started`: those
   carried-over values are not this session's ticket).
2. `escalated`: a customer intent in HANDOFF_INTENTS, or an action in HANDOFF_ACTIONS.
3. `abandoned`: at the end a form was active (`active_loop` with a name), or the last bot action was a
   fallback (FALLBACK_ACTIONS), or the last customer message got no bot message after it.
4. `resolved_by_bot`: otherwise (the bot answered the last customer message, so at least once).
A session without any customer message (e.g. only Rasa's session start, or a nudge nobody answered) has no
outcome. Customer messages are `user` events except external ones (`trigger_intent`, reminders: metadata
`is_external`) and the commands /session_start and /restart; their intents (parse_data.intent.name) are the
session's `intents`, distinct, in order of first appearance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from cs_backend.outcomes.models import Outcome
from cs_backend.storable_text import unstorable_reason

TICKET_ACTION = "action_create_ticket"
TICKET_ID_SLOT = "ticket_id"
# actions/tickets.py reports "created", "unavailable" (backend down) or "rejected" here after the action ran.
TICKET_OUTCOME_SLOT = "ticket_outcome"
TICKET_CREATED_VALUE = "created"
HANDOFF_INTENTS = frozenset({"request_human", "human_handoff"})
# The relay loop runs alone in a session that re-entered it (Rasa lost the tracker, or a new session began
# while a person held the conversation): that session was with a person too.
HANDOFF_ACTIONS = frozenset({"action_handoff_to_human", "action_relay_to_agent"})
FALLBACK_ACTIONS = frozenset(
    {"action_default_fallback", "action_two_stage_fallback", "utter_ask_rephrase", "utter_default"}
)
# User events that are commands to Rasa rather than something the customer asked.
CONTROL_INTENTS = frozenset({"session_start", "restart"})
# Rasa's bookkeeping, not the bot doing something for the customer. action_session_start is logged just
# before the session_started event it produces, so it would otherwise land in the previous session.
BOOKKEEPING_ACTIONS = frozenset({"action_listen", "action_session_start", "action_restart"})
# Rasa leaves input_channel empty for some clients; the actions then let cs_backend default it to "api"
# (tickets, conversations), and outcomes do the same so that one conversation has one channel everywhere.
DEFAULT_CHANNEL = "api"
SENDER_ID_MAX_LENGTH = 255
CHANNEL_MAX_LENGTH = 50
INTENT_MAX_LENGTH = 200
# Up to 9999-12-31: a larger timestamp cannot be stored as a date.
_MAX_TIMESTAMP = 253402300799.0
STATE_VERSION = 1


class BadEvent(ValueError):
    """An event that is not Rasa's event JSON (or cannot be stored); skipped by the consumer."""


def _optional_name(value: Any, max_length: int = INTENT_MAX_LENGTH) -> str | None:
    if isinstance(value, str) and value and len(value) <= max_length and unstorable_reason(value) is None:
        return value
    return None


@dataclass(frozen=True)
class RasaEvent:
    """The parts of one Rasa event (rasa.shared.core.events `as_dict()` + `sender_id`) that matter here."""

    sender_id: str
    type: str
    timestamp: float
    # action, action_execution_rejected, slot and active_loop events: the action / slot / loop name.
    name: str | None = None
    value: Any = None  # slot events
    intent: str | None = None  # user events
    input_channel: str | None = None  # user events
    external: bool = False  # user events sent by trigger_intent or a reminder, not typed by the customer

    @property
    def is_customer_message(self) -> bool:
        return self.type == "user" and not self.external and self.intent not in CONTROL_INTENTS


def parse_event(data: Any, sender_id: str | None = None) -> RasaEvent:
    """Validate one event as published by Rasa's event brokers; BadEvent says what is wrong.

    `sender_id` is the broker's own column, used when the JSON has none (Rasa always puts it in both).
    """
    if not isinstance(data, Mapping):
        raise BadEvent("not a JSON object")
    event_type = data.get("event")
    if not isinstance(event_type, str) or not event_type:
        raise BadEvent("no 'event' type")
    sender = data.get("sender_id", sender_id)
    if (
        not isinstance(sender, str)
        or not 1 <= len(sender) <= SENDER_ID_MAX_LENGTH
        or unstorable_reason(sender) is not None
    ):
        raise BadEvent(f"'sender_id' must be text of 1-{SENDER_ID_MAX_LENGTH} characters")
    timestamp = data.get("timestamp")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, (int, float))
        or not math.isfinite(timestamp)
        or not 0 < timestamp <= _MAX_TIMESTAMP
    ):
        raise BadEvent("'timestamp' must be a positive number of seconds")
    timestamp = float(timestamp)

    if event_type == "user":
        parse_data = data.get("parse_data")
        intent = parse_data.get("intent") if isinstance(parse_data, Mapping) else None
        metadata = data.get("metadata")
        text = data.get("text")
        external = (isinstance(metadata, Mapping) and metadata.get("is_external") is True) or (
            isinstance(text, str) and text.startswith("EXTERNAL: ")
        )
        channel = data.get("input_channel")
        return RasaEvent(
            sender_id=sender,
            type=event_type,
            timestamp=timestamp,
            intent=_optional_name(intent.get("name")) if isinstance(intent, Mapping) else None,
            input_channel=(
                channel.strip()[:CHANNEL_MAX_LENGTH]
                if isinstance(channel, str) and channel.strip() and unstorable_reason(channel) is None
                else None
            ),
            external=external,
        )
    if event_type in ("action", "action_execution_rejected", "slot", "active_loop"):
        return RasaEvent(
            sender_id=sender,
            type=event_type,
            timestamp=timestamp,
            name=_optional_name(data.get("name")),
            value=data.get("value") if event_type == "slot" else None,
        )
    return RasaEvent(sender_id=sender, type=event_type, timestamp=timestamp)


def to_datetime(timestamp: float) -> datetime:
    """Rasa's epoch seconds as an aware UTC datetime (microseconds: what both databases keep)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


@dataclass(frozen=True)
class SessionOutcome:
    sender_id: str
    channel: str
    session_started_at: datetime
    ended_at: datetime
    outcome: Outcome
    intents: tuple[str, ...]


@dataclass
class Session:
    """One open session; every field is plain JSON so the state can be stored between events."""

    started_at: float
    last_event_at: float
    # The last customer message, or the start: the idle time counts from here.
    idle_since: float
    channel: str | None = None
    intents: list[str] = field(default_factory=list)
    customer_messages: int = 0
    bot_answered: bool = False
    unanswered: bool = False
    active_loop: str | None = None
    last_action: str | None = None
    ticket_action: bool = False
    # customer_messages when action_create_ticket ran: a rejection counts only in that same turn.
    ticket_action_turn: int = -1
    ticket_slot: bool = False
    escalated: bool = False

    @classmethod
    def start(cls, timestamp: float) -> Session:
        return cls(started_at=timestamp, last_event_at=timestamp, idle_since=timestamp)

    def apply(self, event: RasaEvent) -> None:
        self.last_event_at = max(self.last_event_at, event.timestamp)
        kind = event.type
        if kind == "user":
            if not event.is_customer_message:
                return
            self.customer_messages += 1
            self.idle_since = max(self.idle_since, event.timestamp)
            self.unanswered = True
            if event.input_channel:
                self.channel = event.input_channel
            if event.intent:
                if event.intent not in self.intents:
                    self.intents.append(event.intent)
                if event.intent in HANDOFF_INTENTS:
                    self.escalated = True
        elif kind == "bot":
            if self.customer_messages:
                self.bot_answered = True
                self.unanswered = False
        elif kind == "action":
            if event.name is None or event.name in BOOKKEEPING_ACTIONS:
                return
            self.last_action = event.name
            if event.name == TICKET_ACTION:
                self.ticket_action = True
                self.ticket_action_turn = self.customer_messages
            if event.name in HANDOFF_ACTIONS:
                self.escalated = True
        elif kind == "action_execution_rejected":
            if event.name == TICKET_ACTION and self._ticket_action_this_turn():
                self.ticket_action = False
        elif kind == "slot":
            if event.name == TICKET_ID_SLOT and event.value not in (None, "") and self.customer_messages:
                self.ticket_slot = True
            elif (
                event.name == TICKET_OUTCOME_SLOT
                and event.value is not None
                and event.value != TICKET_CREATED_VALUE
                and self._ticket_action_this_turn()
            ):
                self.ticket_action = False
        elif kind == "active_loop":
            self.active_loop = event.name
        # A `restart` (the customer's /restart) is followed at once by action_session_start and
        # session_started, which end this session as it was: a form left open by /restart is abandoned.

    def _ticket_action_this_turn(self) -> bool:
        return self.ticket_action and self.ticket_action_turn == self.customer_messages

    def decide(self) -> Outcome | None:
        if not self.customer_messages:
            return None
        if self.ticket_action or self.ticket_slot:
            return "ticket_created"
        if self.escalated:
            return "escalated"
        if self.active_loop or self.last_action in FALLBACK_ACTIONS or self.unanswered:
            return "abandoned"
        return "resolved_by_bot"


@dataclass
class ConversationState:
    """The classifier's memory of one conversation (Rasa sender id) between events."""

    sender_id: str
    # The latest input channel of the conversation (for sessions whose own messages carry none).
    channel: str | None = None
    session: Session | None = None

    def feed(self, event: RasaEvent, abandon_after: timedelta) -> list[SessionOutcome]:
        """Apply the next event; returns the session(s) it ended (at most one, with an outcome)."""
        if event.sender_id != self.sender_id:
            raise ValueError(f"event of {event.sender_id!r} fed to the state of {self.sender_id!r}")
        if event.type == "action" and event.name == "action_session_start":
            return []
        decided: list[SessionOutcome] = []
        if self.session is not None and (
            event.type == "session_started"
            or event.timestamp - self.session.idle_since >= abandon_after.total_seconds()
        ):
            decided.extend(self._end())
        if self.session is None:
            self.session = Session.start(event.timestamp)
        if event.type == "user" and event.input_channel:
            self.channel = event.input_channel
        self.session.apply(event)
        return decided

    def close_if_idle(self, now: datetime, abandon_after: timedelta) -> list[SessionOutcome]:
        """End the open session if no customer message came for `abandon_after` before `now`."""
        # Compared as datetimes (microseconds), exactly as the consumer's query compares the stored column.
        if self.session is None or now - to_datetime(self.session.idle_since) < abandon_after:
            return []
        return self._end()

    @property
    def idle_since(self) -> datetime | None:
        return to_datetime(self.session.idle_since) if self.session is not None else None

    def _end(self) -> list[SessionOutcome]:
        session, self.session = self.session, None
        if session is None:
            return []
        outcome = session.decide()
        if outcome is None:
            return []
        return [
            SessionOutcome(
                sender_id=self.sender_id,
                channel=session.channel or self.channel or DEFAULT_CHANNEL,
                session_started_at=to_datetime(session.started_at),
                ended_at=to_datetime(session.last_event_at),
                outcome=outcome,
                intents=tuple(session.intents),
            )
        ]

    def to_json(self) -> dict[str, Any]:
        return {"v": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConversationState:
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"unknown outcome state version {data.get('v')!r}")
        session_data = data.get("session")
        session = None
        if session_data is not None:
            known = {f.name for f in fields(Session)}
            session = Session(**{k: v for k, v in session_data.items() if k in known})
        return cls(
            sender_id=data["sender_id"],
            channel=data.get("channel"),
            session=session,
        )


def classify(
    events: Iterable[Mapping[str, Any]],
    abandon_after: timedelta = timedelta(minutes=30),
    now: datetime | None = None,
) -> list[SessionOutcome]:
    """The outcomes of Rasa event dicts, in order (of any conversations); with `now`, idle sessions close.

    Raises BadEvent on an event that is not Rasa's (the consumer logs and skips those instead).
    """
    states: dict[str, ConversationState] = {}
    decided: list[SessionOutcome] = []
    for data in events:
        event = parse_event(data)
        state = states.setdefault(event.sender_id, ConversationState(event.sender_id))
        decided.extend(state.feed(event, abandon_after))
    if now is not None:
        for state in states.values():
            decided.extend(state.close_if_idle(now, abandon_after))
    return decided
