"""Tickets: the ticket form's validation, creating a ticket, looking one up.

The actions speak only through slots: each sets an outcome slot (`ticket_outcome`, `lookup_outcome`) and the
values the response needs, and the rules in dialogue/rules/ pick the `utter_*` response from domain.yml.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError, WriteNotQueued
from actions.api.models import Ticket
from actions.common import (
    conversation_channel,
    human_time,
    make_idempotency_key,
    stale_hint_after_interruption,
    validated_an_answer,
)
from actions.language import language_of, priority_label
from actions.parsing import (
    clean_description,
    extract_email,
    infer_urgency,
    is_meaningful_description,
    normalize_priority,
    parse_ticket_number,
    problem_details,
)

logger = logging.getLogger(__name__)

TICKET_FORM = "ticket_form"
# The ticket the bot last told about (created, looked up), kept for follow-ups (actions/context.py).
TICKET_IN_FOCUS = "ticket_in_focus"

# form_hint values (they select variations of utter_ask_* in domain.yml)
HINT_DESCRIPTION_TOO_SHORT = "description_too_short"
HINT_EMAIL_INVALID = "email_invalid"
HINT_PRIORITY_INVALID = "priority_invalid"
HINT_URGENT_INFERRED = "urgent_inferred"
HINT_DESCRIPTION_PREFILLED = "description_prefilled"
# Set by action_handoff_to_human (actions/handoff.py) together with `description` and `priority` before the
# form starts: the form then only asks the email, in the words of the "handoff" variation of utter_ask_email.
HINT_HANDOFF = "handoff"
# Hints that report a rejected answer: they still take precedence over HINT_HANDOFF.
_REJECTION_HINTS = (HINT_DESCRIPTION_TOO_SHORT, HINT_EMAIL_INVALID, HINT_PRIORITY_INVALID)
# When several apply in one turn, the first in this order is shown: a rejected answer matters most.
_HINT_PRECEDENCE = (
    HINT_DESCRIPTION_TOO_SHORT,
    HINT_EMAIL_INVALID,
    HINT_PRIORITY_INVALID,
    HINT_URGENT_INFERRED,
    HINT_DESCRIPTION_PREFILLED,
)
# Validators report their hint under a per-slot pseudo slot (so that one validator's hint does not overwrite
# another's); `run` turns them into the single `form_hint` slot and never sends the pseudo slots to Rasa.
_HINT_KEY_PREFIX = "__hint_"

# Slots of one ticket attempt (the email is kept: it's the customer's, and saves asking again).
TICKET_ATTEMPT_SLOTS = ("description", "priority", "form_hint", "requested_slot")


def _hint_key(slot: str) -> str:
    return f"{_HINT_KEY_PREFIX}{slot}"


def _is_hint(event: EventType) -> bool:
    return event.get("event") == "slot" and str(event.get("name", "")).startswith(_HINT_KEY_PREFIX)


def pick_hint(hints: list[str | None]) -> str | None:
    present = {hint for hint in hints if hint}
    return next((hint for hint in _HINT_PRECEDENCE if hint in present), None)


class ValidateTicketForm(FormValidationAction):
    """Checks the ticket form's answers; infers "urgent"; pre-fills the description from the first message."""

    def name(self) -> str:
        return "validate_ticket_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        results = await super().run(dispatcher, tracker, domain)
        hints = [event.get("value") for event in results if _is_hint(event)]
        events = [event for event in results if not _is_hint(event)]
        # Only when something was validated: an empty answer must stay empty so that Rasa rejects the form
        # and the rules can handle a digression ("are you a bot?") or "stop".
        if validated_an_answer(events):
            hint = pick_hint(hints)
            if self._activated_by_handoff(tracker):
                # The pre-set description and priority are validated at activation like any pre-filled
                # slot; their remarks ("Got it: …", "sounds urgent") must not replace the handoff wording.
                hint = pick_hint([h for h in hints if h in _REJECTION_HINTS]) or HINT_HANDOFF
            events.append(SlotSet("form_hint", hint))
        elif stale_hint_after_interruption(tracker, TICKET_FORM):
            # Back from a digression: ask the question again without repeating the last remark.
            events.append(SlotSet("form_hint", None))
        return events

    @staticmethod
    def _activated_by_handoff(tracker: Tracker) -> bool:
        return tracker.get_slot("form_hint") == HINT_HANDOFF and tracker.get_slot("requested_slot") is None

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """At activation, use the message that opened the form if it already describes the problem.

        A description set before the form started (by action_handoff_to_human) is kept as it is.
        """
        activating = tracker.get_slot("requested_slot") is None
        if not activating or tracker.get_slot("description"):
            return {}
        latest = tracker.latest_message or {}
        if (latest.get("intent") or {}).get("name") != "report_problem":
            return {}
        details = problem_details(latest.get("text"))
        return {"description": details} if details else {}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_meaningful_description(value):
            return {"description": None, _hint_key("description"): HINT_DESCRIPTION_TOO_SHORT}
        description = clean_description(value)
        result: dict[str, Any] = {"description": description}
        activating = tracker.get_slot("requested_slot") is None
        if activating:
            result[_hint_key("description")] = HINT_DESCRIPTION_PREFILLED
        current_priority = normalize_priority(tracker.get_slot("priority"))
        if infer_urgency(description) and current_priority in (None, "urgent"):
            result["priority"] = "urgent"
            result[_hint_key("priority")] = HINT_URGENT_INFERRED
        return result

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = extract_email(value)
        if email is None:
            return {"email": None, _hint_key("email"): HINT_EMAIL_INVALID}
        return {"email": email}

    def validate_priority(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        priority = normalize_priority(value)
        if priority is None:
            return {"priority": None, _hint_key("priority"): HINT_PRIORITY_INVALID}
        return {"priority": priority}


async def open_ticket(
    tracker: Tracker, *, description: str, email: str, priority: str, write_kind: str = "ticket"
) -> Ticket | Queued:
    """Creates a ticket for this conversation in cs_backend, or keeps it in the outbox when cs_backend does
    not confirm it (Queued: it reaches the team shortly); raises :class:`BackendError` when refused, or when
    even the outbox could not keep it (WriteNotQueued).

    Shared by action_create_ticket (the ticket form) and action_handoff_to_human. The Idempotency-Key is
    "this `write_kind` of ticket, with this content, in this conversation" (ticket_key), not "caused by the
    latest message": when the action server dies after cs_backend stored the ticket but before Rasa heard
    back, the customer's next message runs the action again under a new message id, and must get the same
    ticket.
    """
    async with BackendClient() as backend:
        return await backend.create_ticket(
            description=description,
            email=email,
            priority=priority,
            sender_id=tracker.sender_id,
            channel=conversation_channel(tracker),
            idempotency_key=ticket_key(write_kind, tracker.sender_id, description, email, priority),
        )


def ticket_key(write_kind: str, sender_id: str, description: str, email: str, priority: str) -> str:
    """The Idempotency-Key of a ticket: the same content in the same conversation is the same ticket."""
    content = hashlib.sha256(f"{description}\x1f{email.lower()}\x1f{priority}".encode()).hexdigest()
    return make_idempotency_key(write_kind, sender_id, f"content:{content}")


class ActionCreateTicket(Action):
    """Creates the ticket in cs_backend from the form's slots and reports the outcome in `ticket_outcome`."""

    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        description = clean_description(tracker.get_slot("description"))
        email = extract_email(tracker.get_slot("email"))
        priority = normalize_priority(tracker.get_slot("priority")) or "normal"
        if not description or not email:
            # The form guarantees both; never send an incomplete ticket.
            logger.error(
                "action_create_ticket ran without description or email (sender %s)", tracker.sender_id
            )
            return [
                SlotSet("ticket_outcome", "rejected"),
                SlotSet("backend_error", "the description or the email address was missing"),
                *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
            ]
        handoff_id = self._handoff_waiting_for_email(tracker)
        if handoff_id is not None:
            handoff_events = await self._handoff_ticket(tracker, handoff_id, email)
            if handoff_events is not None:
                return handoff_events
        try:
            ticket = await open_ticket(tracker, description=description, email=email, priority=priority)
        except BackendError as error:
            return self._failure_events(error)
        if isinstance(ticket, Queued):
            # Kept in the outbox: it reaches the team shortly, without a number the customer could be told.
            logger.info("ticket for sender %s queued (outbox entry %s)", tracker.sender_id, ticket.entry_id)
            return [
                SlotSet("ticket_id", None),
                SlotSet("ticket_priority", priority),
                SlotSet("ticket_outcome", "queued"),
                SlotSet("backend_error", None),
                SlotSet("email", email),
                *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
            ]
        logger.info("ticket %s created for sender %s", ticket.id, tracker.sender_id)
        return [
            SlotSet("ticket_id", str(ticket.id)),
            SlotSet(TICKET_IN_FOCUS, str(ticket.id)),
            SlotSet("ticket_priority", ticket.priority),
            SlotSet("ticket_outcome", "created"),
            SlotSet("backend_error", None),
            SlotSet("email", ticket.email or email),
            *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
            # A fresh feedback question (about this ticket) follows: forget any earlier rating.
            SlotSet("csat_score", None),
            SlotSet("ces_score", None),
            SlotSet("feedback_topic", None),
            SlotSet("feedback_outcome", None),
        ]

    @staticmethod
    def _handoff_waiting_for_email(tracker: Tracker) -> int | None:
        """The handoff nobody could take whose ticket waited for this email (actions/handoff.py), if any."""
        if tracker.get_slot("handoff_outcome") != "need_email":
            return None
        return parse_ticket_number(tracker.get_slot("handoff_id"))

    @staticmethod
    async def _handoff_ticket(tracker: Tracker, handoff_id: int, email: str) -> list[EventType] | None:
        """The handoff's ticket (POST /api/routing/handoffs/{id}/ticket, carrying the conversation cs_backend
        kept); None when cs_backend refuses it for that handoff (then a plain ticket is opened instead)."""
        try:
            async with BackendClient() as backend:
                handoff = await backend.handoff_ticket(handoff_id, email=email)
        except BackendError as error:
            if error.is_refusal and "email" in error.fields:
                return ActionCreateTicket._failure_events(error)
            if error.is_refusal:
                logger.warning("handoff %s has no ticket to open (%s): a plain ticket", handoff_id, error)
                return None
            logger.warning("handoff ticket not saved, cs_backend unavailable: %s", error)
            return ActionCreateTicket._failure_events(error)
        if handoff.ticket_id is None:
            logger.error("cs_backend answered handoff %s's ticket without its number", handoff_id)
            return ActionCreateTicket._failure_events(BackendError(0, "no ticket number"))
        logger.info("handoff ticket %s created for sender %s", handoff.ticket_id, tracker.sender_id)
        return [
            SlotSet("ticket_id", str(handoff.ticket_id)),
            SlotSet(TICKET_IN_FOCUS, str(handoff.ticket_id)),
            SlotSet("ticket_outcome", "handoff_ticket"),
            SlotSet("handoff_outcome", "ticket_created"),
            SlotSet("handoff_id", None),
            SlotSet("backend_error", None),
            SlotSet("email", email),
            *[SlotSet(slot, None) for slot in TICKET_ATTEMPT_SLOTS],
        ]

    @staticmethod
    def _failure_events(error: BackendError) -> list[EventType]:
        if error.is_refusal:
            # Refused as sent: clear what the backend named so the next attempt asks for it again.
            logger.warning("cs_backend refused the ticket: %s %s", error.status, error.message)
            named = [field for field in ("description", "email", "priority") if field in error.fields]
            cleared = named or ["description", "priority"]
            reason = (
                "; ".join(f"{field}: {message}" for field, message in error.fields.items()) or error.message
            )
            return [
                SlotSet("ticket_outcome", "rejected"),
                SlotSet("backend_error", reason),
                *[SlotSet(slot, None) for slot in cleared],
                SlotSet("form_hint", None),
                SlotSet("requested_slot", None),
            ]
        # Not confirmed and not kept (WriteNotQueued), or the handoff's ticket unreachable: it may or may not
        # be stored, so the customer is told neither; the details stay so "open a ticket" resubmits them.
        if isinstance(error, WriteNotQueued):
            logger.error("ticket unconfirmed and not queued: %s", error)
        else:
            logger.warning("ticket not confirmed, cs_backend unavailable: %s", error)
        return [
            SlotSet("ticket_outcome", "unavailable"),
            SlotSet("backend_error", None),
            SlotSet("form_hint", None),
            SlotSet("requested_slot", None),
        ]


class ActionResetTicketForm(Action):
    """Forgets a cancelled ticket attempt (the email is kept), and the handoff whose ticket it was for: a
    later ticket is about what the customer describes then."""

    def name(self) -> str:
        return "action_reset_ticket_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(slot, None) for slot in (*TICKET_ATTEMPT_SLOTS, "handoff_id")]


# A number in the text counts as a ticket number only next to "#", "ticket", "case", "number" or "no.", so
# "I opened it 2 days ago" is not ticket 2.
_NUMBER_IN_CONTEXT = re.compile(
    r"(#\s*\d{1,9}\b|\b(?:ticket|case|number|no\.?|nr\.?)\s*#?\s*\d{1,9}\b)", re.I
)


def requested_ticket_number(tracker: Tracker) -> int | None:
    """The ticket number the user asked about: entity, then slot, then a number in context in the text."""
    for value in tracker.get_latest_entity_values("ticket_number"):
        number = parse_ticket_number(value)
        if number:
            return number
    number = parse_ticket_number(tracker.get_slot("ticket_number"))
    if number:
        return number
    text = (tracker.latest_message or {}).get("text") or ""
    match = _NUMBER_IN_CONTEXT.search(text)
    return parse_ticket_number(match.group(0)) if match else None


class ActionTicketStatus(Action):
    """Looks up a ticket of this conversation, by number or the latest, and reports it in `lookup_outcome`.

    Only the tickets opened in this conversation (its sender id and channel) are shown, and, when its customer
    is identified (a verified website user, a linked Slack or Telegram account: actions/identity.py), those of
    the customer's other conversations on any channel (`scope=customer`). An email address the customer typed
    is where the team answers, not a proof of who they are: it finds no tickets. Ticket numbers are
    sequential, so the number of another customer's ticket is answered like an unknown number.
    """

    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = requested_ticket_number(tracker)
        asked = str(number) if number else None
        ticket: Ticket | None
        try:
            async with BackendClient() as backend:
                latest = await self._latest_ticket(backend, tracker)
                if number is None:
                    ticket = latest
                else:
                    ticket = await self._ticket_of_conversation(backend, tracker, number, latest)
        except BackendError as error:
            if error.is_refusal:  # 404 included: an unknown number
                return self._outcome("not_found", lookup_number=asked)
            logger.warning("ticket lookup failed, cs_backend unavailable: %s", error)
            return self._outcome("unavailable", lookup_number=asked)
        if ticket is None:
            return self._outcome("no_tickets" if number is None else "not_found", lookup_number=asked)
        return self._outcome(
            "found",
            ticket_in_focus=str(ticket.id),
            lookup_number=str(ticket.id),
            lookup_status=ticket.status,
            # Shown as they are: in the conversation's language.
            lookup_priority=priority_label(ticket.priority, language_of(tracker)),
            lookup_updated=human_time(ticket.updated_at, language_of(tracker)),
            lookup_subject=ticket.subject,
        )

    @staticmethod
    async def _latest_ticket(backend: BackendClient, tracker: Tracker) -> Ticket | None:
        """The newest ticket of this conversation's customer (see the class docstring), if any."""
        page = await backend.list_tickets(
            sender_id=tracker.sender_id, channel=conversation_channel(tracker), scope="customer", limit=1
        )
        return page.items[0] if page.items else None

    @staticmethod
    async def _ticket_of_conversation(
        backend: BackendClient, tracker: Tracker, number: int, latest: Ticket | None
    ) -> Ticket | None:
        """Ticket `number` when it is one of the customer's (as `_latest_ticket` lists them), else None.

        Most often it shares `latest`'s conversation; an identified customer's may be of another one.
        """
        if latest is None:
            return None
        ticket = latest if latest.id == number else await backend.get_ticket(number)
        if ticket.conversation_id is not None and ticket.conversation_id == latest.conversation_id:
            return ticket
        theirs = await backend.list_tickets(
            sender_id=tracker.sender_id, channel=conversation_channel(tracker), scope="customer", limit=100
        )
        return ticket if any(item.id == number for item in theirs.items) else None

    @staticmethod
    def _outcome(outcome: str, **values: Any) -> list[EventType]:
        # `ticket_number` is what the user asked for; it is used up by this lookup (so a later "my last
        # ticket" is not answered with this number). `lookup_number` is what the response shows.
        slots = {
            "ticket_number": None,
            "lookup_number": None,
            "lookup_status": None,
            "lookup_priority": None,
            "lookup_updated": None,
            "lookup_subject": None,
        }
        slots.update(values)
        return [SlotSet("lookup_outcome", outcome)] + [SlotSet(name, value) for name, value in slots.items()]
