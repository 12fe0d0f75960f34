"""Cancellation requests: ask why, make the offer that fits, record the churn signal
(dialogue/rules/billing.yml).

- `validate_cancellation_form` — `cancel_reason` is one of too_expensive / missing_feature / not_using /
  switching / other: a button's value is kept, free text is classified by keywords
  (:func:`classify_cancel_reason`; any other non-empty answer, even "no", is "other"). `retention_accepted`
  comes from the affirm / deny mappings.
- `action_record_churn_signal` — POST /api/churn/signals (kind cancel_request, the reason, outcome "retained"
  when the offer was accepted, else "cancelling"), and `churn_outcome` retained / cancelling / unavailable
  (not confirmed and not even kept in the outbox). A signal cs_backend did not confirm is kept in the outbox
  and reaches the team shortly: its outcome is told as when stored ("noted", "passed on to our team"). It
  also runs when the customer stops half-way (then "cancelling", reason possibly unknown).

Clearing the form's slots: `retention_accepted` is cleared by action_record_churn_signal. `cancel_reason` is
cleared there too, EXCEPT when the offer was accepted: utter_retention_thanks, spoken after the action, picks
the offer's wording from it. A kept (stale) reason is dropped at the next activation of the form instead: Rasa
validates pre-filled required slots at activation, and validate_cancellation_form then returns None for both
slots (no mapping can fill them at activation: they are only filled while asked), so the next cancellation
asks again.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError
from actions.chinese_text import cancel_reason_from_chinese, has_han
from actions.common import conversation_channel, write_key

logger = logging.getLogger(__name__)

# cancel_reason values (the buttons of utter_ask_cancel_reason)
TOO_EXPENSIVE = "too_expensive"
MISSING_FEATURE = "missing_feature"
NOT_USING = "not_using"
SWITCHING = "switching"
OTHER = "other"
CANCEL_REASONS = (TOO_EXPENSIVE, MISSING_FEATURE, NOT_USING, SWITCHING, OTHER)

# churn_outcome values
RETAINED = "retained"
CANCELLING = "cancelling"
UNAVAILABLE = "unavailable"

# Checked in this order, the first match wins: price first (the discount is the offer that most often keeps
# a customer), then switching ("moving to X because it has Y" is a switch), then not using ("don't need it"
# is not a missing feature), then missing features ("need" alone).
_REASON_KEYWORDS: tuple[tuple[str, re.Pattern], ...] = (
    (
        TOO_EXPENSIVE,
        re.compile(
            r"\b(price[sd]?|pricing|pricey|expensive|costs?|costly|budgets?|cheap(er)?|afford(able)?|money|"
            r"pay(ing)?\s+too\s+much)\b"
        ),
    ),
    (
        SWITCHING,
        re.compile(
            r"\b(switch(es|ed|ing)?|mov(e|ing)\s+to|migrat(e|ing)\s+to|competitors?|alternatives?|"
            r"(another|other|different)\s+(tool|app|product|service|solution))\b"
        ),
    ),
    (
        NOT_USING,
        re.compile(
            r"\b(not\s+(really\s+)?using|(don'?t|do\s+not|didn'?t|never|rarely|barely|hardly)\s+(really\s+|even\s+)?use[sd]?|"
            r"rarely|no\s+time|(don'?t|do\s+not|no\s+longer)\s+need|not\s+needed|unused)\b"
        ),
    ),
    (
        MISSING_FEATURE,
        re.compile(
            r"(\bfeatures?\b|\bmissing\b|\black(s|ing)?\b|\b(doesn'?t|does\s+not|don'?t|do\s+not)\s+have\b|"
            r"\bcan'?t\s+do\b|\bneeds?\b|\bneeded\b)"
        ),
    ),
)
# A button's payload, if Rasa passed its text on: /inform{"cancel_reason": "too_expensive"}
_PAYLOAD = re.compile(r"^/\w+(\{.*\})\s*$", re.S)


def classify_cancel_reason(value: Any) -> str | None:
    """The cancel_reason value for an answer: a known value as it is, free text by keywords, else "other".

    None for an empty answer (the question is asked again).
    """
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    payload = _PAYLOAD.match(text)
    if payload:
        try:
            reason = str((json.loads(payload.group(1)) or {}).get("cancel_reason") or "")
        except (ValueError, AttributeError):
            reason = ""
        return reason if reason in CANCEL_REASONS else OTHER
    lowered = text.lower().replace("’", "'")
    if lowered in CANCEL_REASONS:
        return lowered
    for reason, pattern in _REASON_KEYWORDS:
        if pattern.search(lowered):
            return reason
    if has_han(text):
        return cancel_reason_from_chinese(text) or OTHER
    return OTHER


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class ValidateCancellationForm(FormValidationAction):
    """Classifies the reason and keeps the yes/no to the offer; drops answers left from a previous run."""

    def name(self) -> str:
        return "validate_cancellation_form"

    @staticmethod
    def _activating(tracker: Tracker) -> bool:
        # At activation Rasa validates the required slots that are already set: they can only be left over
        # from an earlier cancellation (see the module docstring), never an answer to this one.
        return tracker.get_slot("requested_slot") is None

    def validate_cancel_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._activating(tracker):
            return {"cancel_reason": None}
        return {"cancel_reason": classify_cancel_reason(value)}

    def validate_retention_accepted(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._activating(tracker):
            return {"retention_accepted": None}
        return {"retention_accepted": _as_bool(value)}


class ActionRecordChurnSignal(Action):
    """Records the cancellation request in cs_backend and reports `churn_outcome`."""

    def name(self) -> str:
        return "action_record_churn_signal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = tracker.get_slot("cancel_reason")
        reason = classify_cancel_reason(reason) if reason is not None else None
        retained = _as_bool(tracker.get_slot("retention_accepted")) is True
        outcome = RETAINED if retained else CANCELLING
        try:
            async with BackendClient() as backend:
                signal = await backend.record_churn_signal(
                    kind="cancel_request",
                    sender_id=tracker.sender_id,
                    channel=conversation_channel(tracker),
                    reason=reason,
                    outcome=outcome,
                    intent="cancel_subscription",
                    idempotency_key=write_key("churn", tracker),
                )
        except BackendError as error:
            logger.warning(
                "churn signal not recorded nor queued, cs_backend refusing or unavailable: %s", error
            )
            return [
                SlotSet("churn_outcome", UNAVAILABLE),
                SlotSet("cancel_reason", None),
                SlotSet("retention_accepted", None),
            ]
        if isinstance(signal, Queued):
            logger.info("churn signal (%s, %s) queued (outbox entry %s)", reason, outcome, signal.entry_id)
        else:
            logger.info(
                "churn signal %s (%s, %s) for sender %s", signal.id, reason, outcome, tracker.sender_id
            )
        return [
            SlotSet("churn_outcome", outcome),
            # Kept when retained: utter_retention_thanks (after this action) words the accepted offer with it.
            SlotSet("cancel_reason", reason if retained else None),
            SlotSet("retention_accepted", None),
        ]
