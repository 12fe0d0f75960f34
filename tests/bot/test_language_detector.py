"""bot/components/language_detector.py: the entity `language` per message (contracts: Language)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.language_detector import LanguageDetector, detect_language, requested_language


@pytest.mark.parametrize(
    "text",
    [
        "我想取消订阅",
        "我的API key丢了",
        "升级到Pro套餐多少钱",
        "好的",
        "四分",
        "工单 #4821 怎么样了",
        "ok 谢谢",
    ],
)
def test_any_han_character_makes_a_message_chinese(text: str) -> None:
    assert detect_language(text) == "zh"


@pytest.mark.parametrize(
    "text",
    ["I want to cancel my subscription", "refund please", "where is my ticket #4821?", "great, cheers"],
)
def test_latin_words_without_han_make_a_message_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "4",
        "4821",
        "#4821",
        "★★★★",
        "⭐⭐⭐",
        "👍",
        "😀",
        "???",
        "ok",
        "OK",
        "thx",
        "API",
        "Pro",
        "jo@example.com",
        "Привет",
        "サブスクを解約したい",
        "  ",
    ],
)
def test_text_that_does_not_say_its_language_gets_no_entity(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("English please", "en"),
        ("speak English", "en"),
        ("Can you reply in English?", "en"),
        ("说英文", "en"),
        ("请用英文回复", "en"),
        ("英语吧", "en"),
        ("请说中文", "zh"),
        ("中文", "zh"),
        ("Chinese please", "zh"),
        ("can you speak chinese", "zh"),
        ("switch to Mandarin", "zh"),
        ("用中文交流", "zh"),
    ],
)
def test_a_switch_request_gives_the_language_asked_for_whatever_its_script(text: str, language: str) -> None:
    assert requested_language(text) == language
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("do you have an English invoice template?", "en"),
        ("你们的发票有英文版本吗", "zh"),
        ("我的中文名字", "zh"),
    ],
)
def test_a_language_mentioned_inside_a_message_is_no_switch(text: str, language: str) -> None:
    assert requested_language(text) is None
    assert detect_language(text) == language


def _processed(text: str, entities: list[dict] | None = None) -> Message:
    message = Message(data={TEXT: text, INTENT: {"name": "greet", "confidence": 0.9}})
    if entities is not None:
        message.set(ENTITIES, entities)
    LanguageDetector().process([message])
    return message


def test_the_component_adds_the_entity_next_to_the_others_and_keeps_the_intent() -> None:
    email = {"entity": "email", "value": "jo@example.com", "start": 6, "end": 20}
    message = _processed("我的邮箱是 jo@example.com", [email])
    assert message.get(INTENT) == {"name": "greet", "confidence": 0.9}
    assert message.get(ENTITIES) == [
        email,
        {"entity": "language", "value": "zh", "start": 0, "end": 20, "extractor": "LanguageDetector"},
    ]


def test_the_component_adds_nothing_when_the_language_is_unclear() -> None:
    message = _processed("★★★★")
    assert message.get(ENTITIES, []) == []
