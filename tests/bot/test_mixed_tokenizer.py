"""bot/components/mixed_tokenizer.py: English is tokenised exactly as by the WhitespaceTokenizer, Chinese is
cut into words by jieba, and the two mix in one message."""

from __future__ import annotations

import re

import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.mixed_tokenizer import MixedChineseEnglishTokenizer, word_tokens


def tokens(text: str) -> list[tuple[str, int, int]]:
    tokenizer = MixedChineseEnglishTokenizer(MixedChineseEnglishTokenizer.get_default_config())
    return [(t.text, t.start, t.end) for t in tokenizer.tokenize(Message(data={TEXT: text}), TEXT)]


@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel, don't bill me!",
        "my email is jo.smith+x@example.co.uk",
        "ticket #4821 status?",
        "the API key doesn't work :(",
        "hello 😀",
        "4/5",
    ],
)
def test_text_without_han_is_tokenised_as_by_the_whitespace_tokenizer(text: str) -> None:
    whitespace = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    expected = [(t.text, t.start, t.end) for t in whitespace.tokenize(Message(data={TEXT: text}), TEXT)]
    assert tokens(text) == expected


def test_chinese_is_cut_into_words() -> None:
    assert tokens("我想取消订阅") == [("我", 0, 1), ("想", 1, 2), ("取消", 2, 4), ("订阅", 4, 6)]


def test_product_words_stay_whole() -> None:
    assert ("发票", 0, 2) in tokens("发票在哪里下载")
    assert ("工单", 2, 4) in tokens("我的工单怎么样了")
    # A plan's name is one token, so that a plan entity can span it ("企业版能…" was 企业 + 版能).
    assert ("企业版", 0, 3) in tokens("企业版能换回专业版不")
    assert ("专业版", 6, 9) in tokens("企业版能换回专业版不")


def test_english_inside_chinese_keeps_its_words_emails_and_ticket_numbers_whole() -> None:
    assert tokens("API key在哪里生成") == [
        ("API", 0, 3),
        ("key", 4, 7),
        ("在", 7, 8),
        ("哪里", 8, 10),
        ("生成", 10, 12),
    ]
    assert ("jo@x.com", 5, 13) in tokens("我的邮箱是jo@x.com。")
    assert ("#4821", 2, 7) in tokens("工单#4821怎么样了？")


def test_chinese_punctuation_is_no_token() -> None:
    assert tokens("我想取消，谢谢！") == [("我", 0, 1), ("想", 1, 2), ("取消", 2, 4), ("谢谢", 5, 7)]


def test_all_han_tokens_are_not_mistaken_for_emoji() -> None:
    # Rasa's emoji pattern covers every Han character: the WhitespaceTokenizer drops "谢谢" from "ok 谢谢".
    assert tokens("ok 谢谢") == [("ok", 0, 2), ("谢谢", 3, 5)]


@pytest.mark.parametrize(
    "text", ["i want to cancel, don't bill me", "email jo@x.io about ticket #12", "a b c", "upgrade to pro 2"]
)
def test_word_tokens_of_english_are_scikit_learns_default_words(text: str) -> None:
    assert word_tokens(text) == re.findall(r"(?u)\b\w\w+\b", text)


def test_word_tokens_cut_chinese_and_keep_one_character_words() -> None:
    assert word_tokens("api key在哪里生成，我要退钱") == ["api", "key", "在", "哪里", "生成", "我要", "退钱"]
