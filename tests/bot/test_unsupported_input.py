"""bot/components/unsupported_input.py: text the intent classifier cannot read is recognised from its
characters, not guessed (a Chinese cancellation request used to be read as a rating)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.unsupported_input import (
    RATE,
    UNSUPPORTED_INPUT,
    UNSUPPORTED_LANGUAGE,
    UnsupportedInputClassifier,
    classify,
    script_of,
)

LATIN_ONLY = frozenset({"Latin"})


@pytest.mark.parametrize(
    ("letter", "script"),
    [("a", "Latin"), ("É", "Latin"), ("Ａ", "Latin"), ("我", "Han"), ("я", "Cyrillic"), ("ب", "Arabic")],
)
def test_script_of_a_letter(letter: str, script: str) -> None:
    assert script_of(letter) == script


@pytest.mark.parametrize(
    "text",
    [
        "我想取消我的订阅",
        "Я хочу отменить подписку",
        "أريد إلغاء اشتراكي",
        "サブスクリプションを解約したい",
        "구독을 취소하고 싶어요",
        "спасибо, ok",
    ],
)
def test_a_message_mostly_in_another_script_is_an_unsupported_language(text: str) -> None:
    assert classify(text, LATIN_ONLY, 0.5) == UNSUPPORTED_LANGUAGE


@pytest.mark.parametrize(
    "text", ["I want to cancel", "café crème, s'il vous plaît", "ok 谢谢", "my email is jo@x.io", "4", "4821"]
)
def test_latin_text_and_digits_are_left_to_the_classifier(text: str) -> None:
    assert classify(text, LATIN_ONLY, 0.5) is None


@pytest.mark.parametrize("text", ["???", "!!!", "...", ":-)", "@#$%", "+-*/"])
def test_punctuation_and_signs_only_are_unsupported_input(text: str) -> None:
    assert classify(text, LATIN_ONLY, 0.5) == UNSUPPORTED_INPUT


@pytest.mark.parametrize("text", ["😀", "👍", "🙁 🙁", "4️⃣"])
def test_emoji_are_left_to_the_classifier(text: str) -> None:
    assert classify(text, LATIN_ONLY, 0.5) is None


@pytest.mark.parametrize("text", ["★★★★☆", "⭐⭐⭐", "🌟 🌟"])
def test_rating_stars_are_a_rating(text: str) -> None:
    assert classify(text, LATIN_ONLY, 0.5) == RATE


def test_a_served_script_is_left_to_the_classifier() -> None:
    assert classify("我想取消我的订阅", frozenset({"Latin", "Han"}), 0.5) is None


SERVED = frozenset({"Latin", "Han"})
KANA = frozenset({"Hiragana", "Katakana", "Katakana-hiragana"})


@pytest.mark.parametrize(
    "text",
    [
        "Я хочу отменить подписку",
        "أريد إلغاء اشتراكي",
        "ฉันต้องการยกเลิก",
        "구독을 취소하고 싶어요",
        "解約手続きをしたい",
        "カード",
        "спасибо, ok",
    ],
)
def test_with_chinese_served_other_scripts_and_japanese_kana_are_still_unsupported(text: str) -> None:
    assert classify(text, SERVED, 0.5, KANA) == UNSUPPORTED_LANGUAGE


@pytest.mark.parametrize(
    "text", ["我想取消订阅", "我的API key丢了", "升级到Pro套餐", "四分", "ok 谢谢", "退款"]
)
def test_with_chinese_served_chinese_and_mixed_text_is_left_to_the_classifier(text: str) -> None:
    assert classify(text, SERVED, 0.5, KANA) is None


def test_the_component_replaces_the_classifiers_guess_and_keeps_the_rest() -> None:
    component = UnsupportedInputClassifier({})
    guessed = {"name": "rate", "confidence": 0.6}
    russian = Message(data={TEXT: "Я хочу отменить подписку", INTENT: guessed, INTENT_RANKING_KEY: [guessed]})
    japanese = Message(data={TEXT: "サブスクを解約したい", INTENT: guessed, INTENT_RANKING_KEY: [guessed]})
    chinese = Message(data={TEXT: "我想取消我的订阅", INTENT: guessed, INTENT_RANKING_KEY: [guessed]})
    english = Message(data={TEXT: "I want to cancel", INTENT: guessed, INTENT_RANKING_KEY: [guessed]})
    component.process([russian, japanese, chinese, english])
    for other in (russian, japanese):
        assert other.get(INTENT) == {"name": UNSUPPORTED_LANGUAGE, "confidence": 1.0}
        assert other.get(INTENT_RANKING_KEY) == [{"name": UNSUPPORTED_LANGUAGE, "confidence": 1.0}]
    # Chinese is served by default now: the classifier's intent stands.
    assert chinese.get(INTENT) == guessed
    assert english.get(INTENT) == guessed
