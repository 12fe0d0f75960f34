"""A person instead of the bot (dialogue/rules/handoff.yml).

cs_backend has no live handoff queue yet, so `action_handoff_to_human` opens a ticket that goes to the support
team, with what the customer said in this session (their last typed messages, including the ones the bot did
not understand). It speaks only through slots; `handoff_outcome` is

- `ticket_created`: the email was known, the ticket is open (`ticket_id`, `ticket_priority` set);
- `need_email`: the email is unknown: `description` and `priority` are set, with `form_hint` = "handoff", and
  the rule runs ticket_form, which then only asks the email (see ValidateTicketForm in actions/tickets.py);
- `unavailable`: cs_backend could not be reached (or failed): nothing was passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.errors import BackendError
from actions.common import message_id
from actions.parsing import clean_description, extract_email, infer_urgency
from actions.tickets import HINT_HANDOFF, TICKET_ATTEMPT_SLOTS, open_ticket

logger = logging.getLogger(__name__)

# handoff_outcome values
TICKET_CREATED = "ticket_created"
NEED_EMAIL = "need_email"
UNAVAILABLE = "unavailable"

HANDOFF_INTRO = "Customer asked to talk to a person."
MAX_QUOTED_MESSAGES = 5


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


def handoff_priority(messages: list[str]) -> str:
    return "urgent" if infer_urgency(" ".join(messages)) else "normal"


class ActionHandoffToHuman(Action):
    """Passes the conversation to the support team as a ticket (asking the email first when it's unknown)."""

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        messages = recent_customer_messages(tracker)
        description = handoff_description(messages)
        priority = handoff_priority(messages)
        email = extract_email(tracker.get_slot("email"))
        if email is None:
            return self._ask_email(description, priority)
        try:
            ticket = await open_ticket(
                tracker, description=description, email=email, priority=priority, write_kind="handoff"
            )
        except BackendError as error:
            if error.is_refusal and "email" in error.fields:
                # The email we had was refused: ask for another one through the ticket form.
                logger.warning("handoff ticket refused for its email: %s", error.fields["email"])
                return [SlotSet("email", None), *self._ask_email(description, priority)]
            logger.warning("handoff not passed on, cs_backend unavailable or refusing: %s", error)
            return [SlotSet("handoff_outcome", UNAVAILABLE)]
        logger.info("handoff ticket %s created for sender %s", ticket.id, tracker.sender_id)
        return [
            SlotSet("handoff_outcome", TICKET_CREATED),
            SlotSet("ticket_id", str(ticket.id)),
            SlotSet("ticket_priority", ticket.priority),
            SlotSet("email", ticket.email or email),
            # A ticket attempt the customer had started is superseded by this one.
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
