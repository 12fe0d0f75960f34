"""Rasa events of conversations the assistant misunderstood, for the learning-loop tests.

Built with the recorded shapes of rasa_events.py. A message under the NLU threshold is what Rasa's
FallbackClassifier makes of the classifier's result (rasa/nlu/classifiers/fallback_classifier.py): intent
nlu_fallback at the threshold's confidence, inserted first into the classifier's own intent_ranking. "Did you
mean…?" is said by action_default_ask_affirmation inside action_two_stage_fallback's loop, so no action event
names it: its bot event carries the response's name (metadata utter_action, rasa/core/actions/action.py).
"""

from __future__ import annotations

from typing import Any

from .rasa_events import (
    action,
    active_loop,
    bot,
    external_user,
    session_started,
    slot,
    user,
    user_featurization,
)

FALLBACK_THRESHOLD = 0.4


def fallback_user(
    text_: str, ranking: list[tuple[str, float]], timestamp: float, sender_id: str, channel: str = "rest"
) -> dict[str, Any]:
    event = user("nlu_fallback", text_, timestamp, sender_id, channel)
    fallback = {"name": "nlu_fallback", "confidence": FALLBACK_THRESHOLD}
    event["parse_data"]["intent"] = dict(fallback)
    event["parse_data"]["intent_ranking"] = [fallback] + [
        {"name": name, "confidence": confidence} for name, confidence in ranking
    ]
    return event


def understood(
    intent: str, text_: str, confidence: float, timestamp: float, sender_id: str
) -> dict[str, Any]:
    event = user(intent, text_, timestamp, sender_id)
    event["parse_data"]["intent"]["confidence"] = confidence
    event["parse_data"]["intent_ranking"][0]["confidence"] = confidence
    return event


def opening(at: float, sender_id: str) -> list[dict[str, Any]]:
    return [
        action("action_session_start", at, sender_id),
        session_started(at, sender_id),
        action("action_listen", at, sender_id),
    ]


def did_you_mean(at: float, sender_id: str) -> list[dict[str, Any]]:
    return [
        user_featurization(at, sender_id),
        action("action_two_stage_fallback", at, sender_id),
        active_loop("action_two_stage_fallback", at, sender_id),
        bot(
            "Sorry, I'm not sure I understood. Did you mean one of these?",
            at,
            sender_id,
            "utter_ask_affirmation",
        ),
        action("action_listen", at, sender_id),
    ]


def something_else_then_rephrased(sender_id: str, start: float) -> list[dict[str, Any]]:
    """A miss, "Something else", then the rephrased question understood."""
    return [
        *opening(start, sender_id),
        fallback_user(
            "my invoice thingy looks weird",
            [("billing_invoice", 0.31), ("refund_request", 0.2)],
            start + 1,
            sender_id,
        ),
        *did_you_mean(start + 1.1, sender_id),
        user("out_of_scope", "/out_of_scope", start + 2, sender_id),
        action("action_two_stage_fallback", start + 2.1, sender_id),
        bot(
            "Sorry, I still didn't get that. Could you say it in other words?",
            start + 2.1,
            sender_id,
            "utter_ask_rephrase",
        ),
        action("action_listen", start + 2.1, sender_id),
        understood("billing_invoice", "where do I download my invoices", 0.93, start + 3, sender_id),
        active_loop(None, start + 3.1, sender_id),
        action("utter_billing_invoice", start + 3.1, sender_id),
        bot(
            "All invoices are under Settings → Billing → Invoices…",
            start + 3.1,
            sender_id,
            "utter_billing_invoice",
        ),
        action("action_listen", start + 3.2, sender_id),
    ]


def two_misses_then_a_person(sender_id: str, start: float) -> list[dict[str, Any]]:
    """Two misses in a row (Rasa gives up and offers a person), then the offer's "Yes"."""
    return [
        *opening(start, sender_id),
        fallback_user("the thingy broke again lol", [("report_problem", 0.35)], start + 1, sender_id),
        *did_you_mean(start + 1.1, sender_id),
        fallback_user(
            "it no work", [("report_problem", 0.28), ("account_locked", 0.1)], start + 2, sender_id
        ),
        action("action_two_stage_fallback", start + 2.1, sender_id),
        bot(
            "I'm having trouble understanding you, sorry. Would you like a person…",
            start + 2.1,
            sender_id,
            "utter_offer_human",
        ),
        active_loop(None, start + 2.1, sender_id),
        action("action_listen", start + 2.2, sender_id),
        user("request_human", "/request_human", start + 3, sender_id),
        action("action_handoff_to_human", start + 3.1, sender_id),
        slot("handoff_outcome", "queued", start + 3.1, sender_id),
    ]


def answered_then_rated_low(sender_id: str, start: float) -> list[dict[str, Any]]:
    """An understood question answered, then "1" (the CSAT form's mapping, then its validation): the answer
    missed. The message holds an email address."""
    return [
        *opening(start, sender_id),
        understood(
            "billing_invoice",
            "the VAT number on my bill is wrong, write to ada@example.com",
            0.71,
            start + 1,
            sender_id,
        ),
        action("utter_billing_invoice", start + 1.1, sender_id),
        bot(
            "All invoices are under Settings → Billing → Invoices…",
            start + 1.1,
            sender_id,
            "utter_billing_invoice",
        ),
        action("action_listen", start + 1.2, sender_id),
        understood("rate", "1", 0.99, start + 2, sender_id),
        slot("csat_score", "1", start + 2.01, sender_id),
        action("feedback_form", start + 2.1, sender_id),
        active_loop("feedback_form", start + 2.1, sender_id),
        slot("csat_score", 1.0, start + 2.1, sender_id),
        slot("requested_slot", "ces_score", start + 2.1, sender_id),
    ]


def nothing_to_review(sender_id: str, start: float) -> list[dict[str, Any]]:
    """Understood messages, a button payload, a nudge from cs_backend, a good rating."""
    return [
        *opening(start, sender_id),
        understood("get_started", "what should I do first?", 0.95, start + 1, sender_id),
        action("action_onboarding_next_step", start + 1.1, sender_id),
        external_user("EXTERNAL_onboarding_nudge", start + 2, sender_id),
        user("onboarding_step_done", "/onboarding_step_done", start + 3, sender_id),
        understood("rate", "5", 0.99, start + 4, sender_id),
        slot("csat_score", 5.0, start + 4.1, sender_id),
    ]
