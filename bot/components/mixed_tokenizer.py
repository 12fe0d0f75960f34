"""Tokens for messages in English, Chinese, or both at once ("API key在哪里生成", "升级到Pro套餐").

Written Chinese has no spaces: Rasa's WhitespaceTokenizer would make a whole Chinese sentence one token (and
drops all-Han tokens as emoji, see `remove_emoji`), and Rasa's JiebaTokenizer, used alone, splits English too
("a@b.com" into five tokens, "don't" into three, and every space and punctuation mark becomes a token), which
would change what DIET learnt from the English examples. So this tokenizer is the WhitespaceTokenizer,
unchanged for text without Han characters, whose tokens holding Han characters are then cut into words by
jieba (the segmenter JiebaTokenizer wraps).

`word_tokens` gives the intent classifier's word n-gram vectorizer the same words from raw text.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

# CJK Unified Ideographs with extension A and the compatibility block: the characters of written Chinese.
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# scikit-learn's default token pattern: words of two or more word characters.
_SKLEARN_WORD = re.compile(r"(?u)\b\w\w+\b")
_WORD_CHARACTER = re.compile(r"\w")
# From the first word character (or # and @, which start ticket numbers and handles) to the last word
# character.
_EDGE_TRIMMED = re.compile(r"[\w#@](?:.*\w)?", re.DOTALL)

# Words of this product and trade that jieba's general dictionary may cut apart ("工单", a support ticket,
# would be 工 + 单 in some contexts): added once as words of their own.
PRODUCT_WORDS = (
    "发票",
    "工单",
    "套餐",
    "退款",
    "订阅",
    "人工客服",
    "两步验证",
    "二次验证",
    "双重验证",
    "验证码",
    "仪表盘",
    "集成",
    "导出",
    "注销",
    "邮箱",
    # The plans' names: jieba cuts "企业版能…" into 企业 + 版能, and an entity must span whole tokens.
    "免费版",
    "专业版",
    "商业版",
    "企业版",
    "高级版",
)


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """jieba, loaded once with the product's words (loading its dictionary takes about a second)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for word in PRODUCT_WORDS:
        jieba.add_word(word)
    return jieba


def segment(text: str) -> List[tuple[str, int]]:
    """The words of `text` with their offsets, Han runs cut by jieba; spaces and punctuation are dropped."""
    return [(word, start) for word, start, _end in _jieba().tokenize(text) if _WORD_CHARACTER.search(word)]


def word_tokens(text: str) -> List[str]:
    """The words of a text for a word n-gram vectorizer: scikit-learn's default words outside Han runs (so
    English text gives exactly the words it always gave), jieba's words inside them (one-character words
    included: 退, 钱 and 锁 carry a meaning)."""
    words: List[str] = []
    position = 0
    for run in HAN_RUN.finditer(text):
        words.extend(_SKLEARN_WORD.findall(text[position : run.start()]))
        words.extend(word for word, _start in segment(run.group()))
        position = run.end()
    words.extend(_SKLEARN_WORD.findall(text[position:]))
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedChineseEnglishTokenizer(WhitespaceTokenizer):
    """WhitespaceTokenizer's tokens, those holding Han characters cut into words by jieba."""

    @staticmethod
    def not_supported_languages() -> Optional[List[Text]]:
        return None

    @staticmethod
    def required_packages() -> List[Text]:
        return ["jieba"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedChineseEnglishTokenizer:
        return cls(config)

    def remove_emoji(self, text: Text) -> Text:
        # Rasa's emoji pattern spans U+24C2 to U+1F251, every Han character included: the WhitespaceTokenizer
        # drops "谢谢" as an emoji (and, when nothing is left, makes the whole message one token).
        if HAN_RUN.search(text):
            return text
        return super().remove_emoji(text)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens: List[Token] = []
        for token in super().tokenize(message, attribute):
            if not HAN_RUN.search(token.text):
                tokens.append(token)
                continue
            pieces = list(_pieces(token.text))
            if not pieces:
                tokens.append(token)
            tokens.extend(Token(word, token.start + start) for word, start in pieces)
        return tokens


def _pieces(text: str) -> Iterator[tuple[str, int]]:
    """The words of a token holding Han characters: jieba's words of each Han run, and what lies between
    the runs kept whole ("我的邮箱是jo@x.com" ends in the one token "jo@x.com", as in English)."""
    position = 0
    for run in HAN_RUN.finditer(text):
        yield from _between(text, position, run.start())
        yield from ((word, run.start() + start) for word, start in segment(run.group()))
        position = run.end()
    yield from _between(text, position, len(text))


def _between(text: str, start: int, end: int) -> Iterator[tuple[str, int]]:
    """The text between two Han runs without the punctuation at its edges ("，", "。"), if a word is left."""
    match = _EDGE_TRIMMED.search(text, start, end)
    if match:
        yield match.group(), match.start()
