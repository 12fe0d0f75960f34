"""Train the churn model on the IBM Telco churn file with stratified 5-fold cross-validation, as
`python -m cs_backend churn-train` does, and write the figures to BENCHMARKS.md.
Run: `make bench-churn` (= `python -m benchmarks.bench_churn --csv $(TELCO_CSV)`).

Both candidates (logistic regression, the baseline, and histogram gradient boosting) are measured in the same
run on the same folds; the one with the best out-of-fold ROC AUC is the model churn-train would keep. Then the
health rescoring benchmark (benchmarks/bench_rescore.py, when present) is run for its customers per second.

The last line printed is `telco_roc_auc=<x> pr_auc=<x> f1=<x> rescore_per_s=<n>`. Target: ROC AUC ≥ 0.85
without leakage (published results on this file: about 0.84).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import git_commit, replace_section
from cs_backend.churn.dataset import load_dataset
from cs_backend.churn.training import train
from launcher.stack import REPO_ROOT

SECTION = "churn"
RESCORE_BENCH = REPO_ROOT / "benchmarks" / "bench_rescore.py"
TARGET_ROC_AUC = 0.85


def rescore_per_second() -> str | None:
    """`rescore_per_s` from the last line of benchmarks/bench_rescore.py; None when that bench is absent."""
    if not RESCORE_BENCH.exists():
        return None
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_rescore"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    found = re.search(r"rescore_per_s=(\S+)", run.stdout)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"benchmarks/bench_rescore.py failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return found.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True, help="the Telco churn CSV (TELCO_CSV)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    if not args.csv.is_file():
        print(f"bench-churn: {args.csv} not found (set TELCO_CSV)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    dataset = load_dataset(args.csv, "Churn")
    trained = train(dataset)
    seconds = time.perf_counter() - started
    rescore = rescore_per_second()
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    chosen = trained.chosen.evaluation
    rows = [
        f"| {'**' + r.candidate.name + '**' if r is trained.chosen else r.candidate.name} "
        f"| {r.evaluation.roc_auc:.4f} | {r.evaluation.pr_auc:.4f} | {r.evaluation.brier:.4f} "
        f"| {r.evaluation.f1:.4f} | {r.evaluation.threshold:.3f} | {r.seconds:.1f} s |"
        for r in trained.results
    ]
    csv_shown = os.path.relpath(args.csv.resolve(), REPO_ROOT)
    body = "\n".join(
        [
            "## Churn model (Telco)",
            "",
            "Written by `make bench-churn` (`python -m benchmarks.bench_churn --csv $(TELCO_CSV)`, source in "
            "`benchmarks/bench_churn.py`; TELCO_CSV defaults to `../shared/data/telco_churn/"
            "Telco-Customer-Churn.csv`); do not edit by hand. The training of `python -m cs_backend "
            "churn-train` (cs_backend/churn/training.py) on the IBM Telco file: stratified 5-fold "
            "cross-validation, each candidate's whole Pipeline refitted inside every fold (no leakage "
            "through preprocessing), metrics on the out-of-fold predictions, F1 at the threshold that "
            "maximises it.",
            "",
            f"- Measured: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
            f"{os.cpu_count()} cores, CPython {platform.python_version()}, commit `{git_commit()}`, "
            f"one native thread; load average {load} at the end (other jobs ran alongside).",
            f"- Data: `{csv_shown}`, {dataset.rows} rows, {dataset.positives} churned, "
            f"{len(dataset.features)} features (left out: "
            f"{', '.join(f'`{k}` ({v})' for k, v in dataset.excluded.items()) or 'none'}).",
            f"- Whole run (both candidates cross-validated, the chosen one refitted): {seconds:.0f} s.",
            "",
            "| candidate | ROC AUC | PR AUC | Brier | F1 | threshold | CV time |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Chosen (best ROC AUC): **{trained.chosen.candidate.name}**. Target ROC AUC ≥ {TARGET_ROC_AUC}: "
            f"{chosen.roc_auc:.4f} {'✅' if chosen.roc_auc >= TARGET_ROC_AUC else '❌ (not met)'}.",
            "",
            "Health rescoring (benchmarks/bench_rescore.py): "
            + (f"{rescore} customers/s." if rescore else "not measured (bench_rescore.py absent)."),
        ]
    )
    replace_section(SECTION, body, args.output)
    line = f"telco_roc_auc={chosen.roc_auc:.4f} pr_auc={chosen.pr_auc:.4f} f1={chosen.f1:.4f}"
    print(f"{line} rescore_per_s={rescore}" if rescore else line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
