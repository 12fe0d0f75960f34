"""bot/channels/message_text.py: the length limit, what counts as text, and the setting."""

from __future__ import annotations

import pytest

from bot.channels.chat_rate import TOO_MANY_ANSWER, TOO_MANY_ANSWER_ZH
from bot.channels.message_text import (
    DEFAULT_MAX_CHARS,
    NO_TEXT_ANSWER,
    MaxCharsError,
    Refused,
    checked_text,
    clean_text,
    in_language_of,
    max_chars_from,
    too_long_answer,
)


def test_the_limit_is_2000_characters_unless_the_environment_says_otherwise() -> None:
    assert DEFAULT_MAX_CHARS == 2000
    assert max_chars_from({}) == 2000
    assert max_chars_from({"CHAT_MESSAGE_MAX_CHARS": "  "}) == 2000
    assert max_chars_from({"CHAT_MESSAGE_MAX_CHARS": " 500 "}) == 500


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "2k", "lots"])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(MaxCharsError, match="CHAT_MESSAGE_MAX_CHARS"):
        max_chars_from({"CHAT_MESSAGE_MAX_CHARS": value})


def test_a_message_up_to_the_limit_passes_and_one_character_more_is_refused_politely() -> None:
    assert checked_text("a" * 2000, 2000) == "a" * 2000
    refused = checked_text("a" * 2001, 2000)
    assert refused == Refused("too long", too_long_answer(2000))
    assert refused.answer == (
        "That message is too long for me — could you shorten it to 2,000 characters or fewer?"
    )


def test_the_length_is_measured_before_cleaning_so_padding_cannot_smuggle_a_long_message_in() -> None:
    assert checked_text("\x00" * 3000 + "hello", 2000) == Refused("too long", too_long_answer(2000))


def test_control_characters_and_lone_surrogates_are_removed_newlines_and_tabs_kept() -> None:
    assert clean_text("he\x00llo\x1b[31m wor\x7fld\x85") == "hello[31m world"
    assert clean_text("line one\r\nline two\tcolumn") == "line one\nline two\tcolumn"
    assert clean_text("broken \ud800surrogate") == "broken surrogate"


def test_other_scripts_emoji_and_joiners_are_text() -> None:
    text = "Привет 你好 مرحبا 👩‍💻 ★★★★ café"
    assert clean_text(text) == text
    assert checked_text(f"  {text}\n", 2000) == text


@pytest.mark.parametrize("text", [None, "", "   ", "\x00\x01\x02", " \r\n\t "])
def test_a_message_without_text_is_refused_politely(text: str | None) -> None:
    assert checked_text(text, 2000) == Refused("no text", NO_TEXT_ANSWER)


def test_a_refusal_answers_in_chinese_when_the_message_is_chinese() -> None:
    refused = checked_text("我的发票有问题" * 400, 2000)
    assert isinstance(refused, Refused) and refused.answer == too_long_answer(2000, "我")
    assert "2,000 个字符以内" in refused.answer
    assert "I didn't get any text" in NO_TEXT_ANSWER and "我没有收到文字" in NO_TEXT_ANSWER
    assert in_language_of("慢点 please", TOO_MANY_ANSWER, TOO_MANY_ANSWER_ZH) == TOO_MANY_ANSWER_ZH
    assert in_language_of("slow down", TOO_MANY_ANSWER, TOO_MANY_ANSWER_ZH) == TOO_MANY_ANSWER
