"""A person instead of the bot: the live handoff (dialogue/rules/handoff.yml, docs/HANDOFF.md).

`action_handoff_to_human` asks cs_backend for a handoff (POST /api/routing/handoffs) with the reason, the
customer's language, a skill when the topic makes it clear, the priority and their last messages as `detail`.
It speaks only through slots; `handoff_outcome` is

- `queued` / `assigned`: waiting for an agent (`handoff_position`, `handoff_wait_minutes`) or offered to one
  (`handoff_agent_name`); the rules tell the customer and start the relay loop;
- `ticket_created`: nobody can take the chat now (no agent, or outside business hours: `handoff_unavailable`,
  `handoff_reopens`) and the email was known: cs_backend opened a ticket carrying the conversation
  (`ticket_id`);
- `need_email`: the same without an email: the ticket form asks only for it (`form_hint` = "handoff", see
  ValidateTicketForm), then action_create_ticket asks for the handoff's ticket (`handoff_id`);
- `unavailable`: cs_backend cannot be reached: nothing was passed on.
When cs_backend answered but the handoff failed (an error, an answer breaking the contract), a plain ticket
is tried instead, as before live handoff existed.

`action_relay_to_agent` is the relay: an ACTIVE LOOP (not a form), so while an agent holds the conversation
Rasa's RulePolicy predicts it for every message before any rule, and action_listen after it. Rasa 3.6 allows
any action as a loop: `_find_action_from_loop_happy_path` (rasa/core/policies/rule_policy.py) looks only at
the active loop's name and the latest action, and the processor runs whatever action is predicted; a form's
only extras (slot requests, validation) are not needed here. It handles cs_backend's notifications
(EXTERNAL_agent_message, EXTERNAL_handoff_update, EXTERNAL_handoff_ended) and relays every customer message
with one backend call, saying nothing when it arrived.

`action_session_start` binds a verified website user's conversation to their customer (actions/identity.py),
and re-enters the relay when cs_backend says an agent holds the conversation: a new session
(60 minutes without a message, or a conversation the tracker store lost) does not carry the active loop over.
`action_check_human_only` decides whether the topic just asked about is one a person must handle
(HUMAN_ONLY_INTENTS).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError, BackendUnavailable
from actions.api.models import Handoff
from actions.common import (
    NON_TOPIC_INTENTS,
    conversation_channel,
    human_time,
    latest_user_event,
    message_id,
    write_key,
)
from actions.identity import bind_verified_website_user
from actions.language import Bilingual, language_of
from actions.parsing import clean_description, extract_email, infer_urgency
from actions.tickets import HINT_HANDOFF, TICKET_ATTEMPT_SLOTS, TICKET_IN_FOCUS, open_ticket

logger = logging.getLogger(__name__)

RELAY_LOOP = "action_relay_to_agent"

# handoff_outcome values
QUEUED = "queued"
ASSIGNED = "assigned"
TICKET_CREATED = "ticket_created"
# Nobody available and cs_backend did not confirm the ticket: kept in the outbox, it reaches the team shortly.
TICKET_QUEUED = "ticket_queued"
NEED_EMAIL = "need_email"
UNAVAILABLE = "unavailable"

# handoff_end values
RESOLVED = "resolved"
CANCELLED = "cancelled"
NOT_RELAYING = "not_relaying"

# The reasons cs_backend records (HandoffReason).
REASON_CUSTOMER_REQUEST = "customer_request"
REASON_MISUNDERSTOOD = "misunderstood"
REASON_LOW_CSAT = "low_csat"
REASON_HUMAN_ONLY = "human_only_category"

# The offers of a person a "yes" answers (their `utter_action` is on the bot message Rasa records).
OFFER_AFTER_MISUNDERSTANDINGS = "utter_offer_human"
OFFER_AFTER_LOW_CSAT = "utter_offer_human_low_csat"

# cs_backend's notifications (trigger_intent), never typed.
AGENT_MESSAGE = "EXTERNAL_agent_message"
# The custom payload marking an agent's words, read by the widget's channel (bot/channels/socketio.py).
AGENT_MESSAGE_KEY = "agent_message"
WIDGET_CHANNEL = "socketio"
HANDOFF_UPDATE = "EXTERNAL_handoff_update"
HANDOFF_ENDED = "EXTERNAL_handoff_ended"
EXTERNAL_PREFIX = "EXTERNAL_"

# Topics a person must handle, from the environment. Only these intents can be: their rules ask
# action_check_human_only first (dialogue/rules/account.yml, billing.yml, product.yml); each is a request the
# bot answers with "only our team can do this", so a person may as well take it at once.
HUMAN_ONLY_INTENTS_ENV = "HUMAN_ONLY_INTENTS"
HUMAN_ONLY_ELIGIBLE = frozenset({"account_locked", "data_deletion", "refund_request"})
# By default the two that only a person can carry out: erasing personal data needs an identity check (GDPR),
# a refund moves money. A locked account mostly unlocks by itself or with a password reset (the bot's answer).
HUMAN_ONLY_DEFAULT = frozenset({"data_deletion", "refund_request"})
# HUMAN_ONLY_INTENTS=none: no topic goes to a person by itself.
HUMAN_ONLY_NONE = "none"

# The skill an agent needs, from the conversation's topic (the latest intent that says what it is about).
SKILL_BY_INTENT: Mapping[str, str] = {
    "billing_invoice": "billing",
    "refund_request": "billing",
    "change_plan": "billing",
    "cancel_subscription": "billing",
    "password_reset": "account",
    "two_factor_auth": "account",
    "account_locked": "account",
    "change_email": "account",
    "data_deletion": "privacy",
    "report_problem": "technical",
    "integrations": "technical",
    "data_export": "technical",
}
# Intents that say nothing about the topic: skipped when looking for it.
_NOT_A_TOPIC = NON_TOPIC_INTENTS | {"request_human", "chitchat"}

HANDOFF_INTRO = "Customer asked to talk to a person."
MAX_QUOTED_MESSAGES = 5
DETAIL_MAX_CHARS = 1000  # cs_backend's limit of a handoff's `detail`
# Shown as the wait when cs_backend gave no estimate ("about a few min").
UNKNOWN_WAIT = Bilingual("a few", "几")

# Forgotten when the relay starts, so a stale rating or end does not steer what follows.
_RELAY_START_SLOTS = ("handoff_end", "feedback_resolver")


def _is_typed(event: Mapping[str, Any]) -> bool:
    """A message the customer typed: not a button or "/intent" payload, not an external (trigger_intent)
    event."""
    text = str(event.get("text") or "").strip()
    if not text or text.startswith("/"):
        return False
    external = bool((event.get("metadata") or {}).get("is_external")) or text.startswith("EXTERNAL")
    return not external


def recent_customer_messages(tracker: Tracker, limit: int = MAX_QUOTED_MESSAGES) -> list[str]:
    """The customer's last `limit` typed messages of this session, oldest first.

    Read from all events, reverted ones included: the two-stage fallback reverts the messages it could not
    understand, and those are exactly what the support team needs to see. A message Rasa re-adds as a
    clarification has the same message id and is counted once.
    """
    events = list(tracker.events or [])
    starts = [index for index, event in enumerate(events) if event.get("event") == "session_started"]
    if starts:
        events = events[starts[-1] + 1 :]
    messages: list[str] = []
    seen_ids = set()
    for event in events:
        if event.get("event") != "user" or not _is_typed(event):
            continue
        event_id = message_id(event)
        if event_id:
            if event_id in seen_ids:
                continue
            seen_ids.add(event_id)
        messages.append(" ".join(str(event["text"]).split()))
    return messages[-limit:] if limit > 0 else []


def handoff_description(messages: list[str]) -> str:
    """'Customer asked to talk to a person. Their last messages: "…" / "…"' (one line, like every ticket)."""
    if not messages:
        return HANDOFF_INTRO
    quoted = " / ".join(f"“{message}”" for message in messages)
    return clean_description(f"{HANDOFF_INTRO} Their last messages: {quoted}")


def handoff_detail(description: str) -> str:
    """The description, cut to what cs_backend stores as a handoff's `detail`."""
    if len(description) <= DETAIL_MAX_CHARS:
        return description
    return description[: DETAIL_MAX_CHARS - 1].rstrip() + "…"


def handoff_priority(messages: list[str]) -> str:
    return "urgent" if infer_urgency(" ".join(messages)) else "normal"


def human_only_intents(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The topics a person must handle: HUMAN_ONLY_INTENTS (comma-separated intents among
    HUMAN_ONLY_ELIGIBLE, or "none"); unset or blank: HUMAN_ONLY_DEFAULT. Other names are ignored, with a
    warning: no rule would send them to a person."""
    raw = (os.environ if environ is None else environ).get(HUMAN_ONLY_INTENTS_ENV, "").strip()
    if not raw:
        return HUMAN_ONLY_DEFAULT
    names = {name.strip() for name in raw.split(",") if name.strip()}
    if names == {HUMAN_ONLY_NONE}:
        return frozenset()
    ignored = names - HUMAN_ONLY_ELIGIBLE
    if ignored:
        logger.warning(
            "%s: ignoring %s (only %s can be human-only)",
            HUMAN_ONLY_INTENTS_ENV,
            sorted(ignored),
            sorted(HUMAN_ONLY_ELIGIBLE),
        )
    return frozenset(names & HUMAN_ONLY_ELIGIBLE)


def _intent_of(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def topic_skill(tracker: Tracker) -> str | None:
    """The skill the conversation's topic needs: from the latest intent of this session that says what it is
    about; None when that topic needs no particular skill, or nothing said it."""
    events = list(tracker.events or [])
    for event in reversed(events):
        if event.get("event") == "session_started":
            return None
        if event.get("event") != "user":
            continue
        intent = _intent_of(event)
        if not intent or intent in _NOT_A_TOPIC or intent.startswith(EXTERNAL_PREFIX):
            continue
        return SKILL_BY_INTENT.get(intent.split("/", 1)[0])
    return None


def _offer_answered(tracker: Tracker) -> str | None:
    """The response the bot said last before the customer's latest message (its `utter_action`), if any."""
    events = list(tracker.events or [])
    latest_user = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "user"), None)
    if latest_user is None:
        return None
    for event in reversed(events[:latest_user]):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
        if event.get("event") == "user":
            return None
    return None


def handoff_reason(tracker: Tracker, human_only: frozenset[str] | None = None) -> str:
    """Why the customer goes to a person: a human-only topic, the answer to an offer made after two
    misunderstandings or after a low rating, else because they asked."""
    topics = human_only_intents() if human_only is None else human_only
    if latest_intent(tracker) in topics and tracker.get_slot("human_only_topic"):
        return REASON_HUMAN_ONLY
    offer = _offer_answered(tracker)
    if offer == OFFER_AFTER_LOW_CSAT:
        return REASON_LOW_CSAT
    if offer == OFFER_AFTER_MISUNDERSTANDINGS:
        return REASON_MISUNDERSTOOD
    return REASON_CUSTOMER_REQUEST


def wait_minutes(estimated_wait_seconds: int | None, language: str) -> str:
    """Whole minutes, rounded up, at least 1; UNKNOWN_WAIT (in `language`) without an estimate."""
    if estimated_wait_seconds is None:
        return UNKNOWN_WAIT.in_language(language)
    return str(max(1, math.ceil(estimated_wait_seconds / 60)))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class ActionHandoffToHuman(Action):
    """Asks cs_backend for a person (a live chat, else a ticket) and reports it in `handoff_outcome`."""

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        messages = recent_customer_messages(tracker)
        description = handoff_description(messages)
        priority = handoff_priority(messages)
        email = extract_email(tracker.get_slot("email"))
        reason = handoff_reason(tracker)
        try:
            async with BackendClient() as backend:
                handoff = await self._request(backend, tracker, description, priority, email, reason)
                if handoff.ticket_id is not None and email is None:
                    # The email came from the customer's record: the customer is told where the answer goes.
                    email = await self._ticket_email(backend, handoff.ticket_id)
        except BackendUnavailable as error:
            logger.warning("handoff not passed on, cs_backend unreachable: %s", error)
            return [SlotSet("handoff_outcome", UNAVAILABLE)]
        except BackendError as error:
            # cs_backend answered, but not with a handoff: a ticket still reaches a person.
            logger.warning("handoff refused or failed (%s): falling back to a ticket", error)
            return await self._ticket_instead(tracker, description, priority, email)
        logger.info(
            "handoff %s for sender %s: %s (reason %s)", handoff.id, tracker.sender_id, handoff.state, reason
        )
        return self._outcome(handoff, description, priority, email, language_of(tracker))

    @staticmethod
    async def _request(
        backend: BackendClient,
        tracker: Tracker,
        description: str,
        priority: str,
        email: str | None,
        reason: str,
    ) -> Handoff:
        async def request(with_email: str | None, write_kind: str) -> Handoff:
            return await backend.request_handoff(
                sender_id=tracker.sender_id,
                channel=conversation_channel(tracker),
                email=with_email,
                # The language the assistant speaks with the customer: an agent who speaks it takes the chat.
                language=language_of(tracker),
                skill=topic_skill(tracker),
                priority=priority,
                reason=reason,
                detail=handoff_detail(description),
                idempotency_key=write_key(write_kind, tracker),
            )

        try:
            return await request(email, "handoff")
        except BackendError as error:
            if not (error.is_refusal and "email" in error.fields and email is not None):
                raise
            # The email we had was refused: hand over without it (the ticket form asks another if needed).
            logger.warning("handoff refused for its email: %s", error.fields["email"])
            return await request(None, "handoff-without-email")

    @staticmethod
    async def _ticket_email(backend: BackendClient, ticket_id: int) -> str | None:
        try:
            return (await backend.get_ticket(ticket_id)).email
        except BackendError as error:
            logger.warning("could not read the email of handoff ticket %s: %s", ticket_id, error)
            return None

    def _outcome(
        self, handoff: Handoff, description: str, priority: str, email: str | None, language: str
    ) -> list[EventType]:
        handoff_slots = [
            SlotSet("handoff_id", str(handoff.id)),
            SlotSet("handoff_agent_name", handoff.agent_name),
            SlotSet("handoff_agent_id", _text(handoff.agent_id)),
        ]
        if handoff.is_live:
            if handoff.state == "queued" or handoff.agent_name is None:
                # (An offer without the agent's name is told as the head of the line.)
                outcome = [
                    SlotSet("handoff_outcome", QUEUED),
                    SlotSet("handoff_position", str(handoff.queue_position or 1)),
                    SlotSet("handoff_wait_minutes", wait_minutes(handoff.estimated_wait_seconds, language)),
                ]
            else:
                outcome = [SlotSet("handoff_outcome", ASSIGNED)]
            return [*outcome, *handoff_slots, *[SlotSet(slot, None) for slot in _RELAY_START_SLOTS]]
        if handoff.unavailable is None:
            # Closed at once without a reason: not what the contract allows. Nothing reached a person.
            logger.error("handoff %s answered %s without being unavailable", handoff.id, handoff.state)
            return [SlotSet("handoff_outcome", UNAVAILABLE)]
        reopens = human_time_or_none(handoff.reopens_at, language)
        why = [
            SlotSet("handoff_unavailable", "closed" if reopens else "no_agent"),
            SlotSet("handoff_reopens", reopens),
        ]
        if handoff.ticket_id is not None:
            return [
                SlotSet("handoff_outcome", TICKET_CREATED),
                SlotSet("ticket_id", str(handoff.ticket_id)),
                SlotSet(TICKET_IN_FOCUS, str(handoff.ticket_id)),
                SlotSet("email", email),
                SlotSet("handoff_id", None),
                *why,
                # A ticket attempt the customer had started is superseded by this one.
                *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
            ]
        # No email known: the ticket form asks it, then action_create_ticket asks for this handoff's ticket.
        return [*self._ask_email(description, priority), SlotSet("handoff_id", str(handoff.id)), *why]

    async def _ticket_instead(
        self, tracker: Tracker, description: str, priority: str, email: str | None
    ) -> list[EventType]:
        forget_handoff = [SlotSet("handoff_id", None), SlotSet("handoff_unavailable", None)]
        if email is None:
            return [*self._ask_email(description, priority), *forget_handoff]
        try:
            ticket = await open_ticket(
                tracker, description=description, email=email, priority=priority, write_kind="handoff-ticket"
            )
        except BackendError as error:
            if error.is_refusal and "email" in error.fields:
                logger.warning("handoff ticket refused for its email: %s", error.fields["email"])
                return [SlotSet("email", None), *self._ask_email(description, priority), *forget_handoff]
            logger.warning("handoff not passed on, cs_backend unavailable or refusing: %s", error)
            return [SlotSet("handoff_outcome", UNAVAILABLE)]
        if isinstance(ticket, Queued):
            logger.info(
                "handoff ticket for sender %s queued (outbox entry %s)", tracker.sender_id, ticket.entry_id
            )
            return [
                SlotSet("handoff_outcome", TICKET_QUEUED),
                SlotSet("ticket_id", None),
                SlotSet("email", email),
                *forget_handoff,
                *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
            ]
        logger.info("handoff ticket %s created for sender %s", ticket.id, tracker.sender_id)
        return [
            SlotSet("handoff_outcome", TICKET_CREATED),
            SlotSet("ticket_id", str(ticket.id)),
            SlotSet(TICKET_IN_FOCUS, str(ticket.id)),
            SlotSet("ticket_priority", ticket.priority),
            SlotSet("email", ticket.email or email),
            *forget_handoff,
            *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
        ]

    @staticmethod
    def _ask_email(description: str, priority: str) -> list[EventType]:
        slots: dict[str, str | None] = {
            "handoff_outcome": NEED_EMAIL,
            "description": description,
            "priority": priority,
            "form_hint": HINT_HANDOFF,
            "requested_slot": None,
        }
        return [SlotSet(name, value) for name, value in slots.items()]


def human_time_or_none(timestamp: str | None, language: str) -> str | None:
    """ "2026-12-01T09:00:00+01:00" -> "01 Dec 2026, 08:00 UTC" (in `language`); None when absent or
    unreadable."""
    if not timestamp:
        return None
    told = human_time(timestamp, language)
    return None if told == timestamp else told


# --- the relay loop -----------------------------------------------------------------------------------------


def notification(tracker: Tracker) -> dict[str, Any]:
    """The entities of cs_backend's notification (the latest message), by name."""
    entities = (tracker.latest_message or {}).get("entities") or []
    return {
        str(entity["entity"]): entity.get("value")
        for entity in entities
        if isinstance(entity, Mapping) and entity.get("entity")
    }


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def leave_relay(outcome: str, handoff_id: int | None, agent_id: int | None) -> list[EventType]:
    """Leaves the relay loop. After a resolved handoff the feedback questions are about the agent's help
    (`feedback_resolver` "agent", with the agent and the handoff); a cancelled one asks nothing."""
    events: list[EventType] = [ActiveLoop(None), SlotSet("handoff_end", outcome)]
    if outcome == RESOLVED:
        events += [
            SlotSet("feedback_resolver", "agent"),
            SlotSet("handoff_agent_id", _text(agent_id)),
            SlotSet("handoff_id", _text(handoff_id)),
            # A fresh round of questions: no earlier answer may skip one.
            SlotSet("csat_score", None),
            SlotSet("ces_score", None),
            SlotSet("feedback_topic", None),
            SlotSet("feedback_outcome", None),
            SlotSet("form_hint", None),
            SlotSet("requested_slot", None),
        ]
    else:
        events += [SlotSet("handoff_id", None), SlotSet("feedback_resolver", None)]
    return events


def _relayed_message_id(tracker: Tracker) -> str | None:
    """Rasa's id of the customer's latest message: cs_backend stores a message sent twice (a retry) once."""
    event = latest_user_event(tracker)
    return (message_id(event) if event else None) or (tracker.latest_message or {}).get("message_id") or None


class ActionRelayToAgent(Action):
    """The relay between the customer and the agent, run as the active loop (see the module's docstring).

    - EXTERNAL_agent_message: utters the agent's `text`, exactly and alone (on the widget marked as the
      agent's, with their name);
    - EXTERNAL_handoff_update: the new place in line and wait, or "now chatting with <agent>";
    - EXTERNAL_handoff_ended: leaves the loop (`handoff_end` resolved or cancelled; the rules speak);
    - a customer message: passed to the agent (POST customer-messages), nothing said; when cs_backend says the
      handoff is over, leaves the loop as for an end; when it cannot be reached, says the message did not
      reach the agent.
    Started by a rule (after action_handoff_to_human, or a notification outside the loop), it activates the
    loop without relaying the message that led there. One backend call per customer message, none otherwise.
    """

    def name(self) -> str:
        return RELAY_LOOP

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        relaying = (tracker.active_loop or {}).get("name") == RELAY_LOOP
        intent = latest_intent(tracker)
        if intent == AGENT_MESSAGE:
            events = self._agent_message(dispatcher, tracker)
        elif intent == HANDOFF_UPDATE:
            events = self._update(dispatcher, tracker)
        elif intent == HANDOFF_ENDED:
            return self._ended(tracker) if relaying else [SlotSet("handoff_end", NOT_RELAYING)]
        elif not relaying or (intent or "").startswith(EXTERNAL_PREFIX):
            # Activation (the message that led here is not for the agent), or another notification (an
            # onboarding nudge): the agent holds the conversation, the bot stays silent.
            events = []
        else:
            return await self._relay(dispatcher, tracker)
        if relaying:
            return events
        return [ActiveLoop(RELAY_LOOP), *[SlotSet(slot, None) for slot in _RELAY_START_SLOTS], *events]

    @staticmethod
    def _handoff_slot(handoff_id: Any) -> list[EventType]:
        number = _as_int(handoff_id)
        return [SlotSet("handoff_id", str(number))] if number is not None else []

    def _agent_message(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        values = notification(tracker)
        text = values.get("text")
        if not isinstance(text, str) or not text.strip():
            logger.warning("agent message without text for sender %s", tracker.sender_id)
        elif conversation_channel(tracker) == WIDGET_CHANNEL:
            # Marked as the agent's: the widget's channel labels it with the name (bot/channels/socketio.py).
            agent_name = values.get("agent_name") or tracker.get_slot("handoff_agent_name")
            name = agent_name if isinstance(agent_name, str) else None
            dispatcher.utter_message(text=text, json_message={AGENT_MESSAGE_KEY: {"name": name}})
        else:
            dispatcher.utter_message(text=text)
        events = self._handoff_slot(values.get("handoff_id"))
        if isinstance(values.get("agent_name"), str):
            events.append(SlotSet("handoff_agent_name", values["agent_name"]))
        return events

    def _update(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        values = notification(tracker)
        events = self._handoff_slot(values.get("handoff_id"))
        state = values.get("state")
        if state == "queued":
            position = _as_int(values.get("position"))
            if position is None:
                logger.warning("queue update without a position for sender %s", tracker.sender_id)
                return events
            minutes = _as_int(values.get("wait_minutes"))
            wait = (
                str(max(1, minutes))
                if minutes is not None
                else UNKNOWN_WAIT.in_language(language_of(tracker))
            )
            # The values go with the message: the slots set below are not set yet when Rasa words it.
            dispatcher.utter_message(
                response="utter_handoff_position", handoff_position=str(position), handoff_wait_minutes=wait
            )
            told = {"handoff_position": str(position), "handoff_wait_minutes": wait}
        elif state == "accepted" and isinstance(values.get("agent_name"), str):
            agent_name = values["agent_name"]
            dispatcher.utter_message(response="utter_handoff_agent_joined", handoff_agent_name=agent_name)
            told = {"handoff_agent_name": agent_name}
        else:
            logger.warning("handoff update %r not understood for sender %s", state, tracker.sender_id)
            return events
        return [*events, *[SlotSet(name, value) for name, value in told.items()]]

    @staticmethod
    def _ended(tracker: Tracker) -> list[EventType]:
        values = notification(tracker)
        ended_id = _as_int(values.get("handoff_id"))
        current_id = _as_int(tracker.get_slot("handoff_id"))
        if ended_id is not None and current_id is not None and ended_id != current_id:
            # The end of an earlier handoff of this conversation, notified late: this one goes on.
            logger.info("end of handoff %s ignored: relaying handoff %s", ended_id, current_id)
            return []
        outcome = RESOLVED if values.get("outcome") == RESOLVED else CANCELLED
        return leave_relay(outcome, ended_id or current_id, _as_int(values.get("agent_id")))

    @staticmethod
    async def _relay(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        latest = tracker.latest_message or {}
        text = str(latest.get("text") or "").strip()
        handoff_id = _as_int(tracker.get_slot("handoff_id"))
        if not text:
            return []
        try:
            async with BackendClient() as backend:
                if handoff_id is None:
                    # The loop runs without its handoff (a slot lost): cs_backend knows which it is.
                    held = await backend.active_handoff(tracker.sender_id)
                    if held is None:
                        return leave_relay(CANCELLED, None, None)
                    handoff_id = held.id
                relayed = await backend.relay_customer_message(
                    handoff_id, text=text, message_id=_relayed_message_id(tracker)
                )
        except BackendError as error:
            if error.is_not_found:
                logger.warning("handoff %s is gone: leaving the relay", handoff_id)
                return leave_relay(CANCELLED, None, None)
            logger.warning("customer message not relayed to handoff %s: %s", handoff_id, error)
            dispatcher.utter_message(response="utter_handoff_message_not_delivered")
            return []
        handoff = relayed.handoff
        if relayed.stored or handoff.is_live:
            return []
        # Over already (its end notification was lost): the bot takes the conversation back.
        logger.info("handoff %s is %s: leaving the relay", handoff.id, handoff.state)
        outcome = RESOLVED if handoff.state == "resolved" else CANCELLED
        return leave_relay(outcome, handoff.id, handoff.agent_id)


# --- session start ------------------------------------------------------------------------------------------


class ActionSessionStart(Action):
    """Rasa's session start (SessionStarted, the slots carried over when the domain says so, action_listen),
    and back into the relay loop when cs_backend says an agent holds this conversation: a new session does not
    carry the active loop over, so the bot would otherwise answer while the agent holds it."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        session_config = domain.get("session_config")
        carry_over = not isinstance(session_config, Mapping) or session_config.get(
            "carry_over_slots_to_new_session", True
        )
        if carry_over:
            events += carried_over_slots(tracker)
        events += await bind_verified_website_user(tracker)
        events += await self._back_to_the_agent(tracker)
        events.append(ActionExecuted("action_listen"))
        return events

    @staticmethod
    async def _back_to_the_agent(tracker: Tracker) -> list[EventType]:
        try:
            async with BackendClient() as backend:
                held = await backend.active_handoff(tracker.sender_id)
        except BackendError as error:
            # The conversation starts as usual; a later notification re-enters the relay (handoff.yml).
            logger.warning("could not ask whether an agent holds sender %s: %s", tracker.sender_id, error)
            return []
        if held is None:
            return []
        logger.info("sender %s is held by handoff %s (%s): relaying", tracker.sender_id, held.id, held.state)
        return [
            SlotSet("handoff_id", str(held.id)),
            SlotSet("handoff_agent_name", held.agent_name),
            SlotSet("handoff_agent_id", _text(held.agent_id)),
            *[SlotSet(slot, None) for slot in _RELAY_START_SLOTS],
            ActiveLoop(RELAY_LOOP),
        ]


def carried_over_slots(tracker: Tracker) -> list[EventType]:
    """The slot events of the ending session, as Rasa's default session start carries them over (with their
    metadata; `session_started_metadata` among them)."""
    carried: list[EventType] = []
    for event in tracker.applied_events():
        if event.get("event") == "slot":
            slot = SlotSet(event["name"], event.get("value"))
            if event.get("metadata"):
                slot["metadata"] = event["metadata"]
            carried.append(slot)
    return carried


# --- human-only topics --------------------------------------------------------------------------------------


class ActionCheckHumanOnly(Action):
    """Sets `human_only_topic`: is the latest message's topic one of HUMAN_ONLY_INTENTS?"""

    def name(self) -> str:
        return "action_check_human_only"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet("human_only_topic", latest_intent(tracker) in human_only_intents())]
