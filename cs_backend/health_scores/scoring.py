"""The health score, vectorised: `score_batch` turns a matrix of features (one row per customer, columns in
FEATURE_NAMES order) into scores, bands and each factor's points with a few numpy operations, so rescoring
every customer (and benchmarks/bench_rescore.py) costs microseconds per customer. `explain` picks a score's
top factors. The formula is in weights.toml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cs_backend.health_scores.features import FEATURE_NAMES, CustomerFeatures
from cs_backend.health_scores.models import Band
from cs_backend.health_scores.weights import Weights

FloatMatrix = npt.NDArray[np.float64]
BANDS: tuple[Band, ...] = ("red", "yellow", "green")


@dataclass(frozen=True)
class ScoredBatch:
    scores: npt.NDArray[np.int64]
    # Index into BANDS per customer.
    band_indexes: npt.NDArray[np.int64]
    # Points of each factor (weights.factors order) per customer.
    points: FloatMatrix

    def band(self, row: int) -> Band:
        return BANDS[int(self.band_indexes[row])]


@dataclass(frozen=True)
class Scorer:
    """The weights laid out as arrays once, for any number of batches."""

    weights: Weights
    columns: npt.NDArray[np.int64]
    zero_at: FloatMatrix
    span: FloatMatrix
    low: FloatMatrix
    points: FloatMatrix

    @classmethod
    def of(cls, weights: Weights) -> Scorer:
        factors = weights.factors
        return cls(
            weights=weights,
            columns=np.array([FEATURE_NAMES.index(factor.feature) for factor in factors], dtype=np.int64),
            zero_at=np.array([factor.zero_at for factor in factors], dtype=np.float64),
            span=np.array([factor.full_at - factor.zero_at for factor in factors], dtype=np.float64),
            low=np.array([-1.0 if factor.two_sided else 0.0 for factor in factors], dtype=np.float64),
            points=np.array([factor.points for factor in factors], dtype=np.float64),
        )

    def score_batch(self, matrix: FloatMatrix) -> ScoredBatch:
        """Scores of the rows of `matrix` (n customers x len(FEATURE_NAMES) features)."""
        if matrix.ndim != 2 or matrix.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"expected a matrix of {len(FEATURE_NAMES)} feature columns, got {matrix.shape}")
        share = (matrix[:, self.columns] - self.zero_at) / self.span
        points = self.points * np.clip(share, self.low, 1.0)
        scores = np.clip(np.rint(self.weights.base + points.sum(axis=1)), 0, 100).astype(np.int64)
        band_indexes = (scores >= self.weights.red_below).astype(np.int64) + (
            scores >= self.weights.yellow_below
        ).astype(np.int64)
        return ScoredBatch(scores, band_indexes, points)

    def explain(self, batch: ScoredBatch, matrix: FloatMatrix, row: int) -> list[dict[str, Any]]:
        """The row's top factors, largest effect first: [{name, label, value, points}]; factors that gave
        no points are left out."""
        points = batch.points[row]
        order = np.argsort(-np.abs(points), kind="stable")[: self.weights.top_factors]
        factors = []
        for index in order:
            if round(float(points[index]), 1) == 0:
                continue
            factor = self.weights.factors[int(index)]
            factors.append(
                {
                    "name": factor.name,
                    "label": factor.label,
                    "value": round(float(matrix[row, self.columns[index]]), 2),
                    "points": round(float(points[index]), 1),
                }
            )
        return factors


def feature_matrix(features: Sequence[CustomerFeatures]) -> FloatMatrix:
    """The features as a matrix, one row per customer, columns in FEATURE_NAMES order."""
    matrix = np.empty((len(features), len(FEATURE_NAMES)), dtype=np.float64)
    for row, customer in enumerate(features):
        matrix[row] = [getattr(customer, name) for name in FEATURE_NAMES]
    return matrix


def score_batch(matrix: FloatMatrix, weights: Weights) -> ScoredBatch:
    """`Scorer.of(weights).score_batch(matrix)`, for a single batch."""
    return Scorer.of(weights).score_batch(matrix)
