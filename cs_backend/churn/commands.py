"""`python -m cs_backend churn-train` (train, cross-validate and save a churn model from a CSV file) and
`churn-export` (this product's customers as such a CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cs_backend.config import REPO_ROOT, Settings

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


def add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "churn-export", help="write this product's customers' features and `churned` as a training CSV"
    )
    export.add_argument("--out", required=True, type=Path, help="the CSV file to write")


def export_command(settings: Settings, arguments: argparse.Namespace) -> int:
    import asyncio

    from cs_backend.churn.export import TARGET, export_training_set
    from cs_backend.db import Database

    async def run() -> tuple[int, int]:
        db = Database.connect(settings.database_url)
        try:
            return await export_training_set(db, arguments.out)
        finally:
            await db.dispose()

    customers, churned = asyncio.run(run())
    print(
        f"{customers} customers ({churned} churned) written to {arguments.out}; train with: "
        f"python -m cs_backend churn-train --csv {arguments.out} --target {TARGET}"
    )
    return 0
