"""The language of a conversation, for the few texts an action builds itself.

Everything the assistant says is a response in domain.yml with an English default and a Chinese variant
(condition: slot `language` = zh), so most actions never look at the language. This module serves the rest:
words an action puts into a slot or a button (a step's title in the checklist, a "Did you mean…?" button, a
date, a priority) must be in the conversation's language too. The `language` slot is filled by the `language`
entity that bot/components/language_detector.py adds to a message written clearly in English or Chinese, or
asking for one ("English please", "请说中文").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from rasa_sdk import Tracker

EN = "en"
ZH = "zh"
LANGUAGES = (EN, ZH)
LANGUAGE_SLOT = "language"


def language_of(tracker: Tracker) -> str:
    """The conversation's language: "zh" when the `language` slot says so, else "en" (the slot's initial
    value, and the answer for any value the domain does not know)."""
    value = tracker.get_slot(LANGUAGE_SLOT)
    return ZH if isinstance(value, str) and value.strip().lower() == ZH else EN


@dataclass(frozen=True)
class Bilingual:
    """One text in both languages."""

    en: str
    zh: str

    def in_language(self, language: str) -> str:
        return self.zh if language == ZH else self.en


# Ticket priorities as the customer reads them (cs_backend stores low|normal|high|urgent).
PRIORITY_LABELS: Mapping[str, Bilingual] = {
    "low": Bilingual("low", "低"),
    "normal": Bilingual("normal", "普通"),
    "high": Bilingual("high", "高"),
    "urgent": Bilingual("urgent", "紧急"),
}


def priority_label(priority: str, language: str) -> str:
    """ "high" -> "high" or "高"; a value cs_backend may add later is shown as it is."""
    label = PRIORITY_LABELS.get(priority)
    return label.in_language(language) if label else priority


def format_utc(moment: datetime, language: str) -> str:
    """A UTC moment as a customer reads it: "22 Nov 2026, 07:30 UTC" / "2026年11月22日 07:30（UTC）"."""
    if language == ZH:
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}（UTC）"
    return moment.strftime("%d %b %Y, %H:%M UTC")
