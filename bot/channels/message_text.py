"""What a chat message must be before NLU reads it: not longer than the limit, and text once cleaned.

Pure functions; the channels (guard.py) apply them and send the answer of a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_CHARS_VARIABLE = "CHAT_MESSAGE_MAX_CHARS"
# 2,000 characters: what the widget's input field already allows (cs_backend/web/static/widget.js,
# maxLength), several times a long support message with a pasted error. NLU time grows faster than the
# length: measured with the trained model on 2 cores, 2,000 characters parse in 0.09 s, 5,000 in 0.3 s,
# 20,000 in 1.9 s and 100,000 in 52 s.
DEFAULT_MAX_CHARS = 2000

# What is not text: the control characters (Unicode category Cc: NUL, escape, carriage return, ...) but
# newline and tab, which lay out a pasted error or a list; and lone surrogates (Cs), which JSON can carry
# ("\ud800") but no UTF-8 store or socket can write.
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# With no text there is no language to answer in: both, as the assistant serves both.
NO_TEXT_ANSWER = (
    "I didn't get any text there — could you type your question?\n我没有收到文字，能把您的问题打出来吗？"
)
# Han characters: a refused message that has any is answered in Chinese (the bot's LanguageDetector, which
# picks each response's language, never sees a refused message). Only the start is looked at, so a refusal
# stays cheap however long the message.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LANGUAGE_SAMPLE_CHARS = 500


def in_language_of(text: str | None, english: str, chinese: str) -> str:
    """`chinese` when `text` is written in Chinese (any Han character in its start), else `english`."""
    return chinese if text and _HAN.search(text[:LANGUAGE_SAMPLE_CHARS]) else english


class MaxCharsError(ValueError):
    """CHAT_MESSAGE_MAX_CHARS is set to something other than a positive whole number."""


@dataclass(frozen=True)
class Refused:
    """A message that does not reach Rasa; the customer is told `answer` instead."""

    reason: str  # for the log: "too long" or "no text"
    answer: str


def max_chars_from(environ: Mapping[str, str]) -> int:
    """The longest message accepted: CHAT_MESSAGE_MAX_CHARS, or 2,000 when unset or blank."""
    value = environ.get(MAX_CHARS_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_CHARS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise MaxCharsError(f"{MAX_CHARS_VARIABLE} must be a whole number above 0, not {value!r}")
    return limit


def too_long_answer(max_chars: int, text: str | None = None) -> str:
    return in_language_of(
        text,
        f"That message is too long for me — could you shorten it to {max_chars:,} characters or fewer?",
        f"这条消息太长了，我读不了——能缩短到 {max_chars:,} 个字符以内吗？",
    )


def clean_text(text: str) -> str:
    """`text` without control characters (but newline and tab) and lone surrogates, trimmed."""
    return _NOT_TEXT.sub("", text).strip()


def checked_text(text: str | None, max_chars: int) -> str | Refused:
    """The cleaned text of a message, or why it is refused.

    The length is measured on the message as received, so a refusal costs no more than reading it.
    """
    if text is None:
        return Refused("no text", NO_TEXT_ANSWER)
    if len(text) > max_chars:
        return Refused("too long", too_long_answer(max_chars, text))
    cleaned = clean_text(text)
    if not cleaned:
        return Refused("no text", NO_TEXT_ANSWER)
    return cleaned
