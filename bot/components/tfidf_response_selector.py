"""A response selector for the retrieval intents (faq/*, chitchat/*): the intent classifier's TF-IDF n-gram
logistic regression, trained on the full retrieval intents.

Why not Rasa's ResponseSelector: it is a DIET network trained for 60 epochs, which made up a large share of
`make model` on two cores, and its training time grows with every language added; the linear model trains in
seconds on the same examples, and the retrieval sub-intents are told apart by their words, as the intents are.

Its output has the shape Rasa's ResponseSelector gives, under the `default` key and under each retrieval
intent's own key, so `utter_faq` and `utter_chitchat` (ActionRetrieveResponse), `rasa test` and the tracker's
full retrieval intent read it unchanged; the response itself still comes from the domain, with its language
variants.
"""

from __future__ import annotations

import inspect
import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_DEFAULT_INTENT,
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data import util
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

from bot.components import intent_pipeline_storage
from bot.components.tfidf_intent_classifier import TfidfIntentClassifier, build_pipeline

logger = logging.getLogger(__name__)

RETRIEVAL_INTENTS_FILE = "retrieval_intents.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfResponseSelector(GraphComponent):
    """Picks the retrieval sub-intent (e.g. faq/free_trial) of a message from its text alone."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The same model as the intent classifier's, with the same defaults.
        return TfidfIntentClassifier.get_default_config()

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # The stored format and the model are defined in other modules: a change to them must retrain.
        return inspect.getsource(intent_pipeline_storage) + inspect.getsource(build_pipeline)

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Optional[Pipeline] = None,
        retrieval_intents: Optional[List[Text]] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = pipeline
        self.retrieval_intents = retrieval_intents or []
        self.responses = responses or {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfResponseSelector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT_RESPONSE_KEY) and e.get(TEXT)]
        labels = sorted({e.get(INTENT_RESPONSE_KEY) for e in examples})
        self.retrieval_intents = sorted(training_data.retrieval_intents)
        self.responses = {
            key: value
            for key, value in training_data.responses.items()
            if util.template_key_to_intent_response_key(key) in labels
        }
        if len(labels) < 2:
            logger.warning("TfidfResponseSelector needs at least two retrieval responses; it selects none.")
            return self._resource
        pipeline = build_pipeline(self.config)
        pipeline.fit([e.get(TEXT) for e in examples], [e.get(INTENT_RESPONSE_KEY) for e in examples])
        self.pipeline = pipeline
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            intent_pipeline_storage.write_pipeline(self.pipeline, directory)
            stored = {"retrieval_intents": self.retrieval_intents, "responses": self.responses}
            (directory / RETRIEVAL_INTENTS_FILE).write_text(json.dumps(stored), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfResponseSelector:
        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                pipeline = intent_pipeline_storage.read_pipeline(directory, build_pipeline(config))
                stored = json.loads((directory / RETRIEVAL_INTENTS_FILE).read_text(encoding="utf-8"))
        except ValueError:
            # Nothing was persisted: training saw fewer than two retrieval responses.
            return cls(config, model_storage, resource)
        return cls(
            config, model_storage, resource, pipeline, stored["retrieval_intents"], stored["responses"]
        )

    def process(self, messages: List[Message]) -> List[Message]:
        if self.pipeline is None:
            return messages
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        probabilities = self.pipeline.predict_proba([message.get(TEXT) for message in with_text])
        keys = [str(key) for key in self.pipeline.classes_]
        for message, row in zip(with_text, probabilities, strict=True):
            properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = self.retrieval_intents
            properties[RESPONSE_SELECTOR_DEFAULT_INTENT] = self._selection(keys, row)
            # Also one selection per retrieval intent among its own responses, as one ResponseSelector per
            # retrieval intent would give: utter_faq then always says a faq/* answer, and Rasa records the
            # full retrieval intent (faq/free_trial) in the tracker, which it reads under the intent's key.
            for retrieval_intent in self.retrieval_intents:
                own = [i for i, key in enumerate(keys) if key.startswith(f"{retrieval_intent}/")]
                if own:
                    subtotal = float(row[own].sum()) or 1.0
                    properties[retrieval_intent] = self._selection(
                        [keys[i] for i in own], row[own] / subtotal
                    )
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)
        return messages

    def _selection(self, keys: List[Text], probabilities: np.ndarray) -> Dict[Text, Any]:
        """Rasa's ResponseSelector output for one selector key: the top response and a ranking."""
        order = np.argsort(-probabilities)[: self.config["ranking_length"]]
        ranking = [
            {INTENT_RESPONSE_KEY: keys[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[i])} for i in order
        ]
        top = ranking[0]
        utter_action = util.intent_response_key_to_template_key(top[INTENT_RESPONSE_KEY])
        return {
            RESPONSE_SELECTOR_PREDICTION_KEY: {
                RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(utter_action, []),
                PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY],
                INTENT_RESPONSE_KEY: top[INTENT_RESPONSE_KEY],
                RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
            },
            RESPONSE_SELECTOR_RANKING_KEY: ranking,
        }
