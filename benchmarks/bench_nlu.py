"""The NLU pipeline on public intent benchmarks: Banking77 and CLINC150, for each candidate pipeline.

Run: `make bench-nlu` (= `python -m benchmarks.bench_nlu --data ../shared/data`, in var/bench-nlu/venv: the
bot environment's packages plus the dense candidate's, requirements/bench-nlu.txt). For each candidate it

1. writes the train split as Rasa NLU YAML under var/bench-nlu/ (CLINC: the 150 in-scope intents only; its
   out-of-scope examples are never trained on, they are what the fallback threshold must catch),
2. trains the NLU part of the candidate's config with Rasa's own `train_nlu`, in this process, with Rasa's
   cache off (RASA_MAX_CACHE_SIZE=0) so that every training starts from nothing: `train_s`,
3. loads the model as the assistant does (rasa.core.agent.Agent) and parses every test message with the whole
   NLU pipeline, FallbackClassifier included, timing each parse: `parse_p95_ms`.

Candidates: `sparse` is config.yml as it is (read from the file, never copied). `wordllama` is config.yml with
bot.components.static_embedding_featurizer.StaticEmbeddingFeaturizer inserted before TfidfIntentClassifier and
the classifier's `dense_feature_weight` set: WordLlama's 256-dimension token embeddings, averaged.

Figures:
- Banking77 accuracy: the classifier's top-1 intent on the test split (the ranking's first intent other than
  nlu_fallback), i.e. with no fallback: Banking77 has no out-of-scope message.
- CLINC150: a message is out of scope when its top intent's confidence is under the threshold (what
  FallbackClassifier's `threshold` does; its ambiguity rule is not applied here). The threshold is chosen on
  the val split (val + oos_val): the highest in-scope accuracy among those with OOS recall >= 0.80, else the
  highest OOS recall. Then test (test + oos_test) in-scope accuracy (an in-scope message predicted out of
  scope is wrong, as in Larson et al. 2019) and OOS recall at that threshold.

It rewrites only the `<!-- bench-nlu:start -->…<!-- bench-nlu:end -->` section of BENCHMARKS.md and prints, as
its last line, for the candidate config.yml uses: `banking77_acc=<x> clinc_inscope=<x> clinc_oos_recall=<x>
train_s=<n> parse_p95_ms=<n>` (train_s and parse p95 of Banking77, the dataset the time targets are for).
Options: `--quick` (20 training and 5 test examples per intent; prints, writes nothing), `--candidates`,
`--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import math
import os
import platform
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from benchmarks.report import REPO_ROOT, git_commit, replace_section

SECTION = "bench-nlu"
WORK_DIR = REPO_ROOT / "var" / "bench-nlu"
CONFIG = REPO_ROOT / "config.yml"
FALLBACK_INTENT = "nlu_fallback"
OOS_LABEL = "oos"
CLASSIFIER = "bot.components.tfidf_intent_classifier.TfidfIntentClassifier"
DENSE_FEATURIZER = "bot.components.static_embedding_featurizer.StaticEmbeddingFeaturizer"
# The candidate config.yml uses (its pipeline unchanged): the one the last line reports.
CONFIG_CANDIDATE = "sparse"
CANDIDATES = ("sparse", "wordllama")
# Weight of the unit dense vector next to the two unit TF-IDF blocks (TfidfIntentClassifier).
DENSE_WEIGHT = 1.0
MIN_OOS_RECALL = 0.80
THRESHOLDS = [round(step / 100, 2) for step in range(100)]
QUICK_TRAIN_PER_INTENT = 20
QUICK_TEST_PER_INTENT = 5
QUICK_OOS = 50
SEED = 2024
# The targets (2 cores) and published baselines.
TARGETS = {
    "banking77_acc": 0.937,
    "train_s": 15 * 60,
    "parse_p95_ms": 20.0,
    "clinc_inscope": 0.94,
    "clinc_oos_recall": 0.80,
}
BASELINES = [
    ("Banking77", "fine-tuned BERT-large", "93.66% accuracy"),
    ("Banking77", "Rasa sparse DIET recipe", "90.1% accuracy"),
    ("Banking77", "TfidfIntentClassifier defaults, scikit-learn alone", "91.6% accuracy"),
    ("CLINC150 (Larson et al. 2019)", "BERT", "96.9% in-scope, 40.3% OOS recall"),
    ("CLINC150 (Larson et al. 2019)", "Rasa spaCy + sklearn", "91.5% in-scope, 45.3% OOS recall"),
]

Example = tuple[str, str]  # (text, intent)


@dataclass(frozen=True)
class Reading:
    """One parsed message: its label, the classifier's top intent and confidence, the parse time."""

    label: str
    predicted: str
    confidence: float
    milliseconds: float


@dataclass(frozen=True)
class ClincScore:
    threshold: float
    inscope: float
    oos_recall: float


@dataclass(frozen=True)
class Result:
    candidate: str
    banking77_acc: float
    banking77_train_s: float
    banking77_p95_ms: float
    clinc_val: ClincScore
    clinc_test: ClincScore
    clinc_train_s: float
    clinc_p95_ms: float


# ---------------------------------------------------------------------------------------------------------
# Data


def read_banking77(directory: Path) -> tuple[list[Example], list[Example]]:
    def read(name: str) -> list[Example]:
        with (directory / name).open(encoding="utf-8", newline="") as file:
            return [(row["text"], row["category"]) for row in csv.DictReader(file)]

    return read("train.csv"), read("test.csv")


def read_clinc(path: Path) -> dict[str, list[Example]]:
    """CLINC150's splits (train, val, test, oos_train, oos_val, oos_test) as (text, intent) pairs."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {split: [(str(text), str(label)) for text, label in rows] for split, rows in data.items()}


def stratified_sample(examples: Sequence[Example], per_intent: int, seed: int = SEED) -> list[Example]:
    """At most `per_intent` examples of each intent, drawn with a fixed seed, in the original order."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for index, (_text, label) in enumerate(examples):
        by_intent[label].append(index)
    rng = random.Random(seed)
    kept = sorted(
        i for indices in by_intent.values() for i in rng.sample(indices, min(per_intent, len(indices)))
    )
    return [examples[i] for i in kept]


def nlu_yaml(examples: Sequence[Example]) -> str:
    """Rasa 3 NLU training data: one `intent` block per intent, each example on one line."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, label in examples:
        # A line break would end the example; Rasa reads "[x](y)" and "[x]{...}" as entity annotations,
        # which none of these datasets means, so brackets become parentheses.
        clean = " ".join(text.split()).replace("[", "(").replace("]", ")")
        if clean:
            by_intent[label].append(clean)
    blocks = [
        {"intent": label, "examples": "".join(f"- {text}\n" for text in texts)}
        for label, texts in sorted(by_intent.items())
    ]
    return yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False, width=10**6)


def candidate_config(candidate: str, config: dict[str, Any]) -> dict[str, Any]:
    """config.yml's content for a candidate: `sparse` as it is, otherwise with the dense featurizer."""
    if candidate == "sparse":
        return config
    if candidate != "wordllama":
        raise ValueError(f"unknown candidate {candidate!r}")
    pipeline = [dict(component) for component in config["pipeline"]]
    names = [component["name"] for component in pipeline]
    if CLASSIFIER not in names:
        raise ValueError(f"config.yml has no {CLASSIFIER} for the dense features to feed")
    at = names.index(CLASSIFIER)
    pipeline[at]["dense_feature_weight"] = DENSE_WEIGHT
    pipeline.insert(at, {"name": DENSE_FEATURIZER})
    return {**config, "pipeline": pipeline}


# ---------------------------------------------------------------------------------------------------------
# Figures


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by the nearest-rank rule (a value that was measured)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def accuracy(readings: Sequence[Reading]) -> float:
    return sum(r.predicted == r.label for r in readings) / len(readings) if readings else 0.0


def clinc_score(inscope: Sequence[Reading], oos: Sequence[Reading], threshold: float) -> ClincScore:
    """In-scope accuracy (falling back counts as wrong) and OOS recall when under `threshold` is OOS."""
    right = sum(r.confidence >= threshold and r.predicted == r.label for r in inscope)
    caught = sum(r.confidence < threshold for r in oos)
    return ClincScore(
        threshold,
        right / len(inscope) if inscope else 0.0,
        caught / len(oos) if oos else 0.0,
    )


def choose_threshold(inscope: Sequence[Reading], oos: Sequence[Reading]) -> ClincScore:
    """The best val in-scope accuracy with OOS recall >= 0.80; if none reaches it, the best OOS recall."""
    scores = [clinc_score(inscope, oos, threshold) for threshold in THRESHOLDS]
    enough = [s for s in scores if s.oos_recall >= MIN_OOS_RECALL]
    if enough:
        # Ties: the lowest threshold, which sends the fewest real requests to the fallback.
        return max(enough, key=lambda s: (s.inscope, -s.threshold))
    return max(scores, key=lambda s: (s.oos_recall, s.inscope, -s.threshold))


def top_intent(parse: dict[str, Any]) -> tuple[str, float]:
    """The classifier's best intent and its confidence, nlu_fallback left out of the ranking."""
    ranking = [e for e in parse.get("intent_ranking") or [] if e.get("name") != FALLBACK_INTENT]
    if not ranking:
        return FALLBACK_INTENT, 0.0
    return str(ranking[0]["name"]), float(ranking[0].get("confidence") or 0.0)


# ---------------------------------------------------------------------------------------------------------
# Training and parsing (Rasa imported late: the pure functions above are tested without it)


def train(config: dict[str, Any], examples: Sequence[Example], name: str) -> tuple[Path, float]:
    from rasa.model_training import train_nlu

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    config_path, data_path = WORK_DIR / f"{name}-config.yml", WORK_DIR / f"{name}-nlu.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    data_path.write_text(nlu_yaml(examples), encoding="utf-8")
    started = time.perf_counter()
    model = train_nlu(str(config_path), str(data_path), str(WORK_DIR / "models"), fixed_model_name=name)
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError(f"Rasa trained no model for {name}")
    return Path(model), seconds


async def parse_all(model: Path, examples: Sequence[Example]) -> list[Reading]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    await agent.parse_message("warm up")  # the first parse builds lazy state; the assistant has it warm
    readings = []
    for text, label in examples:
        started = time.perf_counter()
        parse = await agent.parse_message(text)
        milliseconds = (time.perf_counter() - started) * 1000
        predicted, confidence = top_intent(parse)
        readings.append(Reading(label, predicted, confidence, milliseconds))
    return readings


def run_candidate(candidate: str, data: Path, quick: bool) -> Result:
    config = candidate_config(candidate, yaml.safe_load(CONFIG.read_text(encoding="utf-8")))
    banking_train, banking_test = read_banking77(data / "banking77")
    clinc = read_clinc(data / "clinc150" / "data_full.json")
    splits = {"b77_train": banking_train, "b77_test": banking_test, **clinc}
    if quick:
        splits = {name: stratified_sample(rows, quick_size(name)) for name, rows in splits.items()}
    tag = f"{candidate}-quick" if quick else candidate

    model, b77_train_s = train(config, splits["b77_train"], f"banking77-{tag}")
    b77 = asyncio.run(parse_all(model, splits["b77_test"]))
    log(f"{candidate}: Banking77 trained in {b77_train_s:.0f} s, accuracy {accuracy(b77):.4f}")

    model, clinc_train_s = train(config, splits["train"], f"clinc150-{tag}")
    val = asyncio.run(parse_all(model, splits["val"] + splits["oos_val"]))
    test = asyncio.run(parse_all(model, splits["test"] + splits["oos_test"]))
    val_score = choose_threshold(*split_oos(val))
    test_score = clinc_score(*split_oos(test), val_score.threshold)
    log(f"{candidate}: CLINC150 trained in {clinc_train_s:.0f} s, {test_score}")
    result = Result(
        candidate,
        accuracy(b77),
        b77_train_s,
        p95([r.milliseconds for r in b77]),
        val_score,
        test_score,
        clinc_train_s,
        p95([r.milliseconds for r in test]),
    )
    save(result, quick)
    return result


def quick_size(split: str) -> int:
    """Examples per intent kept by --quick; the one-intent OOS splits keep more, or recall means nothing."""
    if split.startswith("oos"):
        return QUICK_OOS
    return QUICK_TRAIN_PER_INTENT if "train" in split else QUICK_TEST_PER_INTENT


def save(result: Result, quick: bool) -> None:
    """A candidate's figures once it is done (var/bench-nlu/): an interrupted long run keeps them."""
    name = f"result-{result.candidate}{'-quick' if quick else ''}.json"
    (WORK_DIR / name).write_text(json.dumps(asdict(result), indent=1), encoding="utf-8")


def split_oos(readings: Sequence[Reading]) -> tuple[list[Reading], list[Reading]]:
    return [r for r in readings if r.label != OOS_LABEL], [r for r in readings if r.label == OOS_LABEL]


def log(message: str) -> None:
    print(f"[bench-nlu {datetime.now(timezone.utc):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Report


def mark(value: float, target: float, higher_is_better: bool = True) -> str:
    return "✅" if (value >= target if higher_is_better else value <= target) else "❌"


def report(results: Sequence[Result], data_arg: str, minutes: float, commit: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## NLU pipeline on Banking77 and CLINC150",
        "",
        "Written by `make bench-nlu` (`python -m benchmarks.bench_nlu --data $(NLU_BENCH_DATA)`, source in "
        "`benchmarks/bench_nlu.py`; NLU_BENCH_DATA defaults to `../shared/data`); do not edit by hand. Each "
        "candidate's NLU pipeline is trained with Rasa's `train_nlu` (cache off) on the train split and "
        "parses every test message with the whole pipeline, FallbackClassifier included, as the assistant "
        "does.",
        "",
        f"- Measured: {now} on {platform.machine()}, {os.cpu_count()} cores (other jobs may have run "
        f"alongside), commit `{commit}`, {minutes:.0f} min in all.",
        "- Banking77 accuracy: the classifier's top-1 intent on the 3,080 test messages, no fallback "
        "(Banking77 has no out-of-scope message). CLINC150: trained on the 150 in-scope intents (15,000 "
        "examples, oos_train unused); a message is out of scope when its top confidence is under the "
        "threshold (FallbackClassifier's `threshold`), chosen on val + oos_val as the best in-scope accuracy "
        "with OOS recall ≥ 0.80; test figures on test + oos_test (in-scope accuracy counts a "
        "fallback as wrong).",
        "- `sparse`: config.yml as it is. `wordllama`: config.yml plus StaticEmbeddingFeaturizer "
        "(WordLlama 0.4.0.post1's 256-d l2_supercat token embeddings, averaged) feeding "
        f"TfidfIntentClassifier (`dense_feature_weight: {DENSE_WEIGHT}`). config.yml uses "
        f"**{CONFIG_CANDIDATE}**.",
        "",
        "| candidate | Banking77 acc | train_s | parse p95 | CLINC in-scope | OOS recall | threshold "
        "| CLINC val in-scope / OOS | CLINC train_s | CLINC parse p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.candidate}{' (config.yml)' if r.candidate == CONFIG_CANDIDATE else ''} "
            f"| {r.banking77_acc:.2%} {mark(r.banking77_acc, TARGETS['banking77_acc'])} "
            f"| {r.banking77_train_s:.0f} s {mark(r.banking77_train_s, TARGETS['train_s'], False)} "
            f"| {r.banking77_p95_ms:.1f} ms {mark(r.banking77_p95_ms, TARGETS['parse_p95_ms'], False)} "
            f"| {r.clinc_test.inscope:.2%} {mark(r.clinc_test.inscope, TARGETS['clinc_inscope'])} "
            f"| {r.clinc_test.oos_recall:.2%} {mark(r.clinc_test.oos_recall, TARGETS['clinc_oos_recall'])} "
            f"| {r.clinc_val.threshold:.2f} | {r.clinc_val.inscope:.2%} / {r.clinc_val.oos_recall:.2%} "
            f"| {r.clinc_train_s:.0f} s | {r.clinc_p95_ms:.1f} ms |"
        )
    lines += [
        "",
        f"Targets (2 cores): Banking77 ≥ {TARGETS['banking77_acc']:.1%} with training ≤ 15 min and "
        f"parse p95 ≤ {TARGETS['parse_p95_ms']:.0f} ms; CLINC150 in-scope ≥ {TARGETS['clinc_inscope']:.0%} "
        f"with OOS recall ≥ {TARGETS['clinc_oos_recall']:.0%}.",
        "",
        "Published baselines (not measured here):",
        "",
        "| dataset | model | figure |",
        "|---|---|---|",
        *[f"| {dataset} | {model} | {figure} |" for dataset, model, figure in BASELINES],
        "",
        f"Data: `{data_arg}` (Banking77 and CLINC150, licences in their SOURCE.md).",
    ]
    return "\n".join(lines)


def last_line(result: Result) -> str:
    return (
        f"banking77_acc={result.banking77_acc:.4f} clinc_inscope={result.clinc_test.inscope:.4f} "
        f"clinc_oos_recall={result.clinc_test.oos_recall:.4f} train_s={result.banking77_train_s:.0f} "
        f"parse_p95_ms={result.banking77_p95_ms:.1f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="holds banking77/ and clinc150/")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="small stratified samples; writes nothing")
    parser.add_argument("--no-write", action="store_true", help="print the report, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    # Every training starts from nothing (a cached component would make train_s meaningless).
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    # Unconfigured, structlog prints Rasa's debug line of every parse, which the timed parses would include.
    configure_structlog(logging.WARNING)

    data = (REPO_ROOT / args.data).resolve()
    candidates = [c for c in args.candidates.split(",") if c]
    if CONFIG_CANDIDATE not in candidates:
        candidates.insert(0, CONFIG_CANDIDATE)
    commit = git_commit()  # at the start: the code measured, whatever is edited while it runs
    started = time.perf_counter()
    results = [run_candidate(candidate, data, args.quick) for candidate in candidates]
    body = report(results, args.data, (time.perf_counter() - started) / 60, commit)
    print(body)
    if not (args.quick or args.no_write):
        replace_section(SECTION, body)
    print(last_line(next(r for r in results if r.candidate == CONFIG_CANDIDATE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
