"""Surveys: the CSAT/CES questions asked after something happened, under cs_backend's survey rules (one
survey per ticket, handoff or onboarding; nothing within the customer's cooldown; one answer per survey:
docs/API_ONBOARDING_OUTCOMES.md, "Surveys").

`action_request_survey` decides whether to ask, and reports it in `survey_outcome` (ask, skip); the rules
(dialogue/rules/surveys.yml, handoff.yml, onboarding.yml) then run the feedback form. What it follows is what
happened just before it:

- cs_backend's EXTERNAL_survey_request (a ticket was resolved; entities survey_id, survey_trigger,
  survey_subject): asked while cs_backend says it is still to be answered;
- the relay loop handing the conversation back (handoff_end resolved): the handoff's survey is opened;
- onboarding completed (action_onboarding_mark_done / next_step with all_done): the customer's onboarding
  survey is opened.
`survey_id` then makes action_record_feedback post the answers to the survey. After a low score (CSAT 1-2 or
CES 1-3) the bot asks what went wrong (feedback_comment_form); `action_record_feedback_comment` posts that
comment to the survey, where it opens a follow-up task for a person. Both are kept in the outbox, like any
rating, when cs_backend does not confirm them (survey_answer_key).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError
from actions.api.models import Survey
from actions.common import conversation_channel, make_idempotency_key
from actions.parsing import parse_ticket_number

logger = logging.getLogger(__name__)

SURVEY_REQUEST = "EXTERNAL_survey_request"
RELAY_LOOP = "action_relay_to_agent"
ONBOARDING_ACTIONS = frozenset({"action_onboarding_mark_done", "action_onboarding_next_step"})
# Actions that may stand between what happened and action_request_survey (what the bot says about it).
_SAYING = ("utter_",)
_PASSED_OVER = frozenset({"action_listen", "action_request_survey"})

# What a survey follows (cs_backend's trigger names).
TICKET_RESOLVED = "ticket_resolved"
HANDOFF_ENDED = "handoff_ended"
ONBOARDING_COMPLETED = "onboarding_completed"

# cs_backend's limit of a survey comment.
COMMENT_MAX_CHARS = 2000

# survey_outcome values
ASK = "ask"
SKIP = "skip"

# feedback_outcome values of action_record_feedback_comment
COMMENT_SAVED = "comment_saved"
COMMENT_SKIPPED = "comment_skipped"
UNAVAILABLE = "unavailable"

# The answers of one round, forgotten when a survey is asked so that no earlier answer skips a question.
FRESH_ROUND = (
    "csat_score",
    "ces_score",
    "feedback_outcome",
    "form_hint",
    "requested_slot",
    "feedback_comment",
)
# A survey state in which the bot asks: sent, or pending when Rasa ran it before cs_backend recorded it sent.
ASKABLE_STATES = frozenset({"pending", "sent"})


def survey_answer_key(sender_id: str, survey_id: int, answer: Mapping[str, int | str]) -> str:
    """The Idempotency-Key of an answer to a survey (its scores, or its comment): the survey and what is
    answered, not the message that carried it, so the same answer sent again (Rasa running the action again,
    even for the customer's next message) is one outbox entry, and the scores and the comment are two."""
    content = hashlib.sha256(json.dumps(dict(answer), sort_keys=True).encode()).hexdigest()
    return make_idempotency_key("survey-answer", sender_id, f"survey:{int(survey_id)}:{content}")


def _intent_of(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def survey_trigger(tracker: Tracker) -> str | None:
    """What the survey about to be asked follows: the latest thing that happened, passing over what the bot
    said about it (None: nothing a survey follows)."""
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            return TICKET_RESOLVED if _intent_of(event) == SURVEY_REQUEST else None
        if kind != "action":
            continue
        name = str(event.get("name") or "")
        if name in _PASSED_OVER or name.startswith(_SAYING):
            continue
        if name == RELAY_LOOP:
            return HANDOFF_ENDED if tracker.get_slot("handoff_end") == "resolved" else None
        if name in ONBOARDING_ACTIONS:
            return ONBOARDING_COMPLETED if tracker.get_slot("onboarding_outcome") == "all_done" else None
        return None
    return None


def request_entities(tracker: Tracker) -> dict[str, Any]:
    """The entities of cs_backend's survey request (the latest message), by name."""
    entities = (tracker.latest_message or {}).get("entities") or []
    return {
        str(entity["entity"]): entity.get("value")
        for entity in entities
        if isinstance(entity, Mapping) and entity.get("entity")
    }


def _skip(reason: str, tracker: Tracker) -> list[EventType]:
    logger.info("no survey asked in %s: %s", tracker.sender_id, reason)
    return [SlotSet("survey_outcome", SKIP), SlotSet("survey_id", None)]


def _ask(survey: Survey, *extra: EventType) -> list[EventType]:
    return [
        SlotSet("survey_outcome", ASK),
        SlotSet("survey_id", str(survey.id)),
        *[SlotSet(slot, None) for slot in FRESH_ROUND],
        *extra,
    ]


class ActionRequestSurvey(Action):
    """Asks cs_backend whether the survey of what just happened is to be asked (see the module docstring)."""

    def name(self) -> str:
        return "action_request_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        trigger = survey_trigger(tracker)
        if trigger is None:
            return _skip("nothing to survey", tracker)
        channel = conversation_channel(tracker)
        try:
            async with BackendClient() as backend:
                if trigger == TICKET_RESOLVED:
                    return await self._requested(backend, tracker)
                if trigger == HANDOFF_ENDED:
                    handoff_id = parse_ticket_number(tracker.get_slot("handoff_id"))
                    if handoff_id is None:
                        return _skip("the handoff is not known", tracker)
                    survey = await backend.open_survey(
                        trigger=HANDOFF_ENDED,
                        subject_id=handoff_id,
                        sender_id=tracker.sender_id,
                        channel=channel,
                    )
                    return (
                        _ask(survey)
                        if survey.ask
                        else _skip(f"survey {survey.id} is {survey.state}", tracker)
                    )
                progress = await backend.onboarding_progress(tracker.sender_id, channel)
                if progress.customer_id is None or progress.next_step is not None:
                    return _skip("onboarding is not complete", tracker)
                survey = await backend.open_survey(
                    trigger=ONBOARDING_COMPLETED,
                    subject_id=progress.customer_id,
                    sender_id=tracker.sender_id,
                    channel=channel,
                )
        except BackendError as error:
            # Without the cooldown known, the bot does not ask: a missed survey beats a pestered customer.
            logger.warning("survey rules unavailable (%s): asking nothing", error)
            return _skip("cs_backend unavailable", tracker)
        if not survey.ask:
            return _skip(f"survey {survey.id} is {survey.state}", tracker)
        return _ask(survey, SlotSet("feedback_topic", "onboarding"))

    @staticmethod
    async def _requested(backend: BackendClient, tracker: Tracker) -> list[EventType]:
        """cs_backend's request (a resolved ticket): asked while the survey is still unanswered."""
        values = request_entities(tracker)
        survey_id = parse_ticket_number(values.get("survey_id"))
        if survey_id is None:
            return _skip("a survey request without a survey id", tracker)
        try:
            survey = await backend.get_survey(survey_id)
        except BackendError as error:
            if error.is_not_found:
                return _skip(f"survey {survey_id} is gone", tracker)
            raise
        if survey.state not in ASKABLE_STATES:
            return _skip(f"survey {survey.id} is {survey.state}", tracker)
        ticket = str(survey.subject_id) if survey.trigger == TICKET_RESOLVED else None
        return _ask(
            survey,
            SlotSet("survey_ticket_id", ticket),
            # The resolved ticket is the one a following "same problem again" is about (actions/context.py).
            *([SlotSet("ticket_in_focus", ticket)] if ticket else []),
            # The questions are about how the ticket was handled, not about an agent's live chat.
            SlotSet("feedback_resolver", None),
            SlotSet("feedback_topic", None),
        )


class ActionRecordFeedbackComment(Action):
    """Posts the comment given after a low score to the survey (cs_backend opens a follow-up task for a
    person) and reports it in `feedback_outcome`: comment_saved (stored, or kept in the outbox until
    cs_backend confirms it), comment_skipped (nothing said), unavailable (neither confirmed nor kept)."""

    def name(self) -> str:
        return "action_record_feedback_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        forget = [
            SlotSet("survey_id", None),
            SlotSet("feedback_comment", None),
            SlotSet("requested_slot", None),
        ]
        survey_id = parse_ticket_number(tracker.get_slot("survey_id"))
        comment = str(tracker.get_slot("feedback_comment") or "").strip()[:COMMENT_MAX_CHARS]
        if survey_id is None or not comment:
            return [SlotSet("feedback_outcome", COMMENT_SKIPPED), *forget]
        try:
            async with BackendClient() as backend:
                kept = await backend.answer_survey(
                    survey_id,
                    comment=comment,
                    idempotency_key=survey_answer_key(tracker.sender_id, survey_id, {"comment": comment}),
                )
        except BackendError as error:
            # Not confirmed and not kept (WriteNotQueued), or refused: the customer must not hear it is saved.
            logger.warning("comment on survey %s not saved nor queued: %s", survey_id, error)
            return [SlotSet("feedback_outcome", UNAVAILABLE), *forget]
        if isinstance(kept, Queued):
            # Kept in the outbox, it reaches the survey shortly: for the customer it is saved.
            logger.info("comment on survey %s queued (outbox entry %s)", survey_id, kept.entry_id)
        else:
            logger.info("comment saved on survey %s", survey_id)
        return [SlotSet("feedback_outcome", COMMENT_SAVED), *forget]
