"""The Markdown report written next to a trained churn model (report.md): the data, the candidates compared
by cross-validation, the chosen model's metrics, its calibration table and how the threshold was chosen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cs_backend.churn.training import FOLDS, TrainedModel


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_report(metadata: Mapping[str, Any], trained: TrainedModel) -> str:
    chosen = trained.chosen.evaluation
    target = metadata["target"]
    lines = [
        f"# Churn model {metadata['version']}",
        "",
        f"Trained {metadata['created_at']} from `{metadata['source']}`: {metadata['rows']} rows, "
        f"{metadata['positives']} churned ({target['column']} = {target['positive']!r}, "
        f"{chosen.base_rate:.1%}). scikit-learn {metadata['sklearn_version']}, "
        f"skops {metadata['skops_version']}.",
        "",
        "## Features",
        "",
        *_table(
            ["feature", "kind", "preprocessing"],
            [
                [
                    f"`{f['name']}`",
                    f["kind"],
                    "median imputation, splines (linear models), scaling"
                    if f["kind"] == "numeric"
                    else "missing as its own category, one-hot (unknown categories ignored)",
                ]
                for f in metadata["features"]
            ],
        ),
        "",
    ]
    if metadata["excluded_columns"]:
        lines += ["Left out:", ""]
        lines += [f"- `{name}`: {why}" for name, why in metadata["excluded_columns"].items()]
        lines += [""]
    lines += [
        "## Candidates (stratified 5-fold cross-validation, out-of-fold predictions)",
        "",
        "Each candidate's whole Pipeline (preprocessing, classifier, calibration) is refitted on each of "
        f"the {FOLDS} training folds and predicts the held-out fold only, so nothing fitted has seen the "
        "rows it is scored on. The best ROC AUC is kept and refitted on every row.",
        "",
        *_table(
            ["candidate", "ROC AUC", "PR AUC", "Brier", "F1", "CV time"],
            [
                [
                    f"**{r.candidate.name}**" if r is trained.chosen else r.candidate.name,
                    f"{r.evaluation.roc_auc:.4f}",
                    f"{r.evaluation.pr_auc:.4f}",
                    f"{r.evaluation.brier:.4f}",
                    f"{r.evaluation.f1:.4f}",
                    f"{r.seconds:.1f} s",
                ]
                for r in trained.results
            ],
        ),
        "",
        f"Chosen: **{trained.chosen.candidate.name}**, {trained.chosen.candidate.description}, calibrated "
        f"with {metadata['calibration']} regression (CalibratedClassifierCV, 3 internal folds).",
        "",
        "## Chosen model",
        "",
        *_table(
            ["metric", "value"],
            [
                ["ROC AUC", f"{chosen.roc_auc:.4f}"],
                ["PR AUC (average precision)", f"{chosen.pr_auc:.4f}"],
                ["Brier score", f"{chosen.brier:.4f}"],
                ["threshold (max F1 on out-of-fold predictions)", f"{chosen.threshold:.4f}"],
                ["F1 at the threshold", f"{chosen.f1:.4f}"],
                ["precision at the threshold", f"{chosen.precision:.4f}"],
                ["recall at the threshold", f"{chosen.recall:.4f}"],
                ["churn rate", f"{chosen.base_rate:.4f}"],
            ],
        ),
        "",
        "## Calibration (out-of-fold)",
        "",
        "Rows binned by predicted probability; a calibrated model's mean prediction matches each bin's "
        "churn rate.",
        "",
        *_table(
            ["predicted", "rows", "mean predicted", "observed churn rate"],
            [
                [
                    f"{b.low:.1f}-{b.high:.1f}",
                    str(b.rows),
                    f"{b.mean_predicted:.3f}",
                    f"{b.observed_rate:.3f}",
                ]
                for b in chosen.calibration
            ],
        ),
        "",
        "## Files",
        "",
        f"- `{metadata['model_file']}`: the Pipeline in skops format (SHA-256 `{metadata['model_sha256']}`), "
        "loaded only with an explicit list of trusted types; it cannot run code on load.",
        "- `metadata.json`: version, features, target, threshold, metrics, library versions.",
        "",
    ]
    return "\n".join(lines)
