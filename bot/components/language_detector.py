"""The language of each message, as an entity `language` (`en` or `zh`) that fills the `language` slot.

Only a message that clearly is in one language gets the entity, so that a conversation keeps its language
through the answers that are in neither: "4", "★★★★", "👍", "#4821", an email address, "ok", or a Chinese
customer's "API" or "Pro". Any Han character makes a message Chinese ("我的API key丢了"); English needs a
Latin word that is not one of those shared ones. Text in another script gets no entity (the unsupported-input
classifier answers it in both languages).

An explicit request to switch ("English please", "speak English", "说英文", "请说中文", "中文",
"Chinese please") gives the language asked for, whatever the script it is written in. Only a message that is
nothing but such a request counts: "do you have an English invoice template?" is English, not a request to
speak English.

The intent is left alone (the `switch_language` intent is the classifier's).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.components.mixed_tokenizer import HAN_RUN

ENTITY = "language"
ENGLISH = "en"
CHINESE = "zh"

_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
# Hiragana, Katakana (with the prolonged sound mark) and halfwidth Katakana: only Japanese uses them.
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_EMAIL_OR_URL = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)

# Latin words a Chinese-speaking customer types as well: short acknowledgements and greetings, and the
# product's and the trade's own words. Alone they say nothing about the language.
SHARED_LATIN_WORDS = frozenset(
    {
        "ok",
        "okay",
        "okk",
        "k",
        "kk",
        "hi",
        "hello",
        "hey",
        "bye",
        "thx",
        "thanks",
        "ty",
        "yes",
        "no",
        "yep",
        "nope",
        "lol",
        "haha",
        "hmm",
        "emm",
        "em",
        "api",
        "key",
        "token",
        "pro",
        "plan",
        "free",
        "business",
        "sso",
        "app",
        "ios",
        "android",
        "iphone",
        "ipad",
        "email",
        "id",
        "vip",
        "bug",
        "csv",
        "pdf",
        "excel",
        "url",
        "ui",
        "wifi",
        "pc",
        "mac",
        "dashboard",
        "slack",
        "github",
        "google",
        "zoom",
        "jira",
        "trello",
        "paypal",
        "visa",
        "qq",
        "wechat",
        "alipay",
        "acme",
        "cloud",
    }
)

# A whole message that asks for a language ("please speak English", "English only", "请说中文", "用中文吧").
_POLITE_EN = r"(?:please|pls|plz|can|could|would|you|kindly|only|now|instead|again|thanks|thank|in|to)"
_VERB_EN = r"(?:speak|talk|reply|respond|answer|write|chat|continue|switch|change|go|use|back)"
_SWITCH_EN = r"(?:(?:{p}|{v})\s+)*{lang}(?:\s+(?:{p}|{v}|language|version))*"
_POLITE_ZH = (
    r"[请麻烦您你能可以以下后面吧吗呢好了谢谢再还是改换成切到回用说讲跟我和对话交流回复回答聊的语言版模式]*"
)
SWITCH_REQUESTS = {
    ENGLISH: (
        re.compile(_SWITCH_EN.format(p=_POLITE_EN, v=_VERB_EN, lang=r"english"), re.IGNORECASE),
        re.compile(rf"{_POLITE_ZH}(?:英文|英语){_POLITE_ZH}"),
    ),
    CHINESE: (
        re.compile(_SWITCH_EN.format(p=_POLITE_EN, v=_VERB_EN, lang=r"(?:chinese|mandarin)"), re.IGNORECASE),
        re.compile(rf"{_POLITE_ZH}(?:中文|汉语|普通话|国语|华语){_POLITE_ZH}"),
    ),
}
_NOT_A_WORD = re.compile(r"[^\w\s]+")


def requested_language(text: str) -> Optional[str]:
    """The language a message made only of a switch request asks for, else None."""
    plain = " ".join(_NOT_A_WORD.sub(" ", text).split())
    for language, patterns in SWITCH_REQUESTS.items():
        if any(pattern.fullmatch(plain) for pattern in patterns):
            return language
    return None


def detect_language(text: str) -> Optional[str]:
    """`zh`, `en`, or None when the message does not clearly say (see the module's docstring)."""
    requested = requested_language(text)
    if requested:
        return requested
    if _KANA.search(text):
        # Japanese, which writes Han characters too ("サブスクを解約したい"): not Chinese, and not served.
        return None
    if HAN_RUN.search(text):
        return CHINESE
    words = _LATIN_WORD.findall(_EMAIL_OR_URL.sub(" ", text))
    if any(word.lower() not in SHARED_LATIN_WORDS for word in words):
        return ENGLISH
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds the entity `language` (`en` or `zh`) to a message that is clearly in one of them."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            language = detect_language(text)
            if language is None:
                continue
            entity = {
                ENTITY_ATTRIBUTE_TYPE: ENTITY,
                ENTITY_ATTRIBUTE_VALUE: language,
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: len(text),
            }
            entities = [e for e in message.get(ENTITIES, []) if e.get(ENTITY_ATTRIBUTE_TYPE) != ENTITY]
            message.set(ENTITIES, entities + self.add_extractor_name([entity]), add_to_output=True)
        return messages
