"""Follow-ups that point back at what the bot just talked about: "how do I do that?", "and the next one?",
"that one", "same problem again" (intents ask_how_to, ask_next_step, refer_to_that, same_problem_again).

The actions that mention an onboarding step or a ticket leave it in focus (slots `step_in_focus`, a step key,
set by actions/onboarding.py; `ticket_in_focus`, a ticket number, set by actions/tickets.py, handoff.py and
surveys.py), so no action runs on every message. action_resolve_reference reads them and reports what the
follow-up meant in `context_outcome`; dialogue/rules/context.yml picks the response. With nothing in focus
the bot asks what is meant (nothing_in_focus, no_ticket) instead of starting some flow.

"Same problem again" is about the ticket in focus, else the conversation's newest ticket: a ticket still open
or pending is told as such; a resolved one is offered for reopening (action_reopen_ticket: PATCH status open,
the transition cs_backend allows); a closed one cannot be reopened, so a new ticket is offered.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient
from actions.api.errors import BackendError
from actions.api.models import OnboardingProgress, Ticket
from actions.common import conversation_channel, human_time
from actions.language import language_of, priority_label
from actions.onboarding import STEP_IN_FOCUS, step_slots
from actions.parsing import parse_ticket_number
from actions.tickets import TICKET_IN_FOCUS

logger = logging.getLogger(__name__)

OUTCOME_SLOT = "context_outcome"

# context_outcome values
STEP_EXPLAINED = "step_explained"
NEXT_STEP = "next_step"
NO_NEXT_STEP = "no_next_step"
TICKET_FOUND = "ticket_found"
TICKET_OPEN = "ticket_open"
TICKET_RESOLVED = "ticket_resolved"
TICKET_CLOSED = "ticket_closed"
TICKET_REOPENED = "ticket_reopened"
NO_TICKET = "no_ticket"
NOTHING_IN_FOCUS = "nothing_in_focus"
ONBOARDING_UNAVAILABLE = "onboarding_unavailable"
TICKET_UNAVAILABLE = "ticket_unavailable"

# The follow-up intents
ASK_HOW_TO = "ask_how_to"
ASK_NEXT_STEP = "ask_next_step"
REFER_TO_THAT = "refer_to_that"
SAME_PROBLEM_AGAIN = "same_problem_again"


def latest_focus(tracker: Tracker) -> tuple[str, str] | None:
    """What the bot mentioned last, ("step", key) or ("ticket", number): the newest of the two focus slots
    set to a value, found from the events (the slots alone do not say which came last)."""
    for event in reversed(tracker.events):
        if event.get("event") != "slot" or not event.get("value"):
            continue
        if event.get("name") == STEP_IN_FOCUS:
            return "step", str(event["value"])
        if event.get("name") == TICKET_IN_FOCUS:
            return "ticket", str(event["value"])
    # Slots carried over from an earlier session have no event in this one: the step first (it is more
    # often what a vague "that" points at), then the ticket.
    step, ticket = tracker.get_slot(STEP_IN_FOCUS), tracker.get_slot(TICKET_IN_FOCUS)
    if step:
        return "step", str(step)
    if ticket:
        return "ticket", str(ticket)
    return None


def step_after(key: str, progress: OnboardingProgress) -> str | None:
    """The first step after `key` in checklist order that is still to do (None: nothing open follows)."""
    keys = [state.key for state in progress.steps]
    if key not in keys:
        return None
    later = progress.steps[keys.index(key) + 1 :]
    return next((state.key for state in later if not state.done), None)


def _outcome(outcome: str, *events: EventType) -> list[EventType]:
    return [SlotSet(OUTCOME_SLOT, outcome), *events]


def ticket_events(ticket: Ticket, language: str) -> list[EventType]:
    """The lookup slots the ticket responses show (as action_ticket_status sets them: priority and time in
    `language`), the ticket in focus."""
    return [
        SlotSet("lookup_number", str(ticket.id)),
        SlotSet("lookup_status", ticket.status),
        SlotSet("lookup_priority", priority_label(ticket.priority, language)),
        SlotSet("lookup_updated", human_time(ticket.updated_at, language)),
        SlotSet("lookup_subject", ticket.subject),
        SlotSet(TICKET_IN_FOCUS, str(ticket.id)),
    ]


async def ticket_of_conversation(
    backend: BackendClient, tracker: Tracker, number: int | None
) -> Ticket | None:
    """Ticket `number` if this conversation opened it, else (number None) the conversation's newest ticket.

    Like action_ticket_status: only tickets of this conversation (sender id and channel) are told, so a number
    in focus can never show someone else's ticket."""
    page = await backend.list_tickets(
        sender_id=tracker.sender_id, channel=conversation_channel(tracker), limit=1
    )
    latest = page.items[0] if page.items else None
    if number is None or latest is None:
        return latest
    ticket = latest if latest.id == number else await backend.get_ticket(number)
    owned = ticket.conversation_id is not None and ticket.conversation_id == latest.conversation_id
    return ticket if owned else None


class ActionResolveReference(Action):
    """Resolves a follow-up against the step or ticket in focus and reports it in `context_outcome`."""

    def name(self) -> str:
        return "action_resolve_reference"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == SAME_PROBLEM_AGAIN:
            return await self._same_problem(tracker)
        focus = latest_focus(tracker)
        if intent in (ASK_HOW_TO, ASK_NEXT_STEP):
            # Only a step has instructions or a next one: the step in focus, even if a ticket came after it.
            step = tracker.get_slot(STEP_IN_FOCUS)
            if not step:
                return _outcome(NOTHING_IN_FOCUS)
            return await self._step(tracker, str(step), following=intent == ASK_NEXT_STEP)
        if focus is None:
            return _outcome(NOTHING_IN_FOCUS)
        kind, value = focus
        if kind == "step":
            return await self._step(tracker, value, following=False)
        return await self._ticket(tracker, value)

    async def _step(self, tracker: Tracker, key: str, *, following: bool) -> list[EventType]:
        try:
            async with BackendClient() as backend:
                steps = await backend.onboarding_steps()
                progress = (
                    await backend.onboarding_progress(tracker.sender_id, conversation_channel(tracker))
                    if following
                    else None
                )
        except BackendError as error:
            logger.warning("%s: onboarding checklist unavailable: %s", self.name(), error)
            return _outcome(ONBOARDING_UNAVAILABLE)
        by_key = {step.key: step for step in steps}
        # The step told in the conversation's language (cs_backend's checklist is in English).
        language = language_of(tracker)
        focused = by_key.get(key)
        if focused is None:  # the checklist no longer has it
            logger.info("step in focus %r is not in the checklist", key)
            return _outcome(NOTHING_IN_FOCUS, SlotSet(STEP_IN_FOCUS, None))
        if progress is None:
            return _outcome(STEP_EXPLAINED, *step_slots(focused, language))
        after = step_after(key, progress)
        if after is None or after not in by_key:
            return _outcome(NO_NEXT_STEP, *step_slots(focused, language))
        return _outcome(NEXT_STEP, *step_slots(by_key[after], language))

    async def _ticket(self, tracker: Tracker, number: str) -> list[EventType]:
        try:
            async with BackendClient() as backend:
                ticket = await ticket_of_conversation(backend, tracker, parse_ticket_number(number))
        except BackendError as error:
            if error.is_not_found:
                return _outcome(NOTHING_IN_FOCUS, SlotSet(TICKET_IN_FOCUS, None))
            logger.warning("%s: ticket lookup failed: %s", self.name(), error)
            return _outcome(TICKET_UNAVAILABLE)
        if ticket is None:
            return _outcome(NOTHING_IN_FOCUS, SlotSet(TICKET_IN_FOCUS, None))
        return _outcome(TICKET_FOUND, *ticket_events(ticket, language_of(tracker)))

    async def _same_problem(self, tracker: Tracker) -> list[EventType]:
        number = parse_ticket_number(tracker.get_slot(TICKET_IN_FOCUS))
        try:
            async with BackendClient() as backend:
                ticket = await ticket_of_conversation(backend, tracker, number)
                if ticket is None and number is not None:
                    # The number in focus is not this conversation's any more: its newest ticket then.
                    ticket = await ticket_of_conversation(backend, tracker, None)
        except BackendError as error:
            if not error.is_not_found:
                logger.warning("%s: ticket lookup failed: %s", self.name(), error)
                return _outcome(TICKET_UNAVAILABLE)
            ticket = None
        if ticket is None:
            return _outcome(NO_TICKET)
        return _outcome(same_problem_outcome(ticket), *ticket_events(ticket, language_of(tracker)))


def same_problem_outcome(ticket: Ticket) -> str:
    """What "same problem again" can do with the ticket: tell it is being handled, reopen it, or a new one."""
    if ticket.status == "resolved":
        return TICKET_RESOLVED
    if ticket.status == "closed":
        return TICKET_CLOSED
    return TICKET_OPEN


class ActionReopenTicket(Action):
    """The customer accepted reopening the resolved ticket in focus: PATCH its status to open (reopened);
    closed meanwhile (ticket_closed: a new ticket is offered); unreachable (ticket_unavailable)."""

    def name(self) -> str:
        return "action_reopen_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = parse_ticket_number(tracker.get_slot(TICKET_IN_FOCUS))
        if number is None:
            return _outcome(NO_TICKET)
        try:
            async with BackendClient() as backend:
                ticket = await ticket_of_conversation(backend, tracker, number)
                if ticket is None:
                    return _outcome(NO_TICKET)
                if ticket.status == "resolved":
                    ticket = await self._reopen(backend, ticket)
        except BackendError as error:
            logger.warning("%s: ticket %s not reopened: %s", self.name(), number, error)
            return _outcome(TICKET_UNAVAILABLE)
        if ticket.status in ("open", "pending"):
            logger.info("ticket %s reopened for sender %s", ticket.id, tracker.sender_id)
            return _outcome(TICKET_REOPENED, *ticket_events(ticket, language_of(tracker)))
        return _outcome(TICKET_CLOSED, *ticket_events(ticket, language_of(tracker)))

    @staticmethod
    async def _reopen(backend: BackendClient, ticket: Ticket) -> Ticket:
        try:
            return await backend.reopen_ticket(ticket.id)
        except BackendError as error:
            if error.status != 409:
                raise
            # Changed meanwhile (an agent reopened or closed it, or our retried PATCH already landed).
            return await backend.get_ticket(ticket.id)
