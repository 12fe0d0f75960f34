"""Messages the intent classifier cannot read, recognised on purpose instead of guessed.

A classifier trained on English and Chinese n-grams has never seen Cyrillic, Arabic or Thai letters, or a
message of symbols only: such text has no feature it knows, so it lands on the class with the largest bias (a
Chinese "I want to cancel my subscription" was read as `rate` with 0.6 confidence before Chinese was taught).
This component runs after the intent classifier and replaces its guess, by the characters alone:

- most letters in a script the assistant does not serve (`served_scripts`: Latin for English, Han for
  Chinese), or any letter of a script that marks another language written partly in a served one
  (`foreign_scripts`: Japanese kana, since Japanese also writes Han characters) → `unsupported_language`:
  the bot answers, in English and Chinese, which languages it speaks;
- punctuation and signs only ("???", "...", "@#$%") → `unsupported_input`: the bot asks for words;
- rating stars only ("★★★★☆", "⭐⭐⭐") → `rate`: actions/parsing.py counts them.

Digits and emoji are left to the classifier, which is trained on them: "4" answers a rating question, "4821"
may be a ticket number, "😀" is a rating and "👍" a yes.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

UNSUPPORTED_LANGUAGE = "unsupported_language"
UNSUPPORTED_INPUT = "unsupported_input"
RATE = "rate"
RATING_STARS = frozenset("★☆⭐🌟")
# Unicode names whose first word is not the script's name.
_SCRIPT_OF_NAME_PREFIX = {"CJK": "Han", "FULLWIDTH": "Latin", "HALFWIDTH": "Katakana"}


def script_of(letter: str) -> str:
    """The script of one letter from its Unicode name: "LATIN SMALL LETTER A" → "Latin"."""
    name = unicodedata.name(letter, "")
    if not name:
        return "Unknown"
    first = name.split()[0]
    if first in _SCRIPT_OF_NAME_PREFIX:
        if first == "FULLWIDTH" and "LATIN" not in name:
            return "Unknown"
        return _SCRIPT_OF_NAME_PREFIX[first]
    return first.capitalize()


def classify(
    text: str,
    served_scripts: frozenset[str],
    min_served_share: float,
    foreign_scripts: frozenset[str] = frozenset(),
) -> Optional[str]:
    """The intent this component gives `text`, or None to keep the classifier's."""
    letters = [char for char in text if unicodedata.category(char).startswith("L")]
    if letters:
        scripts = [script_of(letter) for letter in letters]
        if any(script in foreign_scripts for script in scripts):
            return UNSUPPORTED_LANGUAGE
        served = sum(script in served_scripts for script in scripts)
        return UNSUPPORTED_LANGUAGE if served / len(letters) < min_served_share else None
    if any(char.isdigit() for char in text):
        return None
    visible = [char for char in text if not char.isspace()]
    if not visible:
        return None
    if all(char in RATING_STARS or unicodedata.category(char) == "Mn" for char in visible):
        return RATE
    # "So" (other symbols) holds the emoji; "Mn" and "Cf" the variation selectors and joiners inside them.
    if any(unicodedata.category(char) == "So" for char in visible):
        return None
    return UNSUPPORTED_INPUT


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class UnsupportedInputClassifier(IntentClassifier, GraphComponent):
    """Overrides the intent of messages in scripts the assistant does not serve, or of punctuation only."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Unicode script names (the first word of a letter's Unicode name, "CJK" read as "Han"): English
            # and Simplified Chinese.
            "served_scripts": ["Latin", "Han"],
            # A message with fewer of its letters in a served script is in another language: "ok 谢谢" is
            # served; "спасибо, ok" is not.
            "min_served_share": 0.5,
            # One letter of these is enough: Japanese mixes kana with Han characters ("解約手続き"), Chinese
            # never uses kana.
            "foreign_scripts": ["Hiragana", "Katakana", "Katakana-hiragana"],
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.get_default_config(), **config}
        self._served_scripts = frozenset(self.config["served_scripts"])
        self._min_served_share = float(self.config["min_served_share"])
        self._foreign_scripts = frozenset(self.config["foreign_scripts"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnsupportedInputClassifier:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            intent = classify(text, self._served_scripts, self._min_served_share, self._foreign_scripts)
            if intent is None:
                continue
            prediction = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, prediction, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [prediction], add_to_output=True)
        return messages
