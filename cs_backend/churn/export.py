"""`python -m cs_backend churn-export`: the product's own customers as a churn training set (a CSV that
`churn-train --target churned` reads), so the model can learn from this product's history.

One row per customer: `customer_id` (left out of training as an identifier), the behaviour features of
cs_backend/health_scores/features.py, and `churned`: 1 when a churn signal of the customer ended `cancelling`
(they left despite the retention conversation), else 0. `churn_signals_90d` is not exported: it counts the
very signals that define `churned`, a copy of the target (leakage).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from cs_backend.churn.models import ChurnSignal
from cs_backend.db import Database
from cs_backend.health_scores.features import FEATURE_NAMES, customer_features

TARGET = "churned"
# Derived from the same rows as the target: never a feature of the exported set.
TARGET_DERIVED = frozenset({"churn_signals_90d"})
EXPORTED_FEATURES = tuple(name for name in FEATURE_NAMES if name not in TARGET_DERIVED)


async def export_rows(db: Database, now: datetime | None = None) -> list[dict[str, float | int]]:
    async with db.sessions() as session:
        features = await customer_features(session, None, now=now)
        churned = set(
            await session.scalars(
                select(ChurnSignal.customer_id).where(ChurnSignal.outcome == "cancelling").distinct()
            )
        )
    return [
        {"customer_id": row.customer_id}
        | {name: value for name, value in row.as_dict().items() if name in EXPORTED_FEATURES}
        | {TARGET: int(row.customer_id in churned)}
        for row in features
    ]


def write_csv(rows: list[dict[str, float | int]], out: Path) -> None:
    """The CSV, written whole or not at all (a temporary file renamed into place)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["customer_id", *EXPORTED_FEATURES, TARGET], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, prefix=f".{out.name}.", delete=False) as file:
        file.write(text.getvalue())
    os.replace(file.name, out)


async def export_training_set(db: Database, out: Path, now: datetime | None = None) -> tuple[int, int]:
    """Write the CSV; (customers, churned)."""
    rows = await export_rows(db, now)
    write_csv(rows, out)
    return len(rows), sum(int(row[TARGET]) for row in rows)
