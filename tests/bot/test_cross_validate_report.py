"""benchmarks/cross_validate.py: the pooled intent accuracy is also given per language, so the Chinese
figure is not hidden in an average dominated by the English examples."""

from __future__ import annotations

from benchmarks.cross_validate import accuracy_by_language, language_of


def test_a_message_with_a_han_character_is_chinese() -> None:
    assert language_of("API key在哪里生成") == "zh"
    assert language_of("where is my invoice") == "en"


def test_accuracy_per_language_counts_each_languages_misses_against_its_examples() -> None:
    examples = ["hello", "bye", "thanks", "ok", "你好", "再见"]
    errors = [{"text": "ok"}, {"text": "再见"}]
    assert accuracy_by_language(examples, errors) == {"en": (0.75, 4), "zh": (0.5, 2)}
