"""CSAT: the rating question (csat_form) and storing the rating in cs_backend."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.backend import BackendClient, BackendError, Feedback
from actions.common import input_channel, resuming_after_interruption, topic_intent, write_key
from actions.parsing import parse_csat, parse_ticket_number

logger = logging.getLogger(__name__)

HINT_CSAT_INVALID = "csat_invalid"


class ValidateCsatForm(FormValidationAction):
    """Turns "4", "four", "4/5", "★★★★", "⭐⭐⭐⭐", 😀 ... into a 1-5 score; anything else is asked again."""

    def name(self) -> Text:
        return "validate_csat_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        validated = any(e.get("event") == "slot" and e.get("name") != "requested_slot" for e in events)
        if not validated and tracker.get_slot("form_hint") and resuming_after_interruption(tracker, "csat_form"):
            events.append(SlotSet("form_hint", None))
        return events

    def validate_csat_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        score = parse_csat(value)
        if score is None:
            # At activation ("I want to leave a rating") just ask; afterwards say the answer had no rating.
            activating = tracker.get_slot("requested_slot") is None
            return {"csat_score": None, "form_hint": None if activating else HINT_CSAT_INVALID}
        return {"csat_score": score, "form_hint": None}


class ActionRecordCsat(Action):
    """Stores the rating (with sender, channel, topic intent, resolver=bot and the ticket) and reports the
    outcome in `csat_outcome`."""

    def name(self) -> Text:
        return "action_record_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        score = parse_csat(tracker.get_slot("csat_score"))
        if score is None:
            logger.error("action_record_csat ran without a valid csat_score (sender %s)", tracker.sender_id)
            return [SlotSet("csat_outcome", "unavailable"), SlotSet("csat_score", None)]
        ticket_id = parse_ticket_number(tracker.get_slot("ticket_id"))
        try:
            feedback = await self._store(tracker, score, ticket_id)
        except BackendError as error:
            logger.warning("CSAT rating not saved: %s", error)
            return [SlotSet("csat_outcome", "unavailable"), SlotSet("csat_score", None)]
        logger.info("CSAT %s stored as feedback %s (ticket %s)", score, feedback.id, feedback.ticket_id)
        return [SlotSet("csat_outcome", "saved"), SlotSet("csat_score", score), SlotSet("form_hint", None)]

    @staticmethod
    async def _store(tracker: Tracker, score: int, ticket_id: Optional[int]) -> Feedback:
        common = {
            "score": score,
            "kind": "csat",
            "sender_id": tracker.sender_id,
            "channel": input_channel(tracker),
            "intent": topic_intent(tracker),
            "resolver": "bot",
        }
        async with BackendClient() as backend:
            try:
                return await backend.create_feedback(
                    ticket_id=ticket_id, idempotency_key=write_key("csat", tracker), **common
                )
            except BackendError as error:
                if not (error.is_client_error and "ticket_id" in error.fields and ticket_id is not None):
                    raise
                # The ticket is gone (or unknown to this backend): keep the rating rather than lose it.
                logger.warning("ticket %s refused for feedback (%s); storing the rating without it", ticket_id,
                               error.fields["ticket_id"])
                return await backend.create_feedback(
                    ticket_id=None, idempotency_key=write_key("csat-no-ticket", tracker), **common
                )
