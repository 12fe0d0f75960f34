"""An intent classifier for small hand-written training data: TF-IDF n-grams and logistic regression.

Why not DIET's intents: without pretrained embeddings (none can be downloaded here) DIET learns everything
from ~3,300 examples, and on held-out examples it scored about 4 points of macro-F1 below a linear model on
the same word and character n-grams (BENCHMARKS.md, NLU cross-validation). DIET still extracts the entities
(`intent_classification: false` in config.yml).

The model is one scikit-learn Pipeline — word 1-2-grams (Chinese cut into words by jieba) and character
1-4-grams (within word boundaries: in Chinese, which has no spaces, they span the whole phrase),
both TF-IDF with sublinear term frequency, then a multinomial logistic regression whose probabilities are
the intent confidences the FallbackClassifier thresholds. It is stored as JSON and NumPy arrays, never
pickled, with the scikit-learn version that trained it, and refuses to load under another one
(intent_pipeline_storage.py says why).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.components import intent_pipeline_storage
from bot.components.mixed_tokenizer import word_tokens

logger = logging.getLogger(__name__)


def build_pipeline(config: Dict[Text, Any]) -> Pipeline:
    features = FeatureUnion(
        [
            # Words as scikit-learn splits them, Chinese cut into words by jieba (mixed_tokenizer.py).
            (
                "words",
                TfidfVectorizer(
                    ngram_range=tuple(config["word_ngram_range"]),
                    sublinear_tf=True,
                    tokenizer=word_tokens,
                    token_pattern=None,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=tuple(config["char_ngram_range"]), sublinear_tf=True
                ),
            ),
        ]
    )
    classifier = LogisticRegression(
        C=config["C"], max_iter=config["max_iter"], random_state=config["random_seed"]
    )
    return Pipeline([("features", features), ("classifier", classifier)])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(IntentClassifier, GraphComponent):
    """Predicts the intent and an intent ranking from the message text alone."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Weak regularisation: the n-gram vectors are sparse and every example is deliberate.
            "C": 50.0,
            "max_iter": 3000,
            "word_ngram_range": [1, 2],
            "char_ngram_range": [1, 4],
            "ranking_length": 10,
            "random_seed": 2024,
            # Above 0, the dense sentence features a featurizer put on the message (e.g. the candidate
            # StaticEmbeddingFeaturizer of `make bench-nlu`) are appended to the TF-IDF vector, scaled by this
            # weight: a unit vector next to the two TF-IDF blocks, whose norms are 1 each. 0 ignores them.
            "dense_feature_weight": 0.0,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "jieba"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's cache key holds this class's source but not the storage module's: without this, a change of
        # the stored format would get an old resource back from the cache instead of a retrained one.
        return inspect.getsource(intent_pipeline_storage)

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Optional[Pipeline] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = pipeline

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        labels = {e.get(INTENT) for e in examples}
        if len(labels) < 2:
            logger.warning("TfidfIntentClassifier needs at least two intents to train; it will predict none.")
            return self._resource
        pipeline = build_pipeline(self.config)
        texts, labels_ = [e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples]
        if self._dense_weight() > 0:
            features = pipeline.named_steps["features"].fit_transform(texts)
            pipeline.named_steps["classifier"].fit(self._with_dense(features, examples), labels_)
        else:
            pipeline.fit(texts, labels_)
        self.pipeline = pipeline
        self.persist()
        return self._resource

    def _dense_weight(self) -> float:
        return float(self.config["dense_feature_weight"])

    def _with_dense(self, features: sparse.spmatrix, messages: List[Message]) -> sparse.csr_matrix:
        """The TF-IDF rows with each message's dense sentence features appended (weighted)."""
        rows = []
        for message in messages:
            _sequence, sentence = message.get_dense_features(TEXT)
            if sentence is None:
                raise ValueError(
                    "dense_feature_weight is set but a message has no dense sentence features: put a dense "
                    "featurizer before TfidfIntentClassifier in the pipeline"
                )
            rows.append(np.asarray(sentence.features, dtype=np.float64).reshape(-1))
        dense = sparse.csr_matrix(self._dense_weight() * np.vstack(rows))
        return sparse.hstack([features, dense], format="csr")

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            intent_pipeline_storage.write_pipeline(self.pipeline, directory)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfIntentClassifier:
        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                pipeline = intent_pipeline_storage.read_pipeline(directory, build_pipeline(config))
        except ValueError:
            # Only read_from raises it (read_pipeline raises UnusableModelError): nothing was persisted
            # because training saw fewer than two intents.
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, pipeline)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.pipeline is None:
            return messages
        texts = [message.get(TEXT) for message in messages]
        with_text = [i for i, text in enumerate(texts) if text]
        if not with_text:
            return messages
        if self._dense_weight() > 0:
            features = self.pipeline.named_steps["features"].transform([texts[i] for i in with_text])
            features = self._with_dense(features, [messages[i] for i in with_text])
            probabilities = self.pipeline.named_steps["classifier"].predict_proba(features)
        else:
            probabilities = self.pipeline.predict_proba([texts[i] for i in with_text])
        intents = self.pipeline.classes_
        for row, index in zip(probabilities, with_text, strict=True):
            order = np.argsort(-row)[: self.config["ranking_length"]]
            ranking = [
                {INTENT_NAME_KEY: str(intents[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order
            ]
            messages[index].set(INTENT, ranking[0], add_to_output=True)
            messages[index].set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
