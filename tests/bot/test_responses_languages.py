"""Every response speaks the conversation's language (domain.yml and the FAQ / small-talk answers of
nlu_data/), as Rasa's own response generator picks the variants: with the `language` slot at zh only Chinese
variants can be sent, with en (its initial value) only English ones, in every situation the English variants
are written for (their other conditions: form_hint, plan, cancel_reason, ...). Both languages show the same
buttons' payloads and fill the same {slot} placeholders."""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

REPO_ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")
LANGUAGE = "language"
# Said in both languages whatever the conversation's language: the customer wrote in a language the assistant
# does not speak.
BILINGUAL = {"utter_unsupported_language"}


def _responses() -> dict[str, list[dict[str, Any]]]:
    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    responses = dict(domain.responses)
    for name in ("faq.yml", "chitchat.yml"):
        with open(REPO_ROOT / "nlu_data" / name, encoding="utf-8") as handle:
            responses.update(yaml.safe_load(handle)["responses"])
    return responses


RESPONSES = _responses()
SLOTS = Domain.load(str(REPO_ROOT / "domain.yml")).slots


def _other_conditions(variant: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((c["name"], c["value"]) for c in variant.get("condition") or [] if c["name"] != LANGUAGE)


def _language_condition(variant: dict[str, Any]) -> str | None:
    return next((c["value"] for c in variant.get("condition") or [] if c["name"] == LANGUAGE), None)


def _situations(variants: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """The slot values each variant is written for, and nothing set (the default variants' situation)."""
    situations = {_other_conditions(variant) for variant in variants}
    situations.add(())
    return sorted(situations, key=str)


def _candidates(name: str, language: str, situation: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
    """The variants Rasa may send for response `name` in that language and situation."""
    variations = ResponseVariationFilter(RESPONSES)
    events = [SlotSet(LANGUAGE, language), *(SlotSet(slot, value) for slot, value in situation)]
    tracker = DialogueStateTracker.from_events("languages", events, SLOTS)
    # What TemplatedNaturalLanguageGenerator.generate chooses from (with the tracker's current slot values).
    return variations.responses_for_utter_action(name, "rest", tracker.current_slot_values())


def _cases() -> Iterator[Any]:
    for name, variants in RESPONSES.items():
        for situation in _situations(variants):
            yield pytest.param(name, situation, id=f"{name}{dict(situation) or ''}")


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def _payloads(variant: dict[str, Any]) -> list[str]:
    return [button["payload"] for button in variant.get("buttons") or []]


def test_every_response_has_a_chinese_variant() -> None:
    missing = [
        name
        for name, variants in RESPONSES.items()
        if not any(_language_condition(v) == "zh" for v in variants)
    ]
    assert not missing


@pytest.mark.parametrize(("name", "situation"), list(_cases()))
def test_each_language_gets_only_its_own_variants(name: str, situation: tuple[tuple[str, Any], ...]) -> None:
    chinese = _candidates(name, "zh", situation)
    english = _candidates(name, "en", situation)
    assert chinese and english
    if name in BILINGUAL:
        assert all(HAN.search(v["text"]) for v in chinese + english)
        return
    assert all(HAN.search(v["text"]) for v in chinese), [v["text"] for v in chinese]
    assert not any(HAN.search(v["text"]) for v in english), [v["text"] for v in english]
    # the same buttons (payloads) and the same values shown; the value of a slot the variants are chosen by
    # may be written out in words instead ("优先级为高" for {ticket_priority} = high)
    assert {tuple(_payloads(v)) for v in chinese} == {tuple(_payloads(v)) for v in english}
    shown_zh = set.union(*(_placeholders(v["text"]) for v in chinese))
    shown_en = set.union(*(_placeholders(v["text"]) for v in english))
    assert shown_zh <= shown_en
    chosen_by = {slot for variant in RESPONSES[name] for slot, _ in _other_conditions(variant)}
    assert shown_en - shown_zh <= chosen_by


def test_the_switch_is_confirmed_in_the_new_language() -> None:
    async def render(language: str) -> str:
        tracker = DialogueStateTracker.from_events("switch", [SlotSet(LANGUAGE, language)], SLOTS)
        message = await TemplatedNaturalLanguageGenerator(RESPONSES).generate(
            "utter_language_switched", tracker, "rest"
        )
        assert message is not None
        return str(message["text"])

    assert asyncio.run(render("zh")).startswith("好的，接下来我会用中文为您服务。")
    assert asyncio.run(render("en")).startswith("Sure — I'll speak English from now on.")


def test_a_new_conversation_speaks_english() -> None:
    tracker = DialogueStateTracker.from_events("new", [], SLOTS)
    assert tracker.get_slot(LANGUAGE) == "en"
