"""K-means on the customers' features: a scikit-learn Pipeline (standard scaling, then KMeans), so a feature
counted in days weighs no more than one counted in tickets. Pure: features in, segments out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from cs_backend.health_scores.features import FEATURE_NAMES, CustomerFeatures
from cs_backend.segments.naming import DESCRIPTIONS, segment_name, unique_names

DEFAULT_SEGMENTS = 5
SEED = 0


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    size: int
    centroid: dict[str, float]
    customer_ids: tuple[int, ...]

    def summary(self) -> dict[str, object]:
        """What is stored and served: aggregates, no customer ids."""
        return {
            "name": self.name,
            "description": self.description,
            "size": self.size,
            "centroid": self.centroid,
        }


def _describe(name: str, z: dict[str, float], centroid: dict[str, float]) -> str:
    base = DESCRIPTIONS[name.rsplit(" ", 1)[0] if name[-1].isdigit() else name]
    notable = sorted((feature for feature in z if abs(z[feature]) >= 0.5), key=lambda f: -abs(z[f]))[:3]
    if not notable:
        return base
    parts = [
        f"{feature} {centroid[feature]:.1f} ({'above' if z[feature] > 0 else 'below'} average)"
        for feature in notable
    ]
    return f"{base}; {', '.join(parts)}"


def cluster(features: Sequence[CustomerFeatures], segments: int = DEFAULT_SEGMENTS) -> list[Segment]:
    """Segments of these customers, largest first (fewer than `segments` with fewer distinct rows)."""
    if not features:
        return []
    matrix = np.array([[row.as_dict()[name] for name in FEATURE_NAMES] for row in features], dtype=float)
    k = min(segments, len(np.unique(matrix, axis=0)))
    ids = np.array([row.customer_id for row in features])
    mean = matrix.mean(axis=0)
    std = matrix.std(axis=0)
    std[std == 0] = 1.0
    if k < 2:
        labels = np.zeros(len(features), dtype=int)
        centroids = mean[np.newaxis, :]
    else:
        pipeline = Pipeline(
            [("scale", StandardScaler()), ("kmeans", KMeans(n_clusters=k, n_init=10, random_state=SEED))]
        )
        with threadpool_limits(limits=1):
            labels = pipeline.fit_predict(matrix)
        centroids = pipeline.named_steps["scale"].inverse_transform(
            pipeline.named_steps["kmeans"].cluster_centers_
        )
    order = sorted(range(len(centroids)), key=lambda c: (-int((labels == c).sum()), c))
    order = [c for c in order if (labels == c).any()]
    centroid_maps = [
        dict(zip(FEATURE_NAMES, (round(float(v), 3) for v in centroids[c]), strict=True)) for c in order
    ]
    z_maps = [
        {name: float((centroids[c][i] - mean[i]) / std[i]) for i, name in enumerate(FEATURE_NAMES)}
        for c in order
    ]
    names = unique_names(
        [segment_name(centroid, z) for centroid, z in zip(centroid_maps, z_maps, strict=True)]
    )
    return [
        Segment(
            name=name,
            description=_describe(name, z, centroid),
            size=int((labels == c).sum()),
            centroid=centroid,
            customer_ids=tuple(int(i) for i in ids[labels == c]),
        )
        for name, c, centroid, z in zip(names, order, centroid_maps, z_maps, strict=True)
    ]
