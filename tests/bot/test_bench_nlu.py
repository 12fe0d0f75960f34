"""benchmarks/bench_nlu.py's pure parts: data conversion, the candidate configs, the CLINC threshold rule and
the p95 (the training itself is `make bench-nlu`, not a test)."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.bench_nlu import (
    CLASSIFIER,
    DENSE_FEATURIZER,
    Reading,
    candidate_config,
    choose_threshold,
    clinc_score,
    nlu_yaml,
    p95,
    read_banking77,
    stratified_sample,
    top_intent,
)
from benchmarks.report import REPO_ROOT


def test_nlu_yaml_is_rasa_training_data_with_one_line_per_example() -> None:
    text = nlu_yaml([("I lost\nmy card", "lost"), ("refund [now](please)", "refund"), ("  ", "lost")])
    document = yaml.safe_load(text)

    assert document["version"] == "3.1"
    assert document["nlu"] == [
        {"intent": "lost", "examples": "- I lost my card\n"},
        {"intent": "refund", "examples": "- refund (now)(please)\n"},
    ]


def test_stratified_sample_keeps_at_most_n_per_intent_in_order() -> None:
    examples = [(f"t{i}", "a" if i % 3 else "b") for i in range(30)]
    sample = stratified_sample(examples, 4)

    assert sum(label == "a" for _, label in sample) == 4
    assert sum(label == "b" for _, label in sample) == 4
    assert sample == sorted(sample, key=examples.index)
    assert sample == stratified_sample(examples, 4)  # the seed is fixed


def test_read_banking77(tmp_path: Path) -> None:
    for name in ("train.csv", "test.csv"):
        (tmp_path / name).write_text('text,category\n"Hi, my card?",card_arrival\n', encoding="utf-8")

    assert read_banking77(tmp_path) == (
        [("Hi, my card?", "card_arrival")],
        [("Hi, my card?", "card_arrival")],
    )


def test_the_sparse_candidate_is_config_yml_and_the_dense_one_adds_the_featurizer() -> None:
    config = yaml.safe_load((REPO_ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]

    assert candidate_config("sparse", config) is config
    dense = candidate_config("wordllama", config)["pipeline"]
    at = [c["name"] for c in dense].index(CLASSIFIER)
    assert dense[at - 1] == {"name": DENSE_FEATURIZER}
    assert dense[at]["dense_feature_weight"] > 0
    assert [c["name"] for c in config["pipeline"]] == names  # config.yml's own content is left alone


def reading(label: str, predicted: str, confidence: float) -> Reading:
    return Reading(label, predicted, confidence, 1.0)


def test_clinc_score_counts_a_fallback_as_wrong_and_a_low_confidence_oos_as_caught() -> None:
    inscope = [reading("a", "a", 0.9), reading("a", "a", 0.3), reading("b", "a", 0.9)]
    oos = [reading("oos", "a", 0.2), reading("oos", "b", 0.6)]

    score = clinc_score(inscope, oos, 0.5)
    assert (score.inscope, score.oos_recall) == (1 / 3, 0.5)


def test_the_threshold_is_the_best_inscope_among_those_reaching_the_oos_recall() -> None:
    inscope = [reading("a", "a", c) for c in (0.95, 0.9, 0.6, 0.4)]
    oos = [reading("oos", "a", c) for c in (0.1, 0.2, 0.3, 0.35, 0.5)]

    chosen = choose_threshold(inscope, oos)
    # Recall 0.8 needs a threshold above 0.35; the lowest such keeps the 0.4 and 0.6 messages.
    assert chosen.threshold == 0.36
    assert (chosen.inscope, chosen.oos_recall) == (1.0, 0.8)


def test_without_a_threshold_reaching_the_recall_the_highest_recall_wins() -> None:
    inscope = [reading("a", "a", 0.5)]
    oos = [reading("oos", "a", 0.999)]

    chosen = choose_threshold(inscope, oos)
    assert chosen.oos_recall == 0.0
    assert chosen.threshold == 0.0  # every threshold ties at recall 0: the one that keeps in-scope answers


def test_p95_is_a_measured_value_by_nearest_rank() -> None:
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([3.0, 1.0, 2.0]) == 3.0
    assert p95([]) == 0.0


def test_top_intent_leaves_nlu_fallback_out() -> None:
    parse = {
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "a", "confidence": 0.3}],
    }
    assert top_intent(parse) == ("a", 0.3)
    assert top_intent({}) == ("nlu_fallback", 0.0)
