"""Low NLU confidence: our versions of the two actions Rasa's two-stage fallback calls
(dialogue/rules/fallback.yml).

Rasa's `action_two_stage_fallback` loop looks both up through the action endpoint, so these replace the
defaults:

- `action_default_ask_affirmation` — "Did you mean…?" (response `utter_ask_affirmation`) with a button for
  each of the (up to 3) best guesses of the latest message, in plain words ("Reset my password"), and a last
  button "Something else" whose payload is `/out_of_scope`: that is the "no" Rasa's loop understands (it then
  asks to rephrase). A button `/<intent>` counts as the clarification, and the conversation goes on as if
  understood.
- `action_default_fallback` — run by the loop when it gives up (two misunderstood messages in a row, or a
  second "Something else"): offers a person (`utter_offer_human`; "Yes" is `/request_human`). It returns no
  events: the user's message stays in the conversation (Rasa's default would revert it), so
  action_handoff_to_human can pass it on to the support team.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import EN, ZH, Bilingual, language_of

logger = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
NLU_FALLBACK = "nlu_fallback"
TWO_STAGE_FALLBACK = "action_two_stage_fallback"

# Never suggested: retrieval intents (a "/faq" payload would skip the ResponseSelector, so the answer would
# be lost), answers and conversation management (a button "Yes" or "Hello" makes no sense as a guess), and
# intents no customer types.
EXCLUDED_INTENTS = frozenset(
    {
        NLU_FALLBACK,
        "faq",
        "chitchat",
        "affirm",
        "deny",
        "inform",
        "stop",
        "greet",
        "goodbye",
        "thank",
        "rate",
        # "English please": conversation management, never a guess.
        "switch_language",
        # Follow-ups ("how do I do that?") mean something only after what the bot just said: not a guess.
        "ask_how_to",
        "ask_next_step",
        "refer_to_that",
        "same_problem_again",
        # Given from the characters (bot/components/unsupported_input.py): never a guess to offer.
        "unsupported_language",
        "unsupported_input",
        "out_of_scope",
        "bot_challenge",
        "EXTERNAL_onboarding_nudge",
        "EXTERNAL_agent_message",
        "EXTERNAL_handoff_update",
        "EXTERNAL_handoff_ended",
        "EXTERNAL_survey_request",
    }
)

# What the customer may have meant, in their own words (button titles). Every other domain intent is here
# (tests/actions/test_fallback.py checks it against domain.yml).
INTENT_PHRASES: dict[str, str] = {
    "request_human": "Talk to a person",
    "get_started": "Get started with Acme Cloud",
    "onboarding_progress": "See my onboarding checklist",
    "explain_onboarding_step": "Explain an onboarding step",
    "onboarding_step_done": "I finished an onboarding step",
    "password_reset": "Reset my password",
    "two_factor_auth": "Two-factor authentication",
    "account_locked": "My account is locked",
    "change_email": "Change my email address",
    "billing_invoice": "Invoices and billing",
    "refund_request": "Ask for a refund",
    "change_plan": "Change my plan",
    "cancel_subscription": "Cancel my subscription",
    "feature_request": "Suggest a feature",
    "integrations": "Integrations",
    "data_export": "Export my data",
    "data_deletion": "Delete my data",
    "report_problem": "Report a problem",
    "ticket_status": "Check a ticket's status",
    "link_account": "Link this chat to my account",
}

# The same phrases for a Chinese conversation (language slot zh; tests/actions/test_fallback.py checks that
# both tables name the same intents).
INTENT_PHRASES_ZH: dict[str, str] = {
    "request_human": "找人工客服",
    "get_started": "开始使用 Acme Cloud",
    "onboarding_progress": "查看我的设置清单",
    "explain_onboarding_step": "讲解某个设置步骤",
    "onboarding_step_done": "我完成了一个设置步骤",
    "password_reset": "重置密码",
    "two_factor_auth": "双重验证",
    "account_locked": "我的账号被锁定了",
    "change_email": "更改邮箱地址",
    "billing_invoice": "发票和账单",
    "refund_request": "申请退款",
    "change_plan": "更换套餐",
    "cancel_subscription": "取消订阅",
    "feature_request": "提功能建议",
    "integrations": "集成",
    "data_export": "导出我的数据",
    "data_deletion": "删除我的数据",
    "report_problem": "报告问题",
    "ticket_status": "查询工单状态",
    "link_account": "把这个聊天关联到我的账号",
}

SOMETHING_ELSE = Bilingual("Something else", "都不是")
SOMETHING_ELSE_PAYLOAD = "/out_of_scope"


def intent_phrase(intent: str, language: str) -> str:
    """The button title for `intent` in `language`."""
    return (INTENT_PHRASES_ZH if language == ZH else INTENT_PHRASES)[intent]


def candidate_intents(intent_ranking: Iterable[Mapping[str, Any]], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """The best guesses worth offering, best first: known, suggestible intents, each once."""
    candidates: list[str] = []
    for ranked in intent_ranking or ():
        name = str((ranked or {}).get("name") or "")
        base = name.split("/", 1)[0]  # a retrieval intent's full name ("faq/pricing") -> its base
        if base in EXCLUDED_INTENTS or base not in INTENT_PHRASES or base in candidates:
            continue
        candidates.append(base)
        if len(candidates) >= limit:
            break
    return candidates


def affirmation_buttons(
    intent_ranking: Iterable[Mapping[str, Any]], language: str = EN
) -> list[dict[str, str]]:
    """The buttons of "Did you mean…?", titled in `language`: the guesses, then "Something else" (the "no" of
    Rasa's fallback loop).

    Without any guess: "Talk to a person" and "Something else".
    """
    guesses = candidate_intents(intent_ranking) or ["request_human"]
    something_else = {"title": SOMETHING_ELSE.in_language(language), "payload": SOMETHING_ELSE_PAYLOAD}
    return [{"title": intent_phrase(name, language), "payload": f"/{name}"} for name in guesses] + [
        something_else
    ]


def _intent_ranking(tracker: Tracker) -> list[Mapping[str, Any]]:
    latest: Mapping[str, Any] | None = tracker.latest_message
    return list((latest or {}).get("intent_ranking") or [])


class ActionDefaultAskAffirmation(Action):
    """ "Did you mean one of these?", a button per likely intent of the message that was not understood."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        buttons = affirmation_buttons(_intent_ranking(tracker), language_of(tracker))
        logger.debug(
            "asking to affirm one of %s (sender %s)", [b["payload"] for b in buttons], tracker.sender_id
        )
        dispatcher.utter_message(response="utter_ask_affirmation", buttons=buttons)
        return []


class ActionDefaultFallback(Action):
    """Two callers, two jobs.

    - The two-stage fallback gave up (it is still the active loop while it deactivates): offer a person
      instead of guessing again; the message is kept.
    - RulePolicy's core fallback (config.yml: no policy confident about the next action): Rasa's default
      behaviour, ask to rephrase (`utter_default`) and revert the message so the dialogue state is as before
      it.

    The first case is told by the active loop: Rasa deactivates a loop only after this action has run. One
    give-up lands in the second case: a third miss typed right after the offer (no button clicked). The kept
    second miss and it make "two fallbacks in a row" at the loop's activation, when it is not active yet.
    Asking to rephrase and reverting that message is the right answer there: the offer was just ignored, and
    the next miss gets "Did you mean…?" again.
    """

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (tracker.active_loop or {}).get("name") == TWO_STAGE_FALLBACK:
            dispatcher.utter_message(response="utter_offer_human")
            return []
        dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted()]
