"""bot/validate_data.py: only the checked Rasa 3.6 false positives are exempt; every other warning fails."""

from __future__ import annotations

from pathlib import Path

from bot.validate_data import judge, rasa_warnings, retrieval_intents

DOMAIN = {
    "forms": {
        "ticket_form": {"required_slots": ["email"]},
        "cancellation_form": {"required_slots": ["reason"]},
    },
    "responses": {"utter_ask_email": [], "utter_offer_human": [], "utter_greet": []},
}
RETRIEVAL = {"faq", "chitchat"}


def exempt(warning: str) -> bool:
    return judge(warning, DOMAIN, RETRIEVAL).exempt_because is not None


def test_form_asks_for_required_slots_are_exempt() -> None:
    assert exempt("The utterance 'utter_ask_email' is not used in any story or rule.")
    assert exempt("The utterance 'utter_ask_cancellation_form_reason' is not used in any story or rule.")


def test_an_unused_response_that_no_form_or_action_sends_fails() -> None:
    assert not exempt("The utterance 'utter_greet' is not used in any story or rule.")
    assert not exempt("The utterance 'utter_ask_phone' is not used in any story or rule.")


def test_action_dispatched_response_is_exempt_only_when_it_exists() -> None:
    assert exempt("The utterance 'utter_offer_human' is not used in any story or rule.")
    assert not exempt(
        "The utterance 'utter_ask_affirmation' is not used in any story or rule."
    )  # not in DOMAIN


def test_only_external_intents_may_lack_examples() -> None:
    message = "The intent '{}' is listed in the domain file, but is not found in the NLU training data."
    assert exempt(message.format("EXTERNAL_onboarding_nudge"))
    assert not exempt(message.format("refund_request"))


def test_duplicate_intents_are_exempt_only_for_retrieval_intents() -> None:
    message = "The following duplicated intents have been found across multiple domain files: {}"
    assert exempt(message.format("chitchat, faq"))
    assert not exempt(message.format("faq, greet"))


def test_other_warnings_fail() -> None:
    assert not exempt(
        "The example 'hi' was found labeled with multiple different intents in the training data."
    )


def test_warnings_are_read_from_colored_rasa_output() -> None:
    output = (
        "\x1b[93m/x/io.py:100: UserWarning: The utterance 'utter_greet' is not used in any story or rule.\n"
        "\x1b[0m2026-01-01 INFO rasa.validator - Validating intents...\n"
    )
    assert rasa_warnings(output) == ["The utterance 'utter_greet' is not used in any story or rule."]


def test_retrieval_intents_come_from_the_nlu_examples_not_the_responses_beside_them(tmp_path: Path) -> None:
    # Like nlu_data/faq.yml: answers and examples in one file. Rasa adds a retrieval intent to the domain only
    # for examples, so a response without examples ("chitchat" here) is no retrieval intent.
    (tmp_path / "faq.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_faq/pricing:\n    - text: "$8"\n'
        '  utter_chitchat/joke:\n    - text: "ha"\n'
        "nlu:\n  - intent: faq/pricing\n    examples: |\n      - how much\n"
        "  - intent: greet\n    examples: |\n      - hi\n",
        encoding="utf-8",
    )
    assert retrieval_intents([tmp_path]) == {"faq"}
