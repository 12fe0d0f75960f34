"""nlu_eval/: the held-out customer messages of `make eval-nlu` stay held out and stay labelled with intents
(and answer keys) the assistant has, so the figure it gives can be trusted."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.eval_nlu import (
    HELDOUT_GLOB,
    TRAINING_DATA,
    Example,
    normalise,
    overlaps,
    read_examples,
)
from tests.support import REPO_ROOT


def heldout() -> list[Example]:
    return read_examples(sorted(REPO_ROOT.glob(HELDOUT_GLOB)))


def training() -> list[Example]:
    return read_examples(sorted(TRAINING_DATA.rglob("*.yml")))


def test_no_heldout_message_is_a_training_example() -> None:
    assert heldout(), f"no messages in {HELDOUT_GLOB}"
    assert overlaps(heldout(), training()) == []


def test_every_label_is_one_the_assistant_is_trained_on() -> None:
    intents = set(yaml.safe_load(Path(REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])
    trained_labels = {example.label for example in training()}
    for example in heldout():
        assert example.label.split("/")[0] in intents, example
        assert example.label in trained_labels, example


def test_every_typed_intent_has_held_out_messages() -> None:
    typed = {label for label in (e.label for e in training())}
    assert typed - {example.label for example in heldout()} == set()


def test_the_overlap_check_ignores_case_annotations_and_punctuation() -> None:
    annotated = 'I want to upgrade to [Pro]{"entity": "plan", "value": "pro"}!'
    assert normalise(annotated) == "i want to upgrade to pro"
    assert normalise("email me at [a.b@c.io](email).") == "email me at a.b@c.io"
    trained = [Example("How do I reset my password?", "password_reset", "x.yml")]
    assert overlaps([Example("how do i reset my password", "password_reset", "y.yml")], trained)


def test_a_held_out_part_counts_in_its_language() -> None:
    assert Example("再吗", "greet", "heldout_zh.yml").language == "zh"
    assert Example("在吗在吗", "greet", "heldout_zh_independent.yml").language == "zh"
    assert Example("hi", "greet", "basics.yml").language == ""
