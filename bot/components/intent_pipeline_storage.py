"""Stores the intent classifier's fitted scikit-learn Pipeline as JSON and NumPy arrays, never as a pickle.

A model archive can come from outside (Rasa's `PUT /model`, a file someone else could write), and unpickling
a file runs whatever code it names. Nothing read here can run code: the settings, vocabularies and intent
names are JSON, the numbers `.npy` arrays read with `allow_pickle=False`. Loading takes a fresh, unfitted
Pipeline built from the component's configuration and sets the fitted attributes prediction reads; the file
names come from that Pipeline, never from the files.

Files in the component's resource directory:
- `intent_classifier.json`: format version, scikit-learn version, intents (in coefficient-row order) and, per
  vectorizer, its text settings and its vocabulary (terms in column order);
- `<vectorizer>_idf.npy`: each vectorizer's inverse document frequencies;
- `classifier_coef.npy`, `classifier_intercept.npy`: the logistic regression.

The scikit-learn version must still equal the installed one. Not for safety any more, but for meaning: the
vocabularies and coefficients mean what they meant at training only if the text is split and weighted the
same way (token pattern, character n-grams, lower-casing) and the probabilities are computed the same way
(one-vs-rest or softmax, which scikit-learn chooses from defaults that change between versions). Under
another version the confidences the fallback threshold compares could shift without any error. Rasa retrains
the component when scikit-learn's version changes anyway (its required packages are in Rasa's cache key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

FORMAT_VERSION = 1
METADATA_FILE = "intent_classifier.json"
COEFFICIENTS_FILE = "classifier_coef.npy"
INTERCEPTS_FILE = "classifier_intercept.npy"
# Earlier versions pickled the whole Pipeline with joblib; such a file is recognised by name and never opened.
LEGACY_PICKLE_FILE = "intent_pipeline.joblib"

# The vectorizer parameters that decide which column a text's words and characters land in and their weight.
TEXT_SETTINGS = (
    "analyzer",
    "ngram_range",
    "lowercase",
    "strip_accents",
    "token_pattern",
    "tokenizer",
    "binary",
    "sublinear_tf",
    "use_idf",
    "smooth_idf",
    "norm",
)

RETRAIN = "retrain the model (make model)"


class UnusableModelError(RuntimeError):
    """The stored intent classifier cannot be loaded as it is: retrain the model."""


class LegacyPickleModelError(UnusableModelError):
    """The model was stored by an earlier version as a pickle, which is never loaded."""


class IncompatibleModelError(UnusableModelError):
    """The model was stored in another format version or with another scikit-learn version."""


class MalformedModelError(UnusableModelError):
    """A stored file is missing, unreadable, or disagrees with the others or with the configuration."""


def idf_file(vectorizer_name: str) -> str:
    return f"{vectorizer_name}_idf.npy"


def write_pipeline(pipeline: Pipeline, directory: Path) -> None:
    vectorizers = _vectorizers(pipeline)
    classifier = pipeline.named_steps["classifier"]
    metadata = {
        "format_version": FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "intents": [str(intent) for intent in classifier.classes_],
        "vectorizers": {
            name: {
                "settings": _text_settings(vectorizer),
                "vocabulary": sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__),
            }
            for name, vectorizer in vectorizers.items()
        },
        # Columns after the TF-IDF ones: dense features appended by the classifier (dense_feature_weight).
        "dense_features": int(classifier.coef_.shape[1])
        - sum(len(v.vocabulary_) for v in vectorizers.values()),
    }
    (directory / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    for name, vectorizer in vectorizers.items():
        np.save(directory / idf_file(name), vectorizer.idf_, allow_pickle=False)
    np.save(directory / COEFFICIENTS_FILE, classifier.coef_, allow_pickle=False)
    np.save(directory / INTERCEPTS_FILE, classifier.intercept_, allow_pickle=False)


def read_pipeline(directory: Path, unfitted: Pipeline) -> Pipeline | None:
    """Fits `unfitted` (built from the component's configuration) with the stored state.

    Returns None when nothing was stored (trained without two intents); raises an `UnusableModelError`
    otherwise if the stored model cannot be used.
    """
    metadata_path = directory / METADATA_FILE
    if not metadata_path.exists():
        if (directory / LEGACY_PICKLE_FILE).exists():
            raise LegacyPickleModelError(
                f"the intent classifier in {directory} was stored by an earlier version as a pickle "
                f"({LEGACY_PICKLE_FILE}), which is not loaded because unpickling a file runs any code in it: "
                f"{RETRAIN}"
            )
        if any(directory.iterdir()):
            raise MalformedModelError(
                f"the intent classifier in {directory} has no {METADATA_FILE}: {RETRAIN}"
            )
        return None
    try:
        metadata = _read_metadata(metadata_path)
        _check_versions(metadata)
        _restore(unfitted, metadata, directory)
    except (OSError, ValueError) as error:
        # ValueError covers invalid JSON, pickled or non-.npy array files, and scikit-learn's own checks.
        raise MalformedModelError(
            f"the intent classifier in {directory} cannot be read ({error}): {RETRAIN}"
        ) from error
    return unfitted


def _vectorizers(pipeline: Pipeline) -> dict[str, TfidfVectorizer]:
    return dict(pipeline.named_steps["features"].transformer_list)


def _text_settings(vectorizer: TfidfVectorizer) -> dict[str, Any]:
    parameters = vectorizer.get_params()
    return {name: _as_json(parameters[name]) for name in TEXT_SETTINGS}


def _as_json(value: Any) -> Any:
    """A setting as JSON reads it back: tuples become lists, a function (the tokenizer) its dotted name."""
    if isinstance(value, tuple):
        return list(value)
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from error
    if not isinstance(metadata, dict):
        raise ValueError(f"{path.name} holds no JSON object")
    return metadata


def _check_versions(metadata: dict[str, Any]) -> None:
    if metadata.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"the intent classifier was stored in format version {metadata.get('format_version')!r}, this "
            f"version reads {FORMAT_VERSION}: {RETRAIN}"
        )
    if metadata.get("sklearn_version") != sklearn.__version__:
        raise IncompatibleModelError(
            f"the intent classifier was trained with scikit-learn {metadata.get('sklearn_version')!r}, "
            f"this is {sklearn.__version__}: {RETRAIN}"
        )


def _restore(pipeline: Pipeline, metadata: dict[str, Any], directory: Path) -> None:
    intents = _strings(metadata.get("intents"), "intents")
    if len(intents) < 2:
        raise ValueError("fewer than two intents")
    stored_vectorizers = metadata.get("vectorizers")
    if not isinstance(stored_vectorizers, dict):
        raise ValueError("no vectorizers")

    n_features = 0
    for name, vectorizer in _vectorizers(pipeline).items():
        stored = stored_vectorizers.get(name)
        if not isinstance(stored, dict):
            raise ValueError(f"no vectorizer {name!r}")
        if stored.get("settings") != _text_settings(vectorizer):
            raise ValueError(
                f"the {name!r} vectorizer was trained with other settings than the configuration's"
            )
        terms = _strings(stored.get("vocabulary"), f"the {name!r} vocabulary")
        vectorizer.vocabulary_ = {term: column for column, term in enumerate(terms)}
        # The public setter builds the TfidfTransformer that `fit` would have built.
        vectorizer.idf_ = _read_array(directory / idf_file(name), (len(terms),))
        n_features += len(terms)

    dense = metadata.get("dense_features", 0)
    if not isinstance(dense, int) or dense < 0:
        raise ValueError("dense_features is not a count")
    n_features += dense
    # Two intents have one row of coefficients (the second intent's), more have one row per intent.
    rows = 1 if len(intents) == 2 else len(intents)
    classifier = pipeline.named_steps["classifier"]
    classifier.classes_ = np.array(intents)
    classifier.coef_ = _read_array(directory / COEFFICIENTS_FILE, (rows, n_features))
    classifier.intercept_ = _read_array(directory / INTERCEPTS_FILE, (rows,))
    classifier.n_features_in_ = n_features


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} is not a list of strings")
    if len(set(value)) != len(value):
        raise ValueError(f"{what} repeats an entry")
    return value


def _read_array(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    with path.open("rb") as file:
        try:
            # Only the .npy format (no .npz archive); object arrays, which are pickles, are refused.
            array = np.lib.format.read_array(file, allow_pickle=False)
        except ValueError as error:
            raise ValueError(f"{path.name}: {error}") from error
    if array.dtype != np.float64 or array.shape != shape:
        raise ValueError(f"{path.name} holds {array.dtype} {array.shape}, expected float64 {shape}")
    return array
