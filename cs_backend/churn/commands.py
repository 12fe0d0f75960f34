"""`python -m cs_backend churn-train`: train, cross-validate and save a churn model from a CSV file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cs_backend.config import REPO_ROOT

DEFAULT_MODEL_DIR = REPO_ROOT / "var" / "churn_model"


def add_train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "churn-train", help="train a churn model from a CSV of historical customers (docs/CHURN.md)"
    )
    train.add_argument(
        "--csv", required=True, type=Path, help="the CSV file, one customer per row, with a header"
    )
    train.add_argument("--target", required=True, help="the column saying whether the customer churned")
    train.add_argument(
        "--positive",
        help="the target value meaning churned (default: Yes/1/true when the column has two values)",
    )
    train.add_argument(
        "--id-column",
        action="append",
        default=[],
        help="a column to leave out (an identifier); repeatable. Columns named like ids are left out anyway",
    )
    train.add_argument(
        "--out", type=Path, default=DEFAULT_MODEL_DIR, help=f"where to write the model ({DEFAULT_MODEL_DIR})"
    )


def train_command(arguments: argparse.Namespace) -> int:
    """Exit 0 with the model written; 2 with a sentence on stderr, and nothing written, on unusable input."""
    from cs_backend.churn.dataset import DatasetError, load_dataset
    from cs_backend.churn.model_store import METADATA_FILE, MODEL_FILE, REPORT_FILE, save_model
    from cs_backend.churn.training import train

    try:
        dataset = load_dataset(arguments.csv, arguments.target, arguments.positive, arguments.id_column)
    except DatasetError as error:
        print(f"cs_backend churn-train: {error}", file=sys.stderr)
        return 2
    print(
        f"{dataset.rows} rows, {dataset.positives} churned, {len(dataset.features)} features; "
        "cross-validating (stratified 5-fold)...",
        flush=True,
    )
    trained = train(dataset)
    for result in trained.results:
        figures = result.evaluation
        print(
            f"  {result.candidate.name}: roc_auc={figures.roc_auc:.4f} pr_auc={figures.pr_auc:.4f} "
            f"brier={figures.brier:.4f} f1={figures.f1:.4f} ({result.seconds:.1f} s)"
        )
    metadata = save_model(arguments.out, trained, dataset, source=str(arguments.csv))
    print(
        f"model {metadata['version']} ({metadata['classifier']}, threshold {metadata['threshold']}) "
        f"written to {arguments.out}: {MODEL_FILE}, {METADATA_FILE}, {REPORT_FILE}"
    )
    return 0
