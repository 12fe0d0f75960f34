"""Metrics of out-of-fold churn probabilities: ROC AUC, PR AUC, Brier score, a calibration table, and the
threshold that maximises F1 (chosen on the out-of-fold predictions, never on the rows a model was fitted on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
)

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    rows: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class Evaluation:
    roc_auc: float
    pr_auc: float  # average precision
    brier: float
    threshold: float
    f1: float
    precision: float
    recall: float
    base_rate: float
    calibration: tuple[CalibrationBin, ...]

    def metrics(self) -> dict[str, float]:
        """The scalar figures, rounded for the metadata file and the report."""
        return {
            key: round(value, 4)
            for key, value in asdict(self).items()
            if key != "calibration" and isinstance(value, float)
        }


def best_f1_threshold(y: np.ndarray, probabilities: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, f1, precision, recall) at the probability cut that maximises F1."""
    precision, recall, thresholds = precision_recall_curve(y, probabilities)
    # precision/recall have one more point than thresholds (recall 0 at the end): drop it.
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best]), float(precision[best]), float(recall[best])


def calibration_table(y: np.ndarray, probabilities: np.ndarray) -> tuple[CalibrationBin, ...]:
    """Rows binned by predicted probability (tenths); each bin's mean prediction against its churn rate."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    table = []
    for b in range(CALIBRATION_BINS):
        mask = index == b
        if mask.any():
            table.append(
                CalibrationBin(
                    low=round(float(edges[b]), 2),
                    high=round(float(edges[b + 1]), 2),
                    rows=int(mask.sum()),
                    mean_predicted=round(float(probabilities[mask].mean()), 4),
                    observed_rate=round(float(y[mask].mean()), 4),
                )
            )
    return tuple(table)


def evaluate(y: np.ndarray, probabilities: np.ndarray) -> Evaluation:
    threshold, f1, precision, recall = best_f1_threshold(y, probabilities)
    return Evaluation(
        roc_auc=float(roc_auc_score(y, probabilities)),
        pr_auc=float(average_precision_score(y, probabilities)),
        brier=float(brier_score_loss(y, probabilities)),
        threshold=threshold,
        f1=f1,
        precision=precision,
        recall=recall,
        base_rate=float(y.mean()),
        calibration=calibration_table(y, probabilities),
    )
