"""The held-out NLU evaluation: how the trained assistant reads customer messages it was never trained on.

Run: `make eval-nlu` (= `.venv-bot/bin/python -m benchmarks.eval_nlu`). It loads the trained model
(models/assistant.tar.gz), parses every message of nlu_eval/heldout_*.yml with the whole NLU pipeline (the
FallbackClassifier included, as the running assistant does), and reports, for each language apart (the files
`heldout_<language>[_<part>].yml`: `en` English, `zh` Simplified Chinese), for each file of a language written
apart from the others (`heldout_zh_independent.yml`: by a writer who never saw the Chinese training data) and
per intent:

- **top-1**: the final prediction is the labelled intent (for the retrieval intents faq/* and chitchat/*, the
  intent and the ResponseSelector's answer key both). A message that fell back counts as wrong.
- **fallback**: the share that became `nlu_fallback` (the bot asked "Did you mean…?" instead of answering).
- **top-1 before fallback**: the classifier's best intent, ignoring the fallback threshold: the gap between it
  and top-1 is what the threshold costs on real messages.

It refuses to run when a held-out message also appears in the training data (after lower-casing, removing
entity annotations and punctuation), so the set can never flatter the model. It rewrites only the
`<!-- eval-nlu:start -->…<!-- eval-nlu:end -->` section of BENCHMARKS.md and prints, as its last line,
`heldout_top1=<x> fallback=<x> messages=<n>` (all languages) followed by `<language>_top1=<x>
<language>_fallback=<x>` for each language.
Options: `--model PATH`, `--no-write` (print only), `--misses` (list every misread message).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.report import REPO_ROOT, git_commit, replace_section

SECTION = "eval-nlu"
HELDOUT_GLOB = "nlu_eval/heldout_*.yml"
TRAINING_DATA = REPO_ROOT / "nlu_data"
DEFAULT_MODEL = REPO_ROOT / "models" / "assistant.tar.gz"
FALLBACK_INTENT = "nlu_fallback"
RETRIEVAL_INTENTS = ("faq", "chitchat")
# The targets of the understanding issue, for the project's own held-out set.
TARGET_TOP1 = 0.95
TARGET_FALLBACK = 0.05

_LANGUAGE_OF_FILE = re.compile(r"heldout_([a-z]+)(?:_[a-z]+)?\.yml")
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")
_NOT_WORD = re.compile(r"[^\w@.]+|(?<!\w)\.|\.(?!\w)")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str

    @property
    def language(self) -> str:
        """The language of a held-out file (`heldout_zh.yml`, `heldout_zh_independent.yml` → `zh`); training
        files have none."""
        match = _LANGUAGE_OF_FILE.fullmatch(self.source)
        return match.group(1) if match else ""


@dataclass(frozen=True)
class Reading:
    example: Example
    predicted: str
    best_before_fallback: str
    confidence: float

    @property
    def correct(self) -> bool:
        return self.predicted == self.example.label

    @property
    def fell_back(self) -> bool:
        return self.predicted == FALLBACK_INTENT


def plain_text(text: str) -> str:
    """The message as the customer typed it: entity annotations ("[紧急]{...}", "[a@b.io](email)") removed."""
    return _ANNOTATION.sub(r"\1", text)


def normalise(text: str) -> str:
    """What two messages share when they differ only in case, annotations, spacing and punctuation."""
    plain = _ANNOTATION.sub(r"\1", text).lower()
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def read_examples(paths: Iterable[Path]) -> list[Example]:
    examples = []
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(Example(text=line[2:].strip(), label=block["intent"], source=path.name))
    return examples


def overlaps(heldout: Sequence[Example], training: Sequence[Example]) -> list[Example]:
    trained = {normalise(example.text) for example in training}
    return [example for example in heldout if normalise(example.text) in trained]


def label_of(parse: dict[str, Any]) -> tuple[str, str, float]:
    """(final prediction, the best intent before the fallback threshold, its confidence) of one parse."""
    intent = (parse.get("intent") or {}).get("name") or FALLBACK_INTENT
    ranking = [entry for entry in parse.get("intent_ranking") or [] if entry.get("name") != FALLBACK_INTENT]
    best = ranking[0]["name"] if ranking else intent
    confidence = float(ranking[0].get("confidence", 0.0)) if ranking else 0.0

    def with_response_key(name: str) -> str:
        if name not in RETRIEVAL_INTENTS:
            return name
        selected = (parse.get("response_selector") or {}).get("default", {}).get("response", {})
        return selected.get("intent_response_key") or name

    return with_response_key(intent), with_response_key(best), confidence


async def read_all(model: Path, examples: Sequence[Example]) -> list[Reading]:
    from rasa.core.agent import Agent  # the bot environment's Rasa; imported late so --help stays fast

    agent = Agent.load(str(model))
    readings = []
    for example in examples:
        parse = await agent.parse_message(plain_text(example.text))
        predicted, best, confidence = label_of(parse)
        readings.append(Reading(example, predicted, best, confidence))
    return readings


def per_label(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        grouped[reading.example.label].append(reading)
    return dict(sorted(grouped.items()))


def share(count: int, total: int) -> float:
    return count / total if total else 0.0


def by_language(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        grouped[reading.example.language].append(reading)
    return dict(sorted(grouped.items()))


def by_file(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        grouped[reading.example.source].append(reading)
    return dict(sorted(grouped.items()))


def figures(readings: Sequence[Reading]) -> tuple[float, float, float]:
    """(top-1, fallback, top-1 before the fallback threshold) of some readings."""
    total = len(readings)
    return (
        share(sum(r.correct for r in readings), total),
        share(sum(r.fell_back for r in readings), total),
        share(sum(r.best_before_fallback == r.example.label for r in readings), total),
    )


def verdict(top1: float, fallback: float) -> str:
    return "met" if top1 >= TARGET_TOP1 and fallback <= TARGET_FALLBACK else "not met"


def report(readings: Sequence[Reading], model: Path, seconds: float) -> str:
    top1, fallback, before = figures(readings)
    languages = by_language(readings)
    lines = [
        "## NLU on held-out customer messages",
        "",
        f"`make eval-nlu` ({git_commit()}, model `{model.relative_to(REPO_ROOT)}`, {seconds:.0f} s): "
        f"{len(readings)} messages of `{HELDOUT_GLOB}`, written apart from the training data and never "
        "trained on (the command refuses to run when one of them is also a training example).",
        "",
        "- top-1: the final prediction is the labelled intent (faq/* and chitchat/*: the answer key too); a "
        'message that fell back counts as wrong. Fallback: it became `nlu_fallback` ("Did you mean…?"). '
        f"Targets: top-1 ≥ {TARGET_TOP1:.0%}, fallback ≤ {TARGET_FALLBACK:.0%}.",
        f"- **all languages: top-1 {top1:.1%}, fallback {fallback:.1%}** ({verdict(top1, fallback)}); top-1 "
        f"before the fallback threshold {before:.1%}.",
    ]
    for language, group in languages.items():
        l_top1, l_fallback, l_before = figures(group)
        lines.append(
            f"- **{LANGUAGE_NAMES.get(language, language)} (`heldout_{language}*.yml`, "
            f"{len(group)} messages): "
            f"top-1 {l_top1:.1%}, fallback {l_fallback:.1%}** ({verdict(l_top1, l_fallback)}); top-1 before "
            f"the fallback threshold {l_before:.1%}."
        )
        files = by_file(group)
        if len(files) > 1:
            for source, in_file in files.items():
                f_top1, f_fallback, f_before = figures(in_file)
                lines.append(
                    f"  - `{source}` ({len(in_file)} messages): top-1 {f_top1:.1%}, fallback "
                    f"{f_fallback:.1%}; before the fallback threshold {f_before:.1%}."
                )
    for language, group in languages.items():
        lines += [
            "",
            f"### {LANGUAGE_NAMES.get(language, language)}",
            "",
            "| intent | messages | top-1 | fallback | top-1 before fallback |",
            "|---|---:|---:|---:|---:|",
        ]
        for label, by_intent in per_label(group).items():
            l_top1, l_fallback, l_before = figures(by_intent)
            lines.append(
                f"| `{label}` | {len(by_intent)} | {l_top1:.0%} | {l_fallback:.0%} | {l_before:.0%} |"
            )
    return "\n".join(lines)


def last_line(readings: Sequence[Reading]) -> str:
    top1, fallback, _before = figures(readings)
    parts = [f"heldout_top1={top1:.3f} fallback={fallback:.3f} messages={len(readings)}"]
    for language, group in by_language(readings).items():
        l_top1, l_fallback, _ = figures(group)
        parts.append(f"{language}_top1={l_top1:.3f} {language}_fallback={l_fallback:.3f}")
    return " ".join(parts)


def misses(readings: Sequence[Reading]) -> str:
    return "\n".join(
        f"{r.example.language:2} {r.example.label:32} → {r.predicted:32} "
        f"({r.best_before_fallback} {r.confidence:.2f})  {r.example.text}"
        for r in readings
        if not r.correct
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--no-write", action="store_true", help="print the report, leave BENCHMARKS.md")
    parser.add_argument("--misses", action="store_true", help="list every message read wrongly")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    heldout = read_examples(sorted(REPO_ROOT.glob(HELDOUT_GLOB)))
    training = read_examples(sorted(TRAINING_DATA.rglob("*.yml")))
    if not heldout:
        print(f"no held-out messages found in {HELDOUT_GLOB}", file=sys.stderr)
        return 2
    leaked = overlaps(heldout, training)
    if leaked:
        for example in leaked:
            print(f"also in the training data: {example.text!r} ({example.source})", file=sys.stderr)
        print("a held-out message must never be a training example: reword or remove it", file=sys.stderr)
        return 2
    if not args.model.exists():
        print(f"no model at {args.model}: run `make model` first", file=sys.stderr)
        return 2

    started = time.perf_counter()
    readings = asyncio.run(read_all(args.model.resolve(), heldout))
    body = report(readings, args.model.resolve(), time.perf_counter() - started)
    print(body)
    if args.misses:
        print("\nmisread:\n" + misses(readings))
    if not args.no_write:
        replace_section(SECTION, body)
    print(last_line(readings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
