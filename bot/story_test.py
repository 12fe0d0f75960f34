"""`rasa test core` on the test stories, with the conversation's language left out of the entity comparison.

Run by `make test-stories` with `rasa test core`'s own arguments. Rasa's end-to-end story test compares the
entities the model extracts from each user message with those the story annotates. The `language` entity
(bot/components/language_detector.py) is not content but conversation state: it comes with nearly every
message, to fill the `language` slot that picks each response's variant, and no story annotates it. Left in,
every message of every story would count as a wrong prediction; so it is dropped from both sides of the
comparison here, and every other entity is still compared. The language itself is tested where it matters:
the variants each language gets (tests/bot/test_responses_languages.py) and the detector
(tests/bot/test_language_detector.py).
"""

from __future__ import annotations

import sys
from typing import Any

import rasa.core.test
from rasa.__main__ import main as rasa_main

from bot.components.language_detector import ENTITY as LANGUAGE_ENTITY

_compared_entities = rasa.core.test._clean_entity_results


def _content_entities(text: str, entity_results: list[dict[str, Any]]) -> Any:
    content = [entity for entity in entity_results if entity.get("entity") != LANGUAGE_ENTITY]
    return _compared_entities(text, content)


def main(arguments: list[str]) -> None:
    rasa.core.test._clean_entity_results = _content_entities
    sys.argv = ["rasa", "test", "core", *arguments]
    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
