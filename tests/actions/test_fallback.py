"""The two-stage fallback's actions (actions/fallback.py): "Did you mean…?" buttons and the offer of a person.

They don't call cs_backend; what they send is checked the way Rasa renders it (the response text from
domain.yml, the buttons appended by the action).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from action_test_support import DOMAIN, make_tracker, render_response, user_event
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import (
    EXCLUDED_INTENTS,
    INTENT_PHRASES,
    INTENT_PHRASES_ZH,
    SOMETHING_ELSE_PAYLOAD,
    ActionDefaultAskAffirmation,
    ActionDefaultFallback,
    affirmation_buttons,
    candidate_intents,
)


def _fallback_message(text: str, ranking: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """A user event as the FallbackClassifier leaves it: intent nlu_fallback, ranked first."""
    event = user_event(text, "nlu_fallback", confidence=0.6)
    event["parse_data"]["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.6}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranking
    ]
    return event


async def _run(
    action: Any, events: list[dict[str, Any]], active_loop: str | None = None
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    result = await action.run(
        dispatcher, make_tracker("fallback-test", events, active_loop=active_loop), DOMAIN
    )
    return result, dispatcher


def _payloads(buttons: list[dict[str, str]]) -> list[str]:
    return [button["payload"] for button in buttons]


def test_every_domain_intent_is_either_suggestible_with_a_phrase_or_excluded() -> None:
    intents = set(DOMAIN["intents"])
    assert intents - EXCLUDED_INTENTS == set(INTENT_PHRASES), intents - EXCLUDED_INTENTS ^ set(INTENT_PHRASES)
    assert INTENT_PHRASES["password_reset"] == "Reset my password"
    assert INTENT_PHRASES["request_human"] == "Talk to a person"
    assert len(set(INTENT_PHRASES.values())) == len(INTENT_PHRASES)  # no two buttons look alike


def test_every_suggestible_intent_has_a_chinese_phrase_too() -> None:
    assert set(INTENT_PHRASES_ZH) == set(INTENT_PHRASES)
    assert len(set(INTENT_PHRASES_ZH.values())) == len(INTENT_PHRASES_ZH)
    assert INTENT_PHRASES_ZH["request_human"] == "找人工客服"


async def test_ask_affirmation_titles_its_buttons_in_the_conversations_language() -> None:
    message = _fallback_message("密码 忘了 怎么办", [("password_reset", 0.38), ("account_locked", 0.3)])
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("fallback-test", [message], slots={"language": "zh"})
    await ActionDefaultAskAffirmation().run(dispatcher, tracker, DOMAIN)

    (sent,) = dispatcher.messages
    assert [(b["title"], b["payload"]) for b in sent["buttons"]] == [
        ("重置密码", "/password_reset"),
        ("我的账号被锁定了", "/account_locked"),
        ("都不是", "/out_of_scope"),
    ]
    (text,) = render_response("utter_ask_affirmation", {"language": "zh"})
    assert text == "抱歉，我不太确定是否理解了。您是指下面的哪一项吗？"


def test_without_a_guess_the_chinese_buttons_offer_a_person() -> None:
    assert affirmation_buttons([], "zh") == [
        {"title": "找人工客服", "payload": "/request_human"},
        {"title": "都不是", "payload": "/out_of_scope"},
    ]


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
    ranking = [
        {"name": "some_new_intent"},
        {"name": "data_export"},
        {"name": "data_export"},
        {},
        {"name": None},
    ]
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
        [
            ("account_locked", 0.41),
            ("password_reset", 0.38),
            ("faq", 0.1),
            ("thank", 0.05),
            ("change_email", 0.03),
        ],
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
    events, dispatcher = await _run(
        ActionDefaultFallback(), [message], active_loop="action_two_stage_fallback"
    )
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


# --- the buttons against Rasa's own two-stage fallback loop -------------------------------------------------
# (rasa is installed in .venv-bot, where these tests run: its loop decides what a button answer means.)


def _rasa_tracker(*answers: str) -> Any:
    """A Rasa tracker: a misunderstood message, "Did you mean…?", then the answers (payloads parsed as Rasa
    does)."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.nlu.training_data.message import Message

    events: list[Any] = [
        ActionExecuted("action_listen"),
        UserUttered("vlorp", {"name": "nlu_fallback", "confidence": 0.6}),
        ActionExecuted("action_two_stage_fallback"),
        ActiveLoop("action_two_stage_fallback"),
    ]
    for answer in answers:
        if answer.startswith("/"):
            intent = YAMLStoryReader.unpack_regex_message(Message(data={"text": answer}), _RASA_DOMAIN).data[
                "intent"
            ]
        else:  # typed, and misunderstood again
            intent = {"name": "nlu_fallback", "confidence": 0.6}
        events += [
            ActionExecuted("action_listen"),
            UserUttered(answer, intent, parse_data={"intent": intent, "entities": []}),
        ]
    return DialogueStateTracker.from_events("rasa-loop-test", events)


def _load_rasa_domain() -> Any:
    from action_test_support import REPO_ROOT
    from rasa.shared.core.domain import Domain

    return Domain.load(str(REPO_ROOT / "domain.yml"))


_RASA_DOMAIN = _load_rasa_domain()


async def _loop_is_done(tracker: Any) -> bool:
    from rasa.core.actions.two_stage_fallback import TwoStageFallbackAction

    return await TwoStageFallbackAction().is_done(None, None, tracker, _RASA_DOMAIN, [])


async def test_every_guess_button_is_a_clarification_for_rasas_loop() -> None:
    from rasa.core.actions.two_stage_fallback import TwoStageFallbackAction
    from rasa.shared.core.events import UserUtteranceReverted

    for name in INTENT_PHRASES:
        payload = f"/{name}"
        tracker = _rasa_tracker(payload)
        assert tracker.latest_message.intent_name == name, payload  # a domain intent: the payload is accepted
        assert await _loop_is_done(tracker), payload
        reverted, _, clarification = await TwoStageFallbackAction().deactivate(
            None, None, tracker, _RASA_DOMAIN, []
        )
        assert isinstance(reverted, UserUtteranceReverted)
        assert clarification.intent_name == name  # the conversation goes on as if the message meant it


async def test_something_else_is_the_no_of_rasas_loop_and_a_second_one_gives_up() -> None:
    from rasa.core.actions.two_stage_fallback import _second_affirmation_failed

    once = _rasa_tracker(SOMETHING_ELSE_PAYLOAD)
    assert not await _loop_is_done(once)  # -> Rasa asks to rephrase (utter_ask_rephrase)

    # the rephrased message is misunderstood too, "Did you mean…?" again, "Something else" again: Rasa gives
    # up
    twice = _rasa_tracker(SOMETHING_ELSE_PAYLOAD, "zzxq blick", SOMETHING_ELSE_PAYLOAD)
    assert twice.latest_message.intent_name == "out_of_scope"
    assert _second_affirmation_failed(twice) and await _loop_is_done(twice)


async def _our_fallback_on(rasa_tracker: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """action_default_fallback run on the state Rasa sends the action server for this tracker."""
    from rasa.shared.core.trackers import EventVerbosity
    from rasa_sdk import Tracker

    state = rasa_tracker.current_state(EventVerbosity.ALL)
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(dispatcher, Tracker.from_dict(state), DOMAIN)
    return events, [sent["response"] for sent in dispatcher.messages]


async def test_two_misses_in_a_row_give_up_inside_the_loop_with_the_offer_of_a_person() -> None:
    tracker = _rasa_tracker("zzxq blick")
    assert await _loop_is_done(tracker)
    assert tracker.active_loop_name == "action_two_stage_fallback"  # still active while Rasa gives up
    events, responses = await _our_fallback_on(tracker)
    assert (events, responses) == ([], ["utter_offer_human"])


async def test_a_third_miss_typed_after_the_offer_asks_to_rephrase() -> None:
    """The kept second miss and a third one are "two fallbacks in a row" when the loop is not active yet."""
    from rasa.core.actions.two_stage_fallback import _two_fallbacks_in_a_row
    from rasa.shared.core.events import (
        ActionExecuted,
        ActiveLoop,
        BotUttered,
        UserUtteranceReverted,
        UserUttered,
    )

    tracker = _rasa_tracker("zzxq blick")
    for event in [
        BotUttered("I'm having trouble understanding you…"),
        ActiveLoop(None),
        ActionExecuted("action_two_stage_fallback"),
        ActionExecuted("action_listen"),
        UserUttered("qwop qwop", {"name": "nlu_fallback", "confidence": 0.6}),
    ]:
        tracker.update(event)
    assert tracker.active_loop_name is None
    assert await _loop_is_done(tracker)  # Rasa gives up at once, at the loop's activation
    events, responses = await _our_fallback_on(tracker)
    assert responses == ["utter_default"]
    assert [event["event"] for event in events] == ["rewind"]

    # so the next miss starts the loop afresh: "Did you mean…?"
    for event in [
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        UserUttered("flib", {"name": "nlu_fallback", "confidence": 0.6}),
    ]:
        tracker.update(event)
    assert not _two_fallbacks_in_a_row(tracker)
