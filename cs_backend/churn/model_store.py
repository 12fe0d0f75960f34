"""A trained churn model on disk: `model.skops` (the Pipeline, skops format), `metadata.json` (version,
features, target, threshold, metrics, library versions, the model file's SHA-256) and `report.md`.

skops stores the objects' state as JSON plus numpy arrays and rebuilds them by calling the constructors of
known types; it never unpickles. Loading also refuses a file naming any type outside `TRUSTED_TYPES` (the
types our own pipelines need beyond skops' defaults), checked with `get_untrusted_types` before the load, and
a file whose SHA-256 differs from the one its metadata recorded. No pickle or joblib load anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
import skops.io
from sklearn.pipeline import Pipeline

from cs_backend.churn.dataset import Dataset, FeatureSpec, feature_matrix
from cs_backend.churn.report import render_report
from cs_backend.churn.training import TrainedModel, churn_probabilities

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
REPORT_FILE = "report.md"
FORMAT_VERSION = 1

# Types our pipelines contain that skops does not trust by default (found with skops.io.get_untrusted_types
# on each candidate, trained with sigmoid and isotonic calibration). Nothing else is ever loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    "scipy.interpolate._bsplines.BSpline",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class ModelLoadError(RuntimeError):
    """The model directory cannot be used; the message says why."""


@dataclass(frozen=True)
class ChurnModel:
    pipeline: Pipeline
    metadata: dict[str, Any]
    features: tuple[FeatureSpec, ...]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    def predict(self, records: Sequence[Mapping[str, object]]) -> list[float]:
        """Churn probability of each record (a mapping of feature name → value; missing ones are imputed)."""
        if not records:
            return []
        return [float(p) for p in churn_probabilities(self.pipeline, feature_matrix(records, self.features))]


def build_metadata(
    trained: TrainedModel, dataset: Dataset, source: str, created_at: datetime, model_sha256: str
) -> dict[str, Any]:
    evaluation = trained.chosen.evaluation
    return {
        "format": FORMAT_VERSION,
        "version": f"{created_at:%Y%m%d%H%M%S}-{model_sha256[:8]}",
        "created_at": created_at.isoformat(),
        "source": source,
        "rows": dataset.rows,
        "positives": dataset.positives,
        "target": {"column": dataset.target, "positive": dataset.positive},
        "features": [feature.as_dict() for feature in dataset.features],
        "excluded_columns": dataset.excluded,
        "classifier": trained.chosen.candidate.name,
        "calibration": trained.pipeline.named_steps["classify"].method,
        "threshold": round(evaluation.threshold, 4),
        "metrics": evaluation.metrics(),
        "candidates": {
            result.candidate.name: result.evaluation.metrics() | {"cv_seconds": round(result.seconds, 1)}
            for result in trained.results
        },
        "cross_validation": {"folds": 5, "stratified": True, "shuffle_seed": 42},
        "model_file": MODEL_FILE,
        "model_sha256": model_sha256,
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
    }


def _write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(data)
        temporary = Path(file.name)
    os.replace(temporary, path)


def save_model(out_dir: Path, trained: TrainedModel, dataset: Dataset, source: str) -> dict[str, Any]:
    """Write the three files (each atomically) and return the metadata."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model_bytes = skops.io.dumps(trained.pipeline)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    metadata = build_metadata(trained, dataset, source, datetime.now(UTC).replace(microsecond=0), sha256)
    _write_atomically(out_dir / MODEL_FILE, model_bytes)
    _write_atomically(out_dir / METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
    _write_atomically(out_dir / REPORT_FILE, render_report(metadata, trained).encode())
    return metadata


def _read_metadata(model_dir: Path) -> dict[str, Any]:
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelLoadError(f"{model_dir}: no {METADATA_FILE}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{model_dir / METADATA_FILE}: unreadable ({error})") from error
    required = ("format", "version", "features", "threshold", "model_sha256")
    if not isinstance(metadata, dict) or any(key not in metadata for key in required):
        raise ModelLoadError(
            f"{model_dir / METADATA_FILE}: not churn model metadata (needs {', '.join(required)})"
        )
    if metadata["format"] != FORMAT_VERSION:
        raise ModelLoadError(
            f"{model_dir / METADATA_FILE}: format {metadata['format']!r}, expected {FORMAT_VERSION}"
        )
    return metadata


def _features(metadata: Mapping[str, Any], where: Path) -> tuple[FeatureSpec, ...]:
    try:
        features = tuple(FeatureSpec(str(f["name"]), f["kind"]) for f in metadata["features"])
    except (TypeError, KeyError) as error:
        raise ModelLoadError(f"{where}: malformed feature list") from error
    if not features or any(f.kind not in ("numeric", "categorical") for f in features):
        raise ModelLoadError(f"{where}: malformed feature list")
    return features


def load_model(model_dir: Path) -> ChurnModel:
    metadata = _read_metadata(model_dir)
    features = _features(metadata, model_dir / METADATA_FILE)
    model_path = model_dir / MODEL_FILE
    try:
        data = model_path.read_bytes()
    except OSError as error:
        raise ModelLoadError(f"{model_path}: unreadable ({error})") from error
    if hashlib.sha256(data).hexdigest() != metadata["model_sha256"]:
        raise ModelLoadError(f"{model_path}: its SHA-256 is not the one {METADATA_FILE} recorded")
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as error:  # noqa: BLE001 - skops raises many kinds on a malformed archive
        raise ModelLoadError(f"{model_path}: not a skops file ({error})") from error
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelLoadError(
            f"{model_path}: refused, it names types outside the trusted list: {', '.join(unexpected)}"
        )
    try:
        pipeline = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # noqa: BLE001 - skops raises many kinds on a malformed archive
        raise ModelLoadError(f"{model_path}: cannot be loaded ({error})") from error
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "predict_proba"):
        raise ModelLoadError(f"{model_path}: not a scikit-learn Pipeline")
    model = ChurnModel(pipeline, metadata, features)
    try:  # one all-missing row: the pipeline must take our feature layout
        probability = model.predict([{}])[0]
    except Exception as error:  # noqa: BLE001 - any failure here means the file does not fit its metadata
        raise ModelLoadError(
            f"{model_path}: does not accept the features its metadata lists ({error})"
        ) from error
    if not np.isfinite(probability):
        raise ModelLoadError(f"{model_path}: predicts no probability")
    return model
