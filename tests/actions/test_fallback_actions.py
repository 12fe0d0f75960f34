"""The two-stage fallback's actions (actions/fallback.py): "Did you mean…?" buttons and the offer of a person.

They don't call cs_backend; what they send is checked the way Rasa renders it (the response text from domain.yml,
the buttons appended by the action).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from rasa_sdk.executor import CollectingDispatcher

from action_test_support import DOMAIN, make_tracker, render_response, user_event
from actions.fallback import (
    EXCLUDED_INTENTS,
    INTENT_PHRASES,
    ActionDefaultAskAffirmation,
    ActionDefaultFallback,
    affirmation_buttons,
    candidate_intents,
)


def _fallback_message(text: str, ranking: Sequence[Tuple[str, float]]) -> Dict[str, Any]:
    """A user event as the FallbackClassifier leaves it: intent nlu_fallback, ranking with nlu_fallback on top."""
    event = user_event(text, "nlu_fallback", confidence=0.6)
    event["parse_data"]["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.6}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranking
    ]
    return event


async def _run(
    action: Any, events: List[Dict[str, Any]], active_loop: str | None = None
) -> Tuple[List[Dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, make_tracker("fallback-test", events, active_loop=active_loop), DOMAIN)
    return result, dispatcher


def _payloads(buttons: List[Dict[str, str]]) -> List[str]:
    return [button["payload"] for button in buttons]


def test_every_domain_intent_is_either_suggestible_with_a_phrase_or_excluded() -> None:
    intents = set(DOMAIN["intents"])
    assert intents - EXCLUDED_INTENTS == set(INTENT_PHRASES), intents - EXCLUDED_INTENTS ^ set(INTENT_PHRASES)
    assert INTENT_PHRASES["password_reset"] == "Reset my password"
    assert INTENT_PHRASES["request_human"] == "Talk to a person"
    assert len(set(INTENT_PHRASES.values())) == len(INTENT_PHRASES)  # no two buttons look alike


def test_candidates_skip_fallback_retrieval_and_conversational_intents_and_keep_three() -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "faq", "confidence": 0.5},
        {"name": "affirm", "confidence": 0.4},
        {"name": "password_reset", "confidence": 0.3},
        {"name": "chitchat/joke", "confidence": 0.2},
        {"name": "out_of_scope", "confidence": 0.1},
        {"name": "account_locked", "confidence": 0.09},
        {"name": "greet", "confidence": 0.08},
        {"name": "two_factor_auth", "confidence": 0.07},
        {"name": "change_email", "confidence": 0.06},
    ]
    assert candidate_intents(ranking) == ["password_reset", "account_locked", "two_factor_auth"]


def test_unknown_and_repeated_intents_are_skipped() -> None:
    ranking = [{"name": "some_new_intent"}, {"name": "data_export"}, {"name": "data_export"}, {}, {"name": None}]
    assert candidate_intents(ranking) == ["data_export"]


def test_buttons_end_with_something_else_which_is_out_of_scope() -> None:
    buttons = affirmation_buttons([{"name": "refund_request"}, {"name": "billing_invoice"}])
    assert buttons == [
        {"title": "Ask for a refund", "payload": "/refund_request"},
        {"title": "Invoices and billing", "payload": "/billing_invoice"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]


def test_without_any_guess_a_person_and_something_else_are_offered() -> None:
    assert _payloads(affirmation_buttons([{"name": "nlu_fallback"}, {"name": "greet"}, {"name": "faq"}])) == [
        "/request_human",
        "/out_of_scope",
    ]
    assert _payloads(affirmation_buttons([])) == ["/request_human", "/out_of_scope"]


async def test_ask_affirmation_sends_the_response_with_buttons_for_the_top_guesses() -> None:
    message = _fallback_message(
        "i cant get in to my acount",
        [("account_locked", 0.41), ("password_reset", 0.38), ("faq", 0.1), ("thank", 0.05), ("change_email", 0.03)],
    )
    events, dispatcher = await _run(ActionDefaultAskAffirmation(), [message])

    assert events == []
    (sent,) = dispatcher.messages
    assert sent["response"] == "utter_ask_affirmation"
    assert render_response("utter_ask_affirmation", {})  # the text exists in domain.yml
    assert [(b["title"], b["payload"]) for b in sent["buttons"]] == [
        ("My account is locked", "/account_locked"),
        ("Reset my password", "/password_reset"),
        ("Change my email address", "/change_email"),
        ("Something else", "/out_of_scope"),
    ]


async def test_ask_affirmation_uses_the_latest_message_only() -> None:
    first = _fallback_message("blorp", [("data_export", 0.4)])
    second = _fallback_message("zzz refund??", [("refund_request", 0.5), ("stop", 0.2)])
    _, dispatcher = await _run(ActionDefaultAskAffirmation(), [first, second])
    (sent,) = dispatcher.messages
    assert _payloads(sent["buttons"]) == ["/refund_request", "/out_of_scope"]


async def test_ask_affirmation_without_guesses_still_asks() -> None:
    message = _fallback_message("asdfgh", [("greet", 0.3), ("chitchat", 0.2)])
    _, dispatcher = await _run(ActionDefaultAskAffirmation(), [message])
    (sent,) = dispatcher.messages
    assert sent["response"] == "utter_ask_affirmation"
    assert [(b["title"], b["payload"]) for b in sent["buttons"]] == [
        ("Talk to a person", "/request_human"),
        ("Something else", "/out_of_scope"),
    ]


async def test_giving_up_offers_a_person_and_keeps_the_message() -> None:
    message = _fallback_message("qwerty uiop", [("report_problem", 0.3)])
    # Rasa runs it while the two-stage loop deactivates, so that loop is still the active one.
    events, dispatcher = await _run(ActionDefaultFallback(), [message], active_loop="action_two_stage_fallback")
    assert events == []  # no UserUtteranceReverted: the handoff quotes this message
    (sent,) = dispatcher.messages
    assert sent["response"] == "utter_offer_human"
    offer = DOMAIN["responses"]["utter_offer_human"][0]
    assert "/request_human" in [button["payload"] for button in offer["buttons"]]


async def test_core_fallback_asks_to_rephrase_and_reverts_the_message() -> None:
    # RulePolicy's core fallback (no policy confident) runs the same action outside the two-stage loop.
    events, dispatcher = await _run(ActionDefaultFallback(), [user_event("sure, whatever", "affirm")])
    assert events == [{"event": "rewind", "timestamp": None}]
    assert [sent["response"] for sent in dispatcher.messages] == ["utter_default"]
