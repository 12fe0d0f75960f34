"""Feedback: the rating questions and storing the answers in cs_backend.

- `feedback_form` (after a ticket or a resolved request) asks CSAT (`csat_score`, 1-5) then CES
  (`ces_score`, 1-7);
- `onboarding_feedback_form` (after the last onboarding step) asks CES only;
- `action_record_feedback` stores what was answered, also when the customer left the form half-way, and
  reports it in `feedback_outcome` (saved, queued: kept in the outbox until cs_backend confirms it, skipped,
  unavailable: not confirmed and not kept). In a survey's round (`survey_id`, set by action_request_survey,
  actions/surveys.py) the answers go to the survey, which keeps one answer (answering again replaces it), and
  a low score (CSAT 1-2 or CES 1-3) is `saved_low_score`, also when the answer is kept in the outbox: the bot
  asks what went wrong. A survey's answer not confirmed is kept in the outbox too (`queued`).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError
from actions.api.models import Feedback, Survey
from actions.common import (
    conversation_channel,
    stale_hint_after_interruption,
    topic_intent,
    validated_an_answer,
    write_key,
)
from actions.parsing import parse_ces, parse_csat, parse_ticket_number
from actions.surveys import survey_answer_key

logger = logging.getLogger(__name__)

FEEDBACK_FORM = "feedback_form"
ONBOARDING_FEEDBACK_FORM = "onboarding_feedback_form"
FEEDBACK_FORMS = (FEEDBACK_FORM, ONBOARDING_FEEDBACK_FORM)
ONBOARDING_TOPIC = "onboarding"

HINT_CSAT_INVALID = "csat_invalid"
HINT_CES_INVALID = "ces_invalid"

# Slots of one feedback round, forgotten once it is recorded (or could not be).
FEEDBACK_ROUND_SLOTS = ("csat_score", "ces_score", "feedback_topic", "form_hint")
# Slots of a round about an agent's help (set when the agent hands the conversation back, actions/handoff.py).
AGENT_ROUND_SLOTS = ("feedback_resolver", "handoff_agent_id", "handoff_id")
RESOLVER_AGENT = "agent"
# A CSAT this low is answered with the offer of a person.
LOW_CSAT_MAX = 2
# In a survey, a score this low (CSAT 1-2, CES 1-3) is followed by the question of what went wrong.
LOW_SURVEY_SCORES = {"csat": 2, "ces": 3}


class _FeedbackFormValidation(FormValidationAction):
    """Shared by both feedback forms: turns answers into scores, or asks again with a hint. (Abstract, so the
    action server does not register it.)"""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form this action validates."""

    def name(self) -> str:
        return f"validate_{self.form}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        if not validated_an_answer(events) and stale_hint_after_interruption(tracker, self.form):
            # Back from a digression: ask again without repeating the last remark.
            events.append(SlotSet("form_hint", None))
        return events

    def validate_ces_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = parse_ces(value)
        if score is None:
            asked = tracker.get_slot("requested_slot") == "ces_score"
            return {"ces_score": None, "form_hint": HINT_CES_INVALID if asked else None}
        return {"ces_score": score, "form_hint": None}


class ValidateFeedbackForm(_FeedbackFormValidation):
    """CSAT: "4", "four", "4/5", "★★★★", "⭐⭐⭐⭐", 😀 ... -> 1-5.

    CES: "6", "six", "6/7", "easy" ... -> 1-7."""

    form = FEEDBACK_FORM

    def validate_csat_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = parse_csat(value)
        if score is None:
            # At activation ("I want to leave a rating") just ask; afterwards say the answer had no rating.
            activating = tracker.get_slot("requested_slot") is None
            return {"csat_score": None, "form_hint": None if activating else HINT_CSAT_INVALID}
        return {"csat_score": score, "form_hint": None}


class ValidateOnboardingFeedbackForm(_FeedbackFormValidation):
    """CES after onboarding: "6", "six", "6/7", "very easy" ... -> 1-7."""

    form = ONBOARDING_FEEDBACK_FORM


def latest_feedback_form(tracker: Tracker) -> str | None:
    """The feedback form that ran last in this conversation (None if neither did)."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") in FEEDBACK_FORMS:
            return event.get("name")
    return None


def feedback_is_about_onboarding(tracker: Tracker) -> bool:
    form = latest_feedback_form(tracker)
    if form is not None:
        return form == ONBOARDING_FEEDBACK_FORM
    return tracker.get_slot("feedback_topic") == ONBOARDING_TOPIC


@dataclass(frozen=True)
class Resolver:
    """Who the rating is about: the bot (and the ticket it opened, if any) or an agent (and the handoff)."""

    name: str = "bot"
    agent_id: int | None = None
    handoff_id: int | None = None


def feedback_resolver(tracker: Tracker) -> Resolver:
    if tracker.get_slot("feedback_resolver") != RESOLVER_AGENT:
        return Resolver()
    return Resolver(
        RESOLVER_AGENT,
        parse_ticket_number(tracker.get_slot("handoff_agent_id")),
        parse_ticket_number(tracker.get_slot("handoff_id")),
    )


class ActionRecordFeedback(Action):
    """Stores the CSAT and/or CES answered (with sender, channel, topic intent, the resolver and the ticket
    or, for an agent's help, the agent and the handoff), each with its own Idempotency-Key, and reports the
    outcome in `feedback_outcome` (`saved_low_csat` / `queued_low_csat` when the CSAT was 1 or 2: a person
    is offered; `queued` when a rating is kept in the outbox, to reach cs_backend shortly)."""

    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        scores = {
            "csat": parse_csat(tracker.get_slot("csat_score")),
            "ces": parse_ces(tracker.get_slot("ces_score")),
        }
        answered = {kind: score for kind, score in scores.items() if score is not None}
        survey_id = parse_ticket_number(tracker.get_slot("survey_id"))
        if survey_id is not None:
            return await self._answer_survey(tracker, survey_id, answered)
        resolver = feedback_resolver(tracker)
        round_slots = FEEDBACK_ROUND_SLOTS + (AGENT_ROUND_SLOTS if resolver.name == RESOLVER_AGENT else ())
        forget = [SlotSet(slot, None) for slot in round_slots]
        if not answered:
            logger.info("no rating to record (sender %s)", tracker.sender_id)
            return [SlotSet("feedback_outcome", "skipped"), *forget]

        onboarding = feedback_is_about_onboarding(tracker)
        intent = ONBOARDING_TOPIC if onboarding else topic_intent(tracker)
        # An onboarding rating is not about an earlier ticket of the conversation, nor an agent's.
        about_ticket = not onboarding and resolver.name != RESOLVER_AGENT
        ticket_id = parse_ticket_number(tracker.get_slot("ticket_id")) if about_ticket else None
        failed = queued = False
        async with BackendClient() as backend:
            for kind, score in answered.items():
                try:
                    feedback = await self._store(backend, tracker, kind, score, intent, ticket_id, resolver)
                except BackendError as error:
                    logger.warning("%s rating not confirmed nor queued: %s", kind.upper(), error)
                    failed = True
                    continue
                if isinstance(feedback, Queued):
                    logger.info("%s %s queued (outbox entry %s)", kind.upper(), score, feedback.entry_id)
                    queued = True
                    continue
                logger.info(
                    "%s %s stored as feedback %s (ticket %s)",
                    kind.upper(),
                    score,
                    feedback.id,
                    feedback.ticket_id,
                )
        low = answered.get("csat") is not None and answered["csat"] <= LOW_CSAT_MAX
        if failed:
            outcome = "unavailable"
        elif queued:
            outcome = "queued_low_csat" if low else "queued"
        else:
            outcome = "saved_low_csat" if low else "saved"
        return [SlotSet("feedback_outcome", outcome), *forget]

    @staticmethod
    async def _answer_survey(tracker: Tracker, survey_id: int, answered: dict[str, int]) -> list[EventType]:
        """The round of a survey: its answer, posted to the survey (a retry replaces it, never adds one), or
        kept in the outbox when cs_backend does not confirm it."""
        forget = [SlotSet(slot, None) for slot in FEEDBACK_ROUND_SLOTS + AGENT_ROUND_SLOTS]
        forget_survey = [*forget, SlotSet("survey_id", None)]
        if not answered:
            logger.info("survey %s left unanswered (sender %s)", survey_id, tracker.sender_id)
            return [SlotSet("feedback_outcome", "skipped"), *forget_survey]
        try:
            async with BackendClient() as backend:
                survey = await backend.answer_survey(
                    survey_id,
                    csat=answered.get("csat"),
                    ces=answered.get("ces"),
                    idempotency_key=survey_answer_key(tracker.sender_id, survey_id, answered),
                )
        except BackendError as error:
            logger.warning("answer to survey %s not saved nor queued: %s", survey_id, error)
            return [SlotSet("feedback_outcome", "unavailable"), *forget_survey]
        _log_survey_answer(survey_id, survey)
        if any(score <= LOW_SURVEY_SCORES[kind] for kind, score in answered.items()):
            # Saved or kept, the answer will be on the survey, so the comment asked next goes to it (the
            # survey stays in the slot). cs_backend opens the follow-up task once it has both, in either
            # order, and the outbox sends oldest first. Not queued_low_csat: its rule offers a person without
            # asking what went wrong.
            return [SlotSet("feedback_outcome", "saved_low_score"), *forget]
        outcome = "queued" if isinstance(survey, Queued) else "saved"
        return [SlotSet("feedback_outcome", outcome), *forget_survey]

    @staticmethod
    async def _store(
        backend: BackendClient,
        tracker: Tracker,
        kind: str,
        score: int,
        intent: str | None,
        ticket_id: int | None,
        resolver: Resolver,
    ) -> Feedback | Queued:
        async def store(about_ticket: int | None, write_kind: str) -> Feedback | Queued:
            return await backend.create_feedback(
                score=score,
                kind=kind,
                ticket_id=about_ticket,
                sender_id=tracker.sender_id,
                channel=conversation_channel(tracker),
                intent=intent,
                resolver=resolver.name,
                agent_id=resolver.agent_id,
                handoff_id=resolver.handoff_id,
                idempotency_key=write_key(write_kind, tracker),
            )

        try:
            return await store(ticket_id, kind)
        except BackendError as error:
            if not (error.is_refusal and "ticket_id" in error.fields and ticket_id is not None):
                raise
            # The ticket is gone (or unknown to this backend): keep the rating rather than lose it.
            logger.warning(
                "ticket %s refused for feedback (%s); storing the rating without it",
                ticket_id,
                error.fields["ticket_id"],
            )
            return await store(None, f"{kind}-no-ticket")


def _log_survey_answer(survey_id: int, survey: Survey | Queued) -> None:
    if isinstance(survey, Queued):
        logger.info("answer to survey %s queued (outbox entry %s)", survey_id, survey.entry_id)
    else:
        logger.info("survey %s answered: CSAT %s, CES %s", survey.id, survey.csat, survey.ces)
