"""NLU cross-validation: run Rasa's k-fold test and write the figures into BENCHMARKS.md.

Run: `make cross-validate` (= `.venv-bot/bin/python -m benchmarks.cross_validate`). It runs

    rasa test nlu --nlu nlu_data --config config.yml --cross-validation --folds 5 --out var/cross-validation

and then rewrites only the `<!-- cross-validation:start -->…<!-- cross-validation:end -->` section of
BENCHMARKS.md (benchmarks/report.py) from what Rasa wrote:

- `intent_report.json`, `CRFEntityExtractor_report.json`, `response_selection_report.json` in the out
  directory: sklearn classification reports of the test predictions of all folds pooled (every example is
  predicted once, by the model that did not see it). Macro-F1 = unweighted mean over the labels.
- Rasa's log lines `test F1-score: <mean> (<std>)`: the spread over the folds. Rasa computes these per-fold
  figures with sklearn's *weighted* average only, so the spread is given for weighted F1.

Rasa's StratifiedKFold is not seeded: folds (and so the figures) change slightly from one run to the next.
Options: `--folds N`, `--out DIR`, `--output PATH` (another file than BENCHMARKS.md), `--no-write` (print
only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.report import BENCHMARKS, REPO_ROOT, git_commit, replace_section

SECTION = "cross-validation"
# The acceptance thresholds.
TARGET_INTENT_MACRO_F1 = 0.95
TARGET_ENTITY_F1 = 0.90
AVERAGES = ("accuracy", "micro avg", "macro avg", "weighted avg")
# "test F1-score: 0.962 (0.011)" after one of these headings in Rasa's log.
_HEADINGS = {
    "Intent evaluation results": "intent",
    "Entity extractor: CRFEntityExtractor": "entity",
    "Response Selection evaluation results": "response",
}
_METRIC = re.compile(r"\btest (Accuracy|F1-score|Precision): ([0-9.]+) \(([0-9.]+)\)")


def command(folds: int, out: str) -> list[str]:
    rasa = str(Path(sys.executable).parent / "rasa")
    return [
        rasa,
        "test",
        "nlu",
        "--nlu",
        "nlu_data",
        "--config",
        "config.yml",
        "--cross-validation",
        "--folds",
        str(folds),
        "--out",
        out,
    ]


def parse_fold_spread(log: str) -> dict[str, dict[str, tuple[float, float]]]:
    """{"intent"|"entity"|"response": {"F1-score": (mean, std), ...}} from Rasa's CV log."""
    spread: dict[str, dict[str, tuple[float, float]]] = {}
    current = None
    for line in log.splitlines():
        for heading, key in _HEADINGS.items():
            if heading in line:
                current = key
        if "Entity extractor:" in line and "CRFEntityExtractor" not in line:
            current = None
        match = _METRIC.search(line)
        if match and current:
            spread.setdefault(current, {})[match.group(1)] = (float(match.group(2)), float(match.group(3)))
    return spread


def load_report(out: Path, name: str) -> dict | None:
    path = out / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def labels_of(report: dict) -> dict[str, dict]:
    return {k: v for k, v in report.items() if k not in AVERAGES and isinstance(v, dict)}


def micro_f1(report: dict) -> float:
    """Micro-F1: sklearn calls it "micro avg" when some labels are left out (no_entity), else "accuracy"."""
    if "micro avg" in report:
        return report["micro avg"]["f1-score"]
    return float(report["accuracy"])


def fmt_spread(spread: dict, kind: str, metric: str = "F1-score") -> str:
    if metric not in spread.get(kind, {}):
        return "n/a"
    mean, std = spread[kind][metric]
    return f"{mean:.3f} ± {std:.3f}"


def ok(value: float, target: float) -> str:
    return f"≥ {target:.2f} ✅" if value >= target else f"< {target:.2f} ❌"


LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}


def language_of(text: str) -> str:
    """A message with a Han character is Chinese (the assistant serves English and Simplified Chinese only),
    as the tokenizer and the language detector read it."""
    from bot.components.mixed_tokenizer import HAN_RUN  # imports Rasa: late, so --help stays fast

    return "zh" if HAN_RUN.search(text) else "en"


def accuracy_by_language(examples: list[str], errors: list[dict]) -> dict[str, tuple[float, int]]:
    """Pooled intent accuracy per language: (accuracy, examples), from the training texts and Rasa's
    intent_errors.json (every example is predicted once, so the misses of a language are its errors)."""
    totals = Counter(language_of(text) for text in examples)
    missed = Counter(language_of(str(error.get("text", ""))) for error in errors)
    return {lang: (1 - missed[lang] / total, total) for lang, total in sorted(totals.items()) if total}


def training_texts() -> list[str]:
    """The intent examples of nlu_data/, as `rasa test nlu` reads them."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [str(message.get("text")) for message in load_data(str(REPO_ROOT / "nlu_data")).intent_examples]


def render(
    *,
    intent: dict,
    by_language: dict[str, tuple[float, int]] | None = None,
    entity: dict | None,
    response: dict | None,
    spread: dict,
    folds: int,
    cmd: str,
    seconds: float,
    started: datetime,
) -> str:
    intents = labels_of(intent)
    total = int(intent["weighted avg"]["support"])
    macro = intent["macro avg"]["f1-score"]
    lines = [
        "## NLU cross-validation",
        "",
        "Written by `make cross-validate` (`.venv-bot/bin/python -m benchmarks.cross_validate`, source in",
        "`benchmarks/cross_validate.py`) from the reports Rasa wrote; do not edit by hand. "
        "Pooled figures: every",
        "example is predicted once, by the fold model that did not train on it. "
        "The spread is the mean ± standard",
        "deviation over the folds of Rasa's per-fold figure (weighted F1; Rasa logs no per-fold macro-F1).",
        "",
        f"- Measured: {started:%Y-%m-%d %H:%M} UTC, commit `{git_commit()}`, {platform.machine()} with "
        f"{os.cpu_count()} cores, Rasa's {folds} folds in {seconds / 60:.1f} min "
        "(other jobs may have run alongside).",
        f"- Data: {len(intents)} intents (retrieval intents counted once), {total} examples"
        + (f"; {len(labels_of(response))} retrieval sub-intents (faq/*, chitchat/*)" if response else "")
        + ".",
        f"- Command: `{cmd}`",
        "",
        "| what | pooled over the folds | per fold (weighted F1) | target |",
        "|---|---|---|---|",
        f"| intent macro-F1 | {macro:.3f} | | {ok(macro, TARGET_INTENT_MACRO_F1)} |",
        f"| intent weighted F1 | {intent['weighted avg']['f1-score']:.3f} | "
        f"{fmt_spread(spread, 'intent')} | |",
        f"| intent accuracy | {float(intent.get('accuracy', 0.0)):.3f} | "
        f"{fmt_spread(spread, 'intent', 'Accuracy')} | |",
    ]
    if by_language:
        lines += [
            f"| intent accuracy, {LANGUAGE_NAMES.get(lang, lang)} ({count} examples) | {accuracy:.3f} | | |"
            for lang, (accuracy, count) in by_language.items()
        ]
    if entity:
        ent_micro = micro_f1(entity)
        lines += [
            f"| entity micro-F1 (CRFEntityExtractor) | {ent_micro:.3f} | "
            f"| {ok(ent_micro, TARGET_ENTITY_F1)} |",
            f"| entity weighted F1 (CRFEntityExtractor) | {entity['weighted avg']['f1-score']:.3f} | "
            f"{fmt_spread(spread, 'entity')} | {ok(entity['weighted avg']['f1-score'], TARGET_ENTITY_F1)} |",
        ]
    if response:
        lines += [
            f"| response selection weighted F1 | {response['weighted avg']['f1-score']:.3f} | "
            f"{fmt_spread(spread, 'response')} | |",
            f"| response selection macro-F1 | {response['macro avg']['f1-score']:.3f} | | |",
        ]
    lines += [
        "",
        "Per entity (CRFEntityExtractor, pooled): "
        + (
            ", ".join(
                f"{name} {v['f1-score']:.2f} (n={int(v['support'])})"
                for name, v in sorted(labels_of(entity).items())
            )
            if entity
            else "no entity report"
        )
        + ".",
    ]
    weakest = sorted(intents.items(), key=lambda kv: kv[1]["f1-score"])[:5]
    lines += [
        "",
        "Weakest intents (F1, pooled): "
        + ", ".join(f"{name} {v['f1-score']:.2f}" for name, v in weakest)
        + ".",
    ]
    if response:
        weakest_r = sorted(labels_of(response).items(), key=lambda kv: kv[1]["f1-score"])[:3]
        lines += [
            "Weakest retrieval sub-intents: "
            + ", ".join(f"{name} {v['f1-score']:.2f}" for name, v in weakest_r)
            + "."
        ]
    lines += [
        "",
        "Misclassified examples: `intent_errors.json`, `CRFEntityExtractor_errors.json` and "
        "`response_selection_errors.json` in the out directory.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--out", default="var/cross-validation", help="Rasa's report directory (emptied first)"
    )
    parser.add_argument("--output", type=Path, default=BENCHMARKS, help="the Markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args()

    out = (REPO_ROOT / args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)  # no stale report of an earlier run may be read
    argv = command(args.folds, args.out)
    shown = " ".join(["rasa", *argv[1:]])
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
    print(f"$ {shown}", flush=True)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    log_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        log_lines.append(line)
        if (
            "evaluation results" in line
            or _METRIC.search(line)
            or "Entity extractor" in line
            or "Error" in line
            or "Training NLU model" in line
            or "CV evaluation" in line
        ):
            print(line, end="", flush=True)
    code = proc.wait()
    seconds = time.monotonic() - t0
    if code != 0:
        sys.stdout.write("".join(log_lines[-40:]))
        sys.exit(f"rasa test nlu failed with exit code {code}")

    intent = load_report(out, "intent_report.json")
    if intent is None:
        sys.exit(f"no intent_report.json in {out}")
    errors = json.loads((out / "intent_errors.json").read_text(encoding="utf-8"))
    section = render(
        intent=intent,
        by_language=accuracy_by_language(training_texts(), errors),
        entity=load_report(out, "CRFEntityExtractor_report.json"),
        response=load_report(out, "response_selection_report.json"),
        spread=parse_fold_spread("".join(log_lines)),
        folds=args.folds,
        cmd=shown,
        seconds=seconds,
        started=started,
    )
    print("\n" + section)
    if not args.no_write:
        replace_section(SECTION, section, args.output)
        print(f"\nwrote the {SECTION} section of {args.output}")


if __name__ == "__main__":
    main()
